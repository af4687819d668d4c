"""The class's events before perptui connected, and those missed while it was away: fetched by
REST (GET /events?since=<the last id taken in>), taken in once each, through the same path as
streamed ones; and the account panel of a key bound to no account."""

from __future__ import annotations

import dataclasses
import socket
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchange_local.events import Event, MarketEvent
from exchange_local.server import create_app
from perptui.eventtext import describe
from perptui.venues.remote import RemoteVenue, VenueUnavailable, _empty_health
from perptui.widgets.account import account_markup, account_word
from tests.test_remote_venue import started, wait_for
from tests.test_server_support import Class, Live, live_server, make_class

D = Decimal


async def admin(live: Live, c: Class, *paths: str) -> None:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        for path in paths:
            answer = await http.post(f"/api/v1/admin/{path}", headers=c.auth("admin"))
            assert answer.status_code == 200, answer.text


async def server_events(live: Live) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        rows: list[dict[str, Any]] = (await http.get("/api/v1/events?since=0")).json()["events"]
        return rows


def texts(events: list[Event]) -> list[str]:
    return [line.text for e in events if (line := describe(e, "alice")) is not None]


def class_lines(venue: RemoteVenue) -> list[str]:
    """What the events tab would show of the class (halts, the teacher's actions)."""
    return [t for t in texts(list(venue._events)) if t.startswith(("class: ", "ETH-PERP: "))]


async def caught_up(venue: RemoteVenue) -> None:
    """The stream is subscribed to events and has fetched what it missed."""
    await wait_for(lambda: ("events",) in venue._seqs and not getattr(venue, "_events_behind", 0))


@pytest.mark.parametrize("who", ["alice", "watch"])  # a student; a key with no account
async def test_events_before_connecting_are_on_the_first_frame(
    served: tuple[Class, Live], who: str
) -> None:
    c, live = served
    # two halts: a pause would be no event, this class's clock stands already (speed 0)
    await admin(live, c, "markets/ETH-PERP/halt", "markets/SOL-PERP/halt")
    earlier = await server_events(live)
    assert len(earlier) == 4  # each halt: the market's event and the admin's
    venue = await started(live, c.key[who])
    try:
        lines = class_lines(venue)  # right after start: before the stream is up
        assert lines == [
            "ETH-PERP: halted",
            "class: admin: ETH-PERP halted (only risk-reducing orders pass)",
            "class: admin: SOL-PERP halted (only risk-reducing orders pass)",
        ]
        await caught_up(venue)  # the stream's own catch-up repeats none of them
        assert class_lines(venue) == lines
        await admin(live, c, "resume")  # streamed: after the backfilled ones, once
        await wait_for(lambda: len(class_lines(venue)) == 4)
        assert class_lines(venue) == [*lines, "class: admin resumed the class market"]
    finally:
        await venue.stop()


