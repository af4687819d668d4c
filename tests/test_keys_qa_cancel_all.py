"""`c` with no open order asks nothing: "Cancel all orders? / 0 open orders" put a decision
to the trader that decided nothing. It says so instead; with orders open it still asks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perptui.screens.modals import ConfirmScreen
from tests.tui_support import app_for, teaching_venue

D = Decimal


@pytest.mark.parametrize("confirm", [True, False])
async def test_cancel_all_with_nothing_open_says_so_and_opens_nothing(confirm: bool):
    venue = teaching_venue()
    app = app_for(venue, confirm=confirm)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        asked: list[object] = []
        venue.cancel_all = lambda market=None: asked.append(market)  # type: ignore[method-assign,assignment,misc]
        await pilot.press("c")
        await pilot.pause()
        assert app.screen is app.main
        assert not isinstance(app.screen, ConfirmScreen)
        assert "no open orders to cancel" in [str(n.message) for n in app._notifications]
        assert asked == []


async def test_cancel_all_with_an_order_open_still_asks():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.1"), price=D(99000))
        await app.frame()
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and app.screen.body == "1 open order"
        await pilot.press("y")
        await pilot.pause()
        await app.frame()
        assert venue.ex.open_orders(venue.account) == []
