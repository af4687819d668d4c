"""The Fills tab of a replay from `--from` and of a demo (QA D3): the fills made before the
screen opened are listed as a live session and a reopened paper market list them.

Both venues overrode LocalVenue.start and skipped its loading of earlier fills: a replay from
00:02:50 showed the long opened at 00:00:35 and no fill that made it, and a lesson's account
its position with an empty tab.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local.orders import Fill
from perptui.app import PerpApp
from perptui.replay import open_replay
from perptui.settings import Settings
from perptui.venues.base import OrderRequest
from perptui.venues.demo import DemoVenue
from perptui.venues.local import LocalVenue
from perptui.venues.replay import ReplayVenue
from perptui.widgets.history import RowsTable

D = Decimal
BTC = "BTC-PERP"


async def record(db: Path) -> list[Fill]:
    """The tester's session in a paper market: buy 0.1 BTC at 00:00:35, sell 0.05 at
    00:03:03, buy 0.2 at 00:04:56. Returns the live session's Fills rows."""
    venue = LocalVenue(db, clock="manual", seed=1)
    await venue.start()
    for at, side, size in ((35, "buy", "0.1"), (183, "sell", "0.05"), (296, "buy", "0.2")):
        await venue.advance(D(at) - D(venue._exchange().now_ms) / 1000)
        await venue.place_order(OrderRequest(BTC, side, D(size), "market"))
    await venue.advance(D(20))
    live = await venue.fills()
    await venue.stop()
    return live


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Fill]]:
    """One recorded session for the module (a living market's five minutes take seconds).
    The replays only read it; a reopening adds to its journal after the last fill."""
    db = tmp_path_factory.mktemp("session") / "s.sqlite"
    return db, asyncio.run(record(db))


async def reopened(db: Path) -> list[Fill]:
    """What the paper market lists when it is opened again on the same store."""
    venue = LocalVenue(db, clock="manual", seed=1)
    await venue.start()
    try:
        return await venue.fills()
    finally:
        await venue.stop()


async def test_a_replay_from_a_time_lists_the_fills_made_before_it(
    recorded: tuple[Path, list[Fill]],
) -> None:
    db, live = recorded
    assert {f.time_ms for f in live} == {35_000, 183_000, 296_000}
    opened = open_replay(["--db", str(db), "--from", "00:02:50"])
    assert isinstance(opened, ReplayVenue)
    venue = ReplayVenue(opened.replay, clock="manual")  # the one the command line opened
    await venue.start()
    try:
        assert await venue.fills() == [f for f in live if f.time_ms <= 170_000] != []
        await venue.advance(D(400))
        assert venue.replay.finished
        assert await venue.fills() == live  # same rows, times, fees and roles
    finally:
        await venue.stop()
    assert await reopened(db) == live


async def test_the_replays_fills_tab_shows_them_from_the_first_screen(
    recorded: tuple[Path, list[Fill]],
) -> None:
    db, live = recorded
    opened = open_replay(["--db", str(db), "--from", "00:02:50"])
    assert isinstance(opened, ReplayVenue)
    venue = ReplayVenue(opened.replay, clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("3")
        await pilot.pause()
        await app.frame()
        table = app.main.query_one("#fills-table", RowsTable)
        before = [f for f in live if f.time_ms <= 170_000]
        assert table.row_count == len(before) > 0
        rows = [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert {r[0] for r in rows} == {"00:00:35"} and {r[2] for r in rows} == {"BUY"}
        assert {r[6] for r in rows} == {"taker"}


async def test_a_demo_lists_the_lessons_fills_made_before_the_screen_opened() -> None:
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        ex = venue._exchange()
        assert venue.account == "ada" and ex.positions("ada")  # her long, opened at 00:00:00
        assert await venue.fills() == list(reversed(ex.fills("ada"))) != []
        await pilot.press("3")
        await pilot.pause()
        await app.frame()
        table = app.main.query_one("#fills-table", RowsTable)
        row = [str(c).strip() for c in table.get_row_at(0)]
        assert table.row_count == 1
        assert row == ["00:00:00", BTC, "BUY", "2.0000", "100,000.0", "100.000000", "taker"]


async def test_watching_the_next_account_lists_its_fills_not_the_last_ones() -> None:
    """After `w` the tab kept the first account's fills and only the next one's later ones."""
    venue = DemoVenue("cascade", clock="manual")
    await venue.start()
    try:
        await venue.advance(D(40))
        ex = venue._exchange()
        for _ in venue.watchable():
            name = venue.watch_next()
            assert await venue.fills() == list(reversed(ex.fills(name))), name
    finally:
        await venue.stop()


async def test_the_second_run_of_a_lesson_lists_its_own_fills() -> None:
    """Squeeze runs two exchanges one after the other; the second one's set-up trades came
    before the venue followed it, and the first one's fills were left on the tab."""
    venue = DemoVenue("squeeze", clock="manual")
    await venue.start()
    try:
        first = venue._exchange()
        while venue.scenario.runs < 2 and not venue.scenario.finished:
            await venue.advance(D(1))
        ex = venue._exchange()
        assert ex is not first
        assert await venue.fills() == list(reversed(ex.fills(venue.account))) != []
    finally:
        await venue.stop()
