"""More of what the liquidation words say, from a teacher's QA pass (MECHANICS section 4): no
retry promised for a position ADL closes in the same tick, no "partial" for the order for the
whole position, a short taken over is not "paid" for, a bankrupt cell names the takeover that
comes first, and a ticket warning's prices read like every other price on screen."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from rich.console import Console
from rich.text import Text
from textual.widgets import Static

from exchange_local.events import LiquidationEvent
from exchange_local.exchange import Exchange
from perptui.screens.stress import StressScreen, detail_text
from perptui.stress import ALL, SHOCKS, STAGES, stress_grid
from perptui.ticket import preview_lines, warning_text
from perptui.venues.base import OrderRequest
from tests.helpers import Recorder, exact_exchange, funded
from tests.test_liquidation import BTC, exchange, two_btc_long
from tests.test_liquidation_wording import liquidations, text
from tests.tui_support import PaperHost

D = Decimal


# --- 1: no retry promised when stages 4-5 close the position in the same tick -----------------


def past_the_budget() -> tuple[Exchange, Recorder, str]:
    """No BLPs, no bids, u long 1 BTC from s1 and s2 at 100,000 on 6,000; the index at 93,000
    puts u's E at -1,000, past the fund's step budget of 500 (fund 5,000). Two seconds run."""
    ex = exchange(insurance_fund=D(5000))
    funded(ex, "mm", "100000000")
    s1, s2 = funded(ex, "s1", "3000"), funded(ex, "s2", "50000")
    u = funded(ex, "u", "6000")
    ex.place_order(s1, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(s2, BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(93000))
    ex.advance(2)
    return ex, rec, u


def test_a_book_close_that_fills_nothing_before_adl_promises_no_retry():
    """No BLPs, E -1,000 past the fund's step budget 500, no bids: the book close fills
    nothing, then in the same tick the fund pays its budget and ADL closes the position."""
    ex, rec, u = past_the_budget()
    events = liquidations(rec, u)
    assert [e.stage for e in events] == ["cancel", "book_close", "insurance", "adl", "over"]
    close = events[1]
    assert close.size == 0 and {e.time_ms for e in events[1:]} == {close.time_ms}
    assert ex.positions(u) == []  # gone in the same tick: nothing is retried
    line = text(close)
    assert "u: stage 3: close on the book, nothing filled within the limit · BTC-PERP" in line
    assert "retried" not in line and "each second" not in line and "again" not in line
    assert "closed on the book" not in line  # nothing was closed
    assert "stage 5: auto-deleveraged" in text(events[3])  # the next stage speaks


def test_a_stage_2_order_that_fills_nothing_leaves_the_position_open():
    """A 20 % order with no bid within its limit: the position is still open, and the next
    order waits out the 30 s cooldown, so no "each second" either."""
    ex, u = two_btc_long(bid=False)
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))  # E 4,500 < MMR 5,700, >= ACMR: stage 2, no bids
    ex.advance(2)
    partial = liquidations(rec, u)[-1]
    assert (partial.stage, partial.size) == ("partial", D(0))
    assert ex.positions(u)[0].size == 2
    line = text(partial)
    assert line.startswith("u: stage 2: liquidation order on the book for part of the position "
                           "(0.4000 of 2.0000), nothing filled within the limit; the position "
                           "stays open · BTC-PERP · limit")  # fmt: skip
    assert "retried" not in line and "each second" not in line and "partial" not in line


# --- 2: the order after a partial one is for the whole position -------------------------------


def test_the_order_for_the_whole_position_is_not_called_partial():
    """2 BTC, 200,000 USD: first 20 % (0.4), then after the cooldown the whole 1.6 left."""
    ex, u = two_btc_long()
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))
    ex.advance(32)
    orders = [e for e in liquidations(rec, u) if e.stage == "partial"]
    assert [e.size for e in orders] == [D("0.4"), D("1.6")]
    first, whole = (text(e) for e in orders)
    assert first.startswith("u: stage 2: liquidation order on the book for part of the "
                            "position (0.4000 of 2.0000) · BTC-PERP · filled 0.4000 @")  # fmt: skip
    assert "whole position" not in first and "asked 0.4000 at" in first
    assert whole.startswith("u: stage 2: liquidation order on the book for the whole position "
                            "· BTC-PERP · filled 1.6000 @")  # fmt: skip
    assert "partial" not in whole and "· asked 1.6000 at" in whole


def test_a_stage_2_order_says_which_order_it_is_with_another_position_open():
    """The event's size is what filled and MMR after stays above 0 with another position:
    the engine's detail says whether the order was for the whole position or a share."""
    event = LiquidationEvent(2000, "u", BTC, "partial", D("0.5"), D(94100), D(4500), D(4000),
                             D(5700), D(4200), (), D(1000), D(1010),
                             "the whole position: asked 0.5 at 94,100.00 or better",
                             fee=D(10))  # fmt: skip
    line = text(event)
    assert line.startswith("u: stage 2: liquidation order on the book for the whole position "
                           "· BTC-PERP · filled 0.5000 · limit")  # fmt: skip
    assert line.endswith("· asked 0.5 at 94,100.00 or better") and "partial" not in line