async def test_a_reconnect_fills_in_what_was_missed(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"], backoff_start=0.02)
    try:
        await caught_up(venue)
        await admin(live, c, "markets/SOL-PERP/halt")
        await wait_for(lambda: len(class_lines(venue)) == 1)
        # the connection drops and the next attempts fail until the server is reachable again
        ws_url, venue.ws_url = venue.ws_url, f"ws://127.0.0.1:{closed_port()}/api/v1/ws"
        assert venue._ws is not None
        await venue._ws.close()
        await wait_for(lambda: venue.connection().state == "reconnecting")
        await admin(live, c, "markets/ETH-PERP/halt", "markets/ETH-PERP/unhalt", "resume")
        assert len(class_lines(venue)) == 1  # nothing streamed meanwhile
        venue.ws_url = ws_url
        await wait_for(lambda: venue.connection().state == "live")
        await caught_up(venue)
        assert class_lines(venue) == [
            "class: admin: SOL-PERP halted (only risk-reducing orders pass)",
            "ETH-PERP: halted",
            "class: admin: ETH-PERP halted (only risk-reducing orders pass)",
            "ETH-PERP: resumed",
            "class: admin lifted the halt on ETH-PERP: trading again",
            "class: admin resumed the class market",
        ]
        # a resync of the events stream catches up the same way, without repeating anything
        await venue._send([{"op": "resync", "channel": "events"}])
        await admin(live, c, "pause")
        await wait_for(lambda: len(class_lines(venue)) == 7)
        await caught_up(venue)
        assert len(class_lines(venue)) == 7
    finally:
        await venue.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_events_while_the_server_restarted_are_filled_in() -> None:
    c = make_class()
    with live_server(c.app) as live:
        venue = await started(live, c.key["alice"], backoff_start=0.02)
        await caught_up(venue)
        await admin(live, c, "markets/ETH-PERP/halt", "markets/ETH-PERP/unhalt")
        await wait_for(lambda: len(class_lines(venue)) == 4)
        port = int(live.base_url.rsplit(":", 1)[1])
        ws_url, venue.ws_url = venue.ws_url, f"ws://127.0.0.1:{closed_port()}/api/v1/ws"
    try:
        await wait_for(lambda: venue.connection().state == "reconnecting")
        again = create_app(c.ex, c.keys, speed=0)
        with live_server(again, port=port) as live2:
            await admin(live2, c, "markets/SOL-PERP/halt")  # before the client is back
            venue.ws_url = ws_url
            await wait_for(lambda: len(class_lines(venue)) == 5)
            assert class_lines(venue)[4] == (
                "class: admin: SOL-PERP halted (only risk-reducing orders pass)"
            )
            await caught_up(venue)
            assert len(class_lines(venue)) == 5
    finally:
        await venue.stop()


async def test_a_server_that_numbers_afresh_is_not_ignored() -> None:
    """Should a restarted server give ids below the last one taken in (an older server
    started again at 1), its newest id says so, and all it keeps is new; once each."""
    venue = RemoteVenue("http://127.0.0.1:9", "k")
    venue._event_id = 1003
    asked: list[int] = []

    async def get(path: str, **params: Any) -> Any:
        asked.append(params["since"])
        return page([halt(1)], 1) if params["since"] < 1 else page([], 1)

    venue._get = get  # type: ignore[method-assign]
    venue.handle({"type": "snapshot", "channel": "events", "seq": 1, "data": [halt(1)]})
    await venue._catch_up_events()
    assert asked == [1003, 0] and venue._event_id == 1 and len(venue._events) == 1
    venue.handle({"type": "update", "channel": "events", "seq": 2, "prevSeq": 1,
                  "data": halt(2, "SOL-PERP")})  # fmt: skip
    assert len(venue._events) == 2 and venue._event_id == 2


def page(rows: list[dict[str, Any]], last: int) -> dict[str, Any]:
    return {"events": rows, "lastId": last}


def halt(event_id: int, market: str = "ETH-PERP") -> dict[str, Any]:
    return {"id": event_id, "kind": "MarketEvent", "ts": 1_000, "market": market,
            "what": "halted", "detail": {}}  # fmt: skip


async def test_large_sparse_ids_page_and_never_repeat() -> None:
    """Ids derived from the exchange time: large, not consecutive; a full page asks again
    from its last id; the stream's overlap with the backfill is dropped by id."""
    venue = RemoteVenue("http://127.0.0.1:9", "k")
    asked: list[int] = []
    base = 1_764_504_000_000_000
    pages = {
        0: page([halt(base + 7 * i) for i in range(1000)], base + 7 * 999),
        base + 7 * 999: page([halt(base + 10_000), halt(base + 10_001, "SOL-PERP")], base + 10_001),
        base + 10_001: page([], base + 10_001),
    }

    async def get(path: str, **params: Any) -> Any:
        assert path == "/events" and params["limit"] == 1000
        asked.append(params["since"])
        return pages[params["since"]]

    venue._get = get  # type: ignore[method-assign]
    await venue._backfill_events()
    assert asked == [0, base + 7 * 999]
    assert len(venue._events) == 1002 and venue._event_id == base + 10_001
    # the stream's snapshot, then an update the backfill already brought, then a new one
    venue.handle({"type": "snapshot", "channel": "events", "seq": 40, "data": []})
    assert venue._events_behind
    await venue._catch_up_events()
    assert asked[-1] == base + 10_001 and not venue._events_behind
    update = {"type": "update", "channel": "events", "seq": 41, "prevSeq": 40,
              "data": halt(base + 10_001, "SOL-PERP")}  # fmt: skip
    assert venue.handle(update) == [] and len(venue._events) == 1002
    update = {**update, "seq": 42, "prevSeq": 41, "data": halt(base + 20_000, "BTC-PERP")}
    venue.handle(update)
    assert len(venue._events) == 1003 and venue._event_id == base + 20_000
    last = venue._events[-1]
    assert isinstance(last, MarketEvent) and last.market == "BTC-PERP"


async def test_without_rest_the_snapshot_rows_still_count() -> None:
    venue = RemoteVenue("http://127.0.0.1:9", "k")
    venue._event_id = 5

    async def get(path: str, **params: Any) -> Any:
        raise VenueUnavailable("rate limited")

    venue._get = get  # type: ignore[method-assign]
    rows = [halt(4), halt(6), halt(7, "SOL-PERP")]
    venue.handle({"type": "snapshot", "channel": "events", "seq": 3, "data": rows})
    await venue._catch_up_events()
    assert [e.market for e in venue._events if isinstance(e, MarketEvent)] == [
        "ETH-PERP",
        "SOL-PERP",
    ]
    assert venue._event_id == 7


async def test_the_projector_shows_the_class_before_it_opened(
    served: tuple[Class, Live],
) -> None:
    from perptui.projector import ProjectorApp
    from perptui.widgets.history import EventsLog

    c, live = served
    await admin(live, c, "markets/ETH-PERP/halt")
    app = ProjectorApp(RemoteVenue(live.base_url, c.key["watch"]), frame_loop=False)
    async with app.run_test(size=(160, 48)):
        seen = [line.text for line in app.query_one(EventsLog).lines_seen]
        assert "ETH-PERP: halted" in seen
        assert "class: admin: ETH-PERP halted (only risk-reducing orders pass)" in seen


# --- the account panel of a key bound to no account ---------------------------------------------


def test_no_account_is_not_no_equity() -> None:
    empty = _empty_health()
    assert account_word(empty) == "NO ACCOUNT"
    wide = account_markup(empty)
    assert "NO EQUITY" not in wide and "Equity" not in wide
    assert "watch-only: this key has no account — the market only" in wide
    narrow = account_markup(empty, narrow=True)
    assert "NO ACCOUNT" in narrow and "NO EQUITY" not in narrow and "Eq " not in narrow
    # an account a liquidation left with nothing still says so
    flat = dataclasses.replace(empty, account="alice")
    assert account_word(flat) == "NO EQUITY" and "● NO EQUITY" in account_markup(flat)


async def test_the_terminal_with_a_watch_only_key_says_so(served: tuple[Class, Live]) -> None:
    from perptui.app import PerpApp
    from perptui.settings import Settings
    from perptui.widgets.account import AccountPanel

    c, live = served
    app = PerpApp(RemoteVenue(live.base_url, c.key["watch"]), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        shown = str(app.main.query_one(AccountPanel).render())
        assert "NO ACCOUNT" in shown and "this key has no account" in shown
        assert "NO EQUITY" not in shown
