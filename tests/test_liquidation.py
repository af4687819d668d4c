"""The liquidation engine, stage by stage (MECHANICS section 4), driven by index moves on the
simulated clock and checked to the cent."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig, MarketHalted, MarketSettled
from exchange_local.config import default_markets
from exchange_local.ledger import INSURANCE
from tests.helpers import Recorder, funded

D = Decimal
BTC = "BTC-PERP"


def exchange(**config) -> Exchange:
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets())
    return Exchange(ExchangeConfig(markets=markets, mark_source="index", **config))


ENTRY = D(100000)


def open_long(ex, acct, size, price=ENTRY, maker="mm"):
    ex.place_order(maker, BTC, "sell", D(size), price=price)
    res = ex.place_order(acct, BTC, "buy", D(size), price=price, tif="ioc")
    assert res.filled == D(size)


def two_btc_long(bid: bool = True) -> tuple[Exchange, str]:
    """u long 2 BTC (200,000 USD: stage 2 closes it in chunks of 20 %) on 14,500 USD, and mm
    bidding 5 BTC at 94,700 to close into (`bid`): at index 95,000 its E 4,500 is under MMR
    5,700 and above ACMR 2,850, the partial liquidation the wording and event tests read."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "14500")
    open_long(ex, u, "2")
    if bid:
        ex.place_order("mm", BTC, "buy", D(5), price=D(94700))
    return ex, u


def stages(rec, account):
    return [(e.stage, e.market) for e in rec.of("LiquidationEvent") if e.account == account]


def usd(ex, acct):
    return ex.balances(acct).get("USD", D(0))


def test_stage_1_cancel_then_recovery_without_a_fill():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.place_order(u, BTC, "buy", D("0.01"), price=D(90000))  # an open order to cancel
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(97000))  # E 3,000 >= MMR 2,910 (but < IMR: reduce-only)
    ex.advance(1)
    assert ex.health(u).status == "reduce_only" and ex.open_orders(u)
    ex.set_index_price("BTC", D(97100) - D(100) * 3)  # 96,800: E 2,800 < MMR 2,904
    ex.advance(1)
    assert stages(rec, u) == [("cancel", None)]
    cancel = next(e for e in rec.of("LiquidationEvent") if e.account == u)
    assert cancel.detail == "1 open order canceled"  # "0 open orders canceled" read oddly
    assert ex.open_orders(u) == [] and ex.health(u).status == "liquidating"
    ex.set_index_price("BTC", D(99000))  # recovers before the next tick
    ex.advance(1)
    assert stages(rec, u)[-1] == ("recovered", None)
    assert ex.health(u).status == "ok"
    assert not [e for e in ex.ledger(u) if e.type.startswith("LIQ")]
    assert ex.positions(u)[0].size == 1
    assert ex.check_invariants() == []


def test_stage_2_partial_chunks_above_100k_and_cooldown():
    ex, u = two_btc_long()  # 200,000 notional: chunks of 20 %
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(95000))  # E 4,500; MMR 5,700; ACMR 2,850
    ex.advance(1)  # stage 1
    ex.advance(1)  # stage 2: Q = 4500/5700, limit M(1 - 1.5 x 3 % x (1 - Q)) = 94,100 > ZP
    fills = [e for e in ex.ledger(u) if e.type == "LIQ_FILL"]
    assert len(fills) == 1 and ex.positions(u)[0].size == D("1.6")
    assert ex.insurance_fund() - fund0 == D("189.400000")  # 0.5 % of 0.4 x 94,700
    assert [e.type for e in ex.ledger(u) if e.type != "FEE"][-2:] == ["LIQ_FILL", "LIQ_FEE"]
    partial = rec.of("LiquidationEvent")[-1]
    assert (partial.stage, partial.size, partial.price) == ("partial", D("0.4"), D("94100.0"))
    ex.advance(29)  # cooldown: no new order for 30 s
    assert ex.positions(u)[0].size == D("1.6")
    ex.advance(1)  # t = 32: the whole position, limit 94,654 (Q = 4,190.60 / 4,560)
    assert ex.positions(u) == []
    assert ex.insurance_fund() - fund0 == D("189.4") + D("757.6")
    assert stages(rec, u)[-2:] == [("partial", BTC), ("over", None)]
    assert ex.check_invariants() == []


