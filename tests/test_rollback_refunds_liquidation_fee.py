"""MECHANICS 4.6: a rollback re-trades each fill "fees refunded". A liquidation fill pays no
taker fee but the liquidation fee, to the insurance fund; the rollback refunds it from the
fund (it kept it before), each fill its own part of its order's fee."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from exchange_local.config import default_markets

D = Decimal
BTC = "BTC-PERP"


def closed_on_the_book() -> Exchange:
    """u long 1 BTC at 100,000 on 6,000 USD (no trading fees); at 95,000 stage 2 sells 0.9 into
    mm's three bids at 95,000 / 94,990 / 94,980 at 7 s, paying 142.50 + 142.485 + 142.47 of
    liquidation fee (0.5 % of each fill's notional; 427.455 for the order)."""
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets())
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index"))
    for name, usd in (("mm", "100000000"), ("u", "6000")):
        ex.create_account(name)
        ex.deposit(name, "USD", D(usd))
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.advance(5)
    for price in (95000, 94990, 94980):
        ex.place_order("mm", BTC, "buy", D("0.3"), price=D(price))
    ex.set_index_price("BTC", D(95000))
    ex.advance(3)
    assert ex.positions("u")[0].size == D("0.1")
    return ex


def test_rolling_back_a_liquidation_close_refunds_its_fee_from_the_fund():
    ex = closed_on_the_book()
    fund = ex._fund()
    assert ex.rollback_trades(BTC, 6, 10) == 3
    assert ex.positions("u")[0].size == D(1)
    assert ex.balances("u") == {"USD": D(6000)}  # its 6,000 whole: PnL and fee undone
    assert fund - ex._fund() == D("427.455")
    assert ex.check_invariants() == []


def test_one_fill_of_the_close_refunds_its_own_part():
    ex = closed_on_the_book()
    fund, usd = ex._fund(), ex.balances("u")["USD"]
    newest = max(f.fill_id for f in ex._fills)
    ex._fills[-1] = replace(ex._fills[-1], time_ms=9000)  # only the last fill in the window
    assert ex._fills[-1].fill_id == newest
    assert ex.rollback_trades(BTC, 9, 9) == 1
    assert fund - ex._fund() == D("142.47")  # 0.5 % of 0.3 x 94,980
    # buying 0.3 back at 94,980 against the settle price 100,000 (no settlement yet: 8 s)
    assert ex.balances("u")["USD"] - usd == D("142.47") + D("0.3") * (D(100000) - D(94980))
    assert ex.check_invariants() == []
