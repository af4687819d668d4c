"""The class side of the terminal: the projector, the connect screen, keys kept off the
command line, and the recent-servers list."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Digits, Input

from perptui.cli import read_key
from perptui.projector import ProjectorApp
from perptui.screens.connect import ConnectApp, ConnectChoice, check_connection
from perptui.settings import Settings, load_settings, remember_server
from perptui.teaching import move_index_near_liquidation, teaching_venue
from perptui.venues.remote import RemoteVenue
from perptui.widgets.header import MarketHeader
from perptui.widgets.history import EventsLog, RowsTable

D = Decimal


async def test_the_projector_shows_the_mark_the_fund_liquidations_and_the_class():
    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ex = venue._exchange()
        ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
        await app.frame()
        assert app.query_one("#mark", Digits).value == "100,000.0"
        move_index_near_liquidation(venue, "BTC-PERP", D("0.97"))
        await venue.advance(D(3))
        for _ in range(4):  # the leaderboard refreshes every few frames
            await app.frame()
        await pilot.pause()
        seen = list(app.query_one(EventsLog).lines_seen)
        assert any("stage 1" in line.text for line in seen)
        assert all(line.kind != "fill" for line in seen)  # the wall shows stages, not fills
        board = app.query_one(RowsTable)
        assert board.row_count == 2  # the paper account and the lesson's desk, no bots
        fund = app.query_one("#fund", Digits).value
        assert fund == f"{ex.insurance_fund():,.0f}"


async def test_the_leaderboard_ranks_trading_pnl_not_deposits():
    venue = teaching_venue()
    await venue.start()
    ex = venue._exchange()
    ex.place_order(venue.account, "BTC-PERP", "buy", D(1), type="market")
    ex.set_index_price("BTC", D(101_000))
    board = await venue.leaderboard()
    me = next(r for r in board if r.account == venue.account)
    cost = D("0.5") * D(100_100) + D("0.5") * D(100_200)  # the desk's two best asks
    fee = cost * D("0.0005")  # taker
    assert me.pnl == D(101_000) - cost - fee
    await venue.stop()


async def test_the_connect_test_names_the_account_and_scopes(served):
    c, live = served
    line = await check_connection(live.base_url, c.key["alice"])
    assert "alice" in line and "trade" in line and "BTC-PERP" in line
    with pytest.raises(Exception, match=r"(?i)key|auth|unknown") as refused:
        await check_connection(live.base_url, "elk_nope_nope")
    # on the connect screen (or the shell after --connect) a new key is pasted right there:
    # "then quit (q) and run: perptui connect" told a student on that screen to leave it
    assert "ask the teacher for a new key" in str(refused.value)
    assert "quit (q)" not in str(refused.value)


async def test_the_connect_screen_returns_what_was_typed(served):
    c, live = served
    app = ConnectApp(Settings(recent_servers=[live.base_url]), url=live.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#key", Input).value = c.key["bob"]
        await pilot.press("enter")  # the key field submits
        await pilot.pause()
    assert app.return_value == ConnectChoice(live.base_url, c.key["bob"])


async def test_a_read_key_watches_the_class_through_the_projector(served):
    c, live = served
    venue = RemoteVenue(live.base_url, c.key["watch"])
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)):
        await app.frame()
        names = {str(row.key.value) for row in app.query_one(RowsTable).rows.values()}
        assert {"alice", "bob"} <= names
        assert app.query_one("#mark", Digits).value


def test_the_key_comes_from_a_flag_a_file_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("PERPTUI_KEY", raising=False)
    ns = argparse.Namespace(key=None, key_file=None)
    assert read_key(ns) is None
    monkeypatch.setenv("PERPTUI_KEY", "from-env")
    assert read_key(ns) == "from-env"
    path = tmp_path / "key.txt"
    path.write_text("from-file\n")
    assert read_key(argparse.Namespace(key=None, key_file=path)) == "from-file"
    assert read_key(argparse.Namespace(key="from-flag", key_file=path)) == "from-flag"
    with pytest.raises(SystemExit, match="cannot read the key file"):
        read_key(argparse.Namespace(key=None, key_file=Path(tmp_path / "missing")))


def test_recent_servers_are_remembered_newest_first_without_keys(tmp_path):
    path = tmp_path / "settings.toml"
    settings = load_settings(path)
    remember_server(settings, "http://a:1")
    remember_server(settings, "http://b:2")
    remember_server(settings, "http://a:1")
    again = load_settings(path)
    assert again.recent_servers == ["http://a:1", "http://b:2"]
    assert again.problem is None and "elk_" not in path.read_text()


async def test_the_projector_turns_stale_when_the_server_goes_away():
    """It kept showing '● live' and a frozen mark after the class server was killed."""
    from perptui.venues.remote import VenueUnavailable

    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        header = app.query_one(MarketHeader)
        assert "live" in str(header.render())

        async def gone(market: str, interval: str = "1m") -> None:
            raise VenueUnavailable("cannot reach 127.0.0.1:8741")

        venue.snapshot = gone  # type: ignore[method-assign,assignment]
        for _ in range(3):
            await app.frame()
        await pilot.pause()
        assert "STALE" in str(header.render())
        said = [n for n in app._notifications if "cannot reach" in str(n.message)]
        assert len(said) == 1  # once, not every frame


async def test_the_projectors_stale_age_counts_while_the_venue_answers_from_its_cache():
    """Class QA: with the server stopped the remote venue still answers snapshot() from its
    cache (connection "stale", its own age), and the leaderboard call then fails: the wall
    read "STALE 0s" for as long as the server was down, where a student's view counted."""
    from dataclasses import replace

    from perptui.venues.base import Connection
    from perptui.venues.remote import VenueUnavailable

    venue = teaching_venue()
    app = ProjectorApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        real = venue.snapshot

        async def cached(market: str, interval: str = "1m") -> Any:
            snap = await real(market, interval)
            return replace(snap, connection=Connection("stale", age_s=24.0))

        async def gone() -> Any:
            raise VenueUnavailable("cannot reach 127.0.0.1:8741")

        venue.snapshot = cached  # type: ignore[method-assign,assignment]
        venue.leaderboard = gone  # type: ignore[method-assign,assignment]
        for _ in range(4):  # the leaderboard is asked every fourth frame
            await app.frame()
        await pilot.pause()
        text = str(app.query_one(MarketHeader).render())
        assert "STALE 24s" in text, text
