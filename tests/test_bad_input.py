"""Every malformed request: a stable error code, a clear message, and no trace in the state."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import ConfigError, ExchangeConfig, MarketSpec
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"


def _place(**kw):
    base = {"account": "a", "market": BTC, "side": "buy", "size": D("0.1"), "price": D(99000)}
    base.update(kw)
    return lambda ex: ex.place_order(**base)


CASES = [
    ("size zero", _place(size=D(0)), "invalid_order", "size must be positive"),
    ("size negative", _place(size=D("-0.1")), "invalid_order", "size must be positive"),
    ("size off lot", _place(size=D("0.00015")), "invalid_order", "multiple of the lot"),
    ("price off tick", _place(price=D("99000.25")), "invalid_order", "multiple of the tick"),
    ("too many decimals", _place(price=D("99000.00001")), "invalid_order", "tick"),
    ("price zero", _place(price=D(0)), "invalid_order", "price must be positive"),
    ("price negative", _place(price=D(-5)), "invalid_order", "price must be positive"),
    ("NaN", _place(price=D("NaN")), "invalid_number", "finite"),
    ("infinity", _place(size=D("Infinity")), "invalid_number", "finite"),
    ("float size", _place(size=0.1), "invalid_number", "float"),
    ("float price", _place(price=99000.0), "invalid_number", "float"),
    ("garbage", _place(price="abc"), "invalid_number", "not a decimal"),
    ("unknown market", _place(market="DOGE-PERP"), "unknown_market", "no market"),
    ("unknown account", _place(account="nobody"), "unknown_account", "no account"),
    ("system account", _place(account="FEES"), "unknown_account", "no account"),
    ("bad side", _place(side="long"), "invalid_order", "side"),
    ("bad type", _place(type="iceberg"), "invalid_order", "type"),
    ("bad tif", _place(tif="day"), "invalid_order", "tif"),
    ("limit without price", _place(price=None), "invalid_order", "needs a price"),
    ("market with price", _place(type="market"), "invalid_order", "takes no price"),
    ("stop without trigger", _place(type="stop_market", price=None), "invalid_order", "trigger"),
    ("post-only ioc", _place(post_only=True, tif="ioc"), "invalid_order", "post_only"),
    ("long client id", _place(client_order_id="x" * 65), "invalid_order", "client_order_id"),
    ("deposit unknown asset", lambda ex: ex.deposit("a", "DOGE", D(1)), "unknown_asset", "DOGE"),
    ("deposit zero", lambda ex: ex.deposit("a", "USD", D(0)), "invalid_request", "positive"),
    ("deposit float", lambda ex: ex.deposit("a", "USD", 1.5), "invalid_number", "float"),
    (
        "deposit decimals",
        lambda ex: ex.deposit("a", "USD", D("1.0000001")),
        "invalid_request",
        "decimals",
    ),
    (
        "deposit non-collateral",
        lambda ex: ex.deposit("a", "SOL", D(1)),
        "unknown_asset",
        "collateral",
    ),
    ("deposit unknown account", lambda ex: ex.deposit("zz", "USD", D(1)), "unknown_account", "zz"),
    (
        "withdraw over balance",
        lambda ex: ex.withdraw("a", "USD", D("2000001")),
        "insufficient_balance",
        "balance is",
    ),
    (
        "withdraw unheld asset",
        lambda ex: ex.withdraw("a", "BTC", D(1)),
        "insufficient_balance",
        "balance is 0",
    ),
    (
        "cancel another's order",
        lambda ex: ex.cancel_order("a", ex.open_orders("b")[0].order_id),
        "not_authorized",
        "another account",
    ),
    ("cancel unknown order", lambda ex: ex.cancel_order("a", 99999), "unknown_order", "99999"),
    (
        "amend another's order",
        lambda ex: ex.amend_order("a", ex.open_orders("b")[0].order_id, price=D(1)),
        "not_authorized",
        "another account",
    ),
    (
        "amend off tick",
        lambda ex: ex.amend_order("b", ex.open_orders("b")[0].order_id, price=D("1.25")),
        "invalid_order",
        "tick",
    ),
    ("index float", lambda ex: ex.set_index_price("BTC", 1.0), "invalid_number", "float"),
    ("index of USD", lambda ex: ex.set_index_price("USD", D(2)), "invalid_request", "always 1"),
    ("index negative", lambda ex: ex.set_index_price("ETH", D(-1)), "invalid_request", "positive"),
    ("index unknown", lambda ex: ex.set_index_price("XYZ", D(1)), "unknown_asset", "XYZ"),
    ("advance backwards", lambda ex: ex.advance(-1), "invalid_request", "non-negative"),
    ("advance float", lambda ex: ex.advance(1.5), "invalid_number", "float"),
    ("duplicate account", lambda ex: ex.create_account("a"), "duplicate_account", "exists"),
    ("bad account name", lambda ex: ex.create_account("bad name!"), "invalid_request", "name"),
    ("reserved account", lambda ex: ex.create_account("FEES"), "duplicate_account", "exists"),
    ("candles interval", lambda ex: ex.candles(BTC, "7m"), "invalid_request", "interval"),
]


@pytest.mark.parametrize("name,call,code,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(name, call, code, message):
    from exchange_local import ExchangeError

    ex = exact_exchange()
    funded(ex, "a", "1000000")
    b = funded(ex, "b", "1000000")
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(101000))
    before = state_fingerprint(ex)
    with pytest.raises(ExchangeError) as err:
        call(ex)
    assert err.value.code == code
    assert message in str(err.value)
    assert state_fingerprint(ex) == before


@pytest.mark.parametrize(
    "build,field",
    [
        (lambda: ExchangeConfig(mark_source="mid"), "mark_source"),
        (lambda: ExchangeConfig(market_protection=D(2)), "market_protection"),
        (lambda: ExchangeConfig(max_open_orders=0), "max_open_orders"),
        (lambda: MarketSpec("X-PERP", "BTC", D("0.5"), D(0), D(20), D(0), D(1), D(1)), "lot"),
        (
            lambda: MarketSpec("X-PERP", "BTC", D("0.0001"), D("0.0001"), D(20), D(0), D(1), D(1)),
            "tick x lot",
        ),
        (
            lambda: MarketSpec("X-PERP", "BTC", D("0.5"), D("0.1"), D("0.5"), D(0), D(1), D(1)),
            "max_leverage",
        ),
        (
            lambda: ExchangeConfig(
                markets=(MarketSpec("X-PERP", "DOGE", D("0.5"), D("0.1"), D(5), D(0), D(1), D(1)),)
            ),
            "underlying",
        ),
    ],
)
def test_bad_configuration_names_the_field(build, field):
    with pytest.raises(ConfigError, match=field):
        build()
