"""A rollback re-trades book fills only (MECHANICS 4.6). A window holding a backstop takeover
reversed the account's opening fill but not the takeover: the account was left short 1 BTC it
never held while the BLP kept the long it took over. Such a window is refused, unchanged."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.config import default_markets
from exchange_local.errors import InvalidRequest

D = Decimal
BTC = "BTC-PERP"


def taken_over() -> Exchange:
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets())
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index", backstop_accounts=("b1",)))
    for name, usd in (("mm", "100000000"), ("b1", "10000000"), ("u", "6000")):
        ex.create_account(name)
        ex.deposit(name, "USD", D(usd))
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)
    assert not ex.positions("u") and [p.size for p in ex.positions("b1")] == [D(1)]
    return ex


def test_a_window_holding_a_takeover_is_refused_and_changes_nothing():
    ex = taken_over()
    before = (ex.balances("u"), ex.positions("u"), ex.positions("b1"), ex.positions("mm"))
    with pytest.raises(InvalidRequest, match=r"backstop takeover of u at .* choose a window"):
        ex.rollback_trades(BTC, 0, 2)
    assert (ex.balances("u"), ex.positions("u"), ex.positions("b1"), ex.positions("mm")) == before
    assert ex.check_invariants() == []


def test_a_window_that_ends_before_it_still_rolls_back():
    ex = taken_over()
    ex.set_index_price("BTC", D(100000))
    ex.advance(1)
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("b1", BTC, "buy", D(1), price=D(100000), tif="ioc")  # after the takeover
    assert ex.rollback_trades(BTC, 3, 5) == 1
