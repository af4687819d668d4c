"""The cross-margin risk engine through the facade (MECHANICS sections 0-3, issue 3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange_local import (
    Exchange,
    ExchangeConfig,
    InsufficientMargin,
    InvalidOrder,
    OpenInterestCap,
    ReduceOnlyMode,
)
from exchange_local.config import default_markets
from tests.helpers import Recorder, exact_exchange, funded, state_fingerprint

D = Decimal
BTC, ETH = "BTC-PERP", "ETH-PERP"


def no_fee_exchange(**markets_changes) -> Exchange:
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0), **markets_changes.get(m.symbol, {}))
                    for m in default_markets())  # fmt: skip
    return Exchange(ExchangeConfig(markets=markets, mark_source="index"))


def take(ex, acct, market, side, size, price, maker="mm"):
    other = "sell" if side == "buy" else "buy"
    ex.place_order(maker, market, other, D(size), price=D(price))
    return ex.place_order(acct, market, side, D(size), price=D(price), tif="ioc")


def regression_account(ex: Exchange, name: str = "u") -> str:
    """MECHANICS section 8, 'our defaults': USD 10,000, BTC 0.5, ETH 2; long 1 BTC-PERP at
    100,000, short 10 ETH-PERP at 3,000, settled."""
    acct = ex.create_account(name)
    ex.deposit(acct, "USD", D(10000))
    ex.deposit(acct, "BTC", D("0.5"))
    ex.deposit(acct, "ETH", D(2))
    if "mm" not in ex.accounts():
        funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "1", "100000")
    take(ex, acct, ETH, "sell", "10", "3000")
    return acct


def test_mechanics_regression_account_end_to_end():
    ex = no_fee_exchange()
    acct = regression_account(ex)
    h = ex.health(acct)
    assert h.collateral_total == D(64450) and h.collateral_initial == D(62900)
    assert h.mmr == D(3900) and h.imr == D(6500)
    assert h.equity == D(64450) and h.status == "ok"
    pos = {p.market: p for p in h.positions}
    assert round(pos[BTC].liquidation_price, 2) == D("58456.26")
    assert round(pos[BTC].bankruptcy_price, 2) == D("56672.27")
    assert round(pos[ETH].liquidation_price, 2) == D("10208.33")
    assert round(pos[ETH].bankruptcy_price, 2) == D("10956.79")
    assert round(pos[BTC].zero_price, 2) == D("50423.08")
    assert round(pos[ETH].zero_price, 2) == D("4487.31")
    lines = {c.asset: c for c in h.collateral}
    assert lines["BTC"].weight == D("0.975") and lines["BTC"].value == D(48750)


def test_regression_without_same_underlying_collateral():
    ex = no_fee_exchange()
    acct = ex.create_account("u")
    ex.deposit(acct, "USD", D(10000) + D(48750) + D(5700))  # same C_tot, all in USD
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "1", "100000")
    take(ex, acct, ETH, "sell", "10", "3000")
    pos = {p.market: p for p in ex.health(acct).positions}
    assert round(pos[BTC].liquidation_price, 2) == D("37577.32")
    assert round(pos[BTC].bankruptcy_price, 2) == D("35550.00")
    assert round(pos[ETH].liquidation_price, 2) == D("8878.64")
    assert round(pos[ETH].bankruptcy_price, 2) == D("9445.00")


def test_reported_liquidation_price_is_where_equity_meets_mmr():
    ex = no_fee_exchange()
    acct = regression_account(ex)
    p_liq = ex.health(acct).positions[0].liquidation_price
    ex.set_index_price("BTC", p_liq)  # rounded to the 0.5 tick
    h = ex.health(acct)
    tolerance = (1 + D("0.4875")) * D("0.5")  # (s + k) * tick + MMF * s * tick, generously
    assert abs(h.equity - h.mmr) <= tolerance
    assert h.status == "liquidating" or h.equity >= h.mmr


def test_explain_terms_sum_to_the_reported_prices():
    ex = no_fee_exchange()
    acct = regression_account(ex)
    exp = ex.explain(acct, BTC)
    h = ex.health(acct)
    btc = next(p for p in h.positions if p.market == BTC)
    assert exp.liquidation_price == btc.liquidation_price
    assert exp.bankruptcy_price == btc.bankruptcy_price
    num = sum((t.value for t in exp.liquidation_numerator), D(0))
    den = sum((t.value for t in exp.liquidation_denominator), D(0))
    assert num / den == btc.liquidation_price


def test_largest_passing_size_and_one_lot_above_is_refused():
    ex = no_fee_exchange()
    acct = funded(ex, "small", "1000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(5), price=D(100000))
    with pytest.raises(InsufficientMargin) as err:
        ex.place_order(acct, BTC, "buy", D(1), price=D(100000))
    best = err.value.max_size
    assert best is not None and best > 0
    assert f"largest size that would pass is {best}" in str(err.value)
    assert "short by" in str(err.value) and err.value.shortfall > 0
    before = state_fingerprint(ex)
    with pytest.raises(InsufficientMargin):
        ex.place_order(acct, BTC, "buy", best + D("0.0001"), price=D(100000))
    assert state_fingerprint(ex) == before
    res = ex.place_order(acct, BTC, "buy", best, price=D(100000))
    assert res.filled == best
    h = ex.health(acct)
    assert h.initial_equity >= h.imr


def test_reduce_only_mode_allows_only_reducing_orders():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "1000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "0.15", "100000")  # IMR 750 of 1,000
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(98200))  # E_mm = 1000 - 270 = 730 < IMR 736.5
    ex.advance(1)  # margin-call levels are evaluated on the 1 s tick
    h = ex.health(acct)
    assert h.status == "reduce_only"
    with pytest.raises(ReduceOnlyMode, match="reduce-only mode"):
        ex.place_order(acct, BTC, "buy", D("0.01"), price=D(90000))
    ex.place_order("mm", BTC, "buy", D("0.05"), price=D(98200))
    res = ex.place_order(acct, BTC, "sell", D("0.05"), price=D(98200), tif="ioc")
    assert res.filled == D("0.05")
    ex.advance(1)
    levels = [e.level for e in rec.of("MarginEvent")]
    assert levels[:1] == ["reduce_only"] and levels[-1] in ("recovered", "warning")


def test_withdraw_rule():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "10000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "0.5", "100000")  # N 50,000: needs max(IMR 2,500, 5,000)
    with pytest.raises(InsufficientMargin, match="cannot withdraw"):
        ex.withdraw(acct, "USD", D("5000.01"))
    ex.withdraw(acct, "USD", D(5000))
    assert ex.balances(acct)["USD"] == D(5000)


def test_convert_repays_a_usd_loan():
    ex = no_fee_exchange()
    acct = ex.create_account("u")
    ex.deposit(acct, "BTC", D(1))
    funded(ex, "mm", "100000000")
    take(ex, acct, ETH, "buy", "10", "3000")
    ex.set_index_price("ETH", D(2900))
    ex.advance(0)
    take(ex, acct, ETH, "sell", "10", "2900")  # realise -1,000: USD goes negative
    assert ex.balances(acct)["USD"] == D(-1000)
    got = ex.convert(acct, "BTC", "USD", D("0.02"))
    assert got == D(2000) - D(2)  # 0.1 % spread to FEES
    assert ex.balances(acct)["USD"] == D(998) and ex.balances(acct)["BTC"] == D("0.98")
    assert ex.check_invariants() == []


def test_open_interest_cap_refuses_increase_and_passes_reduction():
    ex = no_fee_exchange(**{BTC: {"oi_cap": D(300000)}})
    a, b = funded(ex, "a", "10000000"), funded(ex, "b", "10000000")
    funded(ex, "mm", "100000000")
    take(ex, a, BTC, "buy", "2", "100000", maker=b)  # OI 200,000 USD
    with pytest.raises(
        OpenInterestCap, match=r"open interest is 200,000.00 USD against a cap of 300,000 USD"
    ):
        ex.place_order(a, BTC, "buy", D("1.5"), price=D(100000))
    ex.place_order(b, BTC, "buy", D(1), price=D(100000))  # b is short 2: reduces
    res = ex.place_order(a, BTC, "sell", D(1), price=D(100000), tif="ioc")  # a reduces at the cap
    assert res.filled == D(1)


def test_oi_cap_stops_a_fill_that_would_cross_it():
    """A flip passes acceptance (|position| shrinks) yet lifts long OI: fills stop at the cap."""
    ex = no_fee_exchange(**{BTC: {"oi_cap": D(300000)}})
    a, b, c, d, e = (funded(ex, n, "10000000") for n in "abcde")
    ex.place_order(c, BTC, "sell", D(3), price=D(100000))  # accepted while OI is 0
    ex.place_order(b, BTC, "buy", D(2), price=D(99000))
    ex.place_order(a, BTC, "sell", D(2), price=D(99000), tif="ioc")  # a short 2, b long 2
    ex.place_order(d, BTC, "buy", D("0.5"), price=D(98000))
    ex.place_order(e, BTC, "sell", D("0.5"), price=D(98000), tif="ioc")  # OI 2.5 coins
    res = ex.place_order(a, BTC, "buy", D(3), price=D(100000), tif="ioc")
    assert res.filled == D("2.5")  # OI 2.5 + (a's new long 0.5) = 3.0 coins = the cap
    assert res.canceled_reason == "open_interest_cap"
    assert ex.market(BTC).open_interest == D(3)
    assert ex.check_invariants() == []


def test_set_leverage_changes_imf_and_refuses_bad_values():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "10000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "0.5", "100000")
    assert ex.health(acct).imr == D(2500)
    ex.set_leverage(acct, BTC, 5)
    assert ex.health(acct).imr == D(10000)
    before = state_fingerprint(ex)
    with pytest.raises(InsufficientMargin):
        ex.set_leverage(acct, BTC, 4)  # IMR 12,500 > 10,000
    for bad in (0, 21, D("0.5"), D("2.7"), "19.5"):
        with pytest.raises(Exception, match="a whole number between 1 and 20"):
            ex.set_leverage(acct, BTC, bad)
    with pytest.raises(Exception, match="float"):
        ex.set_leverage(acct, BTC, 2.0)
    with pytest.raises(Exception, match="no market"):
        ex.set_leverage(acct, "XRP-PERP", 2)
    assert state_fingerprint(ex) == before
    ex.set_leverage(acct, BTC, D("5.0"))  # whole, written with a decimal point
    assert str(ex.leverage(acct)[BTC]) == "5"


def test_margin_call_warning_moves_with_size():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "10000")
    funded(ex, "mm", "100000000")
    rec = Recorder(ex)
    take(ex, acct, BTC, "buy", "1", "100000")  # MMR 3,000: warning below 6,000
    ex.advance(1)
    assert rec.of("MarginEvent") == []
    ex.set_index_price("BTC", D(95500))  # E 5,500 < 2 * 2,865
    ex.advance(1)
    assert [e.level for e in rec.of("MarginEvent")] == ["warning"]
    assert ex.health(acct).warning
    ex.place_order("mm", BTC, "buy", D("0.5"), price=D(95500))
    ex.place_order(acct, BTC, "sell", D("0.5"), price=D(95500), tif="ioc")  # halve the MMR
    ex.advance(1)
    assert [e.level for e in rec.of("MarginEvent")] == ["warning", "recovered"]


def test_margin_calls_do_not_flap_while_equity_hovers_at_the_line():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "10000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "1", "100000")
    rec = Recorder(ex)
    # E = 10,000 - (100,000 - P) against 2 MMR = 0.06 P: the line is at P = 95,744.68
    for price in (95700, 95800, 95700, 95800, 95850, 95700):  # 95,850: E 5,850 < 5,866.0
        ex.set_index_price("BTC", D(price))
        ex.advance(1)
    assert [e.level for e in rec.of("MarginEvent")] == ["warning"]  # once, not six times
    ex.set_index_price("BTC", D(96000))  # E 6,000 >= 2 MMR 5,760 x 1.02 = 5,875.2
    ex.advance(1)
    assert [e.level for e in rec.of("MarginEvent")] == ["warning", "recovered"]
    h = ex.health(acct)
    assert not h.warning  # health() itself compares exactly, with no band
    ex.set_index_price("BTC", D(95700))  # entering is exact: E 5,700 < 5,742
    ex.advance(1)
    assert [e.level for e in rec.of("MarginEvent")][-1] == "warning"


def test_preview_matches_the_decision_and_changes_nothing():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "5000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("mm", BTC, "sell", D(1), price=D(100100))
    before = state_fingerprint(ex)
    p = ex.preview_order(acct, BTC, "buy", D("1.5"), type="market")
    assert state_fingerprint(ex) == before
    expected = (D(100000) + D("0.5") * D(100100)) / D("1.5")
    assert abs(p.est_fill_price - expected) < D("1e-25")
    assert p.would_reject is not None and p.max_size is not None
    ok = ex.preview_order(acct, BTC, "buy", D("0.5"), type="market")
    assert ok.would_reject is None and ok.position_after == D("0.5")
    assert ok.liquidation_price_before is None and ok.liquidation_price_after is not None
    res = ex.place_order(acct, BTC, "buy", D("0.5"), type="market")
    h = ex.health(acct)
    assert res.filled == D("0.5") and h.imr == ok.imr_after
    assert h.positions[0].liquidation_price == ok.liquidation_price_after
    lim = ex.preview_order(acct, BTC, "buy", D("0.1"), price=D(99000))
    assert lim.est_fill_price == D(99000) and lim.fillable_now == 0
    assert any("within 10 %" in w for w in lim.warnings)


def test_preview_says_what_post_only_and_fill_or_kill_would_do():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "50000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D("0.2"), price=D(100000))
    taking = ex.preview_order(acct, BTC, "buy", D("0.1"), price=D(100000), post_only=True)
    assert taking.would_reject is not None and "post-only" in taking.would_reject
    with pytest.raises(InvalidOrder, match="post-only"):  # what the preview said
        ex.place_order(acct, BTC, "buy", D("0.1"), price=D(100000), post_only=True)
    resting = ex.preview_order(acct, BTC, "buy", D("0.1"), price=D(99900), post_only=True)
    assert resting.would_reject is None
    fok = ex.preview_order(acct, BTC, "buy", D("0.3"), price=D(100000), tif="fok")
    assert any("fill-or-kill: only 0.2000 fillable" in w for w in fok.warnings)
    res = ex.place_order(acct, BTC, "buy", D("0.3"), price=D(100000), tif="fok")
    assert res.filled == 0 and res.status.value == "canceled"
    whole = ex.preview_order(acct, BTC, "buy", D("0.2"), price=D(100000), tif="fok")
    assert not any("fill-or-kill" in w for w in whole.warnings)


def test_closing_part_of_a_profitable_position_counts_its_profit_as_the_fill_books_it():
    ex = exact_exchange()
    acct = funded(ex, "u", "20000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(acct, BTC, "buy", D(1), type="market")
    ex.set_index_price("BTC", D(102000))  # +2,000 unsettled: not in E_im until settled
    ex.place_order("mm", BTC, "buy", D(5), price=D(102000))
    preview = ex.preview_order(acct, BTC, "sell", D("0.5"), type="market")
    crossing = ex.preview_order(acct, BTC, "sell", D("0.5"), price=D(101000))
    ex.place_order(acct, BTC, "sell", D("0.5"), type="market")
    h = ex.health(acct)
    # the closed half's 1,000 of profit is cash once the fill is booked; the preview said so
    assert preview.free_collateral_after == h.free_collateral == D("18374.50")
    assert preview.imr_after == h.imr
    # a limit that crosses at once is previewed filled, for its IMR too (it was 5,100 as if
    # the whole order rested beside the full position, while its liq price assumed the fill)
    assert crossing.imr_after == h.imr and crossing.position_after == D("0.5")

    flipper = funded(ex, "flip", "6000")
    ex.set_index_price("BTC", D(100000))
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(flipper, BTC, "buy", D(1), type="market")
    ex.set_index_price("BTC", D(110000))
    ex.place_order("mm", BTC, "buy", D(10), price=D(110000))
    flip = ex.preview_order(flipper, BTC, "sell", D(3), type="market")
    assert flip.would_reject is None  # refused before: "short by 5215.00"
    ex.place_order(flipper, BTC, "sell", D(3), type="market")
    h = ex.health(flipper)
    assert h.positions[0].size == D(-2) and flip.free_collateral_after == h.free_collateral
    assert h.initial_equity >= h.imr


def test_closing_a_loss_that_other_profit_hid_is_charged_to_a_flip():
    ex = exact_exchange()
    acct = funded(ex, "u", "12000")
    funded(ex, "mm", "100000000")
    for market, price in ((BTC, 100000), (ETH, 3000)):
        ex.place_order("mm", market, "sell", D(1), price=D(price))
        ex.place_order(acct, market, "buy", D(1), type="market")
    ex.set_index_price("BTC", D(98000))  # -2,000 in BTC, hidden by ETH's +2,500
    ex.set_index_price("ETH", D(5500))
    assert ex.health(acct).unsettled_pnl == D(500)  # net profit: E_im counts none of it
    ex.place_order("mm", BTC, "buy", D(10), price=D(98000))
    flip = ex.preview_order(acct, BTC, "sell", D(2), type="market")
    ex.place_order(acct, BTC, "sell", D(2), type="market")
    h = ex.health(acct)
    assert flip.free_collateral_after == h.free_collateral  # the 2,000 loss is cash now


def test_a_stop_is_previewed_as_the_taker_it_becomes_at_its_trigger():
    ex = exact_exchange()  # the default fees: maker 0.02 %, taker 0.05 %
    acct = funded(ex, "u", "20000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "1", "100000")
    ex.place_order("mm", BTC, "buy", D(1), price=D(99900))  # a bid far above the stop
    ex.place_order("mm", BTC, "sell", D(1), price=D(100100))
    before = state_fingerprint(ex)
    stop = ex.preview_order(
        acct, BTC, "sell", D(1), type="stop_market", trigger_price=D(95000), reduce_only=True
    )
    assert state_fingerprint(ex) == before
    # filled whole at 95,000 when the mark gets there, not at today's bid of 99,900
    assert stop.est_fill_price == D(95000) and stop.fillable_now == 0
    assert stop.fee == D("47.50")  # 95,000 x 0.05 %, the taker fee (maker would be 19.00)
    assert stop.position_after == 0 and stop.liquidation_price_after is None
    assert stop.would_reject is None and stop.warnings == []
    tp = ex.preview_order(
        acct, BTC, "sell", D(1), type="take_profit", trigger_price=D(110000), reduce_only=True
    )
    assert tp.est_fill_price == D(110000) and tp.fee == D("55.00")  # taker, though above
    # free collateral after, as the fill would be booked: the position gone frees its margin
    # and its result is cash, a loss at the stop as much as a profit at the take-profit
    equity = ex.health(acct).equity
    assert stop.free_collateral_after == equity - D(5000) - D("47.50")
    assert tp.free_collateral_after == equity + D(10000) - D("55.00")
    reached = ex.preview_order(acct, BTC, "sell", D(1), type="stop_market", trigger_price=D(100000))
    assert reached.would_reject is not None and "already reached" in reached.would_reject
    with pytest.raises(InvalidOrder, match="already reached"):  # what the preview said
        ex.place_order(acct, BTC, "sell", D(1), type="stop_market", trigger_price=D(100000))
    opening = ex.preview_order(acct, BTC, "buy", D(5), type="stop_market", trigger_price=D(105000))
    assert opening.would_reject is None  # accepted now; the margin check runs at the trigger
    assert any("if it triggered at 105000 now it would be canceled" in w for w in opening.warnings)
    for bad, message in (
        ({"type": "stop_market"}, "needs a trigger_price"),
        ({"type": "limit", "price": D(99000), "trigger_price": D(95000)}, "trigger_price applies"),
        ({"type": "trailing"}, "type must be one of"),
    ):
        with pytest.raises(InvalidOrder, match=message):
            ex.preview_order(acct, BTC, "sell", D(1), **bad)
    assert state_fingerprint(ex) == before


def test_robust_mark_follows_the_book_and_resists_one_print():
    ex = Exchange(ExchangeConfig())  # robust mark
    a, b = funded(ex, "a"), funded(ex, "b")
    ex.place_order(a, BTC, "buy", D(1), price=D(100100))
    ex.place_order(b, BTC, "sell", D(1), price=D(100300))
    ex.advance(300)
    mark = ex.market(BTC).mark
    assert D(100000) < mark <= D(100200)  # pulled towards the mid 100,200 by the premium EMA
    ex.place_order(b, BTC, "sell", D("0.0001"), price=D(100100))  # one print at the bid
    assert ex.market(BTC).mark >= D(100100)
    exact = exact_exchange()
    assert exact.market(BTC).mark == exact.market(BTC).index


def test_bad_input_for_risk_calls_changes_nothing():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "10000")
    before = state_fingerprint(ex)
    calls = [
        lambda: ex.health("nobody"),
        lambda: ex.preview_order(acct, "NOPE", "buy", D(1)),
        lambda: ex.preview_order(acct, BTC, "up", D(1), price=D(1)),
        lambda: ex.preview_order(acct, BTC, "buy", 0.1, price=D(1)),
        lambda: ex.explain(acct, "NOPE"),
        lambda: ex.convert(acct, "USD", "USD", D(1)),
        lambda: ex.convert(acct, "USD", "BTC", D(20000)),
        lambda: ex.convert(acct, "USD", "DOGE", D(1)),
        lambda: ex.convert(acct, "USD", "BTC", 1.5),
    ]
    from exchange_local import ExchangeError

    for call in calls:
        with pytest.raises(ExchangeError):
            call()
    assert state_fingerprint(ex) == before


def test_a_withdrawal_refused_by_a_hair_does_not_read_as_equal_numbers():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "5000")
    ex.deposit(acct, "BTC", D("0.1"))  # 9,500 of initial collateral at weight 0.95
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "buy", "1", "100000")  # needs max(IMR 5,000, 10 % of N) = 10,000
    with pytest.raises(InsufficientMargin) as refused:  # leaves 9,999.99915
        ex.withdraw(acct, "BTC", D("0.04736843"))
    assert "initial equity would be 9999.99 USD against the required 10000.00 USD" in str(
        refused.value
    )
    ex.withdraw(acct, "BTC", D("0.04736842"))  # 10,000.00865: allowed


def test_a_reduce_only_order_that_would_not_reduce_is_previewed_as_refused():
    ex = no_fee_exchange()
    acct = funded(ex, "u", "50000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    p = ex.preview_order(acct, BTC, "buy", D("0.1"), type="market", reduce_only=True)
    with pytest.raises(InvalidOrder) as refused:
        ex.place_order(acct, BTC, "buy", D("0.1"), type="market", reduce_only=True)
    assert p.would_reject == str(refused.value)  # it previewed a position 0 -> 0.1 before
    # and nothing happens: every figure after is the one before
    assert p.position_after == p.position_before == 0
    assert (p.imr_after, p.free_collateral_after) == (p.imr_before, p.free_collateral_before)
    assert p.margin_fraction_after == p.margin_fraction_before
    assert p.liquidation_price_after is None and p.bankruptcy_price_after is None
    stop = ex.preview_order(acct, BTC, "sell", D("0.1"), type="stop_market",
                            trigger_price=D(90000), reduce_only=True)  # fmt: skip
    assert stop.would_reject is not None and len(stop.warnings) == 1
    assert stop.position_after == 0 and stop.imr_after == stop.imr_before == 0
    ex.place_order(acct, BTC, "buy", D("0.1"), type="market")  # long 0.1: a buy adds to it
    more = ex.preview_order(acct, BTC, "buy", D("0.1"), type="market", reduce_only=True)
    held = ex.health(acct).positions[0]
    assert more.would_reject is not None and more.position_after == D("0.1")
    assert more.liquidation_price_after == more.liquidation_price_before == held.liquidation_price
    assert more.imr_after == more.imr_before


def test_a_resting_limit_that_closes_is_previewed_as_one_booked_state():
    ex = exact_exchange()
    acct = funded(ex, "u", "6000")
    funded(ex, "mm", "100000000")
    take(ex, acct, BTC, "sell", "1", "100000")  # short 1 at 100,000
    p = ex.preview_order(acct, BTC, "buy", D(1), price=D(95000))  # rests below the mark
    assert p.position_after == 0 and p.imr_after == 0 and p.liquidation_price_after is None
    # as booked if it fills: 5,000 of profit in cash, the maker fee paid; it was the resting
    # view (IMR unchanged, less the fee) beside the filled position: free going negative
    before = ex.health(acct)
    assert p.free_collateral_after == before.initial_equity + D(5000) - p.fee
