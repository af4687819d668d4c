"""What each liquidation stage's event says: the fund before and after, fills and fees, why a
position went to the book, the fund's part of an ADL as its own step (MECHANICS section 4)."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.events import LiquidationEvent
from tests.helpers import Recorder, funded
from tests.test_liquidation import BTC, exchange, open_long, two_btc_long

D = Decimal


def liquidations(rec: Recorder, account: str) -> list[LiquidationEvent]:
    return [e for e in rec.of("LiquidationEvent") if e.account == account]


def test_a_partial_event_shows_the_fee_moving_the_fund():
    ex, u = two_btc_long()
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(95000))  # E 4,500 between ACMR 2,850 and MMR 5,700
    ex.advance(2)
    partial = next(e for e in liquidations(rec, u) if e.stage == "partial")
    assert partial.fund_before == fund0  # read before the order, not after its fee
    assert partial.fund_after - partial.fund_before == D("189.4")  # 0.5 % of 0.4 x 94,700
    assert partial.fee == D("189.4") and partial.fill_price == D(94700)
    assert partial.price == D("94100.0")  # the limit stays in `price`
    assert "filled 0.4000 at 94,700.00 on average, fee 189.40 USD" in partial.detail


def test_each_book_close_event_shows_its_own_fee():
    ex = exchange()  # no BLPs: a solvent account below ACMR closes on the book
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "8300")
    open_long(ex, u, "1")
    ex.place_order("mm", "ETH-PERP", "sell", D(10), price=D(3000))
    ex.place_order(u, "ETH-PERP", "buy", D(10), price=D(3000), tif="ioc")
    ex.place_order("mm", BTC, "buy", D(5), price=D(94990))
    ex.place_order("mm", "ETH-PERP", "buy", D(50), price=D(2840))
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(95000))
    ex.set_index_price("ETH", D(2850))  # E 1,800 < ACMR 1,852.50
    ex.advance(2)
    closes = [e for e in liquidations(rec, u) if e.stage == "book_close"]
    assert len(closes) == 2 and all(e.fee and e.fee > 0 for e in closes)
    for e in closes:  # the second order's fund_before includes the first one's fee
        assert e.fund_after - e.fund_before == e.fee
    assert closes[1].fund_before == closes[0].fund_after
    assert ex.insurance_fund() - fund0 == sum((e.fee or D(0) for e in closes), D(0))
    assert "no backstop providers" in closes[0].detail
    assert ex.check_invariants() == []


def deficit_past_the_budget(**config):
    """u long 1 at 100,000 gaps to 93,000: E -1,000 against a step budget of 500."""
    ex = exchange(insurance_fund=D(5000), **config)
    funded(ex, "mm", "100000000")
    s1, s2 = funded(ex, "s1", "3000"), funded(ex, "s2", "50000")
    u = funded(ex, "u", "6000")
    ex.place_order(s1, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(s2, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    return ex, u


def test_a_deficit_past_the_budget_says_so_even_with_blp_capacity():
    ex, u = deficit_past_the_budget(backstop_accounts=("blp",))
    funded(ex, "blp", "10000000")  # plenty of capacity, but takeovers at the mark need the fund
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(93000))
    ex.advance(2)
    close = next(e for e in liquidations(rec, u) if e.stage == "book_close")
    assert close.detail.startswith("deficit 1,000.00 USD exceeds the fund's step budget 500.00")
    assert "capacity" not in close.detail
    assert not [e for e in liquidations(rec, u) if e.stage == "backstop"]


def test_a_blp_at_its_loss_cap_is_named_as_the_reason():
    ex = exchange(backstop_accounts=("blp",), backstop_loss_cap=D(500))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u0, u1 = funded(ex, "u0", "6000"), funded(ex, "u1", "6000")
    open_long(ex, u0, "1")
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)  # the BLP takes u0 at 94,333.5
    ex.set_index_price("BTC", D(100000))
    open_long(ex, u1, "1")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(93500))  # the BLP loses 833.5 > its cap; u1 E -500
    ex.advance(2)
    close = next(e for e in liquidations(rec, u1) if e.stage == "book_close")
    assert close.detail.startswith("no backstop provider can take it (blp at its loss cap 500")


def test_the_funds_part_of_an_adl_is_its_own_stage_4_event():
    ex, u = deficit_past_the_budget()
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))
    ex.advance(2)
    events = [e for e in liquidations(rec, u) if e.stage in ("insurance", "adl")]
    assert [e.stage for e in events] == ["insurance", "adl"]
    cover, adl = events
    assert (cover.equity_before, cover.equity_after) == (D(-1000), D(-500))
    assert (cover.fund_before, cover.fund_after) == (fund0, fund0 - 500)
    assert "paid 500.00 of the 1,000.00 USD deficit" in cover.detail
    assert adl.equity_before == D(-500) and adl.fund_before == cover.fund_after
    assert adl.price == adl.fill_price == D(93500)  # the zero price after the fund's 500


def test_a_residue_far_below_the_tick_does_not_move_the_adl_price():
    """The gap lesson's eve without fees: E -3,050 at mark 90,000, the fund's budget 1,200.
    Her zero price after it computes as 91,850.00000000000000000000000000004: still 91,850."""
    ex = exchange(insurance_fund=D(12000))
    funded(ex, "mm", "100000000")
    s = funded(ex, "s", "100000")
    u = funded(ex, "u", "6950")
    ex.place_order(s, BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    m = ex._markets[BTC]
    assert ex._round_tick(D("91850.00000000000000000000000000004"), m, up=True) == 91850
    assert ex._round_tick(D("91850.1"), m, up=True) == D("91850.5")  # a real excess still rounds
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(90000))
    ex.advance(2)
    adl = next(e for e in liquidations(rec, u) if e.stage == "adl")
    assert adl.price == D(91850)
    assert fund0 - ex.insurance_fund() == D(1200)  # its whole budget, not 1,199.50
    assert ex.check_invariants() == []


def test_a_backstop_event_gives_both_prices():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6050")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))  # E 1,050: ZP 93,950, 2/3 ZP + 1/3 M = 94,300
    ex.advance(2)
    takeover = next(e for e in liquidations(rec, u) if e.stage == "backstop")
    assert (takeover.fill_price, takeover.counter_price) == (D(93950), D(94300))
    assert takeover.fund_after - takeover.fund_before == D(350)


def test_an_insurance_event_says_the_fund_bought_the_coins_too():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = ex.create_account("u")
    ex.deposit(u, "BTC", D(1))
    ex.place_order("mm", "ETH-PERP", "sell", D(300), price=D(3000))
    ex.place_order(u, "ETH-PERP", "buy", D(300), price=D(3000), tif="ioc")
    ex.place_order("mm", "ETH-PERP", "buy", D(300), price=D(2700))
    ex.place_order(u, "ETH-PERP", "sell", D(300), price=D(2700), tif="ioc")  # USD -90,000
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(92000))  # weighted E -300
    ex.advance(2)
    cover = next(e for e in liquidations(rec, u) if e.stage == "insurance")
    assert cover.fund_before - cover.fund_after == D(89700) + D(300)  # the coins and the loss
    assert cover.detail == ("the fund paid 300.00 of the 300.00 USD deficit, after buying the "
                            "account's coins at their weighted value 89,700.00")  # fmt: skip