def test_stage_3_backstop_takeover_with_positive_equity():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(95000))  # E 1,000 < ACMR 1,425: ZP = 94,000
    ex.advance(2)
    assert stages(rec, u) == [("cancel", None), ("backstop", BTC), ("over", None)]
    assert ex.positions(u) == [] and usd(ex, u) == 0
    pos = ex.positions(blp)[0]
    assert pos.size == 1 and pos.entry_price == D("94333.5")  # 2/3 ZP + 1/3 M, to the tick
    assert ex.insurance_fund() - fund0 == D("333.5")  # a third of the equity (to the tick)
    event = next(e for e in rec.of("LiquidationEvent") if e.stage == "backstop")
    assert event.counterparties == ("blp",) and event.equity_before == 1000
    assert event.fund_after - event.fund_before == D("333.5")
    assert ex.check_invariants() == []


def test_stage_3_backstop_with_negative_equity_the_fund_pays():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))  # gap: E = -1,000
    ex.advance(2)
    assert ex.positions(u) == [] and usd(ex, u) == 0
    assert ex.positions(blp)[0].entry_price == D(93000)  # at the mark
    assert fund0 - ex.insurance_fund() == D(1000)
    assert ex.check_invariants() == []


def test_fund_step_limit_hit_leads_to_adl_at_the_bankruptcy_price():
    ex = exchange(insurance_fund=D(5000))  # step budget 500 < deficit 1,000; no BLPs
    funded(ex, "mm", "100000000")
    s1, s2 = funded(ex, "s1", "3000"), funded(ex, "s2", "50000")
    u = funded(ex, "u", "6000")
    ex.place_order(s1, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(s2, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.place_order(s2, BTC, "sell", D("0.1"), price=D(120000))  # canceled by ADL
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))  # E = -1,000; the fund may give 500 of it
    ex.advance(2)
    adl = [e for e in rec.of("LiquidationEvent") if e.stage == "adl"]
    # ADL takes only what the fund cannot: E -1,000 + 500 -> zero price 93,000 + 500
    assert len(adl) == 1 and adl[0].price == D(93500)
    assert adl[0].counterparties == ("s1", "s2")  # the higher-leverage short first
    assert ex.positions(u) == [] and usd(ex, u) == 0
    assert ex.positions(s1) == [] and ex.positions(s2) == []
    assert ex.open_orders(s2) == []
    assert fund0 - ex.insurance_fund() == D(500)  # its whole step budget, not more
    assert ex.check_invariants() == []


def test_dydx_insurance_example():
    """dYdX's published insurance example: fund 1,000, one resting bid of 500 at 0.77."""
    from exchange_local.config import AssetSpec, MarketSpec

    market = MarketSpec("DYDX-PERP", "DYDX", D("0.001"), D(1), D(20), D(0), D(10**9), D(1000),
                        maker_fee=D(0), taker_fee=D(0))  # fmt: skip
    assets = (AssetSpec("USD", D(1), D(1), D(0), decimals=6),
              AssetSpec("DYDX", D("0.5"), D("0.5"), D(0), 6, D(1), collateral=False))  # fmt: skip
    ex = Exchange(ExchangeConfig(markets=(market,), assets=assets, mark_source="index",
                                 insurance_fund=D(1000)))  # fmt: skip
    funded(ex, "mm", "100000")
    u = funded(ex, "u", "100")
    ex.place_order("mm", "DYDX-PERP", "sell", D(500), price=D(1))
    ex.place_order(u, "DYDX-PERP", "buy", D(500), price=D(1), tif="ioc")  # MMF 3 %
    ex.place_order("mm", "DYDX-PERP", "buy", D(500), price=D("0.77"))
    ex.set_index_price("DYDX", D("0.801"))
    h = ex.health(u)
    assert h.equity == D("0.5") and h.mmr == D("12.015")
    assert h.positions[0].bankruptcy_price == D("0.8")
    ex.advance(3)
    assert ex.positions(u) == [] and usd(ex, u) == 0
    assert ex.insurance_fund() == D(1000) - D(15)
    fills = [e for e in ex.ledger(u) if e.type == "LIQ_FILL"]
    assert len(fills) == 1 and not [e for e in ex.ledger(u) if e.type == "LIQ_FEE"]
    assert ex.check_invariants() == []


