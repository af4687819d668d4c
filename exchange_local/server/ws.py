"""WebSocket /api/v1/ws: auth, subscribe / unsubscribe / resync, ping, per API.md.

Why the ack and the snapshot are queued inside the engine lock: every later update of that
stream is queued after them by the hub, so a client never sees an update before the snapshot
it applies to, and the snapshot's seq is exactly the prevSeq of the stream's next update.
Why each connection has a bounded queue and a writer task: a client that stops reading fills
its queue and is disconnected (1013, slow consumer), instead of the server buffering for it.
Why a limit of open connections per client address (ServerContext.ws_per_address): public
streams need no key and a subscribed connection is never idle, so one client opened 3,000 of
them, each with its queue, tasks and buffers, and the event loop served them all (GET /time
went from 3 ms to 1 s); the connection over the limit is closed at once, saying why.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from exchange_local.errors import ExchangeError
from exchange_local.marketdata import INTERVALS_MS
from exchange_local.server import wire
from exchange_local.server.codes import classify, wire_message
from exchange_local.server.deps import ServerContext, authenticate, bearer
from exchange_local.server.hub import Outbox, StreamKey, encode
from exchange_local.server.json_body import DuplicateKey, unique_keys
from exchange_local.server.keys import ApiKey
from exchange_local.server.problems import PROBLEM_JSON, ApiError

router = APIRouter()
log = logging.getLogger("exchange_local.server")
# uvicorn's websockets-sansio protocol (the default with websockets >= 14) sends a denial
# response (`websocket.http.response.*`, our 401) correctly but never marks the handshake
# complete, so it logs this ERROR for every refused key although nothing failed. The filter
# drops exactly that record, and only for a connection this module refused (the flag is a
# context variable of the connection's own task): any other handshake left open still logs.
UVICORN_UNFINISHED = "ASGI callable returned without completing handshake."
_refused_here: contextvars.ContextVar[bool] = contextvars.ContextVar("ws_refused", default=False)


class _RefusedHandshakeFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_refused_here.get() and record.getMessage() == UVICORN_UNFINISHED)


def quiet_refusals(logger_name: str = "uvicorn.error") -> None:
    """Install the filter above on uvicorn's logger once (create_app calls it)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, _RefusedHandshakeFilter) for f in logger.filters):
        logger.addFilter(_RefusedHandshakeFilter())


MAX_MESSAGE = 4096  # characters of one client message
MAX_SUBSCRIPTIONS = 64
IDLE_SECONDS = 10.0  # a connection with no auth and no subscription is closed after this
SNAPSHOT_DEPTH = 500  # book snapshots carry this many levels, so deltas beyond `depth` apply
REVOCATION_CHECK_SECONDS = 2.0
CHANNELS = ("book", "trades", "ticker", "candles", "account", "events")


