"""Audit fixes in ADL and the book close (MECHANICS 4.3-4.5): the ranking is fresh for a
second bankrupt account in the same second, each market's events report their own step, and
the zero price's rounding is said only when it shows."""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange
from tests.helpers import Recorder, funded
from tests.test_liquidation import BTC, exchange

D = Decimal
ETH = "ETH-PERP"


def trade(ex: Exchange, buyer: str, seller: str, market: str, size: str, price: str) -> None:
    ex.place_order(seller, market, "sell", D(size), price=D(price))
    res = ex.place_order(buyer, market, "buy", D(size), price=D(price), tif="ioc")
    assert res.filled == D(size)


def adl_events(rec: Recorder, account: str) -> list:
    return [e for e in rec.of("LiquidationEvent") if e.account == account and e.stage == "adl"]


def test_a_second_adl_in_the_same_second_ranks_the_shorts_afresh():
    """u1 and u2 (long 0.5 each on 3,000) go bankrupt at 90,000 in the same second. sA (short 1
    on 5,000, score 6.67) takes u1's 0.5 at 93,800: its score falls to 3.82, below sB's 5.0, so
    u2 is ADL'd against sB, not sA again (a ranking cached for the second did that)."""
    ex = exchange(insurance_fund=D(1000))
    funded(ex, "mm", "100000000")
    funded(ex, "lng", "100000000")
    for name, usd in (("u1", "3000"), ("u2", "3000"), ("sA", "5000"), ("sB", "10000")):
        funded(ex, name, usd)
    trade(ex, "u1", "lng", BTC, "0.5", "100000")
    trade(ex, "u2", "lng", BTC, "0.5", "100000")
    trade(ex, "lng", "sA", BTC, "1", "100000")
    trade(ex, "lng", "sB", BTC, "1", "100000")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(90000))
    ex.advance(2)
    first, second = adl_events(rec, "u1"), adl_events(rec, "u2")
    assert first[0].time_ms == second[0].time_ms  # the same second
    assert first[0].counterparties == ("sA",) and second[0].counterparties == ("sB",)
    assert ex.positions("sA")[0].size == D("-0.5")
    assert ex.positions("sB")[0].size == D("-0.5")
    assert ex.check_invariants() == []


def multi_market_bankrupt() -> tuple[Exchange, Recorder]:
    """z long 1 BTC and 10 ETH on 6,000 USD and 0.05 BTC, nothing bid, no BLPs: at 90,000 and
    2,700 its E is -2,612.50. The fund gives its budget of 100, both book closes fill nothing
    and ADL closes both positions against mm at 91,933 and 2,758."""
    ex = exchange(insurance_fund=D(1000))
    funded(ex, "mm", "100000000")
    funded(ex, "z", "6000")
    ex.deposit("z", "BTC", D("0.05"))
    trade(ex, "z", "mm", BTC, "1", "100000")
    trade(ex, "z", "mm", ETH, "10", "3000")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(90000))
    ex.set_index_price("ETH", D(2700))
    ex.advance(2)
    return ex, rec


def test_each_unfilled_book_close_of_one_account_has_its_event():
    _, rec = multi_market_bankrupt()
    closes = [e for e in rec.of("LiquidationEvent") if e.account == "z" and e.stage == "book_close"]
    assert [(e.market, e.size, e.price) for e in closes] == [
        (BTC, D(0), D("91933.0")),
        (ETH, D(0), D("2758.00")),
    ]
    assert all("nothing filled" in e.detail for e in closes)


def test_each_adl_event_reports_its_own_market_step():
    """BTC closes at 91,933 against the mark 90,000: equity -2,512.50 -> -579.50, the fund
    unmoved; ETH at 2,758 against 2,700: -579.50 -> +0.50, and the close-out's 0.50 residual
    goes to the fund once (900 -> 900.50) and the equity ends at 0."""
    ex, rec = multi_market_bankrupt()
    btc, eth = adl_events(rec, "z")
    assert (btc.market, eth.market) == (BTC, ETH)
    assert (btc.equity_before, btc.equity_after) == (D("-2512.5"), D("-579.5"))
    assert (btc.fund_before, btc.fund_after) == (D(900), D(900))
    assert (eth.equity_before, eth.equity_after) == (D("-579.5"), D(0))
    assert (eth.fund_before, eth.fund_after) == (D(900), D("900.5"))
    assert eth.fund_after == ex.insurance_fund()
    assert btc.mmr_after == eth.mmr_before and eth.mmr_after == 0
    assert btc.mmr_before > btc.mmr_after > 0
    assert ex.check_invariants() == []


def test_an_adl_zero_price_on_the_tick_as_shown_says_no_rounding():
    """u long 2 at 100,000 on 12,000 gaps to 90,000 (E -8,000): the fund gives 100 and the
    exact zero price after it, 93,949.999... (a residue in the 34th digit), shows as the
    93,950.00 it trades at: "93,950.00, 93,950.00 on the tick (rounded ...)" said nothing."""
    ex = exchange(insurance_fund=D(1000))
    funded(ex, "mm", "100000000")
    funded(ex, "lng", "100000000")
    funded(ex, "u", "12000")
    for name, usd in (("s1", "20000"), ("s2", "5000"), ("s3", "10000")):
        funded(ex, name, usd)
    trade(ex, "u", "mm", BTC, "2", "100000")
    trade(ex, "lng", "s1", BTC, "1", "100000")
    trade(ex, "lng", "s2", BTC, "0.5", "100000")
    trade(ex, "lng", "s3", BTC, "1", "100000")
    ex.advance(15)
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(90000))
    ex.advance(2)
    (adl,) = adl_events(rec, "u")
    assert adl.price == D(93950) and adl.counterparties == ("s3", "s2", "s1")
    assert adl.detail == "at the bankrupt position's zero price 93,950.00"
    assert ex.check_invariants() == []


def test_a_fill_in_the_tick_makes_the_cached_adl_ranking_afresh():
    """The ADL ranking is cached for the tick. A book fill in the same tick (a stage 2 close,
    a trader's order) that opens a short must put it in the shorts' ranking: a stale ranking
    would leave it out of line, and ADL would stop short of the whole size."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    for name in ("lng", "sA", "sC"):
        funded(ex, name, "100000")
    trade(ex, "lng", "sA", BTC, "1", "100000")
    m = ex._markets[BTC]
    assert [who for *_, who in ex._adl_ranking(m, long_side=False)] == ["sA"]
    trade(ex, "lng", "sC", BTC, "2", "100000")  # the same tick: no clock advance
    assert sorted(who for *_, who in ex._adl_ranking(m, long_side=False)) == ["sA", "sC"]
    assert [who for *_, who in ex._adl_ranking(m, long_side=True)] == ["lng"]
