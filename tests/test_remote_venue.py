"""RemoteVenue against a real server on loopback: the same records as the in-process engine
(snapshot, health, explain, preview), orders placed and canceled, refusals as the exchange's
own errors, events from the stream, a sequence gap repaired, and a server restart survived."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchange_local import errors
from exchange_local.events import FillEvent, OrderAccepted, OrderCanceled
from exchange_local.explain import Explanation
from exchange_local.health import OrderPreview
from exchange_local.server import create_app
from perptui.ticket import TicketForm
from perptui.venues.base import OrderRequest, TradingDisabled
from perptui.venues.remote import RemoteVenue
from tests.test_server_support import Class, Live, live_server, make_class

D = Decimal


async def wait_for(pred: Any, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


async def started(live: Live, key: str, **options: Any) -> RemoteVenue:
    venue = RemoteVenue(live.base_url, key, **options)
    await venue.start()
    return venue


async def test_snapshot_matches_the_engine(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        assert venue.account == "alice" and venue.can_trade and "BTC-PERP" in venue.markets()
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        snap = await venue.snapshot("BTC-PERP")
        assert snap.health == c.ex.health("alice")
        assert snap.markets == {m: c.ex.market(m) for m in c.ex.markets()}
        assert snap.leverage == c.ex.leverage("alice")
        assert snap.insurance_fund == c.ex.insurance_fund()
        assert snap.trades == c.ex.trades("BTC-PERP", 60)
        assert snap.candles == c.ex.candles("BTC-PERP", "1m", source="mark", limit=240)
        if hasattr(snap, "index_candles"):
            assert snap.index_candles == c.ex.candles("BTC-PERP", "1m", source="index", limit=240)
        assert snap.clock.now_ms == c.ex.now_ms and not snap.clock.adjustable
        await wait_for(lambda: "BTC-PERP" in venue._books)  # the streamed book
        snap = await venue.snapshot("BTC-PERP")
        assert snap.book == c.ex.book("BTC-PERP", 40)
        # the test class's clock is driven by hand (speed 0): the chip says paused, as for
        # a class the teacher paused
        assert snap.connection.state == "paused" and snap.connection.latency_ms is not None
    finally:
        await venue.stop()


async def test_place_cancel_preview_explain_and_history(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        rest = await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.1"), price=D(95_000)))
        assert rest.status == "open" and rest.filled == 0
        info = c.ex.order("alice", rest.order_id)
        assert info is not None and info.client_order_id.startswith("pt-")
        amended = await venue.amend_order(rest.order_id, price=D(95_500))
        assert amended == c.ex.order("alice", rest.order_id)
        snap = await venue.snapshot("BTC-PERP")
        assert snap.open_orders == c.ex.open_orders("alice")
        canceled = await venue.cancel_order(rest.order_id)
        assert canceled.status == "canceled" and canceled.canceled_reason == "user"
        filled = await venue.place_order(OrderRequest("BTC-PERP", "buy", D("1.2"), type="market"))
        assert (
            filled.status == "filled"
            and filled.avg_price == c.ex.order("alice", filled.order_id).avg_price
        )  # type: ignore[union-attr]
        preview = await venue.preview_order(
            OrderRequest("BTC-PERP", "sell", D("0.5"), price=D(99_000))
        )
        assert isinstance(preview, OrderPreview)
        assert preview == c.ex.preview_order("alice", "BTC-PERP", "sell", D("0.5"), price=D(99_000))
        stop = await venue.preview_order(
            OrderRequest("BTC-PERP", "sell", D("0.5"), type="stop_market",
                         trigger_price=D(90_000), reduce_only=True)
        )  # fmt: skip
        assert stop == c.ex.preview_order(
            "alice", "BTC-PERP", "sell", D("0.5"), type="stop_market", trigger_price=D(90_000),
            reduce_only=True,
        )  # fmt: skip
        assert stop.est_fill_price == D(90_000) and stop.fillable_now == 0
        explanation = await venue.explain("BTC-PERP")
        assert isinstance(explanation, Explanation)
        assert explanation == c.ex.explain("alice", "BTC-PERP")
        fills = await venue.fills()
        assert [f.fill_id for f in fills] == sorted(f.fill_id for f in fills)
        assert all(f.taker == "alice" and f.taker_side == "buy" for f in fills)
        assert sum(f.size for f in fills) == D("1.2")
        ledger = await venue.ledger(limit=3)
        assert ledger == c.ex.ledger("alice")[-3:]
        deposits = [e for e in c.ex.ledger("alice") if e.type == "DEPOSIT"]
        assert deposits and ledger[0].type != "DEPOSIT"  # older than the newest three
        assert await venue.ledger(limit=3, type_prefix="dep") == deposits[-3:]
        assert await venue.funding_payments() == []
        await venue.set_leverage("BTC-PERP", D(5))
        assert c.ex.leverage("alice")["BTC-PERP"] == 5
        closed = await venue.close_position("BTC-PERP")
        assert closed.status == "filled" and not c.ex.positions("alice")
        await wait_for(lambda: len(venue._events) >= 6)
        kinds = {type(e) for e in venue.drain_events()}
        assert {OrderAccepted, OrderCanceled, FillEvent} <= kinds
    finally:
        await venue.stop()


async def test_every_ticket_type_goes_through_the_server(served: tuple[Class, Live]) -> None:
    """The requests the order ticket builds, not hand-made ones: a tif chosen for a limit
    order must not reach the server with a market or stop order (it once refused them all)."""
    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        mark = c.ex.market("BTC-PERP").mark
        tickets = (
            ("buy", "market", ""),
            ("buy", "limit", mark - 1000),
            ("sell", "stop_market", mark - 5000),
            ("sell", "take_profit", mark + 5000),
        )
        for side, kind, price in tickets:
            form = TicketForm("BTC-PERP", side=side, type=kind, size="0.1", price=str(price),
                              tif="ioc" if kind != "limit" else "gtc")  # fmt: skip
            preview = await venue.preview_order(form.request())
            assert isinstance(preview, OrderPreview)
            result = await venue.place_order(form.request())
            assert result.status in ("filled", "open", "untriggered"), (kind, result)
        kinds = sorted(o.type for o in c.ex.open_orders("alice"))
        assert kinds == ["limit", "stop_market", "take_profit"]
        stop = next(o for o in c.ex.open_orders("alice") if o.type == "stop_market")
        amended = await venue.amend_order(stop.order_id, trigger_price=mark - 6000)
        assert (
            amended.trigger_price == mark - 6000 == c.ex.order("alice", stop.order_id).trigger_price
        )
    finally:
        await venue.stop()


async def test_refusals_are_the_exchanges_errors(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"])
    reader = await started(live, c.key["alice-read"])
    try:
        with pytest.raises(errors.InsufficientMargin) as margin:
            await venue.place_order(OrderRequest("BTC-PERP", "buy", D(1000), price=D(100_100)))
        local = None
        try:
            c.ex.place_order("alice", "BTC-PERP", "buy", D(1000), price=D(100_100))
        except errors.InsufficientMargin as exc:
            local = exc
        assert local is not None and str(margin.value) == str(local)
        assert margin.value.shortfall == local.shortfall
        with pytest.raises(errors.UnknownMarket, match="ZZZ"):
            await venue.place_order(OrderRequest("ZZZ-PERP", "buy", D(1), price=D(1)))
        with pytest.raises(errors.InvalidOrder, match="tick"):
            await venue.place_order(OrderRequest("BTC-PERP", "buy", D(1), price=D("1.3")))
        with pytest.raises(errors.UnknownOrder):
            await venue.cancel_order(999_999)
        with pytest.raises(errors.NotAuthorized, match="instructor"):
            await venue.deposit("USD", D(100))  # class mode: the contract's refusal
        assert not reader.can_trade
        with pytest.raises(TradingDisabled):
            await reader.place_order(OrderRequest("BTC-PERP", "buy", D(1), price=D(1)))
        assert (await reader.snapshot("BTC-PERP")).health.account == "alice"
        with pytest.raises(TradingDisabled):
            await venue.set_speed(D(2))
    finally:
        await venue.stop()
        await reader.stop()


async def test_a_gap_is_resynced(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        venue.watch("BTC-PERP")
        await wait_for(lambda: "BTC-PERP" in venue._books)
        book = venue._books["BTC-PERP"]
        ops = venue.handle(
            {
                "type": "update",
                "channel": "book",
                "symbol": "BTC-PERP",
                "seq": book.seq + 5,
                "prevSeq": book.seq + 4,
                "bids": [],
                "asks": [],
            }
        )
        assert ops == [{"op": "resync", "channel": "book", "symbol": "BTC-PERP"}]
        assert "BTC-PERP" not in venue._books and venue.resyncs == 1
        await venue._send(ops)
        await wait_for(lambda: "BTC-PERP" in venue._books)
        assert venue._books["BTC-PERP"].snapshot("BTC-PERP", 40) == c.ex.book("BTC-PERP", 40)
        gap = venue.handle(
            {
                "type": "update",
                "channel": "account",
                "seq": 50,
                "prevSeq": 49,
                "event": "order",
                "data": {},
            }
        )
        assert gap == [{"op": "resync", "channel": "account"}]
    finally:
        await venue.stop()


async def test_server_restart_reconnects_and_resyncs() -> None:
    c = make_class()
    with live_server(c.app) as live:
        venue = await started(live, c.key["alice"], backoff_start=0.05)
        venue.watch("BTC-PERP")
        await wait_for(lambda: venue.connection().state == "live" and venue._books)
        port = int(live.base_url.rsplit(":", 1)[1])
    try:
        await wait_for(lambda: venue.connection().state == "reconnecting")
        c.ex.place_order("mm", "BTC-PERP", "sell", D(2), price=D(100_050))  # while it was down
        again = create_app(c.ex, c.keys, speed=0)
        with live_server(again, port=port):
            await wait_for(lambda: venue.connection().state == "live" and venue._books)
            assert venue._books["BTC-PERP"].snapshot("BTC-PERP", 40) == c.ex.book("BTC-PERP", 40)
            result = await venue.place_order(OrderRequest("BTC-PERP", "buy", D(1), type="market"))
            assert result.avg_price == D(100_050)
    finally:
        await venue.stop()


class LoseFirstOrderAnswer(httpx.AsyncHTTPTransport):
    """Delivers the first POST /orders to the server, then acts as if the answer was lost."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/orders") and not self.lost:
            self.lost += 1
            await response.aclose()
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


