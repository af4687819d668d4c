"""QA D5: a reconnected WebSocket is not "live" until the server says something on it.

Before, `_session()` declared the new connection live (and reset the attempts and the age of
the last message) as soon as the subscriptions were sent: against a server that accepts the
connection and stays silent, the header said "● live" with the old connection's latency over
data 45 s old, and never "◐ reconnecting (n)" with n counting up. Against the loopback fake
with the short timeouts of test_hyperliquid_stream (stale 0.3 s, dead 0.6 s)."""

from __future__ import annotations

import asyncio

from perptui.venues.hyperliquid_stream import HyperliquidStream
from tests.test_hyperliquid_fake import FakeHyperliquid, wait_for
from tests.test_hyperliquid_stream import FAST, started


async def test_a_silent_server_after_a_reconnect_never_looks_live() -> None:
    async with FakeHyperliquid() as fake:
        venue = await started(fake)
        stream = venue.stream
        assert stream is not None
        try:
            await wait_for(lambda: stream.latency_ms is not None)
            assert stream.connects == 1 and fake.accepted == 1
            fake.silent = True  # it accepts new connections too, and says nothing on them
            await wait_for(lambda: fake.accepted >= 2, 3)
            seen: list[tuple[str, int, float, float | None]] = []
            loop = asyncio.get_running_loop()
            end = loop.time() + 5
            while fake.accepted < 4 and loop.time() < end:  # three silent connections
                conn = venue.connection()
                seen.append((conn.state, conn.attempts, conn.age_s, conn.latency_ms))
                await asyncio.sleep(0.01)
            assert fake.accepted >= 4
            assert {state for state, *_ in seen} == {"reconnecting"}  # never "live"
            attempts = [n for _, n, _, _ in seen]
            assert attempts == sorted(attempts) and attempts[-1] >= 2  # counted, not reset
            assert stream.attempts >= 3
            assert all(latency is None for *_, latency in seen)  # not the old one's
            # the age is the last real message's: past the dead time, growing
            assert seen[-1][2] > FAST["dead_seconds"] and seen[-1][2] > seen[0][2]
            assert stream.connects == 1  # no connection since the first said anything
            fake.silent = False
            await wait_for(lambda: stream.state == "live", 5)
            assert stream.attempts == 0 and stream.connects == 2
            await wait_for(lambda: stream.latency_ms is not None)  # measured on this one
            conn = venue.connection()
            assert conn.state == "live" and conn.age_s < FAST["stale_seconds"]
        finally:
            await venue.stop()


async def test_a_connection_is_live_with_its_first_ack_not_its_connect() -> None:
    async with FakeHyperliquid() as fake:
        fake.silent = True
        stream = HyperliquidStream(fake.ws_url, lambda c, d: None, dead_seconds=5,
                                   backoff_start=0.01)  # fmt: skip
        stream.subscribe({"type": "allMids"})
        stream.start()
        try:
            await wait_for(lambda: {"type": "allMids"} in [
                m.get("subscription") for m in fake.client_messages])  # fmt: skip
            await wait_for(lambda: any(m.get("method") == "ping" for m in fake.client_messages))
            assert stream.state == "connecting" and stream.connection().state == "reconnecting"
            assert stream.last_message == 0.0 and stream.messages == 0
            # subscribed on the connection not yet live: sent at once, not lost until the next
            stream.subscribe({"type": "trades", "coin": "BTC"})
            await wait_for(lambda: {"type": "trades", "coin": "BTC"} in [
                m.get("subscription") for m in fake.client_messages])  # fmt: skip
            assert fake.accepted == 1
            fake.silent = False
            await fake.push("allMids", {"mids": {"BTC": "1"}})  # the first real message
            await wait_for(lambda: stream.state == "live")
            assert stream.connects == 1 and stream.attempts == 0 and stream.messages == 1
        finally:
            await stream.stop()


async def test_the_old_servers_greeting_text_is_not_a_sign_of_life() -> None:
    async with FakeHyperliquid() as fake:
        fake.silent = True
        stream = HyperliquidStream(fake.ws_url, lambda c, d: None, dead_seconds=5)
        stream.start()
        try:
            await wait_for(lambda: any(m.get("method") == "ping" for m in fake.client_messages))
            await fake.push_text("Websocket connection established.")
            await fake.push_text("[1, 2]")  # JSON, but no message of the protocol either
            await fake.push("allMids", {"mids": {"BTC": "1"}})
            await wait_for(lambda: stream.state == "live")
            assert stream.messages == 1  # only allMids was counted: only it made it live
        finally:
            await stream.stop()