# --- 3: a short taken over: the BLPs take the short, they do not "pay" -----------------------


def solvent_takeover(side: str, move: str) -> tuple[LiquidationEvent, object]:
    ex = exchange(backstop_accounts=("blp",))
    funded(ex, "mm", "100000000")
    funded(ex, "blp", "10000000")
    u = funded(ex, "u", "3000")
    other = "buy" if side == "sell" else "sell"
    ex.place_order("mm", BTC, other, D("0.5"), price=D(100000))
    assert ex.place_order(u, BTC, side, D("0.5"), price=D(100000), tif="ioc").filled == D("0.5")
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(move))  # E 500 < ACMR: BLPs at 2/3 ZP + 1/3 M
    ex.advance(2)
    takeover = next(e for e in liquidations(rec, u) if e.stage == "backstop")
    return takeover, ex


def test_a_short_taken_over_says_the_blps_take_the_short_at_their_price():
    takeover, ex = solvent_takeover("sell", "105000")
    assert takeover.size == D("-0.5") and takeover.equity_before == 500
    assert (takeover.fill_price, takeover.counter_price) == (D(106000), D("105666.5"))
    assert takeover.detail == (
        "at the zero price 106,000.00; the BLPs take the short at 105,666.50 (2/3 ZP + 1/3 "
        "mark, rounded to the tick in the fund's favour), the difference 166.75 USD to the "
        "fund"
    )
    assert "pay" not in takeover.detail
    assert ex.positions("blp")[0].size == D("-0.5")  # the providers hold the short now
    assert ex.positions("blp")[0].entry_price == D("105666.5")
    assert ex.check_invariants() == []


def test_a_long_taken_over_says_the_blps_take_the_long_with_the_same_numbers():
    takeover, ex = solvent_takeover("buy", "95000")
    assert takeover.size == D("0.5")
    assert (takeover.fill_price, takeover.counter_price) == (D(94000), D("94333.5"))
    assert takeover.detail.startswith(
        "at the zero price 94,000.00; the BLPs take the long at 94,333.50 (2/3 ZP + 1/3 mark, "
        "rounded to the tick in the fund's favour), the difference 166.75 USD to the fund"
    )
    assert ex.positions("blp")[0].size == D("0.5")


# --- 4: the stress grid's bankrupt stage names the takeover first ------------------------------


def test_a_bankrupt_cell_names_the_takeover_the_fund_then_adl():
    words = STAGES["bankrupt"]
    assert words == "stage 3-5: backstop takeover, fund pays the deficit, else ADL"
    assert words.index("backstop") < words.index("fund") < words.index("ADL")


async def check_bankrupt_detail_fits(size: tuple[int, int]) -> None:
    app = PaperHost()
    async with app.run_test(size=size) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        screen = StressScreen(venue)
        await app.push_screen(screen)
        await pilot.pause()
        ex = venue.ex
        assert ex is not None
        grid = stress_grid(ex.health(venue.account), {m: ex.market(m) for m in ex.markets()})
        cell = grid.cell("BTC", SHOCKS[0])
        assert cell.status == "bankrupt"
        await pilot.press(*["up"] * SHOCKS.index(D(0)))  # to -50 % in the first column
        await pilot.pause()
        detail = screen.query_one("#stress-detail", Static)
        shown = str(detail.content)
        assert shown == detail_text(cell) and shown.endswith(
            "BANKRUPT · stage: stage 3-5: backstop takeover, fund pays the deficit, else ADL"
        )
        width = detail.content_size.width
        wrapped = Text(shown).wrap(Console(width=width), width)
        assert detail.content_size.height >= len(wrapped)  # every line of it shown
        assert detail.region.bottom <= size[1] - 1  # above the footer, on the screen
        assert screen.query_one("#stress-grid").region.height >= 4  # the grid keeps rows
        assert ALL in grid.columns
    await app.venue.stop()