def test_settle_market_closes_everything_at_the_price():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "100000")
    open_long(ex, u, "1")
    ex.place_order("mm", BTC, "buy", D(1), price=D(90000))
    before = usd(ex, u)
    assert ex.settle_market(BTC, D(101000)) == 2
    assert ex.positions(u) == [] and ex.positions("mm") == []
    assert usd(ex, u) - before == D(1000)
    assert [e.type for e in ex.ledger(u)][-1] == "ADMIN_SETTLE"
    assert ex.open_orders("mm") == [] and ex.market(BTC).reduce_only
    with pytest.raises(MarketHalted):
        ex.place_order(u, BTC, "buy", D(1), price=D(100000))
    assert ex.check_invariants() == []


def test_a_market_is_settled_once():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "100000")
    open_long(ex, u, "1")
    ex.settle_market(BTC, D(101000))
    balance, entries, seen = usd(ex, u), len(ex.ledger(u)), []
    ex.subscribe(seen.append)
    with pytest.raises(MarketSettled, match="already been settled"):
        ex.settle_market(BTC, D(90000))
    assert (usd(ex, u), len(ex.ledger(u)), seen) == (balance, entries, [])


def test_rollback_reverses_trades_refunds_fees_and_leaves_funding():
    markets = default_markets()
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index"))
    a, b = funded(ex, "a", "100000"), funded(ex, "b", "100000")
    ex.advance(10)
    ex.place_order(b, BTC, "sell", D(1), price=D(100000))
    ex.place_order(a, BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.set_index_price("BTC", D(101000))
    ex.advance(25)  # a settlement at t = 30 pays a 1,000
    assert usd(ex, a) == D(100000) - D(50) + D(1000)
    assert ex.rollback_trades(BTC, D(5), D(20)) == 1
    assert ex.positions(a) == [] and ex.positions(b) == []
    assert usd(ex, a) == D(100000) and usd(ex, b) == D(100000)
    assert [e.type for e in ex.ledger(a)][-1] == "ROLLBACK"
    assert ex.ledger(a)[-1].ref == "rollback of fill:1"
    assert ex.check_invariants() == []


def test_insurance_fund_history_and_status_words():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.set_index_price("BTC", D(95000))
    # E 1,000 < ACMR 1,425 (MMR 2,850): MECHANICS section 2's table says backstop, also
    # before the tick and after stage 1 (which only cancels); it read "liquidating"
    assert ex.health(u).status == "backstop"
    ex.advance(1)
    assert ex.health(u).status == "backstop"
    ex.advance(1)
    assert ex.health(u).status == "ok"  # closed out: nothing left at risk
    fund_rows = ex.ledger(INSURANCE)
    assert fund_rows[-1].type == "BACKSTOP"


def test_backstop_allocation_is_pro_rata_to_remaining_capacity():
    ex = exchange(backstop_accounts=("b1", "b2"), backstop_minute_capacity=D(150000))
    funded(ex, "mm", "100000000")
    b1, b2 = funded(ex, "b1", "10000000"), funded(ex, "b2", "10000000")
    u1, u2 = funded(ex, "u1", "6000"), funded(ex, "u2", "9000")
    open_long(ex, u1, "1")
    ex.place_order(u2, "ETH-PERP", "sell", D("0.001"), price=D(3100))  # keeps u2 distinct
    ex.cancel_all(u2)
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)  # u1 (95,000 notional) split evenly: both BLPs had 150,000 left
    assert [p.size for p in ex.positions(b1)] == [D("0.5")]
    assert [p.size for p in ex.positions(b2)] == [D("0.5")]
    ex._accounts[b1].backstop_takeovers.append((ex.now_ms, D(50000)))  # b1 used more
    ex.set_index_price("BTC", D(100000))
    open_long(ex, u2, "1.5")
    ex.set_index_price("BTC", D(95000))  # u2: E 1,500 < ACMR 2,137.5
    ex.advance(2)  # remaining: b1 150,000 - 97,500 = 52,500, b2 102,500; 1.5 BTC pro rata
    got1 = ex.positions(b1)[0].size - D("0.5")
    got2 = ex.positions(b2)[0].size - D("0.5")
    assert got1 + got2 == D("1.5")
    # 15,000 lots x 52,500/155,000 = 5,080.6 -> 5,080; the remainder lot goes to the BLP with
    # the most capacity left (b2)
    assert got1 == D("0.5080") and got2 == D("0.9920")
    assert ex.check_invariants() == []


