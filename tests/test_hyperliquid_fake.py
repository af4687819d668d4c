"""A loopback fake of Hyperliquid's API for the hyperliquid tests, and its own small checks.

No machine here reaches Hyperliquid, so the fixtures in tests/fixtures/hyperliquid are
CONSTRUCTED by hand from the shapes shared/VENUES.md documents (the official docs and SDK), not
recorded live; their numbers are chosen so the expected results can be computed on paper.

The fake serves, on 127.0.0.1 at free ports:

- `POST /info` (a tiny HTTP/1.1 server on asyncio streams, keep-alive): the JSON body's `type`
  picks the answer from `fake.info` (a value, or a callable of the body); every body is
  recorded in `fake.requests`, so tests assert exactly what the client sent;
- a `websockets` server at `/ws` speaking the documented protocol: `subscribe` is acked with a
  `subscriptionResponse` and followed by the frames in `fake.on_subscribe[type]` (a snapshot,
  say); `{"method": "ping"}` gets `{"channel": "pong"}` unless `fake.answer_pings` is False;
  `push()` sends a frame to every client, `drop()` closes every connection (the client must
  reconnect), `silent = True` stops every reply (the client must show STALE and reconnect);
- `refuse = (429, {"Retry-After": "5"})` makes every `POST /info` answer that status and those
  headers (recorded in `fake.requests` all the same), as HL does when an IP is over budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.server import Server, ServerConnection, serve

FIXTURES = Path(__file__).parent / "fixtures" / "hyperliquid"
ADDRESS = "0x" + "ab" * 20


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def default_info() -> dict[str, Any]:
    """Answers by `type`, as a watched account with three positions would get them."""
    return {
        "metaAndAssetCtxs": fixture("meta_and_asset_ctxs"),
        "clearinghouseState": fixture("clearinghouse_state"),
        "frontendOpenOrders": fixture("frontend_open_orders"),
        "openOrders": [],
        "userFills": fixture("user_fills"),
        "userFunding": fixture("user_funding"),
        "l2Book": fixture("l2_book_btc"),
        "candleSnapshot": fixture("candle_snapshot_btc_1m"),
        "fundingHistory": fixture("funding_history_btc"),
        "allMids": {"BTC": "68001.5", "ETH": "3010.05", "SOL": "160.01", "@1": "1.0"},
    }


class FakeHyperliquid:
    def __init__(self) -> None:
        self.info: dict[str, Any] = default_info()
        self.requests: list[dict[str, Any]] = []
        self.on_subscribe: dict[str, list[tuple[str, Any]]] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.client_messages: list[dict[str, Any]] = []
        self.answer_pings = True
        self.silent = False
        self.refuse: tuple[int, dict[str, str]] | None = None
        self.connections: set[ServerConnection] = set()
        self.accepted = 0
        self._http: asyncio.Server | None = None
        self._ws: Server | None = None
        self.base_url = ""
        self.ws_url = ""

    async def __aenter__(self) -> FakeHyperliquid:
        self._http = await asyncio.start_server(self._http_client, "127.0.0.1", 0)
        self._ws = await serve(self._ws_client, "127.0.0.1", 0)
        http_port = self._http.sockets[0].getsockname()[1]
        ws_port = next(iter(self._ws.sockets)).getsockname()[1]
        self.base_url = f"http://127.0.0.1:{http_port}"
        self.ws_url = f"ws://127.0.0.1:{ws_port}/ws"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.drop()
        if self._ws is not None:
            self._ws.close()
            await self._ws.wait_closed()
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()

    # --- REST ----------------------------------------------------------------------------------
    def answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        self.requests.append(body)
        handler = self.info.get(str(body.get("type")))
        if handler is None:
            return 422, "Failed to deserialize the JSON body into the target type"
        return 200, handler(body) if callable(handler) else handler

    async def _http_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:  # fmt: skip
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in lines[1:] if line)}  # fmt: skip
                raw = await reader.readexactly(int(headers.get("content-length", "0")))
                method, path = lines[0].split(" ")[:2]
                extra = ""
                if method != "POST" or path != "/info":
                    status, payload = 404, "not found"
                elif self.refuse is not None:
                    self.requests.append(json.loads(raw))
                    status, payload = self.refuse[0], "Too Many Requests"
                    extra = "".join(f"{k}: {v}\r\n" for k, v in self.refuse[1].items())
                else:
                    try:
                        status, payload = self.answer(json.loads(raw))
                    except ValueError:
                        status, payload = 422, "Failed to deserialize the JSON body"
                text = payload if isinstance(payload, str) else json.dumps(payload)
                kind = "text/plain" if isinstance(payload, str) else "application/json"
                data = text.encode()
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\n{extra}"
                             f"content-length: {len(data)}\r\n\r\n".encode() + data)  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    # --- WebSocket -------------------------------------------------------------------------------
    async def _ws_client(self, ws: ServerConnection) -> None:
        self.connections.add(ws)
        self.accepted += 1
        try:
            async for raw in ws:
                msg = json.loads(raw)
                self.client_messages.append(msg)
                if self.silent:
                    continue
                method = msg.get("method")
                if method == "ping" and self.answer_pings:
                    await ws.send(json.dumps({"channel": "pong"}))
                elif method == "subscribe":
                    sub = msg["subscription"]
                    self.subscriptions.append(sub)
                    await ws.send(json.dumps({"channel": "subscriptionResponse",
                                              "data": msg}))  # fmt: skip
                    for channel, data in self.on_subscribe.get(sub["type"], ()):
                        payload = data(sub) if callable(data) else data
                        await ws.send(json.dumps({"channel": channel, "data": payload}))
        except Exception:  # a dropped client is normal here
            pass
        finally:
            self.connections.discard(ws)

    async def push(self, channel: str, data: Any) -> None:
        frame = json.dumps({"channel": channel, "data": data})
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.send(frame)

    async def push_text(self, text: str) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.send(text)

    async def drop(self) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(Exception):
                await ws.close(code=1012, reason="restart")


async def wait_for(pred: Callable[[], Any], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


# --- the fake's own checks -----------------------------------------------------------------------


async def test_fake_answers_info_and_records_the_body() -> None:
    async with FakeHyperliquid() as fake, httpx.AsyncClient() as client:
        r = await client.post(f"{fake.base_url}/info", json={"type": "allMids"})
        assert r.status_code == 200 and r.json()["BTC"] == "68001.5"
        bad = await client.post(f"{fake.base_url}/info", json={"type": "nope"})
        assert bad.status_code == 422 and "deserialize" in bad.text
        assert fake.requests == [{"type": "allMids"}, {"type": "nope"}]


async def test_fake_acks_subscriptions_and_pongs() -> None:
    from websockets.asyncio.client import connect

    async with FakeHyperliquid() as fake, connect(fake.ws_url) as ws:
        sub = {"method": "subscribe", "subscription": {"type": "allMids"}}
        await ws.send(json.dumps(sub))
        ack = json.loads(await ws.recv())
        assert ack == {"channel": "subscriptionResponse", "data": sub}
        await ws.send(json.dumps({"method": "ping"}))
        assert json.loads(await ws.recv()) == {"channel": "pong"}
