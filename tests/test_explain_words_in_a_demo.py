"""The explain screen (`t`) with no position, in a demo: it said "Open a position", and a
demo cannot trade (the watch panel stands where the ticket was); it names the account watched
and how to watch another instead. The paper market keeps its words."""

from __future__ import annotations

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue
from tests.tui_support import app_for, teaching_venue


async def explain_words(app: PerpApp, market: str | None = None) -> str:
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        if market is None:
            await pilot.press("t")
        else:  # a market the watched account holds nothing in (`t` picks the held one)
            from perptui.screens.explain import ExplainScreen

            app.push_screen(ExplainScreen(app.venue, market))
        await pilot.pause()
        await pilot.pause()
        assert type(app.screen).__name__ == "ExplainScreen"
        return str(app.screen.query_one("#no-position").render())


async def test_a_demo_does_not_ask_to_open_a_position():
    venue = DemoVenue("calm", clock="manual")
    words = await explain_words(PerpApp(venue, Settings(), frame_loop=False))
    assert "Open a position" not in words, words
    assert "paper has no BTC-PERP position" in words and "you are watching" in words
    assert "watches the next account" not in words  # calm has no other account to watch


async def test_a_demo_with_other_accounts_says_w_watches_the_next():
    venue = DemoVenue("gap", clock="manual")  # eve holds BTC-PERP only
    words = await explain_words(PerpApp(venue, Settings(), frame_loop=False), "ETH-PERP")
    assert "Open a position" not in words, words
    assert "eve has no ETH-PERP position" in words and "w watches the next account" in words


async def test_the_paper_market_still_asks_to_open_one():
    words = await explain_words(app_for(teaching_venue()))
    assert "Open a position and come back with t" in words, words