async def test_the_bankrupt_stage_fits_the_stress_screen_at_120_columns():
    await check_bankrupt_detail_fits((120, 36))


async def test_the_bankrupt_stage_fits_the_stress_screen_at_80_columns():
    await check_bankrupt_detail_fits((80, 24))


# --- 5: a ticket warning's prices with separators, on the tick --------------------------------


def test_the_liquidation_warning_shows_prices_like_the_rest_of_the_ticket():
    ex = exact_exchange()
    u = funded(ex, "u", "7000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    preview = ex.preview_order(u, BTC, "buy", D(1), price=D(99000))
    assert preview.warnings == [
        "liquidation price 94866.0 would be within 10 % of the mark 100000"
    ]  # the engine's form (exchange_local/views.py)
    ms = ex.market(BTC)
    for narrow in (False, True):
        warns = [t for style, t in preview_lines(preview, ms, narrow) if style == "warn"]
        assert warns == ["⚠ liquidation price 94,866.0 would be within 10 % of the mark 100,000.0"]
    # the engine's other warnings, and anything not in that form, are left as written
    other = "the account would be under liquidation after this order"
    mixed = dataclasses.replace(preview, warnings=[*preview.warnings, other])
    lines = [t for style, t in preview_lines(mixed, ms) if style == "warn"]
    assert lines[-1] == f"⚠ {other}"


def test_warning_text_formats_only_the_known_form():
    tick = D("0.5")
    near = "liquidation price 108325.5 would be within 10 % of the mark 100116.5"
    shown = "liquidation price 108,325.5 would be within 10 % of the mark 100,116.5"
    assert warning_text(near, tick) == shown
    # a mark off the tick (a computed mark) is shown on it, as the ticket shows the mark
    off = "liquidation price 1500 would be within 10 % of the mark 1450.26"
    assert (
        warning_text(off, D(1)) == "liquidation price 1,500 would be within 10 % of the mark 1,450"
    )
    for left_alone in ("liquidation price soon would be within 10 % of the mark 100",
                       "would be rejected: reduce-only", "price 100000 is far from the mark",
                       "liquidation price NaN would be within 10 % of the mark 100"):  # fmt: skip
        assert warning_text(left_alone, tick) == left_alone


# --- ADL on the tick: the fund's few cents said, not left to look like a mistake -----------


def test_adl_off_the_tick_says_the_exact_zero_price_and_where_the_rounding_goes():
    """The gap lesson's eve with 0.30 more: E -3,049.70 at mark 90,000, the fund's budget
    1,200, so her zero price after it is 91,849.70, closed at 91,850.0 on the tick; the
    fund's line then moved 0.30 more than it paid with nothing said (cascade's dan: 0.44)."""
    ex = exchange(insurance_fund=D(12000))
    funded(ex, "mm", "100000000")
    s = funded(ex, "s", "100000")
    u = funded(ex, "u", "6950.3")
    ex.place_order(s, BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(90000))
    ex.advance(2)
    adl = next(e for e in liquidations(rec, u) if e.stage == "adl")
    assert adl.price == D(91850)
    assert adl.detail == ("at the bankrupt position's zero price 91,849.70, 91,850.00 on the "
                          "tick (rounded in the account's favour: what that leaves goes to "
                          "the fund)")  # fmt: skip
    assert adl.fund_after - adl.fund_before == D("0.3")
    assert fund0 - ex.insurance_fund() == D("1199.7")
    assert ex.check_invariants() == []


def test_a_liquidation_with_no_orders_to_cancel_says_so():
    from exchange_local.scenarios import run_scenario

    result = run_scenario("cascade", seed=1)
    notes = [r.note for r in result.rows if r.event == "liquidation: cancel"]
    assert notes and all("0 open orders" not in n for n in notes), notes
    assert "no open orders to cancel" in notes


def test_an_order_that_would_be_liquidated_is_not_also_near_its_liquidation_price():
    """A long whose liquidation price would sit above the mark is past it: "within 10 % of the
    mark" beside "would be under liquidation" read as two different states (the QA class)."""
    ex = exact_exchange()
    u = funded(ex, "u", "7000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(7), price=D(100000))
    preview = ex.preview_order(u, BTC, "buy", D(7), price=D(100000))
    assert preview.would_reject  # far over the margin: refused, its warnings still shown
    assert preview.liquidation_price_after is not None
    assert preview.liquidation_price_after > ex.market(BTC).mark
    assert "the account would be under liquidation after this order" in preview.warnings
    assert not any("within 10 %" in w for w in preview.warnings), preview.warnings