class Session:
    def __init__(
        self, ctx: ServerContext, box: Outbox, key: ApiKey | None, secret: str | None = None
    ) -> None:
        self.ctx = ctx
        self.box = box
        self.key = key
        self.secret = secret  # to notice a revocation while connected
        self.streams: set[StreamKey] = set()

    def send(self, message: dict[str, Any]) -> None:
        self.box.push(encode(message))

    def error(self, req_id: Any, code: str, message: str) -> None:
        self.send({"type": "error", "id": req_id, "code": code, "message": message})

    # --- requests ----------------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        if len(text) > MAX_MESSAGE:
            self.error(None, "MESSAGE_TOO_LARGE", f"messages are limited to {MAX_MESSAGE} chars")
            return
        try:
            msg = json.loads(text, object_pairs_hook=unique_keys)
        except DuplicateKey as exc:
            self.error(None, "BAD_REQUEST", str(exc).replace("JSON body", "message"))
            return
        except ValueError:
            self.error(None, "BAD_REQUEST", "the message is not valid JSON")
            return
        except RecursionError:  # '[' * 2000 fits in 4 KiB; Python's parser recurses per level
            self.error(None, "BAD_REQUEST", "the message is JSON nested too deeply")
            return
        if not isinstance(msg, dict):
            self.error(None, "BAD_REQUEST", "a message is a JSON object with an 'op'")
            return
        req_id = msg.get("id")
        if req_id is not None and not isinstance(req_id, int | str):
            req_id = None
        op = msg.get("op")
        try:
            if op == "ping":
                self.send({"type": "pong", "id": req_id, "ts": self.ctx.ex.now_ms})
            elif op == "auth":
                self.auth(msg, req_id)
            elif op in ("subscribe", "resync"):
                await self.subscribe(msg, req_id, op)
            elif op == "unsubscribe":
                self.unsubscribe(msg, req_id)
            else:
                self.error(
                    req_id, "UNKNOWN_OP", "op must be auth, subscribe, unsubscribe, resync or ping"
                )
        except ApiError as exc:
            self.error(req_id, exc.code, exc.detail)
        except ExchangeError as exc:
            self.error(req_id, classify(exc)[1], wire_message(exc.message))
        except Exception:  # a bug, not the client's mistake: say so, log it, keep serving
            log.exception("WebSocket message %r failed", text[:200])
            self.error(req_id, "INTERNAL", "the server failed on this message; this is a bug")

    def auth(self, msg: dict[str, Any], req_id: Any) -> None:
        """Authenticate (again). Why a new key may replace the old one: a client whose key
        was rotated re-authenticates without reconnecting. The account streams the new key
        may not watch end, and the client is told so (`info` UNSUBSCRIBED per stream):
        they used to be dropped in silence, and the client waited for updates that never
        came."""
        secret = msg.get("apiKey")
        if not isinstance(secret, str):
            raise ApiError(400, "BAD_REQUEST", "auth needs an apiKey string")
        key = authenticate(self.ctx.keys, f"Bearer {secret}")
        if key is not None:
            for stream in [k for k in self.streams if k[0] == "account"]:
                if not _may_watch(key, stream[1]):
                    self.leave(stream)
                    self.send(_stream_ended(stream[1], key))
        self.key, self.secret = key, secret
        self.send(
            {"type": "ack", "id": req_id, "op": "auth", "accountId": key.account if key else None}
        )

    def _stream(self, msg: dict[str, Any]) -> StreamKey:
        channel = msg.get("channel")
        if channel not in CHANNELS:
            raise ApiError(400, "UNKNOWN_CHANNEL", f"channel must be one of {', '.join(CHANNELS)}")
        if channel == "events":
            return ("events",)
        if channel == "account":
            key = self.key
            if key is None:
                raise ApiError(401, "UNAUTHENTICATED", "the account channel needs an auth message")
            if not key.allows("read"):
                raise ApiError(403, "FORBIDDEN_SCOPE", "the account channel needs the read scope")
            wanted = msg.get("accountId", key.account)
            if key.account is None and not key.allows("admin"):  # as REST's account_of
                raise ApiError(
                    403, "FORBIDDEN_SCOPE", f"the key {key.name!r} is not bound to an account"
                )
            if wanted is None:
                raise ApiError(
                    400, "BAD_REQUEST", "this key has no account: name one with accountId"
                )
            if wanted != key.account and not key.allows("admin"):
                raise ApiError(403, "FORBIDDEN_SCOPE", "this key may watch only its own account")
            if not isinstance(wanted, str) or wanted not in self.ctx.ex.accounts():
                raise ApiError(404, "UNKNOWN_ACCOUNT", f"there is no account {_shown(wanted)}")
            return ("account", wanted)
        symbol = msg.get("symbol")
        if symbol is None:
            raise ApiError(
                400, "BAD_REQUEST", f'the {channel} channel needs a symbol, e.g. "BTC-PERP"'
            )
        if not isinstance(symbol, str) or symbol not in self.ctx.ex.markets():
            shown = symbol[:40] if isinstance(symbol, str) else _shown(symbol)
            raise ApiError(404, "UNKNOWN_SYMBOL", f"no market {shown}")
        if channel == "book":
            depth = msg.get("depth", SNAPSHOT_DEPTH)
            if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 500:
                raise ApiError(  # as GET .../book?depth= (snapshots carry 500 levels anyway)
                    400,
                    "BAD_REQUEST",
                    f"depth must be an integer from 1 to 500, not {_shown(depth)}",
                )
        if channel == "candles":
            interval = msg.get("interval", "1m")
            if not isinstance(interval, str) or interval not in INTERVALS_MS:  # [] unhashable
                raise ApiError(
                    400, "BAD_REQUEST", f"interval must be one of {', '.join(INTERVALS_MS)}"
                )
            return ("candles", symbol, interval)
        return (channel, symbol)

    async def subscribe(self, msg: dict[str, Any], req_id: Any, op: str) -> None:
        key = self._stream(msg)
        if op == "resync" and key not in self.streams:
            # a resync repairs a stream this connection has; it used to subscribe silently
            raise ApiError(
                400,
                "NOT_SUBSCRIBED",
                f"resync needs a subscription to {' '.join(key)}; send subscribe first",
            )
        if key not in self.streams and len(self.streams) >= MAX_SUBSCRIPTIONS:
            raise ApiError(
                400, "TOO_MANY_SUBSCRIPTIONS", f"at most {MAX_SUBSCRIPTIONS} per connection"
            )
        rt = self.ctx.runtime
        async with rt.lock:
            rt.hub.flush()  # anything not yet sent belongs before the snapshot
            snapshot = self.snapshot(key)
            ack: dict[str, Any] = {"type": "ack", "id": req_id, "op": op, "channel": key[0]}
            if len(key) > 1 and key[0] != "account":
                ack["symbol"] = key[1]
            self.send(ack)
            self.send(snapshot)
            rt.hub.add(key, self.box)
            self.streams.add(key)

    def snapshot(self, key: StreamKey) -> dict[str, Any]:
        ex = self.ctx.ex
        hub = self.ctx.runtime.hub
        now = ex.now_ms
        channel = key[0]
        base: dict[str, Any] = {"type": "snapshot", "channel": channel, "ts": now}
        if channel == "book":
            book = ex.book(key[1], SNAPSHOT_DEPTH)
            hub.seq[key] = book.seq
            return {**base, **wire.book_json(book, now)}
        if channel == "trades":
            data: Any = [wire.trade_json(t) for t in ex.trades(key[1], 50)]
        elif channel == "ticker":
            data = wire.ticker_json(ex.market(key[1]), now)
        elif channel == "candles":
            data = [wire.candle_json(c) for c in ex.candles(key[1], key[2], limit=500)]
            base["interval"] = key[2]
        elif channel == "account":
            data = self.ctx.runtime.account_json(key[1])
        else:
            data = list(hub.recent)[-50:]
        if len(key) > 1 and channel != "account":
            base["symbol"] = key[1]
        return {**base, "seq": hub.seq[key], "data": data}

    def drop_private(self) -> None:
        """Leave every account stream (the key was revoked)."""
        for key in [k for k in self.streams if k[0] == "account"]:
            self.leave(key)

    def leave(self, key: StreamKey) -> None:
        self.ctx.runtime.hub.remove(key, self.box)
        self.streams.discard(key)

    def unsubscribe(self, msg: dict[str, Any], req_id: Any) -> None:
        key = self._stream(msg)
        self.leave(key)
        self.send({"type": "ack", "id": req_id, "op": "unsubscribe", "channel": key[0]})


