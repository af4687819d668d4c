"""The insurance fund pays a flat account's deficit within its step budget even when its USD
cannot buy the account's coins (MECHANICS 4.4 and section 7)."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.exchange import Exchange
from tests.helpers import Recorder, funded
from tests.test_liquidation import BTC, exchange

D = Decimal


def flat_with_a_loan(fund: Decimal) -> Exchange:
    """z, flat after closing a 0.1 BTC long at a 4,000 loss: USD -3,000 against 0.05 BTC."""
    ex = exchange(insurance_fund=fund)
    funded(ex, "mm", "100000000")
    funded(ex, "z", "1000")
    ex.deposit("z", "BTC", D("0.05"))
    ex.place_order("mm", BTC, "sell", D("0.1"), price=D(100000))
    ex.place_order("z", BTC, "buy", D("0.1"), price=D(100000), tif="ioc")
    ex.place_order("mm", BTC, "buy", D("0.1"), price=D(60000))
    ex.place_order("z", BTC, "sell", D("0.1"), price=D(60000), tif="ioc")
    return ex


def test_the_fund_pays_a_deficit_it_cannot_buy_the_coins_of():
    """z closes a 0.1 BTC long at a 4,000 loss: USD -3,000 against 0.05 BTC. At 60,000 its E
    is -3,000 + 0.05 x 60,000 x 0.975 = -75. The fund (1,000) cannot buy the coins (2,925),
    which refused the whole cover for good; now it pays the 75 and z keeps its coins."""
    ex = flat_with_a_loan(fund=D(1000))
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(60000))
    ex.advance(1)
    cover = [e for e in rec.of("LiquidationEvent") if e.account == "z"]
    assert [e.stage for e in cover] == ["insurance", "over"]
    assert (cover[0].equity_before, cover[0].equity_after) == (D(-75), D(0))
    assert (cover[0].fund_before, cover[0].fund_after) == (D(1000), D(925))
    assert cover[0].detail.startswith(
        "the fund paid 75.00 of the 75.00 USD deficit; the account "
        "keeps its coins (weighted value 2,925.00 USD"
    )
    assert ex.balances("z") == {"USD": D(-2925), "BTC": D("0.05")}
    assert ex.insurance_fund() == D(925)
    assert ex.health("z").status != "bankrupt" and ex.health("z").equity == 0
    assert ex.check_invariants() == []
    # the coins slide on: 0.05 x 55,000 x 0.975 = 2,681.25, a deficit of 243.75 paid within
    # each second's budget (10 % of the fund at the tick's start): 92.50, 83.25, then 68.00
    ex.set_index_price("BTC", D(55000))
    ex.advance(3)
    paid = [e.fund_before - e.fund_after for e in rec.of("LiquidationEvent")
            if e.account == "z" and e.stage == "insurance"][1:]  # fmt: skip
    assert paid == [D("92.5"), D("83.25"), D(68)]
    assert ex.balances("z") == {"USD": D("-2681.25"), "BTC": D("0.05")}
    assert ex.insurance_fund() == D("681.25")
    assert ex.health("z").status != "bankrupt" and ex.health("z").equity == 0
    assert ex.check_invariants() == []


def test_a_fund_that_can_buy_the_coins_still_buys_them():
    """The same deficit with a fund of 10,000: the coins pass to the fund (2,925) and it pays
    the 75 left, as before; the account ends with nothing."""
    ex = flat_with_a_loan(fund=D(10000))
    ex.set_index_price("BTC", D(60000))
    ex.advance(1)
    assert ex.balances("z").get("BTC", D(0)) == 0 and ex.balances("z").get("USD", D(0)) == 0
    assert ex.insurance_fund() == D(10000) - D(2925) - D(75)
    assert ex.check_invariants() == []
