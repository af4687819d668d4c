"""What the liquidation events say, as a class reads them: an account the liquidation closed
out is "over", not "recovered"; a fund payment of 0.00 of a 0.00 deficit is no event; a
takeover of several markets in one transaction tells the fund's payment once, so the events
add up to what the ledger moved (MECHANICS section 4, README "Teaching scenarios")."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.events import LiquidationEvent, MarginEvent
from exchange_local.ledger import INSURANCE
from exchange_local.scenarios import stage_words
from perptui.eventtext import describe
from tests.helpers import Recorder, funded
from tests.test_liquidation import BTC, exchange, open_long, two_btc_long

D = Decimal
ETH = "ETH-PERP"


def liquidations(rec: Recorder, account: str) -> list[LiquidationEvent]:
    return [e for e in rec.of("LiquidationEvent") if e.account == account]


def text(event: LiquidationEvent) -> str:
    line = describe(event, "")
    assert line is not None
    return line.text


# --- defect 1: closed out is "over", not "recovered" ------------------------------------------


def test_a_takeover_that_closes_everything_is_over_with_no_equity():
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))  # E 1,000 < ACMR: BLPs take it at the zero price
    ex.advance(2)
    last = liquidations(rec, u)[-1]
    assert (last.stage, last.detail) == ("over", "closed out, no equity")
    assert "recovered" not in text(last) and "margin restored" not in text(last)
    assert text(last).startswith("u: liquidation over: closed out, no equity")
    assert stage_words(last) == "liquidation over: closed out, no equity"
    assert ex.health(u).status == "ok"  # the liquidation is over: no status left behind


def test_a_book_close_that_leaves_equity_is_over_with_equity_left():
    ex, u = two_btc_long()
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))
    ex.advance(32)  # stage 2: 0.4, then after the cooldown the rest: every position closed
    assert ex.positions(u) == []
    last = liquidations(rec, u)[-1]
    assert last.equity_after > 0 and last.mmr_after == 0
    assert (last.stage, last.detail) == ("over", "closed out, equity left")
    assert "liquidation over: closed out, equity left" in text(last)
    assert f"equity {last.equity_after:,.2f}" in text(last)
    assert "recovered" not in [e.stage for e in liquidations(rec, u)]


def test_recovered_is_kept_for_an_account_that_keeps_its_positions():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(96800))  # E 2,800 < MMR 2,904: stage 1
    ex.advance(1)
    ex.set_index_price("BTC", D(99000))  # back above maintenance, the position still open
    ex.advance(1)
    last = liquidations(rec, u)[-1]
    assert last.stage == "recovered" and last.mmr_after > 0
    assert "recovered: margin restored" in text(last)


def test_an_older_servers_recovered_with_nothing_left_reads_as_over():
    old = LiquidationEvent(3000, "carol", None, "recovered", None, None, D("0.0000004"),
                           D("0.0000004"), D(0), D(0), (), D(1000), D(1000))  # fmt: skip
    assert "carol: liquidation over: closed out, no equity" in text(old)
    left = LiquidationEvent(3000, "bot", None, "recovered", None, None, D("699.11"),
                            D("699.11"), D("3074.15"), D(0), (), D(1000), D(1000))  # fmt: skip
    assert "bot: liquidation over: closed out, equity left" in text(left)
    assert "margin restored" not in text(left)


# --- defect 1: a fund payment of 0.00 of a 0.00 deficit is no event ---------------------------


def test_a_payment_of_nothing_to_the_cent_is_not_an_event():
    """The book fills 0.3 below the zero price 83,999.80 for 0.01 BTC: a deficit of 0.003 USD.
    The fund pays it (the ledger is exact) but "paid 0.00 of the 0.00 USD deficit" is not
    news; the account is over with no equity."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "160.002")
    open_long(ex, u, "0.01")
    ex.place_order("mm", BTC, "buy", D(1), price=D("83999.5"))
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(85000))  # E 10.00 < ACMR 12.75, no BLPs: the book
    ex.advance(3)
    assert fund0 - ex.insurance_fund() == D("0.003")  # booked
    assert ex._ledger.transactions[-1].type == "INSURANCE_COVER"
    stages = [e.stage for e in liquidations(rec, u)]
    assert stages == ["cancel", "book_close", "over"]
    assert ex.check_invariants() == []


