"""QA's order-ticket defects as the trader sees them: the ticket in the app (Pilot), against
the teaching venue (the desk quotes 0.5 BTC every 100 USD around 100,000; manual clock)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input, Select

from perptui.app import PerpApp
from perptui.teaching import move_index_near_liquidation
from perptui.widgets.order_ticket import OrderTicket
from tests.test_order_ticket_layout import assert_in_view, row_text
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def _order(pilot, app: PerpApp, size: str, price: str, tif: str = "gtc",  # type: ignore[no-untyped-def]
                 post_only: bool = False) -> OrderTicket:  # fmt: skip
    """A buy limit order typed into the ticket and previewed."""
    await pilot.press("b")
    ticket = app.main.query_one(OrderTicket)
    ticket.query_one("#tif", Select).value = tif
    await pilot.pause()
    ticket.query_one("#price", Input).value = price
    ticket.query_one("#size", Input).value = size
    if post_only:
        ticket.query_one("#post").value = True  # type: ignore[attr-defined]
    await pilot.pause()
    await app.frame()
    await pilot.pause()
    return ticket


def _preview_rows(app: PerpApp) -> list[str]:
    preview = app.main.query_one("#preview")
    return [row_text(app, y, preview.region).strip()
            for y in range(preview.region.y, preview.region.bottom)]  # fmt: skip


# --- 2: a FOK that cannot fill ----------------------------------------------------------------


async def test_a_fok_that_cannot_fill_is_not_called_accepted():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await _order(pilot, app, "2", "100250", tif="fok")  # the book has 1.0 up to there
        shown = " ".join(" ".join(_preview_rows(app)).split())  # a wrapped verdict joined
        assert "✓" not in shown, shown
        assert (
            "✗ would be canceled unfilled: fill-or-kill: only 1.0000 fillable now at 100250 or "
            "better" in shown
        ), shown
        assert "FOK" in str(app.main.query_one("#submit").render())  # the button says it
        app.screen.set_focus(None)
        await pilot.press("enter")  # the question says what sending it does
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        texts = " ".join(str(w.render()) for w in app.screen.query("Label, Button"))
        assert "Send an order that would be canceled unfilled?" in texts, texts
        assert "Send anyway" in texts


# --- 3: the time in force where it does not apply -----------------------------------------------


async def test_the_time_in_force_is_a_limit_orders_alone_and_not_sticky():
    """FOK chosen on a limit, then Market, Stop and back: beside Market and Stop it read
    "FOK", and the next plain limit order went out as FOK."""
    app = app_for(teaching_venue())
    async with app.run_test(size=(120, 36)) as pilot:
        ticket = await _order(pilot, app, "0.1", "99000", tif="fok")
        tif = ticket.query_one("#tif", Select)
        assert ticket.form.tif == "fok" and tif.display and not tif.disabled
        await pilot.press("m")  # market: no time in force at all
        await pilot.pause()
        assert ticket.form.type == "market" and not tif.display
        assert ticket.form.request().tif == "gtc"
        await pilot.press("m")  # stop: waits for its trigger, GTC, greyed out
        await pilot.pause()
        assert ticket.form.type == "stop_market" and tif.display and tif.disabled
        assert tif.value == "gtc" and "GTC" in row_text(app, tif.region.y, tif.region)
        await pilot.press("m", "m")  # take-profit, then limit again
        await pilot.pause()
        assert ticket.form.type == "limit" and tif.display and not tif.disabled
        assert tif.value == "gtc" and ticket.form.tif == "gtc"
        assert ticket.form.request().tif == "gtc"  # what is sent is what is shown
        assert "FOK" not in str(app.main.query_one("#submit").render())


# --- 6: long verdicts wrap, at 160 columns and at 80x24 ------------------------------------


@pytest.mark.parametrize("size", [(160, 48), (120, 36), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_long_refusal_wraps_onto_a_second_row(size: tuple[int, int]):
    """ "✗ would be refused: post-only order at 100200 would take liquid…" was cut at 160
    columns, the rest in a mouse tooltip; wrapped, the button and verdict stay in view."""
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await _order(pilot, app, "0.1", "100200", post_only=True)
        rows = _preview_rows(app)
        start = next(i for i, row in enumerate(rows) if row.startswith("✗ would be refused"))
        verdict = " ".join(rows[start : start + 2])
        want = "✗ would be refused: post-only order at 100200 would take liquidity"
        assert verdict.replace("  ", " ").startswith(want), rows
        if size[0] >= 120:
            assert "…" not in verdict, rows
        assert_in_view(app, app.main.query_one("#preview"))
        assert_in_view(app, app.main.query_one("#submit"))


# --- 7: a position under liquidation --------------------------------------------------------------


async def test_under_liquidation_the_ticket_says_now_not_the_old_liq_price():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
        move_index_near_liquidation(venue, "BTC-PERP", D("0.995"))
        await app.frame()
        await pilot.pause()
        row = next(p for p in venue.ex.health(venue.account).positions)
        assert row.liquidation_state == "now" and row.liquidation_price is not None
        mark = venue.ex.market("BTC-PERP").mark
        await _order(pilot, app, "0.1", str(mark))
        shown = "\n".join(_preview_rows(app))
        assert "Est. liq now → now" in shown, shown
