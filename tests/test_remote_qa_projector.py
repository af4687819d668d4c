"""Class QA D1: while the server was down the projector stacked a new "VenueUnavailable" toast
on every leaderboard refresh (9 in 12 s) over the leaderboard. A problem is said once per kind
until a frame fully succeeds: the snapshot live and the leaderboard answered."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from perptui.projector import BOARD_EVERY_FRAMES, ProjectorApp
from perptui.settings import Settings
from perptui.venues.base import Connection
from perptui.venues.local import LocalVenue
from perptui.venues.remote import RemoteVenue, VenueUnavailable
from perptui.widgets.header import MarketHeader
from tests.test_server_support import live_server, make_class
from tests.tui_support import teaching_venue

DOWN = "cannot reach 127.0.0.1:8811: All connection attempts failed"


def said(app: ProjectorApp, words: str) -> int:
    return len([n for n in app._notifications if words in str(n.message)])


def server_down(venue: LocalVenue, cached: bool = True) -> None:
    """As the remote venue behaves with its server killed: snapshot() from its cache (STALE)
    unless `cached` is False (the cache still looks live), the leaderboard call failing."""
    real = venue.snapshot

    async def stale(market: str, interval: str = "1m") -> Any:
        snap = await real(market, interval)
        return replace(snap, connection=Connection("stale", age_s=9.0)) if cached else snap

    async def gone() -> Any:
        raise VenueUnavailable(DOWN)

    venue.snapshot = stale  # type: ignore[method-assign,assignment]
    venue.leaderboard = gone  # type: ignore[method-assign,assignment]


async def test_a_server_down_is_one_toast_however_many_leaderboard_refreshes_fail():
    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        server_down(venue)
        for _ in range(6 * BOARD_EVERY_FRAMES):  # 12 s of frames
            await app.frame()
        await pilot.pause()
        assert said(app, DOWN) == 1
        assert "STALE" in str(app.query_one(MarketHeader).render())


async def test_a_live_looking_cache_does_not_make_the_failing_leaderboard_news_again():
    """In the seconds before the venue notices, its cached frame still reads live: a frame
    that drew without the leaderboard is no whole frame."""
    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        server_down(venue, cached=False)
        for _ in range(6 * BOARD_EVERY_FRAMES):
            await app.frame()
        await pilot.pause()
        assert said(app, DOWN) == 1


async def test_after_a_whole_frame_the_same_problem_is_said_again():
    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        snapshot, leaderboard = venue.snapshot, venue.leaderboard
        server_down(venue)
        for _ in range(2 * BOARD_EVERY_FRAMES):
            await app.frame()
        venue.snapshot, venue.leaderboard = snapshot, leaderboard  # type: ignore[method-assign]
        for _ in range(BOARD_EVERY_FRAMES):  # the server back: a leaderboard answered
            await app.frame()
        server_down(venue)  # killed again: a new outage is news
        for _ in range(2 * BOARD_EVERY_FRAMES):
            await app.frame()
        await pilot.pause()
        assert said(app, DOWN) == 2


async def test_a_stopped_class_server_is_said_once_on_the_projector():
    """The QA repro against a real server: the projector with the watch-only key, the
    server stopped under it, then a dozen frames."""
    c = make_class()
    with contextlib.ExitStack() as running:
        live = running.enter_context(live_server(c.app))
        venue = RemoteVenue(live.base_url, c.key["watch"], refresh_s=0)
        app = ProjectorApp(venue, Settings(), frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.frame()
            running.close()  # the server is gone
            for _ in range(6 * BOARD_EVERY_FRAMES):
                await app.frame()
            await pilot.pause()
            toasts = [str(n.message) for n in app._notifications]
            assert len([t for t in toasts if t.startswith("VenueUnavailable")]) == 1, toasts
            assert "STALE" in str(app.query_one(MarketHeader).render())