def test_backstop_capacity_window_and_hard_loss_cap():
    ex = exchange(backstop_accounts=("blp",), backstop_minute_capacity=D(100000),
                  backstop_loss_cap=D(500))  # fmt: skip
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    users = [funded(ex, f"u{i}", "6000") for i in range(3)]
    for u in users:
        open_long(ex, u, "1")
    ex.place_order("mm", BTC, "buy", D(10), price=D(93900))  # the book, for what BLPs skip
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)
    takeovers = [e for e in rec.of("LiquidationEvent") if e.stage == "backstop"]
    # u0 uses 95,000 of the minute's 100,000; the 5,000 left carry 526 lots of 9.5 USD of u1's
    # 10,000, and the rest of u1 and all of u2 close on the book
    assert [(e.account, e.size) for e in takeovers] == [("u0", 1), ("u1", D("0.0526"))]
    assert "0.0526 of 1.0000" in takeovers[1].detail
    closes = {e.account: e for e in rec.of("LiquidationEvent") if e.stage == "book_close"}
    assert sorted(closes) == ["u1", "u2"] and closes["u1"].size == D("0.9474")
    # the part the backstop took spent its share of u1's equity at the zero price, so the fund
    # paid for 0.9474 BTC closed at 93,900 beyond the zero price, not for a whole one
    assert closes["u1"].equity_before == D("947.4")  # 1,000 x (1 - 0.0526)
    paid = {e.account: e.fund_before - e.fund_after for e in rec.of("LiquidationEvent")
            if e.stage == "insurance"}  # fmt: skip
    assert paid == {"u1": D("94.74"), "u2": D(100)}
    assert ex.positions(blp)[0].size == D("1.0526")
    assert sum((v for _, v in ex._accounts[blp].backstop_takeovers), D(0)) <= 100_000
    ex.set_index_price("BTC", D(100000))
    u3 = funded(ex, "u3", "6000")
    open_long(ex, u3, "1")
    ex.advance(61)  # the minute window has passed
    ex.set_index_price("BTC", D(93500))  # the BLP's long from 94,333.5 loses 877.3 > cap 500
    ex.advance(2)
    assert not [e for e in rec.of("LiquidationEvent")
                if e.stage == "backstop" and e.account == "u3"]  # fmt: skip
    assert ex.check_invariants() == []


def test_adl_quintiles_refresh_every_30_seconds():
    ex = exchange()
    funded(ex, "mm", "100000000")
    longs = [funded(ex, f"l{i}", str(5000 * (i + 1))) for i in range(5)]
    for acct in longs:
        open_long(ex, acct, "0.5")
    assert ex.health(longs[0]).positions[0].adl_quintile is None
    ex.advance(15)  # refreshed every 30 s, mid-way between settlements
    quintiles = [ex.health(a).positions[0].adl_quintile for a in longs]
    assert quintiles == [5, 4, 3, 2, 1]  # the least equity per position is first in line
    assert ex.health("mm").positions[0].adl_quintile == 5  # alone on the short side


def test_a_mark_that_slides_while_the_index_stands_still_is_watched():
    """Robust mark: the book moves the mark with no index change; liquidation must follow."""
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets())
    ex = Exchange(ExchangeConfig(markets=markets))  # the robust mark
    funded(ex, "mm", "100000000")
    funded(ex, "mm2", "100000000")
    u = funded(ex, "u", "6500")  # off every boundary: its safe move is about 0.4 %
    open_long(ex, u, "1")
    ex.advance(5)  # u is evaluated and found safe: it leaves the dirty set for the watch list
    assert ex.health(u).status == "ok"
    rec = Recorder(ex)
    ex.place_order("mm", BTC, "buy", D(1), price=D(93000))
    ex.place_order("mm2", BTC, "sell", D("0.5"), price=D(93000), tif="ioc")  # last 93,000
    ex.place_order("mm2", BTC, "sell", D(1), price=D(93100))
    assert ex.market(BTC).index == D(100000)
    ex.advance(300)
    assert ex.market(BTC).mark < D(95000)  # slid with the book; the index never moved
    assert ("cancel", None) in stages(rec, u)
    assert [e for e in ex.ledger(u) if e.type == "LIQ_FILL"]  # closed on what the book had


# --- regressions found in review ------------------------------------------------------------


