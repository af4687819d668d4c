"""WebSocket defects a QA tester found: unlimited connections from one address (3,000 of
them, subscribed and never reading, took GET /time from 3 ms to ~1 s and the server from
113 to 411 MB), deeply nested messages closing the connection with 1011 and a traceback,
and a re-auth that dropped the account stream in silence."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from exchange_local.server import create_app
from exchange_local.server.hub import DEFAULT_QUEUE_BYTES, WS_PER_ADDRESS, Outbox
from tests.test_server_support import Class, Live, live_server, make_class


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def until(ws: ClientConnection, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        msg = await recv(ws, max(0.01, end - loop.time()))
        if pred(msg):
            return msg


def from_address(address: str) -> dict[str, str]:
    """uvicorn takes the client's address from X-Forwarded-For when the peer is a trusted
    proxy (127.0.0.1 by default), as behind the TLS proxy README suggests: so one test
    machine can be several clients."""
    return {"X-Forwarded-For": address}


async def closed_with(ws: ClientConnection) -> tuple[int | None, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), 5)
    rcvd = closed.value.rcvd
    return (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")


async def test_one_address_may_keep_only_so_many_websockets_open() -> None:
    c = make_class(ws_per_address=3)
    with live_server(c.app) as live:
        student = from_address("10.0.0.7")
        held = [await connect(live.ws_url, additional_headers=student) for _ in range(3)]
        try:
            for ws in held:  # subscribed: the idle close no longer applies to them
                await ws.send(json.dumps({"op": "subscribe", "id": 1, "channel": "events"}))
                await until(ws, lambda m: m.get("type") == "snapshot")
            extra = await connect(live.ws_url, additional_headers=student)
            code, reason = await closed_with(extra)
            assert code == 1013 and reason == (
                "too many WebSocket connections from this address (at most 3)"
            )
            async with connect(live.ws_url, additional_headers=from_address("10.0.0.8")) as ws:
                await ws.send(json.dumps({"op": "ping", "id": 2}))  # another student: served
                assert (await recv(ws))["type"] == "pong"
            await held.pop().close()
            hub = c.app.state.ctx.runtime.hub
            for _ in range(100):  # the server notices the close on its own loop
                if hub.per_address.get("10.0.0.7") == 2:
                    break
                await asyncio.sleep(0.02)
            async with connect(live.ws_url, additional_headers=student) as ws:  # room again
                await ws.send(json.dumps({"op": "ping", "id": 3}))
                assert (await recv(ws))["type"] == "pong"
        finally:
            for ws in held:
                await ws.close()
        for _ in range(100):
            if not hub.per_address:
                break
            await asyncio.sleep(0.02)
        assert hub.per_address == {}  # every connection given back, the refused one too


def test_the_limit_has_a_default_and_zero_lifts_it() -> None:
    assert WS_PER_ADDRESS == 32
    assert make_class().app.state.ctx.ws_per_address == 32
    c = make_class(ws_per_address=0)
    hub = c.app.state.ctx.runtime.hub
    assert all(hub.admit("10.0.0.9", 0) for _ in range(1000))
    with pytest.raises(ValueError, match="ws_per_address"):
        create_app(c.ex, c.keys, ws_per_address=-1)


def test_a_slow_consumers_queue_is_bounded_in_characters_too() -> None:
    """2,000 messages are 40 MB when they are 500-level book snapshots: the queue also stops
    at DEFAULT_QUEUE_BYTES of text, and a message bigger than that still goes out alone."""
    assert DEFAULT_QUEUE_BYTES == 2 << 20
    box = Outbox(maxsize=100, max_bytes=1000)
    assert box.push("x" * 400) and box.push("y" * 400)
    assert not box.push("z" * 400) and box.dropped.is_set()
    alone = Outbox(maxsize=100, max_bytes=1000)
    assert alone.push("w" * 5000) and alone.queued_bytes == 5000

    async def drain() -> None:
        assert await alone.take() == "w" * 5000
        assert alone.queued_bytes == 0

    asyncio.run(drain())


@pytest.mark.parametrize(
    "message",
    [
        "[" * 2000 + "]" * 2000,
        json.dumps({"op": "subscribe", "id": 4, "channel": "book", "symbol": "BTC-PERP"})[:-1]
        + ', "depth": '
        + "[" * 1500
        + "]" * 1500
        + "}",
    ],
    ids=["array-2000-deep", "depth-1500-deep"],
)
async def test_a_deeply_nested_message_is_an_error_not_a_close(
    served: tuple[Class, Live], message: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, live = served
    assert len(message) <= 4096
    with caplog.at_level(logging.ERROR):
        async with connect(live.ws_url) as ws:
            await ws.send(message)
            error = await recv(ws)
            assert error["type"] == "error" and error["code"] == "BAD_REQUEST"
            assert error["message"] == "the message is JSON nested too deeply"
            await ws.send(json.dumps({"op": "ping", "id": 5}))  # still open
            assert (await recv(ws))["type"] == "pong"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_nested_values_in_a_subscribe_are_named_not_echoed(
    served: tuple[Class, Live], caplog: pytest.LogCaptureFixture
) -> None:
    """A nested `depth` or `symbol` the parser takes (300 deep) is refused by its kind: the
    message built it with json.dumps / str, which recurse."""
    _, live = served
    nested = "[" * 300 + "]" * 300
    with caplog.at_level(logging.ERROR):
        async with connect(live.ws_url) as ws:
            await ws.send(
                '{"op":"subscribe","id":6,"channel":"book","symbol":"BTC-PERP","depth":'
                + nested
                + "}"
            )
            error = await recv(ws)
            assert (error["code"], error["message"]) == (
                "BAD_REQUEST",
                "depth must be an integer from 1 to 500, not an array",
            )
            await ws.send('{"op":"subscribe","id":7,"channel":"trades","symbol":' + nested + "}")
            error = await recv(ws)
            assert (error["code"], error["message"]) == ("UNKNOWN_SYMBOL", "no market an array")
            await ws.send(json.dumps({"op": "subscribe", "id": 8, "channel": "trades",
                                      "symbol": "Z" * 3000}))  # fmt: skip
            error = await recv(ws)
            assert error["message"] == "no market " + "Z" * 40
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_reauth_that_ends_the_account_stream_says_so(served: tuple[Class, Live]) -> None:
    """alice's stream ends when the connection authenticates as bob (who may not watch it),
    with an `info` UNSUBSCRIBED naming it; a key of the same account keeps it; an admin key
    may watch any account, so it keeps it too."""
    c, live = served
    async with connect(live.ws_url) as ws:
        await ws.send(json.dumps({"op": "auth", "id": 1, "apiKey": c.key["alice"]}))
        assert (await recv(ws))["accountId"] == "alice"
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "channel": "account"}))
        await until(ws, lambda m: m.get("type") == "snapshot")
        for who in ("alice-read", "admin"):
            await ws.send(json.dumps({"op": "auth", "id": 3, "apiKey": c.key[who]}))
            ack = await until(ws, lambda m: m.get("type") in ("ack", "info"))
            assert ack["type"] == "ack", ack  # nothing ended
        await ws.send(json.dumps({"op": "auth", "id": 4, "apiKey": c.key["bob"]}))
        info = await recv(ws)
        assert info["type"] == "info" and info["code"] == "UNSUBSCRIBED"
        assert (info["channel"], info["accountId"]) == ("account", "alice")
        assert "ended" in info["message"] and "'bob'" in info["message"]
        ack = await recv(ws)
        assert (ack["type"], ack["accountId"]) == ("ack", "bob")
        assert ("account", "alice") not in c.app.state.ctx.runtime.hub.subs
