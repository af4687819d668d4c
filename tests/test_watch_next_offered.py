"""`w` (watch the next account) offered only where it watches another account: the calm and
volatility demos script no account of their own, and `w` was in the watch panel and the
palette there, saying "watching paper" about the account already on screen."""

from __future__ import annotations

import pytest

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue


def palette_titles(app: PerpApp) -> list[str]:
    return [c.title for c in app.get_system_commands(app.screen)]


@pytest.mark.parametrize("lesson", ["calm", "volatility"])
async def test_a_demo_with_one_account_does_not_offer_w(lesson: str):
    venue = DemoVenue(lesson, clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        assert not [n for n in venue.watchable() if n != venue.account]
        words = str(app.main.query_one("#watch").render())
        assert "next account" not in words and "t explain" in words
        assert not any(t.startswith("Watch next") for t in palette_titles(app))
        assert app.check_action("watch_next", ()) is False
        watched = venue.account
        await pilot.press("w")
        await pilot.pause()
        assert venue.account == watched
        assert not any("watching" in str(n.message) for n in app._notifications)


async def test_called_directly_it_says_why_nothing_happens():
    venue = DemoVenue("calm", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await app.run_action("watch_next")  # refused by check_action, as the key is
        await app.action_watch_next()
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert any("no other account to watch" in s for s in said), said


async def test_a_demo_with_accounts_to_watch_offers_w():
    venue = DemoVenue("gap", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        assert "w next account" in str(app.main.query_one("#watch").render())
        assert any(t.startswith("Watch next") for t in palette_titles(app))
        await pilot.press("w")
        await pilot.pause()
        assert venue.account == "fay"
