"""Talking to Hyperliquid: `POST /info` over httpx and the WebSocket's subscriptions.

Why a class of its own: the watch venue and the price mirror both need the same stream (one
connection, several subscriptions, a heartbeat, reconnects) and neither should know how.

The WebSocket as documented (shared/VENUES.md 1.3): `{"method": "subscribe", "subscription":
{...}}` answered by a `subscriptionResponse`, then `{"channel": ..., "data": ...}` pushes; no
sequence numbers (each `l2Book` is a full snapshot, so a lost one is healed by the next); the
server closes a connection it has not sent anything to for 60 s, so the client sends `{"method":
"ping"}` (the SDK every 50 s) and gets `{"channel": "pong"}`. Here the ping also measures
latency. States for the header: live (latency), reconnecting (attempts, with jittered
exponential backoff), stale (no message for `stale_seconds`). A connection silent for
`dead_seconds` (no data, no pong) is closed and reopened; every subscription is sent again on
each connect, and user streams replay a snapshot (`isSnapshot`) that the owner dedupes.

A new connection is not live until the server says something on it (an ack, a pong, data):
a TCP connect alone proves nothing, and a server that accepts and stays silent must show
"reconnecting (n)" with n counting up, not "live" over data 45 s old. So the attempts, the
age of the last real message and the state change only when that first message arrives, and
a ping goes out at once on each connection so its latency, not the old one's, is shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from perptui.venues.base import Connection
from perptui.venues.hyperliquid_wire import (
    HyperliquidError,
    HyperliquidRateLimited,
    HyperliquidUnavailable,
    check,
    retry_after_seconds,
)
from perptui.venues.tasks import cancel

PING_SECONDS = 20.0  # the SDK pings every 50 s; 20 s keeps the latency figure fresh
STALE_SECONDS = 10.0  # allMids alone arrives every block: 10 s of nothing is not normal
DEAD_SECONDS = 45.0  # under the server's 60 s idle close: reconnect before it does
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0

Handler = Callable[[str, Any], None]


class InfoClient:
    """`POST {base_url}/info` with a JSON body; HL's 200-with-`status: err` raised as errors."""

    def __init__(
        self, base_url: str, *, timeout: float = 10.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = client
        self._owned = client is None
        self.latency_ms: float | None = None
        self.last_ok = 0.0  # monotonic time of the last good answer
        self.requests = 0

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)

    async def close(self) -> None:
        if self._client is not None and self._owned:
            await self._client.aclose()
        self._client = None if self._owned else self._client

    async def info(self, body: dict[str, Any]) -> Any:
        if self._client is None:
            raise HyperliquidUnavailable("the Hyperliquid client is not started")
        started = time.monotonic()
        self.requests += 1
        try:
            r = await self._client.post(f"{self.base_url}/info", json=body)
        except httpx.TimeoutException:
            raise HyperliquidUnavailable(
                f"Hyperliquid did not answer {body.get('type')} within {self.timeout} s"
            ) from None
        except httpx.HTTPError as exc:
            raise HyperliquidUnavailable(f"cannot reach {self.base_url}: {exc}") from None
        if r.status_code == 429:  # the words stay the same every time: one notice, not many
            raise HyperliquidRateLimited(
                "Hyperliquid rate-limited this address (HTTP 429)",
                retry_after_seconds(r.headers.get("Retry-After")),
            )
        if r.status_code >= 500:
            raise HyperliquidUnavailable(f"Hyperliquid server error {r.status_code}")
        if r.status_code >= 400:
            try:
                problem = r.json()
                text = problem.get("msg") or problem.get("error") or r.text
            except (ValueError, AttributeError):
                text = r.text
            raise HyperliquidError(f"Hyperliquid refused {body.get('type')}: "
                                   f"{str(text)[:200]} (HTTP {r.status_code})")  # fmt: skip
        try:
            data = r.json()
        except ValueError:
            raise HyperliquidError(f"Hyperliquid sent non-JSON for {body.get('type')}") from None
        self.latency_ms = (time.monotonic() - started) * 1000
        self.last_ok = time.monotonic()
        return check(data)


def sub_key(subscription: dict[str, Any]) -> str:
    """One subscription's identity (the server echoes the object back in its ack)."""
    return json.dumps(subscription, sort_keys=True)