def test_funding_alone_can_start_a_liquidation():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.place_order("mm", BTC, "buy", D(1), price=D(100100))  # a premium: longs pay
    ex.set_index_price("BTC", D("96907.5"))  # E 2,907.50, MMR 2,907.225: just above
    ex.advance(3600)  # funding is the only thing that moves equity now
    assert ex.health(u).equity < ex.health(u).mmr or ex.positions(u) == []
    assert ex._accounts[u].liquidation_status is not None or ex.positions(u) == []
    assert any(s == "cancel" and a == u for _, a, s in ex._stage_log)


def test_the_fund_does_not_pay_a_deficit_the_collateral_covers():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = ex.create_account("u")
    ex.deposit(u, "BTC", D(1))
    ex.place_order("mm", "ETH-PERP", "sell", D(300), price=D(3000))
    ex.place_order(u, "ETH-PERP", "buy", D(300), price=D(3000), tif="ioc")
    ex.place_order("mm", "ETH-PERP", "buy", D(300), price=D(2700))
    ex.place_order(u, "ETH-PERP", "sell", D(300), price=D(2700), tif="ioc")  # USD -90,000
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(92000))  # weighted E -300, market value +1,908
    ex.advance(2)
    assert ex.balances(u).get("BTC", D(0)) == 0  # the coins went to the fund first,
    assert ex._ledger.balance(INSURANCE, "BTC") == 1  # bought at their weighted value
    weighted = D(92000) * D("0.975")
    assert fund0 - ex.insurance_fund() == weighted + D(300)  # and only 300 was a loss
    assert ex.health(u).equity == 0 and ex.check_invariants() == []


def test_blp_capacity_counts_all_of_an_accounts_positions():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "14000")
    open_long(ex, u, "0.8")
    ex.place_order("mm", "ETH-PERP", "sell", D(20), price=D(3000))
    ex.place_order(u, "ETH-PERP", "buy", D(20), price=D(3000), tif="ioc")
    ex.set_index_price("BTC", D(91000))
    ex.set_index_price("ETH", D(2730))  # 72,800 + 54,600 > the minute's 100,000
    ex.advance(2)
    taken = sum((v for _, v in ex._accounts[blp].backstop_takeovers), D(0))
    assert taken <= D(100000)


def test_a_bankrupt_account_goes_to_the_blp_as_far_as_its_capacity_then_to_the_book():
    ex = exchange(backstop_accounts=("blp",), backstop_minute_capacity=D(50000))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.place_order("mm", BTC, "buy", D(10), price=D(92900))
    rec = Recorder(ex)
    fund = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))  # a gap: equity -1,000
    ex.advance(2)
    stages = {e.stage: e for e in rec.of("LiquidationEvent")}
    # 50,000 USD of capacity carry 5,376 lots of 9.3 USD, taken at the mark: no equity moves
    assert stages["backstop"].size == D("0.5376") and ex.positions(blp)[0].size == D("0.5376")
    assert stages["backstop"].equity_after == D(-1000)
    # only the 0.4624 left closes on the book, 100 below the mark: the fund pays 46.24 more
    # than the gap, where a book close of the whole position would have cost it 100
    assert stages["book_close"].size == D("0.4624")
    assert fund - ex.insurance_fund() == D("1046.24")
    assert ex.positions(u) == [] and ex.check_invariants() == []


def test_a_blp_takes_only_what_its_margin_carries():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "100")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)
    # 100 USD of free margin carries 2,000 USD at BTC-PERP's 5 % base IMF: 210 lots of 9.5 USD
    assert [p.size for p in ex.positions(blp)] == [D("0.0210")]
    health = ex.health(blp)
    assert health.initial_equity >= health.imr
    assert [p.size for p in ex.positions(u)] == [D("0.9790")]  # the rest waits for bids


def test_rollback_once_per_fill_and_reduce_only_orders_follow():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    a, b = funded(ex, "a", "100000"), funded(ex, "b", "100000")
    ex.place_order(b, BTC, "sell", D(1), price=D(100000))
    ex.place_order(a, BTC, "buy", D(1), price=D(100000), tif="ioc")
    ro = ex.place_order(a, BTC, "sell", D(1), price=D(101000), reduce_only=True)
    assert ex.rollback_trades(BTC, D(0), D(10)) == 1
    assert ex.order(a, ro.order_id).status.value == "canceled"  # the position it reduced is gone
    assert ex.rollback_trades(BTC, D(0), D(10)) == 0  # never twice
    assert ex.positions(a) == [] and ex.check_invariants() == []
    ex.settle_market(BTC, D(100000))
    with pytest.raises(Exception, match="settled"):
        ex.rollback_trades(BTC, D(0), D(10))


