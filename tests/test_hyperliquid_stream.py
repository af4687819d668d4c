"""Hyperliquid's WebSocket against the loopback fake: acks and snapshots, live updates into
the venue's state and its events tab, a dropped socket reconnected with every subscription,
a server gone silent shown STALE and then reconnected, a flood of book snapshots, and the
header's live / reconnecting / stale states. Timeouts are made short on the venue, so the
whole module takes a few seconds. Fixtures: constructed from shared/VENUES.md's documented
shapes, not recorded live (no network here)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from exchange_local.events import FillEvent, LiquidationEvent, OrderAccepted, OrderCanceled
from perptui.venues.hyperliquid import HyperliquidVenue
from perptui.venues.hyperliquid_stream import HyperliquidStream
from tests.test_hyperliquid_fake import ADDRESS, FakeHyperliquid, wait_for

D = Decimal
FAST = {"poll_seconds": 0.05, "ping_seconds": 0.1, "stale_seconds": 0.3, "dead_seconds": 0.6,
        "backoff_start": 0.02}  # fmt: skip


def book(px: str, t: int) -> dict[str, Any]:
    return {
        "coin": "BTC",
        "time": t,
        "levels": [
            [{"px": px, "sz": "1.0", "n": 1}],
            [{"px": str(D(px) + 1), "sz": "2.0", "n": 1}],
        ],
    }


def fill(tid: int, side: str = "B", crossed: bool = True) -> dict[str, Any]:
    return {
        "coin": "BTC",
        "px": "68000.0",
        "sz": "0.01",
        "side": side,
        "time": 1731000100000,
        "startPosition": "-0.05",
        "dir": "Close Short",
        "closedPnl": "10.0",
        "hash": "0x9",
        "oid": 777,
        "crossed": crossed,
        "fee": "0.306",
        "feeToken": "USDC",
        "tid": tid,
    }


async def started(fake: FakeHyperliquid, **options: Any) -> HyperliquidVenue:
    venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, ws_url=fake.ws_url,
                             **{**FAST, **options})  # fmt: skip
    await venue.start()
    assert venue.stream is not None and await venue.stream.wait_live(2)
    return venue


async def test_subscriptions_snapshots_and_live_updates() -> None:
    async with FakeHyperliquid() as fake:
        user_fills = {"isSnapshot": True, "user": ADDRESS, "fills": [fill(900000002, "A")]}
        fake.on_subscribe["userFills"] = [("userFills", user_fills)]
        fake.on_subscribe["l2Book"] = [("l2Book", book("68100.0", 1731000000500))]
        venue = await started(fake)
        try:
            await venue.snapshot("BTC-PERP")
            await wait_for(lambda: venue.stream is not None and len(venue.stream.acked) == 9)
            subscribed = {(s["type"], s.get("coin"), s.get("user")) for s in fake.subscriptions}
            assert subscribed == {
                ("allMids", None, None), ("userFills", None, ADDRESS),
                ("orderUpdates", None, ADDRESS), ("userFundings", None, ADDRESS),
                ("userEvents", None, ADDRESS), ("l2Book", "BTC", None), ("trades", "BTC", None),
                ("activeAssetCtx", "BTC", None), ("candle", "BTC", None)}  # fmt: skip
            await wait_for(lambda: venue._books["BTC-PERP"].bids[0][0] == D(68100))
            assert venue.drain_events() == []  # the userFills snapshot is history, not news
            await fake.push("userFills", {"user": ADDRESS, "fills": [fill(900000003)]})
            await fake.push("user", {"fills": [fill(900000003)]})  # userEvents repeats it
            await fake.push("orderUpdates", [{"order": {
                "coin": "ETH", "side": "B", "limitPx": "2900.0", "sz": "1.0", "oid": 555,
                "timestamp": 1731000100000, "origSz": "1.0"}, "status": "open",
                "statusTimestamp": 1731000100000}])  # fmt: skip
            await fake.push("orderUpdates", [{"order": {
                "coin": "ETH", "side": "A", "limitPx": "3300.0", "sz": "0.5", "oid": 123456,
                "timestamp": 1730999000000, "origSz": "1.0"}, "status": "canceled",
                "statusTimestamp": 1731000100001}])  # fmt: skip
            await fake.push(
                "user",
                {
                    "liquidation": {
                        "lid": 7,
                        "liquidator": "0xliq",
                        "liquidated_user": ADDRESS,
                        "liquidated_ntl_pos": "3400.0",
                        "liquidated_account_value": "40.0",
                    }
                },
            )
            await fake.push("userFundings", {"user": ADDRESS, "fundings": [
                {"time": 1731002400000, "coin": "BTC", "usdc": "0.05", "szi": "-0.05",
                 "fundingRate": "0.0000147"}]})  # fmt: skip
            await fake.push(
                "activeAssetCtx",
                {
                    "coin": "BTC",
                    "ctx": {
                        "markPx": "68500.0",
                        "oraclePx": "68490.0",
                        "funding": "0.00002",
                        "openInterest": "9200.0",
                        "prevDayPx": "67000.0",
                        "dayNtlVlm": "1.0",
                    },
                },
            )
            await fake.push("trades", [{"coin": "BTC", "side": "A", "px": "68499.0",
                                        "sz": "0.3", "hash": "0x1", "time": 1731000100002,
                                        "tid": 42, "users": ["0xa", "0xb"]}])  # fmt: skip
            await fake.push(
                "candle",
                {
                    "t": 1731000060000,
                    "T": 1731000119999,
                    "s": "BTC",
                    "i": "1m",
                    "o": "68005.0",
                    "c": "68499.0",
                    "h": "68500.0",
                    "l": "68000.0",
                    "v": "3.0",
                    "n": 9,
                },
            )
            await wait_for(lambda: len(venue._events) >= 4 and venue._trades.get("BTC-PERP"))
            await wait_for(lambda: len(venue._candles[("BTC-PERP", "1m")]) == 3)
            events = venue.drain_events()
            kinds = [type(e) for e in events]
            assert kinds.count(FillEvent) == 1  # deduped by tid across the two channels
            assert OrderAccepted in kinds and OrderCanceled in kinds and LiquidationEvent in kinds
            canceled = next(e for e in events if isinstance(e, OrderCanceled))
            assert canceled.order.order_id == 123456 and canceled.reason == "canceled"
            snap = await venue.snapshot("BTC-PERP")
            assert 555 in {o.order_id for o in snap.open_orders}
            assert 123456 not in {o.order_id for o in snap.open_orders}
            assert snap.markets["BTC-PERP"].mark == D(68500)
            assert snap.markets["BTC-PERP"].last_price == D(68499)
            assert snap.trades[-1].taker_side == "sell" and snap.candles[-1].close == D(68499)
            assert (await venue.funding_payments())[-1].amount == D("-0.05")
            assert {f.fill_id for f in await venue.fills()} == {900000001, 900000002, 900000003}
            await fake.push("allMids", {"mids": {"BTC": "68499.5", "@107": "1.2"}})
            await wait_for(lambda: venue.mids.get("BTC") == D("68499.5"))
            await venue.snapshot("ETH-PERP", "5m")  # the screen moves: streams follow it
            await wait_for(lambda: {"coin": "ETH", "type": "l2Book"} in fake.subscriptions)
            unsubscribed = [m["subscription"] for m in fake.client_messages
                            if m.get("method") == "unsubscribe"]  # fmt: skip
            assert {"type": "l2Book", "coin": "BTC"} in unsubscribed
            assert {"type": "candle", "coin": "BTC", "interval": "1m"} in unsubscribed
        finally:
            await venue.stop()


async def test_a_dropped_socket_reconnects_and_resubscribes() -> None:
    async with FakeHyperliquid() as fake:
        fake.on_subscribe["userFills"] = [
            ("userFills", {"isSnapshot": True, "user": ADDRESS, "fills": [fill(900000002, "A")]})
        ]
        # silence timeouts far from the drop's: on a busy machine the 0.3 s of FAST made a
        # second reconnect, and the count of subscriptions never matched exactly two rounds
        venue = await started(fake, stale_seconds=3, dead_seconds=6)
        stream = venue.stream
        assert stream is not None
        try:
            await fake.push_text("Websocket connection established.")  # the old server's text
            first = len(fake.subscriptions)
            await fake.drop()
            await wait_for(lambda: stream.connects >= 2 and stream.state == "live")
            await wait_for(lambda: len(fake.subscriptions) >= 2 * first)
            assert fake.subscriptions[first : 2 * first] == fake.subscriptions[:first]
            assert venue.drain_events() == []  # the snapshot replayed on resubscribe: no news
            assert venue.connection().state == "live"
        finally:
            await venue.stop()


async def test_silence_shows_stale_then_reconnects() -> None:
    async with FakeHyperliquid() as fake:
        venue = await started(fake)
        stream = venue.stream
        assert stream is not None
        try:
            await wait_for(lambda: stream.latency_ms is not None)  # pongs measure latency
            assert venue.connection().state == "live"
            fake.silent = True  # no pong, no data: the connection looks open but is dead
            await wait_for(lambda: venue.connection().state == "stale", 2)
            assert venue.connection().age_s > 0.3
            await wait_for(lambda: stream.connects >= 2 or stream.state == "reconnecting", 3)
            assert stream.problem is not None and "no message" in stream.problem
            fake.silent = False
            await wait_for(lambda: stream.state == "live" and stream.connects >= 2, 3)
            await wait_for(lambda: venue.connection().state == "live", 2)
        finally:
            await venue.stop()


async def test_reconnecting_counts_attempts_while_the_server_is_gone() -> None:
    async with FakeHyperliquid() as fake:
        url = fake.ws_url
    stream = HyperliquidStream(url, lambda c, d: None, backoff_start=0.01, backoff_max=0.05)
    stream.subscribe({"type": "allMids"})
    stream.start()
    try:
        await wait_for(lambda: stream.attempts >= 3)
        conn = stream.connection()
        assert conn.state == "reconnecting" and conn.attempts >= 3
    finally:
        await stream.stop()


async def test_a_flood_of_book_snapshots_keeps_only_the_newest() -> None:
    async with FakeHyperliquid() as fake:
        venue = await started(fake)
        try:
            await venue.snapshot("BTC-PERP")
            for i in range(2000):
                await fake.push("l2Book", book(str(60000 + i), 1731000001000 + i))
            await fake.push("l2Book", book("1.0", 1731000000000))  # older than the last: ignored
            await wait_for(lambda: venue._books["BTC-PERP"].bids[0][0] == D(61999))
            await asyncio.sleep(0.05)
            snap = await venue.snapshot("BTC-PERP")
            assert snap.book.bids == [(D(61999), D(1))] and snap.book.asks == [(D(62000), D(2))]
            assert venue.connection().state == "live"
        finally:
            await venue.stop()


async def test_a_failing_account_poll_turns_the_header_stale() -> None:
    async with FakeHyperliquid() as fake:
        venue = await started(fake, stale_seconds=0.2, ping_seconds=0.05, dead_seconds=5)
        try:
            fake.info["clearinghouseState"] = {"status": "err", "response": "busy"}
            await wait_for(lambda: venue.problem is not None and "busy" in venue.problem)
            await wait_for(lambda: venue.connection().state == "stale", 2)
            assert venue.risk is not None  # the last good account stays on screen, dimmed
            assert venue.take_notice() is not None
        finally:
            await venue.stop()
