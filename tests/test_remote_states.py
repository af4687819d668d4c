"""What the remote venue says when the server is not simply "live", found by a class on a real
server: a key's own rate limit, a revoked key, a server stopping for a restart, a hung server,
an order whose answer was lost, a price no market holds, and the header's width at 160.

Each test starts its own server on 127.0.0.1 (tests/test_server_support.py) and waits on
conditions with a deadline; the timings the venue uses are shortened where a test would
otherwise wait seconds for them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import pytest
from rich.text import Text

from exchange_local.server import create_app
from exchange_local.server import ws as server_ws
from perptui.app import PerpApp
from perptui.ticket import TicketError, TicketForm, parse_decimal
from perptui.venues.base import Connection, OrderRequest
from perptui.venues.remote import (
    KeyRefused,
    OrderFateUnknown,
    RateLimited,
    RemoteVenue,
    VenueUnavailable,
)
from perptui.widgets.account import AccountPanel
from perptui.widgets.header import MarketHeader, connection_chip
from perptui.widgets.order_ticket import OrderTicket
from tests.test_server_support import Class, Live, live_server, make_class
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def wait_for(pred: Callable[[], Any], timeout: float = 5.0, every: float = 0.02) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(every)


async def started(base_url: str, key: str, **options: Any) -> RemoteVenue:
    venue = RemoteVenue(base_url, key, **options)
    await venue.start()
    return venue


def chip_text(conn: Connection) -> str:
    return Text.from_markup(connection_chip(conn, "srv", True).replace("$", "")).plain


# --- 1. a key's own rate limit ---------------------------------------------------------------


async def test_a_rate_limit_says_so_waits_retry_after_and_recovers_at_once() -> None:
    """A student's script used up the key's bucket: the terminal froze ~30 s as if the
    server were down. Now: "rate limited" with the wait, nothing sent meanwhile, live again
    as soon as requests pass (not a backoff later)."""
    c = make_class(rate=40.0, burst=40)  # the venue's 10 calls a refresh, twice a second, pass
    with live_server(c.app) as live:
        venue = await started(live.base_url, c.key["alice"])
        sent: list[float] = []
        assert venue._http is not None
        venue._http.event_hooks["request"].append(_record(sent))
        try:
            await venue.snapshot("BTC-PERP")
            for _ in range(10):  # a busy machine may refill the bucket before the frame asks
                async with httpx.AsyncClient(base_url=live.base_url,
                                             headers=c.auth("alice")) as own:  # fmt: skip
                    answers = await asyncio.gather(*(own.get("/api/v1/time") for _ in range(80)))
                limited = [a for a in answers if a.status_code == 429]
                assert limited and limited[0].headers["Retry-After"] == "1"
                venue._generation += 1  # as after a command: the next frame asks at once
                await venue.snapshot("BTC-PERP")  # the frame's REST parts hit the limit
                if venue._limited_until > time.monotonic():
                    break
            assert venue._limited_until > time.monotonic()
            snap = await venue.snapshot("BTC-PERP")
            hit = time.monotonic()
            assert snap.connection.cause == "rate limited"
            assert snap.connection.state in ("limited", "stale")
            assert "rate limited, retry in 1s" in chip_text(snap.connection)
            asked = len(sent)
            with pytest.raises(RateLimited, match="retry in 1 s"):  # refused here: not sent
                await venue.place_order(OrderRequest("BTC-PERP", "buy", D(1), price=D(1)))
            assert len(sent) == asked and c.ex.open_orders("alice") == []

            async def live_again() -> bool:  # "paused": the class's clock is (speed 0)
                return (await venue.snapshot("BTC-PERP")).connection.state in ("live", "paused")

            while not (await live_again() and venue._cached and venue._cached[1] > hit):
                # the point is "not 30 s": generous for a busy CI machine
                assert time.monotonic() - hit < 5.0, "still not live 5 s after a 1 s Retry-After"
                await asyncio.sleep(0.1)  # the frame loop's pace
            first_after = min(t for t in sent[asked:])
            assert first_after - hit >= 0.7  # it waited for Retry-After before asking again
        finally:
            await venue.stop()


def _record(sent: list[float]) -> Callable[[httpx.Request], Any]:
    async def hook(request: httpx.Request) -> None:
        sent.append(time.monotonic())

    return hook


# --- 2. a revoked key ------------------------------------------------------------------------


async def test_a_revoked_key_is_final_said_in_the_servers_words_and_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The terminal said only "STALE 9s…37s", kept the old equity under HEALTHY and kept
    reconnecting. Now the header says KEY REFUSED with the server's message, the account panel
    shows no numbers and what to do, and nothing reconnects."""
    monkeypatch.setattr(server_ws, "REVOCATION_CHECK_SECONDS", 0.1)
    c = make_class()
    key, record = c.keys.create("laptop", "alice", ["trade"])
    with live_server(c.app) as live:
        venue = RemoteVenue(live.base_url, key, refresh_s=0)
        app = PerpApp(venue, frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(lambda: venue.connection().state == "live" and venue._books)
            await app.frame()
            panel = app.main.query_one(AccountPanel)
            assert "HEALTHY" in str(panel.render())
            c.keys.revoke(record.key_id)
            await wait_for(lambda: venue.connection().cause == "refused")
            assert venue.connection().detail == "the API key was revoked; closing"
            await wait_for(lambda: venue._stream_task is not None and venue._stream_task.done())
            await app.frame()
            await pilot.pause()
            header = str(app.main.query_one(MarketHeader).render())
            assert "KEY REFUSED: the API key was revoked; closing" in header
            assert "live" not in header and "reconnecting" not in header
            text = str(panel.render())
            assert "KEY REFUSED" in text and "HEALTHY" not in text and "Equity" not in text
            assert "new key" in text
            assert any("new key" in str(n.message) for n in app._notifications)
            with pytest.raises(KeyRefused):  # and REST is not asked again either
                await venue.place_order(OrderRequest("BTC-PERP", "buy", D(1), price=D(1)))


async def test_a_401_on_rest_is_the_same_final_refusal() -> None:
    c = make_class()
    key, record = c.keys.create("laptop", "alice", ["trade"])
    with live_server(c.app) as live:
        venue = await started(live.base_url, key, refresh_s=0)
        try:
            await venue.snapshot("BTC-PERP")
            c.keys.revoke(record.key_id)
            with pytest.raises(KeyRefused, match="unknown or has been revoked"):
                await venue.cancel_all()
            snap = await venue.snapshot("BTC-PERP")
            assert snap.connection.cause == "refused" and snap.connection.state == "stale"
            assert "the API key is unknown or has been revoked" in snap.connection.detail
            notice = venue.take_notice()
            assert notice is not None and "new key" in notice and venue.take_notice() is None
            await wait_for(lambda: venue._stream_task is not None and venue._stream_task.done())
        finally:
            await venue.stop()


# --- 3. a server stopping for a restart ------------------------------------------------------


async def test_a_shutdown_notice_shows_reconnecting_and_a_restarted_server_is_live_promptly() -> (
    None
):
    """SIGTERM: the terminal showed STALE and a VenueUnavailable toast while the server was
    down and "reconnecting (5)" for ~12 s after it was back. Now the notice is shown, the
    chip says reconnecting while down, and it is live within about a second of the server."""
    c = make_class()
    with live_server(c.app) as live:
        venue = await started(live.base_url, c.key["alice"], refresh_s=0)
        venue.answer_s = 0.5
        await venue.snapshot("BTC-PERP")
        await wait_for(lambda: venue.connection().state == "live" and venue._books)
        port = int(live.base_url.rsplit(":", 1)[1])
    try:
        notices: list[str | None] = []
        await wait_for(lambda: notices.append(venue.take_notice()) or notices[-1] is not None)
        assert notices[-1] == f"{venue.name}: server stopping; reconnect in 5 s"
        await wait_for(lambda: venue.connection().state == "reconnecting")
        conn = venue.connection()
        assert conn.state == "reconnecting" and conn.detail == "server stopping; reconnect in 5 s"
        down_until = time.monotonic() + 3.0  # long enough for the old backoff to reach 4 s
        while time.monotonic() < down_until:
            snap = await venue.snapshot("BTC-PERP")  # as the frame loop does
            await asyncio.sleep(0.1)
        assert snap.connection.state == "stale" and snap.connection.cause == "reconnecting"
        assert "◐ reconnecting" in chip_text(snap.connection)
        assert "server stopping" in chip_text(snap.connection)
        venue._shutdown_at -= 30  # half a minute on, "reconnect in 5 s" is no longer true
        later = venue.connection().detail
        assert later.startswith("the server said it was stopping ") and later.endswith(" s ago")
        assert int(later.split()[-3]) >= 33, later
        again = create_app(c.ex, c.keys, speed=0)
        with live_server(again, port=port):
            back = time.monotonic()

            async def live_now() -> bool:  # "paused": the class's clock is (speed 0)
                snap = await venue.snapshot("BTC-PERP")
                return snap.connection.state in ("live", "paused")

            while not await live_now():
                assert time.monotonic() - back < 2.0, "not live 2 s after the server was back"
                await asyncio.sleep(0.1)
    finally:
        await venue.stop()


# --- 4. a hung server ------------------------------------------------------------------------


class FreezingProxy:
    """A loopback TCP proxy that can stop passing bytes, as a server under kill -STOP does:
    connections stay open and nothing answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.frozen = False
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            self.server.close()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        for a, b in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.get_running_loop().create_task(self._pump(a, b))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                while self.frozen:
                    await asyncio.sleep(0.01)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def test_a_hung_server_turns_stale_within_the_threshold_and_counts_each_second(
    served: tuple[Class, Live],
) -> None:
    """kill -STOP: the header said "● live 26ms" for ~15 s, then STALE in 5 s steps (each
    frame waited for the request timeout). Now a frame never waits on the hung server, STALE
    shows once nothing answered for `answer_s`, and its age goes up one second at a time."""
    c, live = served
    proxy = FreezingProxy(int(live.base_url.rsplit(":", 1)[1]))
    async with proxy.running() as url:
        venue = await started(url, c.key["alice"], ping_seconds=0.3)
        venue.answer_s = 1.0
        try:
            await venue.snapshot("BTC-PERP")
            await wait_for(lambda: venue.connection().state == "live" and venue._books)
            proxy.frozen = True
            frozen_at = time.monotonic()
            ages: list[int] = []
            slowest = 0.0
            while time.monotonic() - frozen_at < 3.6:
                t0 = time.monotonic()
                snap = await venue.snapshot("BTC-PERP")
                slowest = max(slowest, time.monotonic() - t0)
                if snap.connection.state == "stale":
                    ages.append(int(snap.connection.age_s))
                    if len(ages) == 1:
                        assert time.monotonic() - frozen_at < 1.6  # STALE within the threshold
                await asyncio.sleep(0.1)
            assert slowest < 0.5  # a frame never waits out the 5 s request timeout
            assert ages and sorted(set(ages)) == list(range(ages[0], ages[-1] + 1))
            assert ages[-1] - ages[0] >= 2  # counted in 1 s steps over ~2.5 s
            assert f"STALE {ages[-1]}s" in chip_text(snap.connection)
            proxy.frozen = False
            await wait_for(lambda: venue.connection().state == "live", timeout=6)
        finally:
            await venue.stop()


# --- 5. an order whose answer was lost -------------------------------------------------------


class LoseOrderAnswerThenDown(httpx.AsyncHTTPTransport):
    """Delivers POST /orders (or not, `deliver=False`), loses its answer, then refuses
    every request until `up` is set: the server is back."""

    def __init__(self, deliver: bool = True) -> None:
        super().__init__()
        self.deliver = deliver
        self.lost = 0
        self.up = True

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        if request.method == "POST" and request.url.path.endswith("/orders") and not self.lost:
            self.lost += 1
            self.up = False
            if self.deliver:
                response = await super().handle_async_request(request)
                await response.aclose()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return await super().handle_async_request(request)


def _lossy(
    venue: RemoteVenue, base_url: str, key: str, transport: httpx.AsyncBaseTransport
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    venue._http = httpx.AsyncClient(
        base_url=f"{base_url}/api/v1", transport=transport, headers=auth
    )


@pytest.mark.parametrize("deliver", [True, False])
async def test_an_order_of_unknown_fate_is_looked_up_once_the_server_answers(
    served: tuple[Class, Live], deliver: bool
) -> None:
    """The ticket kept "may or may not have been placed" after the server was back, although
    the order rested in the book. Now it is replaced by what the server says."""
    c, live = served
    venue = RemoteVenue(live.base_url, c.key["alice"])
    app = PerpApp(venue, frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        transport = LoseOrderAnswerThenDown(deliver)
        assert venue._http is not None
        await venue._http.aclose()
        _lossy(venue, live.base_url, c.key["alice"], transport)
        request = OrderRequest("BTC-PERP", "buy", D("0.3"), price=D(96_000),
                               client_order_id="perptui-lost-1")  # fmt: skip
        with pytest.raises(OrderFateUnknown):  # the venue itself: nothing answers the lookup
            await venue.place_order(dataclass_copy(request, "perptui-probe"))
        transport.lost, transport.up = 0, True
        await app._place(request)  # type: ignore[attr-defined]
        ticket = app.main.query_one(OrderTicket)
        assert "may or may not have been placed" in ticket.message
        transport.up = True  # the server answers again
        await wait_for(lambda: not ticket.message.startswith("?"), timeout=6)
        await pilot.pause()
        orders = c.ex.open_orders("alice")
        if deliver:
            placed = [o for o in orders if o.client_order_id == "perptui-lost-1"]
            assert len(placed) == 1
            assert ticket.message.startswith(f"✓ order {placed[0].order_id} open")
        else:
            assert all(o.client_order_id != "perptui-lost-1" for o in orders)
            assert ticket.message.startswith("✗ order perptui-lost-1 was not placed")


def dataclass_copy(request: OrderRequest, coid: str) -> OrderRequest:
    import dataclasses

    return dataclasses.replace(request, client_order_id=coid)


# --- 6. a price no market holds --------------------------------------------------------------


def test_the_ticket_refuses_a_price_or_size_no_market_holds() -> None:
    with pytest.raises(TicketError, match="larger than any market takes"):
        parse_decimal("1e40", "price")
    with pytest.raises(TicketError, match="larger than any market takes"):
        TicketForm("BTC-PERP", price="99000", size="1e13").request()
    with pytest.raises(TicketError, match="more decimals"):
        parse_decimal("0." + "0" * 30 + "1", "size")
    assert parse_decimal("1,000,000,000,000", "price") == D(10**12)


async def test_a_venue_that_overflows_on_an_order_is_a_refusal_not_a_crash() -> None:
    """1e40 with size 100 took perptui down: only ExchangeError was caught around the venue."""
    venue = teaching_venue()
    app = app_for(venue)

    async def overflow(*args: Any, **kwargs: Any) -> Any:
        raise InvalidOperation([InvalidOperation])

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        venue.preview_order = overflow  # type: ignore[method-assign]
        venue.place_order = overflow  # type: ignore[method-assign]
        ticket = app.main.query_one(OrderTicket)
        await pilot.press("b")
        ticket.form.price, ticket.form.size = "99000", "1"
        app._preview_dirty = True  # type: ignore[attr-defined]
        await app.frame()
        await pilot.pause()
        assert "cannot" in str(app.main.query_one("#preview").render())
        request = OrderRequest("BTC-PERP", "buy", D(1), price=D(99000))
        await app._place(request)  # type: ignore[attr-defined]
        assert "refused: a number too large" in ticket.message
        assert await app._refusal(request) is not None  # type: ignore[attr-defined]
        assert app.is_running


async def test_a_rate_limited_refusal_is_not_unavailable() -> None:
    """A 429 is not "the server is down": no order lookup, no reconnect, a refusal that says
    how long to wait."""
    assert not issubclass(RateLimited, VenueUnavailable)


# --- the frame around them -------------------------------------------------------------------


async def test_a_frame_is_not_held_by_a_venue_call_that_never_answers() -> None:
    """Fills, history and the preview ran inside the frame: a hung server held the header on
    "● live" for the whole request timeout. Now a frame waits for them a moment at most."""
    venue = teaching_venue()
    app = app_for(venue)
    hang = asyncio.Event()

    async def never(limit: int = 500) -> list[Any]:
        await hang.wait()
        return []

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        venue.fills = never  # type: ignore[method-assign]
        app.frames = 0  # the next frame fetches fills
        for _ in range(3):
            t0 = time.monotonic()
            await asyncio.wait_for(app.frame(), 3.0)
            assert time.monotonic() - t0 < 1.5  # waits 0.5 s for them at most, not 10 s
        hang.set()
        await pilot.pause()
        assert app.is_running


async def test_a_venue_that_says_why_gets_no_toast_of_each_failing_call() -> None:
    """While the server was down the header's reason was covered by "VenueUnavailable: cannot
    reach …" toasts and a plain "STALE 0s"; the venue's own chip now stays."""
    venue = teaching_venue()
    app = app_for(venue)
    snapshot = venue.snapshot

    async def reconnecting(market: str, interval: str = "1m") -> Any:
        snap = await snapshot(market, interval)
        conn = Connection("reconnecting", None, 2, 0.0, "reconnecting", "server stopping")
        return dataclasses_replace(snap, connection=conn)

    async def unreachable(limit: int = 500) -> list[Any]:
        raise VenueUnavailable("cannot reach 127.0.0.1:8741: All connection attempts failed")

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        venue.snapshot = reconnecting  # type: ignore[method-assign]
        venue.fills = unreachable  # type: ignore[method-assign]
        app.frames = 0
        await app.frame()
        await pilot.pause()
        header = str(app.main.query_one(MarketHeader).render())
        assert "◐ reconnecting (2): server stopping" in header and "STALE" not in header
        assert not any("cannot reach" in str(n.message) for n in app._notifications)


def dataclasses_replace(obj: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(obj, **changes)


async def test_an_order_the_venue_could_not_be_asked_about_is_not_called_refused() -> None:
    """ "✗ would be refused, not sent: cannot reach …" read as if the order were wrong."""
    venue = teaching_venue()
    app = app_for(venue)

    async def unreachable(request: OrderRequest) -> Any:
        raise VenueUnavailable("cannot reach 127.0.0.1:18777: All connection attempts failed")

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        venue.preview_order = unreachable  # type: ignore[method-assign]
        await pilot.press("b")
        app.main.query_one("#size").value = "0.01"  # type: ignore[attr-defined]
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        preview = str(app.main.query_one("#preview").render())
        assert preview.startswith("cannot preview now: cannot reach") and "refused" not in preview
        await app.send_order(app.main.query_one(OrderTicket).form)
        await pilot.pause()
        message = app.main.query_one(OrderTicket).message
        assert message.startswith("✗ not sent: cannot reach") and "refused" not in message
        assert venue.ex.open_orders(venue.account) == []


async def test_a_tab_key_while_the_venue_is_unreachable_keeps_the_terminal_running() -> None:
    """With the server down, hung or the key refused, `2` raised VenueUnavailable out of the
    tab handler and perptui exited."""
    venue = teaching_venue()
    app = app_for(venue)
    hang = asyncio.Event()

    async def down(limit: int = 500) -> Any:
        raise VenueUnavailable("cannot reach 127.0.0.1:18761: All connection attempts failed")

    async def hung(limit: int = 500) -> Any:
        await hang.wait()
        return []

    async def refused(limit: int = 500, type_prefix: str = "") -> Any:
        raise KeyRefused("127.0.0.1:18761 refused this key: the API key was revoked")

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        venue.fills = down  # type: ignore[method-assign]
        venue.ledger = refused  # type: ignore[method-assign]
        for key in "234561":
            await pilot.press(key)
            await pilot.pause()
        assert app.is_running
        venue.fills = hung  # type: ignore[method-assign]
        t0 = time.monotonic()
        await pilot.press("3")
        await pilot.pause()
        assert time.monotonic() - t0 < 3.0 and app.is_running  # not the request's timeout
        hang.set()


async def test_a_refused_key_withdraws_the_tickets_preview_and_sends_nothing() -> None:
    """After a revoke the ticket still said "✓ would be accepted now", and Enter put "would be
    refused, not sent" above it: the order was never judged."""
    venue = teaching_venue()
    app = app_for(venue)
    snapshot = venue.snapshot
    refused = KeyRefused("127.0.0.1:18761 refused this key: the API key was revoked")

    async def revoked(market: str, interval: str = "1m") -> Any:
        snap = await snapshot(market, interval)
        conn = Connection("stale", None, 0, 1.0, "refused", str(refused))
        return dataclasses_replace(snap, connection=conn)

    async def refuse(request: OrderRequest) -> Any:
        raise refused

    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b")
        app.main.query_one("#size").value = "0.01"  # type: ignore[attr-defined]
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        assert "would be accepted" in str(app.main.query_one("#preview").render())
        venue.snapshot = revoked  # type: ignore[method-assign]
        venue.preview_order = refuse  # type: ignore[method-assign]
        await app.frame()
        await pilot.pause()
        shown = str(app.main.query_one("#preview").render())
        assert "cannot preview now" in shown and "accepted" not in shown, shown
        await app.send_order(app.main.query_one(OrderTicket).form)
        await pilot.pause()
        message = app.main.query_one(OrderTicket).message
        assert message.startswith("✗ not sent:") and "would be refused" not in message
        assert venue.ex.open_orders(venue.account) == []


@pytest.mark.parametrize(
    ("connection", "asked"),
    [
        (Connection("reconnecting", 5.0, 1, 0.0, "reconnecting"), True),  # REST still answers
        (Connection("live", 5.0), True),
        (Connection("stale", 5.0, 2, 4.0, "no answer"), False),
        (Connection("limited", 5.0, 0, 0.5, "rate limited", "retry in 2s"), False),
        (Connection("stale", None, 0, 1.0, "refused", "the API key was revoked"), False),
    ],
)
async def test_a_tab_asks_the_venue_exactly_when_a_frame_would(
    connection: Connection, asked: bool
) -> None:
    """One rule for the frame's calls and a tab's: a tab shown while the stream reconnected
    (REST still answering) kept its old rows until the next frame, since the tab's own rule
    was "any cause that is not live" and the frame's "stale or limited, with a cause"."""
    venue = teaching_venue()
    app = app_for(venue)
    calls: list[int] = []
    fills = venue.fills

    async def counted(limit: int = 500) -> Any:
        calls.append(limit)
        return await fills(limit)

    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        assert app.snapshot is not None
        app.snapshot = dataclasses_replace(app.snapshot, connection=connection)
        venue.fills = counted  # type: ignore[method-assign]
        await pilot.press("3")
        await pilot.pause()
        assert bool(calls) is asked
        assert connection.says_why_old is not asked