def test_a_blps_deposits_and_withdrawals_do_not_move_its_loss_cap():
    ex = exchange(backstop_accounts=("blp",), backstop_loss_cap=D(500))
    funded(ex, "mm", "100000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)  # the BLP takes u's long at 94,333.5: its baseline is set
    baseline = ex._accounts[blp].backstop_baseline
    ex.withdraw(blp, "USD", D(1000))  # not a loss
    ex.deposit(blp, "USD", D(300))  # not a gain
    assert ex._accounts[blp].backstop_baseline == baseline - D(700)
    assert ex._blp_capacity(ex._accounts[blp]) > 0  # still under its 500 loss cap


def test_a_bankrupt_account_no_book_and_no_blp_can_take_goes_to_adl():
    """Audit: no BLPs, an empty book and a fund whose step budget covers the deficit. The
    account stayed open for good ("bankrupt", one unfilled book close, no ADL), its loss
    growing with the price while the fund was never asked. Neither BLPs nor the book can
    absorb it, so the fund pays the deficit and ADL closes it at the zero price."""
    ex = exchange()
    funded(ex, "mm", "1000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))  # E 6,000 - 7,000 = -1,000 with no fees here
    assert ex.health(u).status == "bankrupt"  # the table's word before any tick ran
    ex.advance(3)
    assert ex.positions(u) == [] and ex.positions("mm") == []  # mm's short took it
    assert ex.health(u).equity == 0
    assert ex.insurance_fund() == fund0 - D(1000)
    assert ex.check_invariants() == []


def test_a_bankrupt_account_waits_for_a_blp_whose_window_refills():
    """The same with a BLP that used its minute's capacity: it may take the account once the
    window refills, so no ADL meanwhile; a minute later it takes it."""
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "1000000")
    blp = funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex._accounts[blp].backstop_takeovers.append((ex.now_ms, D(100_000)))  # the minute used
    ex.set_index_price("BTC", D(93000))
    ex.advance(3)
    assert [p.size for p in ex.positions(u)] == [D(1)] and ex.positions("mm")[0].size == -1
    assert ex.health(u).status == "bankrupt"
    ex.advance(60)
    assert ex.positions(u) == [] and [p.size for p in ex.positions(blp)] == [D(1)]


def test_a_blp_that_can_never_take_a_lot_does_not_hold_off_adl():
    """Review: a BLP with no money, or windows smaller than a lot, was counted as one that
    might take the account later, and the account stayed open for good."""
    for config, deposit in (({}, None), ({"backstop_minute_capacity": D(1)}, "10000000")):
        ex = exchange(backstop_accounts=("blp",), **config)
        funded(ex, "mm", "1000000")
        if deposit is None:
            ex.create_account("blp")
        else:
            funded(ex, "blp", deposit)
        u = funded(ex, "u", "6000")
        open_long(ex, u, "1")
        ex.set_index_price("BTC", D(93000))
        ex.advance(3)
        assert ex.positions(u) == [] and ex.positions("mm") == [], config  # ADL
        assert ex.check_invariants() == []


def test_a_liquidation_fill_posts_no_zero_fee_leg_for_the_account():
    """Student QA: each liquidation fill wrote a "FEE 0.000000" row into the liquidated
    account's ledger (a liquidation order pays only the liquidation fee). The maker's fee is
    a FEE transaction of its own two legs now; a zero amount is no balance change."""
    markets = tuple(replace(m, maker_fee=D("0.0002"), taker_fee=D("0.0005"))
                    for m in default_markets())  # fmt: skip
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index"))
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "14500")
    open_long(ex, u, "2")
    ex.place_order("mm", BTC, "buy", D(5), price=D(94700))
    ex.set_index_price("BTC", D(95000))
    ex.advance(3)
    fills = [e for e in ex.ledger(u) if e.type == "LIQ_FILL"]
    assert fills, "the position was closed on the book"
    assert all(e.amount != 0 for e in ex.ledger(u) if e.type == "FEE")
    assert not any(e.type == "FEE" for e in ex.ledger(u) if e.txid > fills[0].txid)
    maker_fees = [e for e in ex.ledger("mm") if e.type == "FEE"]
    assert maker_fees and all(e.amount < 0 for e in maker_fees)
    assert ex.check_invariants() == []