def _may_watch(key: ApiKey, account: str) -> bool:
    """Whether `key` may hold `account`'s stream (Session._stream's rule)."""
    return key.allows("read") and (key.account == account or key.allows("admin"))


def _stream_ended(account: str, key: ApiKey) -> dict[str, Any]:
    return {
        "type": "info",
        "code": "UNSUBSCRIBED",
        "channel": "account",
        "accountId": account,
        "message": f"the account stream of {account} ended: the key {key.name!r} this "
        "connection authenticated with now may not watch it",
    }


def _shown(value: Any) -> str:
    """A refused value in a message, at most 40 characters. Why not json.dumps or str:
    both recurse into a nested value, and an array 1,500 deep raised RecursionError, which
    closed the connection with 1011 and logged a traceback."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return json.dumps(value)[:40]


async def _writer(ws: WebSocket, box: Outbox) -> None:
    while True:
        await ws.send_text(await box.take())


async def _reader(ws: WebSocket, session: Session) -> None:
    loop = asyncio.get_running_loop()
    opened = loop.time()
    while True:
        idle = session.key is None and not session.streams
        timeout = max(0.0, IDLE_SECONDS - (loop.time() - opened)) if idle else None
        try:
            message = await asyncio.wait_for(ws.receive(), timeout)
        except TimeoutError:
            session.error(None, "IDLE", "no auth or subscription within 10 s; closing")
            await asyncio.sleep(0.05)
            return
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
        text = message.get("text")
        if text is None:  # receive_text() raised KeyError on a binary frame: a silent close
            session.error(None, "BAD_REQUEST", "messages are JSON text frames, not binary")
        else:
            await session.handle(text)
        if session.box.dropped.is_set():
            return
        # Messages already received come back without suspending: without this, a client
        # that sends faster than it reads would hold the event loop (every other client, the
        # clock, and its own drop) until its burst is handled
        await asyncio.sleep(0)


async def _revocation_watch(session: Session) -> None:
    """Ends the connection once its key is revoked (the key store's cache: within 2 s)."""
    while True:
        await asyncio.sleep(REVOCATION_CHECK_SECONDS)
        if session.secret is not None and session.ctx.keys.lookup(session.secret) is None:
            session.drop_private()
            session.error(None, "UNAUTHENTICATED", "the API key was revoked; closing")
            await asyncio.sleep(0.05)
            return


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    ctx: ServerContext = ws.app.state.ctx
    key: ApiKey | None = None
    header = ws.headers.get("authorization")
    if bearer(header) is not None:
        try:
            key = authenticate(ctx.keys, header)
        except ApiError as exc:
            # API.md's status map: a bad key is 401 UNAUTHENTICATED (a close before accept
            # is answered 403, which means "wrong scope" there)
            if "websocket.http.response" not in ws.scope.get("extensions", {}):
                await ws.close(code=1008, reason="unknown or revoked API key")  # no such server
                return
            _refused_here.set(True)  # uvicorn's log of the unfinished handshake is ours
            await ws.send_denial_response(
                JSONResponse(
                    {
                        "type": "/api/v1/errors/unauthenticated",
                        "title": "Unauthenticated",
                        "status": 401,
                        "code": exc.code,
                        "detail": exc.detail,
                        "instance": ws.url.path,
                    },
                    status_code=401,
                    headers=exc.headers,
                    media_type=PROBLEM_JSON,
                )
            )
            return
    address = ws.client.host if ws.client else "unknown"
    hub = ctx.runtime.hub
    if not hub.admit(address, ctx.ws_per_address):
        await _refuse_busy(ws, ctx.ws_per_address)
        return
    try:
        await _serve(ws, ctx, key, header)
    finally:
        hub.leave(address)


async def _refuse_busy(ws: WebSocket, limit: int) -> None:
    """The connection over the per-address limit: accepted and closed at once, 1013 (try
    again later) with the reason, which every client shows (an HTTP refusal of the handshake
    reaches a browser's script as a bare 1006). Not 1008: clients read that as their key
    refused (perptui's remote venue stops for good on it), and a busy address is not."""
    reason = f"too many WebSocket connections from this address (at most {limit})"
    with contextlib.suppress(Exception):  # the client may be gone already
        await ws.accept()
        await ws.close(code=1013, reason=reason)


async def _serve(ws: WebSocket, ctx: ServerContext, key: ApiKey | None, header: str | None) -> None:
    """One accepted connection, from the handshake's key to its close."""
    await ws.accept()
    box = Outbox()
    ctx.runtime.hub.connections.add(box)
    session = Session(ctx, box, key, bearer(header) if key is not None else None)
    writer = asyncio.create_task(_writer(ws, box))
    reader = asyncio.create_task(_reader(ws, session))
    dropped = asyncio.create_task(box.dropped.wait())
    revoked = asyncio.create_task(_revocation_watch(session))
    tasks = (writer, reader, dropped, revoked)
    failed = False
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ctx.runtime.hub.drop(box)
        ctx.runtime.hub.connections.discard(box)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, WebSocketDisconnect):
                pass  # the client left, or the connection is ending anyway
            except Exception:
                # the reader or the revocation watch failing is a bug: logged, never silent;
                # the writer fails when the peer is gone, which is no news
                if task is writer:
                    log.debug("WebSocket writer ended", exc_info=True)
                else:
                    failed = True
                    log.exception("WebSocket connection failed")
    code, reason = (1013, "slow consumer") if dropped in done else (1000, "bye")
    if revoked in done:
        code, reason = 1008, "API key revoked"
    if failed:
        code, reason = 1011, "internal error"
    if dropped in done or reader in done or revoked in done:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(code=code, reason=reason), 2)