class HyperliquidStream:
    """One WebSocket with a set of subscriptions; `on_message(channel, data)` for each push."""

    def __init__(
        self,
        ws_url: str,
        on_message: Handler,
        *,
        ping_seconds: float = PING_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        dead_seconds: float = DEAD_SECONDS,
        backoff_start: float = BACKOFF_START,
        backoff_max: float = BACKOFF_MAX,
        open_timeout: float = 10.0,
    ) -> None:
        self.ws_url = ws_url
        self.on_message = on_message
        self.ping_seconds = ping_seconds
        self.stale_seconds = stale_seconds
        self.dead_seconds = dead_seconds
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.open_timeout = open_timeout
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.acked: set[str] = set()
        self.state = "connecting"  # connecting | live | reconnecting | stopped
        self.attempts = 0
        self.connects = 0  # successful connections (tests: a reconnect happened)
        self.messages = 0
        self.last_message = 0.0
        self.latency_ms: float | None = None
        self.problem: str | None = None  # the last reason the connection went down
        self._ping_sent: float | None = None
        self._silent_for: float | None = None
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    # --- life cycle -------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        self.state = "stopped"
        await cancel(task)

    async def wait_live(self, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while self.state != "live":
            if time.monotonic() > end:
                return False
            await asyncio.sleep(0.01)
        return True

    # --- subscriptions ----------------------------------------------------------------------
    def subscribe(self, subscription: dict[str, Any]) -> None:
        key = sub_key(subscription)
        if key in self.subscriptions:
            return
        self.subscriptions[key] = subscription
        self._send_soon({"method": "subscribe", "subscription": subscription})

    def unsubscribe(self, subscription: dict[str, Any]) -> None:
        key = sub_key(subscription)
        if self.subscriptions.pop(key, None) is None:
            return
        self.acked.discard(key)
        self._send_soon({"method": "unsubscribe", "subscription": subscription})

    def _send_soon(self, message: dict[str, Any]) -> None:
        """Send now on an open connection whose first subscriptions went out (`_ws` is set
        only then: until then `_session` sends every subscription itself), live or not yet."""
        if self._ws is not None:
            asyncio.get_running_loop().create_task(self._send(message))

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(WebSocketException, OSError):
            await ws.send(json.dumps(message))

    # --- state for the header ---------------------------------------------------------------
    def connection(self) -> Connection:
        """Reconnecting also while a new connection has said nothing yet; the age is always
        that of the last real message (so an owner can tell how old its data is)."""
        now = time.monotonic()
        if self.state != "live":
            age = now - self.last_message if self.last_message else 0.0
            return Connection("reconnecting", self.latency_ms, max(self.attempts, 1), age)
        age = now - self.last_message
        if age > self.stale_seconds:
            return Connection("stale", self.latency_ms, self.attempts, age)
        return Connection("live", self.latency_ms, 0, age)

    # --- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            self._silent_for = None
            try:
                async with connect(self.ws_url, open_timeout=self.open_timeout,
                                   ping_interval=None, max_size=8 * 1024 * 1024) as ws:  # fmt: skip
                    await self._session(ws)
                self.problem = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, TimeoutError) as exc:
                self.problem = f"{type(exc).__name__}: {exc}"
            if self._silent_for is not None:  # we closed it: say why, not how the close went
                self.problem = f"no message for {self._silent_for:.1f} s: reconnecting"
            self._ws = None
            self.acked.clear()
            self.latency_ms = None  # the last connection's: the next one measures its own
            self.state = "reconnecting"
            self.attempts += 1
            delay = min(self.backoff_max, self.backoff_start * 2 ** (self.attempts - 1))
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self, ws: ClientConnection) -> None:
        """Subscribe everything, then read. Live only from the first real message
        (`_heard`): neither the connect nor the sends say the server is there."""
        sent: set[str] = set()
        while unsent := [k for k in self.subscriptions if k not in sent]:  # added meanwhile too
            for key in unsent:
                sent.add(key)
                subscription = self.subscriptions.get(key)
                if subscription is not None:
                    message = {"method": "subscribe", "subscription": subscription}
                    await ws.send(json.dumps(message))
        self._ws = ws  # no await since the last check: a later subscribe() is sent directly
        self._ping_sent = None
        keeper = asyncio.get_running_loop().create_task(self._heartbeat(ws, time.monotonic()))
        try:
            async for raw in ws:
                self._dispatch(raw)
        finally:
            await cancel(keeper)

    def _heard(self) -> None:
        """A real message (an ack, a pong, data) on this connection: the first one makes it
        live and ends the count of attempts."""
        self.last_message = time.monotonic()
        self.messages += 1
        if self.state not in ("live", "stopped"):
            self.state, self.attempts = "live", 0
            self.connects += 1

    async def _heartbeat(self, ws: ClientConnection, opened: float) -> None:
        """Ping at once (this connection's latency, and an answer even with no subscription)
        and every `ping_seconds`; close a connection that has said nothing for `dead_seconds`
        (counted from its opening while it has said nothing at all)."""
        step = min(self.ping_seconds, self.dead_seconds) / 4
        last_ping: float | None = None
        while True:
            now = time.monotonic()
            if now - max(self.last_message, opened) > self.dead_seconds:
                heard = self.last_message or opened
                self._silent_for = now - heard
                await ws.close(code=4000, reason="silent")  # the reader loop ends; reconnect
                return
            if last_ping is None or now - last_ping >= self.ping_seconds:
                last_ping = now
                self._ping_sent = now
                await self._send({"method": "ping"})
            await asyncio.sleep(step)

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return  # the old server's "Websocket connection established." and other text
        if not isinstance(msg, dict):
            return
        self._heard()
        channel = msg.get("channel")
        if channel == "pong":
            if self._ping_sent is not None:
                self.latency_ms = (time.monotonic() - self._ping_sent) * 1000
                self._ping_sent = None
            return
        if channel == "subscriptionResponse":
            data = msg.get("data") or {}
            sub = data.get("subscription") if isinstance(data, dict) else None
            if isinstance(sub, dict):
                self.acked.add(sub_key(sub))
            return
        if channel == "error":
            self.problem = f"Hyperliquid: {msg.get('data')}"
            return
        if isinstance(channel, str):
            try:
                self.on_message(channel, msg.get("data"))
            except (HyperliquidError, KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problem = f"unreadable {channel} message: {exc}"
