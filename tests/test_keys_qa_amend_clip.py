"""An amend of a reduce-only stop above the position: the engine clips the size to the
position and says nothing, and the result read "✓ order 185 amended (trigger …)" with the
size left as it was. It now says the size asked was clipped to the position, and why."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from perptui.widgets.history import RowsTable
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def test_a_reduce_only_stop_amended_above_the_position_says_it_was_clipped():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        ex.place_order(me, "BTC-PERP", "sell", D(1), type="market")  # a 1 BTC short
        stop = ex.place_order(me, "BTC-PERP", "buy", D(1), type="stop_market",
                              trigger_price=D(103000), reduce_only=True)  # fmt: skip
        await app.frame()
        await pilot.press("2")
        table = app.main.query_one("#orders-table", RowsTable)
        table.focus()
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#price", Input).value = "102500"
        app.screen.query_one("#size", Input).value = "1.2"
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        info = ex.order(me, stop.order_id)
        assert (info.trigger_price, info.size) == (D(102500), D(1))  # the engine's clip
        said = [n for n in app._notifications if n.title == "Amend"]
        text = str(said[-1].message)
        assert "trigger 103,000.0 → 102,500.0" in text
        assert "size 1.2000 asked, clipped to 1.0000" in text
        assert "reduce-only" in text
        assert said[-1].severity == "warning"
