"""Help lists `w` (watch next) among the main screen's keys only where it is offered, by the
app's own rule (`_can_watch_next`): it was listed on the paper market and in lessons with no
other account to watch, where the key does nothing. Keys not offered are kept apart, under
their own heading, for their remappable ids."""

from __future__ import annotations

from textual.widgets import Markdown

from perptui.app import PerpApp
from perptui.screens.help import NOT_HERE, HelpScreen
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue
from tests.tui_support import app_for, teaching_venue

W_ROW = "| `w` | Watch next | demo.watch_next |"


async def main_and_not_here(app: PerpApp, pilot) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The help's main-screen table and its table of keys not offered here."""
    await app.frame()
    await pilot.pause()
    await pilot.press("f1")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    source = app.screen.query_one(Markdown).source
    main = source.split("## Main screen", 1)[1].split("\n## ", 1)[0]
    table, _, not_here = main.partition(f"### {NOT_HERE}")
    return table, not_here


async def test_the_paper_market_help_lists_w_only_as_not_offered():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        table, not_here = await main_and_not_here(app, pilot)
        assert "demo.watch_next" not in table
        assert W_ROW in not_here
        assert "| order.buy |" in table and "| account.deposit |" in table


async def test_a_lesson_with_one_account_does_not_list_w_among_its_keys():
    app = PerpApp(DemoVenue("calm", clock="manual"), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        table, not_here = await main_and_not_here(app, pilot)
        assert "demo.watch_next" not in table and W_ROW in not_here
        assert "| order.buy |" in not_here  # the trading keys too: a demo only watches


async def test_a_lesson_with_accounts_to_watch_lists_w():
    app = PerpApp(DemoVenue("gap", clock="manual"), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        table, not_here = await main_and_not_here(app, pilot)
        assert W_ROW in table and "demo.watch_next" not in not_here


async def test_the_palette_key_is_in_the_main_table():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        table, _ = await main_and_not_here(app, pilot)
        assert "| `ctrl+p` | Palette: every action by name | (Textual) |" in table
        assert "| clock.pause |" in table  # the paper clock is ours: p, + and - work
