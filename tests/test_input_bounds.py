"""Values too large for exact money, and arguments of the wrong type, in the Python facade: a
clear ExchangeError naming the field (and the maximum), never a raw decimal or TypeError, and
nothing changed. Also the trade count of candles (API.md's `n`)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeError
from exchange_local.money import MAX_AMOUNT, MAX_NOTIONAL, MAX_PRICE, MAX_SIZE
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"
HUGE = D("1e40")
Call = Callable[[Exchange], Any]


def _place(**kw: Any) -> Call:
    base: dict[str, Any] = {
        "account": "a",
        "market": BTC,
        "side": "buy",
        "size": D("0.1"),
        "price": D(99000),
    }
    base.update(kw)
    return lambda ex: ex.place_order(**base)


def _preview(**kw: Any) -> Call:
    base: dict[str, Any] = {"account": "a", "market": BTC, "side": "buy", "size": D("0.1")}
    base.update(kw)
    return lambda ex: ex.preview_order(**base)


def _amend(**kw: Any) -> Call:
    return lambda ex: ex.amend_order("b", ex.open_orders("b")[0].order_id, **kw)


PRICE_MAX = "maximum of 1000000000000"
SIZE_MAX = "maximum of 1000000000000"
AMOUNT_MAX = "maximum of 1000000000000000"

# (name, call, exchange code, words the message must contain)
CASES: list[tuple[str, Call, str, tuple[str, ...]]] = [
    ("place size 1e40", _place(size=HUGE), "invalid_order", ("size", SIZE_MAX)),
    ("place size as text", _place(size="1" + "0" * 23), "invalid_order", ("size", SIZE_MAX)),
    ("place size just over", _place(size=MAX_SIZE + D("0.001")), "invalid_order", ("size",)),
    ("place price 1e40", _place(price=HUGE), "invalid_order", ("price", PRICE_MAX)),
    ("place price just over", _place(price=MAX_PRICE + 1), "invalid_order", ("price",)),
    (
        "place limit notional",
        _place(size=D(2000), price=MAX_PRICE),
        "invalid_order",
        ("notional", "1000000000000000 USD"),
    ),
    (
        "place market notional",
        _place(type="market", price=None, size=D(20_000_000_000)),
        "invalid_order",
        ("notional", "maximum"),
    ),
    (
        "place trigger 1e40",
        _place(type="stop_market", price=None, trigger_price=HUGE),
        "invalid_order",
        ("trigger_price", PRICE_MAX),
    ),
    ("preview size 1e40", _preview(size=HUGE, price=D(99000)), "invalid_order", ("size",)),
    ("preview price 1e40", _preview(price=HUGE), "invalid_order", ("price", PRICE_MAX)),
    (
        "preview market notional",
        _preview(type="market", size=D(20_000_000_000)),
        "invalid_order",
        ("notional",),
    ),
    ("amend price 1e40", _amend(price=HUGE), "invalid_order", ("price", PRICE_MAX)),
    ("amend size 1e40", _amend(size=HUGE), "invalid_order", ("size", SIZE_MAX)),
    ("amend notional", _amend(price=MAX_PRICE, size=D(2000)), "invalid_order", ("notional",)),
    (
        "deposit 1e40",
        lambda ex: ex.deposit("a", "USD", "1e40"),
        "invalid_request",
        ("amount", AMOUNT_MAX),
    ),
    (
        "deposit just over",
        lambda ex: ex.deposit("a", "USD", MAX_AMOUNT + D("0.000001")),
        "invalid_request",
        ("amount", AMOUNT_MAX),
    ),
    ("withdraw 1e40", lambda ex: ex.withdraw("a", "USD", HUGE), "invalid_request", ("amount",)),
    (
        "convert 1e40",
        lambda ex: ex.convert("a", "USD", "BTC", HUGE),
        "invalid_request",
        ("amount", AMOUNT_MAX),
    ),
    (
        "index price 1e40",
        lambda ex: ex.set_index_price("BTC", HUGE),
        "invalid_request",
        ("price", PRICE_MAX),
    ),
    # wrong types: were a bare TypeError (a list is unhashable)
    ("candles interval list", lambda ex: ex.candles(BTC, []), "invalid_request", ("interval",)),
    (
        "candles limit text",
        lambda ex: ex.candles(BTC, "1m", limit="5"),
        "invalid_request",
        ("limit",),
    ),
    ("trades limit text", lambda ex: ex.trades(BTC, "5"), "invalid_request", ("limit",)),
    ("order id list", lambda ex: ex.order("a", []), "invalid_order", ("order_id", "integer")),
    # preview's refusal of a limit without a price is place_order's, not a type error
    (
        "preview limit no price",
        _preview(price=None, type="limit"),  # no type and no price: a market preview
        "invalid_order",
        ("a limit order needs a price",),
    ),
]


@pytest.mark.parametrize("name,call,code,words", CASES, ids=[c[0] for c in CASES])
def test_too_large_or_ill_typed_input_is_refused_and_changes_nothing(
    name: str, call: Call, code: str, words: tuple[str, ...]
) -> None:
    ex = exact_exchange()
    funded(ex, "a", "1000000")
    b = funded(ex, "b", "1000000")
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(101000))
    before = state_fingerprint(ex)
    with pytest.raises(ExchangeError) as err:
        call(ex)
    assert err.value.code == code, err.value
    for word in words:
        assert word in str(err.value), (word, str(err.value))
    assert state_fingerprint(ex) == before
    assert ex.check_invariants() == []


def test_the_largest_values_are_accepted_and_stay_exact() -> None:
    """At the bounds every sum is still exact: a deposit of the maximum and then a millionth
    keeps the millionth (with 1e30 the 34-digit context dropped it)."""
    ex = exact_exchange()
    a = funded(ex, "a", "0.000001")
    ex.deposit(a, "USD", MAX_AMOUNT)
    ex.deposit(a, "USD", D("0.000001"))
    assert ex.balances(a)["USD"] == MAX_AMOUNT + D("0.000002")
    assert ex.check_invariants() == []
    b = funded(ex, "b", "1000000")
    res = ex.place_order(b, BTC, "sell", D("0.001"), price=MAX_PRICE)
    assert res.status.value == "open"  # the maximum price itself is a price
    assert MAX_NOTIONAL == MAX_AMOUNT  # one order cannot book more than an account can hold


def test_candles_count_their_trades() -> None:
    """API.md's candle has `n`, the number of trades: counted as trades are recorded,
    summed when 1-minute candles are aggregated, 0 for the mark's candles."""
    ex = exact_exchange()
    mm = funded(ex, "mm")
    t = funded(ex, "t")
    ex.place_order(mm, BTC, "sell", D("1"), price=D(100000))
    for _ in range(3):
        ex.place_order(t, BTC, "buy", D("0.1"), type="market")
    ex.advance(60)
    ex.place_order(t, BTC, "buy", D("0.1"), type="market")
    one = ex.candles(BTC, "1m")
    assert [c.trades for c in one] == [3, 1]
    assert [c.trades for c in ex.candles(BTC, "5m")] == [4]
    assert all(c.trades == 0 for c in ex.candles(BTC, "1m", source="mark"))


def test_candles_from_an_older_snapshot_count_no_trades() -> None:
    """A store written before the count existed holds 6-element buckets: they read as n=0
    and keep counting from there, instead of failing to unpack."""
    from exchange_local.marketdata import CandleSeries

    series = CandleSeries()
    series._buckets.append([0, D(1), D(2), D(1), D(2), D(3)])  # the old layout
    series.add(1_000, D(2), D(1), 1)
    series.add(60_000, D(3), D(1), 1)
    assert [(c.volume, c.trades) for c in series.candles("1m")] == [(D(4), 1), (D(1), 1)]
