"""The close dialog prices on the market's tick, as the book does: it said "at about the mark
99,794.00" where BTC shows one decimal everywhere else."""

from __future__ import annotations

from decimal import Decimal

from perptui.screens.modals import ConfirmScreen
from perptui.widgets.positions import PositionsTable
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def test_the_close_dialog_shows_the_mark_and_size_on_the_markets_steps():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        app.main.query_one(PositionsTable).focus()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        mark = venue.ex.market("BTC-PERP").mark
        assert mark == D(100000)
        # the venue's preview prices the close at the desk's bid (tests/test_remote_qa_close.py);
        # every price in it on the tick, as the book shows them
        assert "for 0.5000: the book would fill it at about 99,900.0 (mark 100,000.0);" in (
            app.screen.body
        )