def test_coins_bought_for_a_deficit_under_a_cent_are_said_so():
    """Closed out on the book, the account keeps 0.005 BTC against a USD loan; BTC dips 0.5:
    a deficit of 0.0024. The fund buying the coins is news, "paid 0.00 of 0.00" is not."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "702.25")
    ex.deposit(u, "BTC", D("0.005"))
    open_long(ex, u, "0.1")
    ex.place_order("mm", BTC, "buy", D(5), price=D(88600))
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(90000))
    ex.advance(3)  # E 141: stage 2 closes it all, the fee takes the last 1.00
    ex.set_index_price("BTC", D("89999.5"))
    ex.advance(1)
    cover = [e for e in liquidations(rec, u) if e.stage == "insurance"]
    assert len(cover) == 1
    assert cover[0].detail == ("a deficit under a cent: the fund bought the account's coins "
                               "at their weighted value 438.75")  # fmt: skip
    assert "0.00 of the 0.00" not in text(cover[0])
    assert ex.check_invariants() == []


# --- defect 3: a takeover of two markets tells the fund's move once ---------------------------


def two_markets(usd: str):
    """u long 0.5 BTC at 100,000 and 10 ETH at 3,000, holding 0.01 BTC; BLPs with room for
    both. At BTC 92,000 / ETH 2,760 her equity is usd - 6,400 + 897 (the coins, weighted)."""
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", usd)
    ex.deposit(u, "BTC", D("0.01"))
    open_long(ex, u, "0.5")
    ex.place_order("mm", ETH, "sell", D(10), price=D(3000))
    ex.place_order(u, ETH, "buy", D(10), price=D(3000), tif="ioc")
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(92000))
    ex.set_index_price("ETH", D(2760))
    ex.advance(2)
    takeovers = [e for e in liquidations(rec, u) if e.stage == "backstop"]
    return ex, u, takeovers, fund0


def ledger_fund_move(ex, ref: str) -> Decimal:
    tx = next(t for t in ex._ledger.transactions if t.ref == ref)
    return sum((a for who, asset, a in tx.legs if who == INSURANCE and asset == "USD"), D(0))


def test_a_deficit_paid_once_is_told_once():
    ex, _, takeovers, fund0 = two_markets("4000")  # E -1,503: BLPs at the mark, fund pays
    assert [e.market for e in takeovers] == [BTC, ETH]
    paid = fund0 - ex.insurance_fund()
    assert paid == D(1503) == -ledger_fund_move(ex, "backstop u")
    told = sum((e.fund_before - e.fund_after for e in takeovers), D(0))
    assert told == paid
    assert takeovers[0].fund_before == fund0 and takeovers[-1].fund_after == ex.insurance_fund()
    assert takeovers[0].fund_after == takeovers[1].fund_before  # one runs on from the other
    lines = [text(e) for e in takeovers]
    assert sum("the fund pays the deficit 1,503.00" in line for line in lines) == 1
    assert sum("fund USD" in line for line in lines) == 1
    assert "paid once, with the ETH-PERP takeover" in lines[0]
    # equity and MMR run on too: the BTC part moves no equity (at the mark), ETH's the deficit
    assert (takeovers[0].equity_before, takeovers[0].equity_after) == (D(-1503), D(-1503))
    assert (takeovers[1].equity_before, takeovers[1].equity_after) == (D(-1503), D(0))
    assert (takeovers[0].mmr_after, takeovers[1].mmr_before) == (D(828), D(828))
    assert ex.check_invariants() == []


def test_each_solvent_takeover_gives_its_own_part_of_the_funds_take():
    ex, _, takeovers, fund0 = two_markets("6000")  # E 497: zero prices, a third to the fund
    gained = ex.insurance_fund() - fund0
    assert gained == D(166) == ledger_fund_move(ex, "backstop u")
    parts = [e.fund_after - e.fund_before for e in takeovers]
    assert parts == [D("103.5"), D("62.5")]  # 0.5 x (91,586 - 91,379); 10 x 6.20 + rounding
    assert sum(parts, D(0)) == gained
    assert "the difference 103.50 USD to the fund" in takeovers[0].detail
    assert "0.50 USD of rounding as the account closes out" in takeovers[1].detail
    equity = [(e.equity_before, e.equity_after) for e in takeovers]
    assert equity == [(D(497), D("186.5")), (D("186.5"), D(0))]  # 0.5 x (92,000 - 91,379)
    assert takeovers[-1].mmr_after == 0 and takeovers[0].mmr_after == D(828)


def test_a_partial_takeover_at_the_mark_does_not_claim_the_fund_paid():
    """BLPs with room for only part of ETH: the account keeps the rest and its deficit, so
    the fund pays nothing in this step and no event may say it does."""
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", "9000")
    open_long(ex, u, "1")
    ex.place_order("mm", ETH, "sell", D(10), price=D(3000))
    ex.place_order(u, ETH, "buy", D(10), price=D(3000), tif="ioc")
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(92000))
    ex.set_index_price("ETH", D(2760))  # E -1,400; 100,000 USD a minute of BLP capacity
    ex.advance(2)
    takeovers = [e for e in liquidations(rec, u) if e.stage == "backstop"]
    assert takeovers and takeovers[-1].size != D(10)  # only part of ETH
    assert ex.insurance_fund() == fund0
    assert all(e.fund_before == e.fund_after == fund0 for e in takeovers)
    assert not any("fund pays" in e.detail or "deficit" in e.detail for e in takeovers)


def test_the_margin_line_after_a_close_out_with_equity_left_is_not_a_recovery():
    """The bot closed out with 699.11 left also read "margin recovered" on its margin line."""
    line = describe(MarginEvent(1000, "bot", "recovered", D("699.11"), D(0), D(0)), "")
    assert line is not None
    assert line.text.startswith("bot: margin calls over: nothing left at risk · equity 699.11")
    held = describe(MarginEvent(1000, "bot", "recovered", D(900), D(300), D(600)), "")
    assert held is not None and "bot: margin recovered" in held.text