async def test_a_lost_answer_is_looked_up_not_repeated(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"])
    transport = LoseFirstOrderAnswer()
    assert venue._http is not None
    await venue._http.aclose()
    venue._http = httpx.AsyncClient(
        base_url=f"{live.base_url}/api/v1",
        transport=transport,
        headers={"Authorization": f"Bearer {c.key['alice']}"},
    )
    try:
        result = await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.3"), price=D(96_000)))
        assert transport.lost == 1
        assert [o.order_id for o in c.ex.open_orders("alice")] == [result.order_id]
    finally:
        await venue.stop()


async def test_a_quiet_stream_turns_stale(served: tuple[Class, Live]) -> None:
    c, live = served
    venue = await started(live, c.key["alice"], stale_seconds=0.2, ping_seconds=60)
    try:
        await wait_for(lambda: venue.connection().state == "live")
        await wait_for(lambda: venue.connection().state == "stale", timeout=3)
        assert venue.connection().age_s >= 0.2
    finally:
        await venue.stop()


async def test_the_teachers_live_lesson_reaches_the_events_log(served: tuple[Class, Live]) -> None:
    """A student connected to the class sees each step of the teacher's scenario."""
    from exchange_local.events import MarketEvent
    from perptui.eventtext import describe

    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        await wait_for(lambda: ("events",) in venue._seqs)  # subscribed: its snapshot came
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            r = await http.post("/api/v1/admin/scenarios/gap", headers=c.auth("admin"),
                                json={"fraction": "-0.1"})  # fmt: skip
            assert r.status_code == 200, r.text

        def lesson() -> list[MarketEvent]:
            return [e for e in venue._events
                    if isinstance(e, MarketEvent) and e.what.startswith("lesson")]  # fmt: skip

        await wait_for(lambda: bool(lesson()))
        step = lesson()[0]
        assert step.what == "lesson gap: BTC index gaps -10.0%"
        assert step.detail["by"] == "admin" and step.detail["indexPx"] == "90000.0"
        line = describe(step, "alice")
        assert line is not None and "lesson gap" in line.text and "indexPx 90,000" in line.text
    finally:
        await venue.stop()


async def settled(venue: RemoteVenue, paused: bool, timeout: float = 5.0) -> Any:
    """The venue's snapshot once its clock reads `paused` (or the last one, after `timeout`):
    the venue learns of a pause or a resume from its next read of the server, not at once."""
    end = time.monotonic() + timeout
    while True:
        snap = await venue.snapshot("BTC-PERP")
        if snap.clock.paused == paused or time.monotonic() > end:
            return snap
        await asyncio.sleep(0.02)


async def test_a_paused_class_says_paused_in_the_header_not_live(
    served: tuple[Class, Live],
) -> None:
    c, live = served
    venue = await started(live, c.key["alice"], refresh_s=0)
    try:
        await venue.snapshot("BTC-PERP")
        await wait_for(lambda: "BTC-PERP" in venue._books)  # connected
        async with httpx.AsyncClient(base_url=live.base_url) as admin:
            answer = await admin.post("/api/v1/admin/pause", headers=c.auth("admin"))
            assert answer.status_code == 200, answer.text
            snap = await settled(venue, paused=True)
            assert snap.clock.paused and snap.connection.state == "paused"
            answer = await admin.post("/api/v1/admin/resume", headers=c.auth("admin"))
            assert answer.status_code == 200, answer.text
        snap = await settled(venue, paused=False)
        assert not snap.clock.paused and snap.connection.state == "live"
    finally:
        await venue.stop()


async def test_a_key_bound_to_no_account_watches_the_market_in_the_terminal(
    served: tuple[Class, Live],
) -> None:
    from perptui.app import PerpApp
    from perptui.settings import Settings

    c, live = served
    venue = RemoteVenue(live.base_url, c.key["watch"])  # the projector's key: no account
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        assert not venue.can_trade and "market only" in (venue.read_only_reason or "")
        for key in ("3", "4", "5", "6", "1"):  # fills, funding and the ledger crashed it
            await pilot.press(key)
            await pilot.pause()
            await app.frame()
        assert await venue.fills() == [] and await venue.ledger() == []
        assert app.is_running


async def test_paper_only_tools_are_not_offered_on_a_class_server(
    served: tuple[Class, Live],
) -> None:
    from perptui.app import PerpApp
    from perptui.settings import Settings

    c, live = served
    app = PerpApp(RemoteVenue(live.base_url, c.key["alice"]), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)):
        await app.frame()
        titles = [cmd.title for cmd in app.get_system_commands(app.screen)]
        assert "Market: BTC-PERP" in titles
        assert not [t for t in titles if t.startswith(("Simulate price shock", "Advance clock"))]


