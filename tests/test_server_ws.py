"""The WebSocket /api/v1/ws over a real loopback socket: snapshots and numbered updates, a
gap detected and repaired by resync, the private account channel, ping, bad messages, idle
and slow clients."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import tracemalloc
from decimal import Decimal
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exchange_local.server import ws as ws_module
from exchange_local.server.hub import Hub, Outbox
from tests.test_server_support import Class, Live, live_server, make_class

D = Decimal


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        msg = await recv(ws, max(0.01, end - loop.time()))
        if pred(msg):
            return msg


def apply(book: dict[str, dict[Decimal, Decimal]], msg: dict[str, Any]) -> None:
    for side in ("bids", "asks"):
        for p, q in msg[side]:
            if D(q) == 0:
                book[side].pop(D(p), None)
            else:
                book[side][D(p)] = D(q)


def levels(msg: dict[str, Any]) -> dict[str, dict[Decimal, Decimal]]:
    return {side: {D(p): D(q) for p, q in msg[side]} for side in ("bids", "asks")}


async def place(http: httpx.AsyncClient, c: Class, who: str, **order: str) -> dict[str, Any]:
    r = await http.post("/api/v1/orders", json=order, headers=c.auth(who))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_book_snapshot_updates_gap_and_resync(served: tuple[Class, Live]) -> None:
    c, live = served
    async with (
        httpx.AsyncClient(base_url=live.base_url) as http,
        connect(live.ws_url) as ws,
    ):
        await ws.send(
            json.dumps(
                {"op": "subscribe", "id": 2, "channel": "book", "symbol": "BTC-PERP", "depth": 50}
            )
        )
        ack = await recv(ws)
        assert ack == {
            "type": "ack",
            "id": 2,
            "op": "subscribe",
            "channel": "book",
            "symbol": "BTC-PERP",
        }
        snap = await recv(ws)
        rest = (await http.get("/api/v1/markets/BTC-PERP/book")).json()
        assert snap["type"] == "snapshot" and snap["seq"] == rest["seq"]
        book, seq = levels(snap), snap["seq"]
        for i in range(5):
            await place(
                http,
                c,
                "alice",
                symbol="BTC-PERP",
                side="buy",
                size="0.1",
                price=str(99_000 - 100 * i),
            )
            msg = await until(ws, lambda m: m.get("channel") == "book")
            assert msg["type"] == "update" and msg["prevSeq"] == seq and msg["seq"] > seq
            apply(book, msg)
            seq = msg["seq"]
        rest = (await http.get("/api/v1/markets/BTC-PERP/book")).json()
        assert rest["seq"] == seq and levels(rest) == book
        # a client that misses a message sees the gap and resyncs to the same state
        await place(http, c, "bob", symbol="BTC-PERP", side="sell", size="0.1", price="100900")
        skipped = await until(ws, lambda m: m.get("channel") == "book")
        await place(http, c, "bob", symbol="BTC-PERP", side="sell", size="0.1", price="101000")
        nxt = await until(ws, lambda m: m.get("channel") == "book")
        assert nxt["prevSeq"] == skipped["seq"] != seq  # the gap a client detects
        await ws.send(
            json.dumps({"op": "resync", "id": 9, "channel": "book", "symbol": "BTC-PERP"})
        )
        fresh = await until(ws, lambda m: m.get("type") == "snapshot")
        apply(book, skipped)
        apply(book, nxt)
        assert fresh["seq"] == nxt["seq"] and levels(fresh) == book


async def test_trades_ticker_candles_and_ping(served: tuple[Class, Live]) -> None:
    c, live = served
    async with (
        httpx.AsyncClient(base_url=live.base_url) as http,
        connect(live.ws_url) as ws,
    ):
        for i, channel in enumerate(("trades", "ticker", "candles")):
            await ws.send(
                json.dumps(
                    {
                        "op": "subscribe",
                        "id": i,
                        "channel": channel,
                        "symbol": "BTC-PERP",
                        "interval": "1m",
                    }
                )
            )
            assert (await recv(ws))["type"] == "ack"
            assert (await recv(ws))["type"] == "snapshot"
        await place(http, c, "alice", symbol="BTC-PERP", side="buy", type="market", size="0.2")
        trade = await until(ws, lambda m: m.get("channel") == "trades")
        assert trade["prevSeq"] == 0 and trade["seq"] == 1
        assert D(trade["data"][0]["px"]) == 100100 and trade["data"][0]["side"] == "buy"
        ticker = await until(ws, lambda m: m.get("channel") == "ticker", timeout=3)
        assert D(ticker["data"]["lastPx"]) == 100100
        candle = await until(ws, lambda m: m.get("channel") == "candles", timeout=3)
        assert D(candle["data"][-1]["v"]) == D("0.2")
        await ws.send(json.dumps({"op": "ping", "id": 77}))
        pong = await until(ws, lambda m: m.get("type") == "pong")
        assert pong["id"] == 77 and isinstance(pong["ts"], int)


async def test_account_channel_is_private(served: tuple[Class, Live]) -> None:
    c, live = served
    async with (
        httpx.AsyncClient(base_url=live.base_url) as http,
        connect(live.ws_url) as ws,
    ):
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "account"}))
        err = await recv(ws)
        assert err["type"] == "error" and err["code"] == "UNAUTHENTICATED"
        await ws.send(json.dumps({"op": "auth", "id": 2, "apiKey": "wrong"}))
        assert (await recv(ws))["code"] == "UNAUTHENTICATED"
        await ws.send(json.dumps({"op": "auth", "id": 3, "apiKey": c.key["alice-read"]}))
        assert (await recv(ws))["accountId"] == "alice"
        await ws.send(
            json.dumps({"op": "subscribe", "id": 4, "channel": "account", "accountId": "bob"})
        )
        assert (await recv(ws))["code"] == "FORBIDDEN_SCOPE"
        await ws.send(json.dumps({"op": "subscribe", "id": 5, "channel": "account"}))
        assert (await recv(ws))["type"] == "ack"
        snap = await recv(ws)
        assert snap["type"] == "snapshot" and snap["data"]["accountId"] == "alice"
        seq = snap["seq"]
        await place(http, c, "bob", symbol="BTC-PERP", side="buy", size="0.1", price="99000")
        placed = await place(
            http,
            c,
            "alice",
            symbol="BTC-PERP",
            side="buy",
            type="market",
            size="0.1",
            clientOrderId="ws-1",
        )
        seen = []
        while len(seen) < 3:
            msg = await until(ws, lambda m: m.get("channel") == "account")
            assert msg["prevSeq"] == seq
            seq = msg["seq"]
            seen.append(msg)
        assert [m["event"] for m in seen[:3]] == ["order", "fill", "order"]
        assert seen[0]["kind"] == "OrderAccepted" and seen[2]["kind"] == "OrderFilled"
        assert seen[1]["data"]["clientOrderId"] == "ws-1"
        assert seen[2]["data"]["orderId"] == placed["order"]["orderId"]
        assert all(m["data"].get("accountId", "alice") == "alice" for m in seen)


async def test_bad_messages_and_keys(served: tuple[Class, Live]) -> None:
    c, live = served
    for header in ("Bearer nope", f"Bearer {c.key['revoked']}"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(live.ws_url, additional_headers={"Authorization": header}):
                pass
        assert refused.value.response.status_code == 401  # API.md: a bad key; was 403
        assert b"UNAUTHENTICATED" in refused.value.response.body
    async with connect(
        live.ws_url, additional_headers={"Authorization": f"Bearer {c.key['bob']}"}
    ) as ws:
        for raw, code in (
            ("{not json", "BAD_REQUEST"),
            ("[1]", "BAD_REQUEST"),
            ('{"op": "dance"}', "UNKNOWN_OP"),
            ('{"op": "subscribe", "channel": "gossip"}', "UNKNOWN_CHANNEL"),
            ('{"op": "subscribe", "channel": "book", "symbol": "ZZZ"}', "UNKNOWN_SYMBOL"),
            ('{"op": "subscribe", "channel": "book"}', "BAD_REQUEST"),  # was "no market None"
            (
                '{"op": "subscribe", "channel": "book", "symbol": "BTC-PERP", "depth": -5}',
                "BAD_REQUEST",
            ),
            (
                '{"op": "subscribe", "channel": "book", "symbol": "BTC-PERP", "depth": "abc"}',
                "BAD_REQUEST",
            ),
            (
                '{"op": "subscribe", "channel": "book", "symbol": "BTC-PERP", "depth": 1000000000}',
                "BAD_REQUEST",
            ),
            (
                '{"op": "subscribe", "channel": "book", "symbol": "BTC-PERP", "depth": true}',
                "BAD_REQUEST",
            ),
            (
                '{"op": "subscribe", "channel": "book", "symbol": "BTC-PERP", "depth": 2.5}',
                "BAD_REQUEST",
            ),
            ('{"op": "resync", "channel": "book", "symbol": "BTC-PERP"}', "NOT_SUBSCRIBED"),
            ('{"op": "resync", "channel": "account"}', "NOT_SUBSCRIBED"),
            ("x" * 5000, "MESSAGE_TOO_LARGE"),
        ):
            await ws.send(raw)
            msg = await recv(ws)
            assert msg["type"] == "error" and msg["code"] == code, (raw[:30], msg)
            if '"book"}' in raw:
                assert msg["message"] == 'the book channel needs a symbol, e.g. "BTC-PERP"'
            if "depth" in raw:
                assert msg["message"].startswith("depth must be an integer from 1 to 500")
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "account"}))
        assert (await recv(ws))["type"] == "ack"  # the handshake's key counts as auth
    with pytest.raises(ConnectionClosed):  # the server's frame limit
        async with connect(live.ws_url) as ws:
            await ws.send("y" * 70_000)
            await recv(ws)


async def test_idle_connection_is_closed(
    served: tuple[Class, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, live = served
    monkeypatch.setattr(ws_module, "IDLE_SECONDS", 0.3)
    async with connect(live.ws_url) as ws:
        msg = await recv(ws)
        assert msg["code"] == "IDLE"
        with pytest.raises(ConnectionClosed):
            await recv(ws)


async def test_slow_consumer_is_dropped_without_growing() -> None:
    c = make_class()
    hub = Hub(c.ex)
    slow, fast = Outbox(maxsize=3), Outbox(maxsize=1000)
    for box in (slow, fast):
        hub.add(("book", "BTC-PERP"), box)
    for i in range(10):
        c.ex.place_order("alice", "BTC-PERP", "buy", D("0.1"), price=D(90_000 + 100 * i))
        hub.flush()
    assert slow.dropped.is_set() and slow.queue.qsize() == 3
    assert fast.queue.qsize() == 10 and not fast.dropped.is_set()
    assert hub.subs[("book", "BTC-PERP")] == {fast} and hub.slow_dropped == 1
    hub.close()


async def test_a_revoked_key_is_disconnected(
    served: tuple[Class, Live], monkeypatch: pytest.MonkeyPatch
) -> None:
    c, live = served
    monkeypatch.setattr(ws_module, "REVOCATION_CHECK_SECONDS", 0.1)
    async with connect(live.ws_url) as ws, httpx.AsyncClient(base_url=live.base_url) as http:
        await ws.send(json.dumps({"op": "auth", "id": 1, "apiKey": c.key["alice-read"]}))
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "channel": "account"}))
        await until(ws, lambda m: m.get("type") == "snapshot")
        keys = (await http.get("/api/v1/admin/keys", headers=c.auth("admin"))).json()["keys"]
        key_id = next(k["keyId"] for k in keys if k["name"] == "alice-read")
        r = await http.delete(f"/api/v1/admin/keys/{key_id}", headers=c.auth("admin"))
        assert r.status_code == 200
        msg = await until(ws, lambda m: m.get("type") == "error")
        assert msg["code"] == "UNAUTHENTICATED"
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def _ws_frame(text: str) -> bytes:
    """One masked client text frame (RFC 6455), for a client that speaks the bare protocol."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class BareClient:
    """A WebSocket client over a plain socket: the handshake, masked text frames, and a frame
    reader, so a test decides exactly when bytes are sent and read."""

    def __init__(self, port: int, receive_buffer: int | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)  # byte by byte: nothing past the handshake is read
        assert head.startswith(b"HTTP/1.1 101"), head
        self.sock.setblocking(False)
        self.buffer = b""

    async def _exactly(self, n: int) -> bytes:
        loop = asyncio.get_running_loop()
        while len(self.buffer) < n:
            chunk = await loop.sock_recv(self.sock, 65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    async def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame (server frames are not masked)."""
        b0, b1 = await self._exactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self._exactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self._exactly(8), "big")
        return b0 & 0x0F, await self._exactly(n)

    def close(self) -> None:
        self.sock.close()


async def test_a_burst_of_requests_is_answered_in_turn(served: tuple[Class, Live]) -> None:
    """1,100 requests arriving in one read, from a client that then reads everything: 2,200
    answers, more than a connection's queue holds, all delivered, because the server answers
    and writes in turn instead of handling the whole burst first (which filled the queue and
    dropped a client that was reading)."""
    _, live = served
    client = BareClient(int(live.base_url.rsplit(":", 1)[1]))
    try:
        request = {"op": "subscribe", "channel": "book", "symbol": "BTC-PERP"}
        burst = b""
        for i in range(1100):
            burst += _ws_frame(json.dumps({**request, "id": i}))
            request["op"] = "resync"
        await asyncio.get_running_loop().sock_sendall(client.sock, burst)
        snapshots = 0
        while snapshots < 1100:
            opcode, payload = await asyncio.wait_for(client.frame(), 10)
            assert opcode == 1, (opcode, payload[:2])  # text; 8 would be the close (1013)
            snapshots += json.loads(payload)["type"] == "snapshot"
    finally:
        client.close()


async def test_a_client_that_never_reads_is_dropped_over_a_real_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bare TCP client subscribes to the book, asks for 1,500 snapshots of a 400-level book
    (about 20 MB) and never reads a byte: its queue fills, the server drops it, and the
    server's memory grows by what the bounded queue and the socket buffers hold, not by
    what the client asked for. Meanwhile other clients are answered."""
    c = make_class()
    for i in range(190):  # a deep book: each snapshot is ~13 KB
        c.ex.place_order("alice", "BTC-PERP", "buy", D("0.01"), price=D(99_000 - 5 * i))
        c.ex.place_order("bob", "BTC-PERP", "sell", D("0.01"), price=D(101_000 + 5 * i))
    boxes: list[Outbox] = []

    def small_outbox() -> Outbox:
        boxes.append(Outbox(maxsize=100))
        return boxes[-1]

    monkeypatch.setattr(ws_module, "Outbox", small_outbox)
    hub = c.app.state.ctx.runtime.hub
    with live_server(c.app, send_buffer=16_384) as live:
        client = BareClient(int(live.base_url.rsplit(":", 1)[1]), receive_buffer=4096)
        loop = asyncio.get_running_loop()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        request = {"op": "subscribe", "channel": "book", "symbol": "BTC-PERP"}
        burst = b""
        for i in range(1500):
            burst += _ws_frame(json.dumps({**request, "id": i}))
            request["op"] = "resync"
        with contextlib.suppress(OSError, TimeoutError):  # it stops reading once it drops us
            await asyncio.wait_for(loop.sock_sendall(client.sock, burst), 3)
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            started = loop.time()  # others are served during the flood
            assert (await http.get("/api/v1/time")).status_code == 200
            assert loop.time() - started < 2.0
        deadline = loop.time() + 10
        while ("book", "BTC-PERP") in hub.subs and loop.time() < deadline:
            await asyncio.sleep(0.05)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        client.close()
        assert boxes and boxes[0].dropped.is_set()
        assert ("book", "BTC-PERP") not in hub.subs and boxes[0].queue.qsize() <= 100
        assert peak - base < 6_000_000, peak - base  # 100 queued snapshots and buffers


async def test_clients_are_told_when_the_server_stops() -> None:
    """API.md's info SHUTDOWN before the close, to subscribed and idle connections alike."""
    c = make_class()
    with live_server(c.app) as live:
        async with connect(live.ws_url) as idle, connect(live.ws_url) as watching:
            await watching.send(json.dumps({"op": "subscribe", "id": 1, "channel": "events"}))
            await until(watching, lambda m: m.get("type") == "snapshot")
            await idle.send(json.dumps({"op": "ping", "id": 2}))
            await until(idle, lambda m: m.get("type") == "pong")
            live.server.should_exit = True
            for ws in (idle, watching):
                info = await until(ws, lambda m: m.get("type") == "info")
                assert info["code"] == "SHUTDOWN" and "reconnect" in info["message"]