async def test_help_lists_the_clock_keys_apart_on_a_class_server(
    served: tuple[Class, Live],
) -> None:
    """The server's clock is the teacher's: help listed `+`, `-` and `p` as working keys."""
    from perptui.app import PerpApp
    from perptui.settings import Settings
    from tests.test_keys_qa_help_watch import main_and_not_here

    c, live = served
    app = PerpApp(RemoteVenue(live.base_url, c.key["alice"]), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        table, not_here = await main_and_not_here(app, pilot)
        for key_id in ("clock.faster", "clock.slower", "clock.pause"):
            assert f"| {key_id} |" in not_here and f"| {key_id} |" not in table, key_id
        assert "| order.buy |" in table
        await pilot.press("escape", "p")  # the key still says why it does nothing
        await pilot.pause()
        assert any("not ours to pause" in str(n.message) for n in app._notifications)


async def test_the_teachers_actions_read_as_sentences_in_a_students_events(
    served: tuple[Class, Live],
) -> None:
    from perptui.eventtext import describe

    c, live = served
    venue = await started(live, c.key["alice"])
    try:
        await venue.snapshot("BTC-PERP")
        await wait_for(lambda: "BTC-PERP" in venue._books)  # the stream is up
        async with httpx.AsyncClient(base_url=live.base_url) as admin:
            answer = await admin.post(
                "/api/v1/admin/markets/ETH-PERP/halt", headers=c.auth("admin")
            )
            assert answer.status_code == 200, answer.text
        lines: list[str] = []

        def halted() -> bool:
            lines.extend(d.text for e in venue.drain_events() if (d := describe(e, "alice")))
            return any(line.startswith("class: ") for line in lines)

        await wait_for(halted)  # the engine's own "ETH-PERP: halted", and the teacher's action:
        line = next(line for line in lines if line.startswith("class: "))
        assert "halted" in line and "*" not in line and "True" not in line, line
        assert not line.endswith(" by admin"), line  # the sentence names the key already
    finally:
        await venue.stop()
