"""The remote venue: an exchange-local server (shared/API.md), REST with httpx, streams with
websockets. It returns the same exchange_local records LocalVenue returns and raises the same
ExchangeError classes (by the server's `exchangeCode`), so the terminal cannot tell the two apart.

Why REST for the snapshot and the WebSocket for the book and events: a snapshot is a handful of
parallel GETs (cheap on a LAN and always consistent with itself), while the book changes many
times a second and events must not be missed; the stream keeps a local book (snapshot + deltas,
resync on a gap) and a queue of events, and says how fresh it is (live / reconnecting / stale).
Why the market-wide events are also fetched by REST: the stream carries only what happens
while it is connected, so a student who joins mid-class (or reconnects) would miss the
liquidation stages and the teacher's actions before; GET /events?since=<the last id taken in>
fills that in, and each event is taken in once, by its id.
Why a clientOrderId on every order: a timed-out POST is looked up by that id and, if the server
never saw it, sent again; the server answers a repeat with the original order, never a second.
When even the lookup gets no answer, the refusal carries `settle()`: the terminal asks again
once the server answers and replaces "may or may not have been placed" with what happened.
Why the REST parts of a frame are refreshed in the background: a hung server (kill -STOP) held
every frame for the whole request timeout, so the header said "● live" for seconds and its
STALE counter moved in 5 s steps; now a frame never waits on the network (except the first
of a market, and briefly after a command) and says STALE once its numbers are ANSWER_S old.
Why a 429 and a 401 are not "unavailable": a rate limit ends after Retry-After (so the venue
waits exactly that long and says "rate limited"), and a revoked key never comes back (so the
venue stops asking, says so in the server's words, and tells the user what to do).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import random
import secrets
import time
from collections import deque
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from exchange_local import errors
from exchange_local.engine import BookSnapshot
from exchange_local.errors import ExchangeError
from exchange_local.events import (
    Event,
    FillEvent,
    FundingPaid,
    InvariantViolated,
    LiquidationEvent,
    MarginEvent,
    MarketEvent,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
)
from exchange_local.explain import Explanation
from exchange_local.funding import AccountFunding
from exchange_local.health import OrderPreview
from exchange_local.ledger import LedgerEntry
from exchange_local.orders import Fill, OrderInfo, OrderResult
from exchange_local.server import wire_decode as w
from exchange_local.server.codes import error_from_problem
from exchange_local.server.wire import ORDER_TYPES, TIFS
from perptui.venues.base import (
    NEW_KEY_HINT,
    REFUSED_HINT,
    ClockInfo,
    Connection,
    LeaderboardRow,
    NotAsked,
    OrderRequest,
    TradingDisabled,
    Venue,
    VenueSnapshot,
)
from perptui.venues.tasks import cancel

EVENTS_KEPT = 20_000
BACKFILL_LIMIT = 1000  # GET /events answers at most this many per page
BACKFILL_PAGES = 25  # the server keeps a few hundred; this only bounds a misbehaving one
INDEX_CANDLES = "index_candles" in getattr(VenueSnapshot, "__dataclass_fields__", {})
PING_SECONDS = 2.0  # app-level ping: latency, and liveness when the market is quiet
REFRESH_S = 0.5  # REST parts of a snapshot at most twice a second (the book streams)
STALE_SECONDS = 6.0  # no message for this long on an open stream: STALE
ANSWER_S = 3.0  # a ping or a frame's numbers this old without an answer: STALE
FRAME_WAIT_S = 0.25  # a frame waits this long for its REST parts, then shows the last ones
COMMAND_WAIT_S = 1.0  # ... this long after a command (its effect belongs in the next frame)
DOWN_RETRY_S = 1.0  # while the server does not answer, ask it again this often
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
SHUTDOWN_RETRY_S = 1.0  # after the server's SHUTDOWN notice: it means to be back in seconds
SHUTDOWN_FAST_ATTEMPTS = 60  # ... for about a minute; then the usual backoff again
SHUTDOWN_FRESH_S = 10.0  # its words ("reconnect in 5 s") this long; then how long ago


class VenueUnavailable(NotAsked):
    """The server could not be reached or did not answer in time (nothing is known to have
    changed, except where the message says an order's fate is unknown)."""

    code = "unavailable"


class OrderFateUnknown(VenueUnavailable):
    """An order was sent, its answer lost and the lookup by clientOrderId unanswered too.
    `settle()` waits until the server answers again and says what became of it."""

    def __init__(self, message: str, venue: RemoteVenue, client_order_id: str) -> None:
        super().__init__(message)
        self.client_order_id = client_order_id
        self._venue = venue

    async def settle(self, retry_s: float = DOWN_RETRY_S) -> OrderInfo | None:
        """The order as the server has it, or None if the server never got it. Asks until
        it answers (a rate limit or a dead server only delay the answer); a refused key raises.
        "Unknown" is asked twice, `retry_s` apart: a POST held in a hung server's socket may
        be handled after the first lookup."""
        path = f"/orders/by-client-id/{quote(self.client_order_id, safe='')}"
        unknown = 0
        while True:
            try:
                return w.order_info(await self._venue._get(path))
            except errors.UnknownOrder:
                unknown += 1
                if unknown >= 2:
                    return None
            except KeyRefused:
                raise
            except (VenueUnavailable, RateLimited):
                pass
            await asyncio.sleep(max(retry_s, self._venue._limited_until - time.monotonic()))


class RateLimited(NotAsked):
    """429: this key asked too often (its own script, or a burst); nothing was done. The venue
    sends nothing more until Retry-After has passed."""

    code = "rate_limited"


class KeyRefused(errors.NotAuthorized, NotAsked):
    """401: the server does not know this key (revoked, or never issued). Final for this key:
    the venue stops asking until perptui is started with another. NotAsked too: the order
    was never judged, so the ticket says "not sent", not "would be refused"."""

    code = "unauthenticated"


class LocalBook:
    """The stream's copy of one market's book: absolute levels, `seq` of the last change."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.seq = int(snapshot["seq"])
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}

    def apply(self, update: dict[str, Any]) -> None:
        for side, rows in (
            (self.bids, update.get("bids", ())),
            (self.asks, update.get("asks", ())),
        ):
            for p, q in rows:
                price, size = Decimal(p), Decimal(q)
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size
        self.seq = int(update["seq"])

    def snapshot(self, market: str, depth: int) -> BookSnapshot:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return BookSnapshot(market, self.seq, bids, asks)


class RemoteVenue(Venue):
    """`base_url`: the server, e.g. http://127.0.0.1:8700; `api_key`: a read or trade key."""

    paper = True

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        backoff_start: float = BACKOFF_START,
        stale_seconds: float = STALE_SECONDS,
        ping_seconds: float = PING_SECONDS,
        refresh_s: float = REFRESH_S,
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://HOST:PORT, got {base_url!r}")
        # the server announces http://HOST:PORT/api/v1; pasted as it is, it is the same server
        path = parts.path.removesuffix("/api/v1")
        parts = parts._replace(path=path)
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.ws_url = ("wss" if parts.scheme == "https" else "ws") + (
            f"://{parts.netloc}{parts.path}/api/v1/ws"
        )
        self.name = parts.netloc
        self._key = api_key
        self.timeout = timeout
        self.backoff_start = backoff_start
        self.stale_seconds = stale_seconds
        self.ping_seconds = ping_seconds
        self.scopes: frozenset[str] = frozenset()
        self._http: httpx.AsyncClient | None = None
        self._markets: list[str] = []
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._event_id: int | None = None  # the newest market-wide event id taken in
        self._events_behind = False  # an events snapshot came: fetch what was missed by REST
        self._events_snapshot: list[dict[str, Any]] = []  # its rows, if REST cannot answer
        self._books: dict[str, LocalBook] = {}
        self._seqs: dict[tuple[str, ...], int] = {}
        self._want: set[tuple[str, ...]] = set()  # streams to (re)subscribe on every connect
        self._ws: ClientConnection | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._state = "reconnecting"
        self._attempts = 0
        self._last_message = 0.0
        self._latency_ms: float | None = None
        self._ping_sent: dict[int, float] = {}
        self._next_id = 0
        self.resyncs = 0  # gaps seen and repaired (tests and the status line)
        self.refresh_s = refresh_s
        # (market, interval), when fetched, the snapshot, the command generation it saw
        self._cached: tuple[tuple[str, str], float, VenueSnapshot, int] | None = None
        self._generation = 0  # every command: the next frame must show its effect
        self._key_shown: tuple[str, str] | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._next_probe = 0.0  # no REST refresh before this (the server was not answering)
        self._rest_problem = ""
        self.answer_s = ANSWER_S
        self._limited_until = 0.0
        self._rest_limited = False  # the last refresh was a 429: "rate limited" until one passes
        self._refused: str | None = None  # the server's words when it refused the key
        self._shutdown: str | None = None  # the server's SHUTDOWN notice, until live again
        self._shutdown_at = 0.0  # when it came (monotonic)
        self._notice: str | None = None
        self._wake = asyncio.Event()  # ends the stream's backoff (the server answers again)

    # --- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}/api/v1",
            headers={"Authorization": f"Bearer {self._key}"},
            timeout=self.timeout,
        )
        me = await self._get("/whoami")
        self.account = me.get("accountId") or ""
        self.scopes = frozenset(me.get("scopes", ()))
        # a key bound to no account (a projector's, the teacher's admin key) trades nothing
        self.can_trade = bool(self.account) and bool({"trade", "admin"} & self.scopes)
        if not self.account:
            self.read_only_reason = f"{self.name}: this key watches the market only (no account)"
        elif not self.can_trade:
            self.read_only_reason = f"{self.name}: this key can only watch (scope read)"
        markets = await self._get("/markets")
        self._markets = [m["symbol"] for m in markets["markets"]]
        self._want = {("events",)}
        if self.account:
            self._want.add(("account",))
        # the class's events before this client: on the first frame, not only after the
        # stream is up (which catches up again, from the last id, on every (re)subscription)
        with contextlib.suppress(ExchangeError):
            await self._backfill_events()
        self._stream_task = asyncio.get_running_loop().create_task(self._stream())

    async def stop(self) -> None:
        task, self._stream_task = self._stream_task, None
        await cancel(task)
        refresh, self._refresh = self._refresh, None
        await cancel(refresh)
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # --- REST ---------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._http is None:
            raise VenueUnavailable(f"{self.name}: the venue is not started")
        if self._refused is not None:  # final: asking again only gets the same 401
            raise KeyRefused(f"{self.name} refused this key: {self._refused}; {NEW_KEY_HINT}")
        started = time.monotonic()
        wait = self._limited_until - started
        if wait > 0:  # Retry-After has not passed: nothing is sent, nothing was done
            raise RateLimited(f"{self.name}: rate limited; nothing sent, retry in "
                              f"{math.ceil(wait)} s")  # fmt: skip
        if method != "GET":
            self._generation += 1  # a command changes what the next frame must show
        try:
            r = await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise VenueUnavailable(f"{self.name} did not answer within {self.timeout} s") from None
        except httpx.HTTPError as exc:
            raise VenueUnavailable(f"cannot reach {self.name}: {exc}") from None
        if self._latency_ms is None or self._state != "live":
            self._latency_ms = (time.monotonic() - started) * 1000
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {"detail": r.text[:200]}
        problem = body if isinstance(body, dict) else {}
        if r.status_code == 429:
            retry = _retry_after(r.headers.get("Retry-After"))
            self._limited_until = max(self._limited_until, time.monotonic() + retry)
            raise RateLimited(f"{self.name}: rate limited ({problem.get('detail') or '429'}); "
                              f"retry in {math.ceil(retry)} s")  # fmt: skip
        if r.status_code == 401:
            self._refuse(str(problem.get("detail") or "the API key was refused"))
            raise KeyRefused(f"{self.name} refused this key: {self._refused}; {NEW_KEY_HINT}")
        if self._state != "live":
            self._wake.set()  # the server answers: the stream need not sit out its backoff
        if r.status_code >= 400:
            raise self._error(problem, r.status_code)
        return body

    def _refuse(self, reason: str) -> None:
        """The key is refused (401, or the stream's UNAUTHENTICATED / close 1008): stop asking,
        stop reconnecting, and say so once with what to do."""
        if self._refused is not None:
            return
        self._refused = reason
        self._notice = f"{self.name} refused this key: {reason}. To go on, {REFUSED_HINT}."
        self._wake.set()
        ws = self._ws
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close(code=1000, reason="key refused"))

    @staticmethod
    def _error(problem: dict[str, Any], status: int) -> ExchangeError:
        if "exchangeCode" not in problem and status in (401, 403):
            err: ExchangeError = errors.NotAuthorized(str(problem.get("detail") or "forbidden"))
            return err
        if status == 429:  # _request raises RateLimited itself; this is the fallback
            return RateLimited(str(problem.get("detail") or "rate limited"))
        if status >= 500 and "exchangeCode" not in problem:
            return VenueUnavailable(str(problem.get("detail") or f"server error {status}"))
        return error_from_problem(problem, status)

    async def _get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self._request("GET", path, params=clean)

    async def leaderboard(self) -> list[LeaderboardRow]:
        rows = (await self._get("/leaderboard")).get("leaderboard", [])
        return [
            LeaderboardRow(int(r["rank"]), str(r["accountId"]), Decimal(r["equity"]),
                           Decimal(r["pnl"]), str(r["status"]), int(r["positions"]))
            for r in rows
        ]  # fmt: skip

    def _trading(self) -> None:
        if not self.can_trade:
            raise TradingDisabled(f"{self.name}: this key can only watch (scope read)")

    # --- state ------------------------------------------------------------------------------------
    def markets(self) -> list[str]:
        return list(self._markets)

    def take_notice(self) -> str | None:
        """The server's SHUTDOWN notice, or a refused key with what to do: said once."""
        notice, self._notice = self._notice, None
        return notice

    def connection(self) -> Connection:
        """The stream's state: live; STALE once a message or a ping's answer is overdue (a
        hung server keeps the socket open and says nothing); reconnecting, with the server's
        SHUTDOWN notice if it gave one; refused (final) once the key was refused."""
        now = time.monotonic()
        if self._refused is not None:
            age = now - self._last_message if self._last_message else 0.0
            return Connection("stale", None, self._attempts, age, "refused", self._refused)
        if self._state == "live":
            age = now - self._last_message
            unanswered = min(self._ping_sent.values(), default=now)
            if age > self.stale_seconds or now - unanswered > self.answer_s:
                return Connection("stale", self._latency_ms, self._attempts, age, "no answer")
            return Connection("live", self._latency_ms, 0, age)
        return Connection("reconnecting", self._latency_ms, max(self._attempts, 1), 0.0,
                          "reconnecting", self._shutdown_words(now))  # fmt: skip

    def _shutdown_words(self, now: float) -> str:
        """The server's SHUTDOWN notice while it is fresh; later how long ago it came, since
        "reconnect in 5 s" read the same 20 s on ("" if there was none)."""
        if self._shutdown is None:
            return ""
        ago = now - self._shutdown_at
        if ago <= SHUTDOWN_FRESH_S:
            return self._shutdown
        return f"the server said it was stopping {int(ago)} s ago"

    def watch(self, market: str) -> None:
        """Stream this market's book (the one on screen); other markets come by REST."""
        wanted = ("book", market)
        if wanted in self._want:
            return
        old = [k for k in self._want if k[0] == "book"]
        self._want.difference_update(old)
        self._want.add(wanted)
        ws = self._ws
        if ws is not None:
            ops = [{"op": "unsubscribe", "channel": "book", "symbol": k[1]} for k in old]
            ops.append({"op": "subscribe", "channel": "book", "symbol": market})
            for key in old:
                self._books.pop(key[1], None)
            asyncio.get_running_loop().create_task(self._send(ops))

    def _chip(self, paused: bool, fetched_at: float) -> Connection:
        """The header's connection chip for a frame whose REST parts were fetched at
        `fetched_at`: the stream's state, made STALE when those numbers are `answer_s` old
        (the server stopped answering), "limited" while a rate limit lasts, "paused" while the
        teacher has paused the class, as a paused paper market says (a live chip over frozen
        countdowns read as a hang)."""
        conn = self.connection()
        if conn.cause == "refused":
            return conn
        now = time.monotonic()
        age = max(now - fetched_at, conn.age_s if conn.state == "stale" else 0.0)
        limited = self._limited_until - now
        if limited > 0 or self._rest_limited:  # not "live" again before a request has passed
            wait = f"retry in {math.ceil(limited)}s" if limited > 0 else "retrying"
            state = "stale" if age > self.answer_s else "limited"
            return Connection(state, conn.latency_ms, conn.attempts, age, "rate limited", wait)
        if now - fetched_at > self.answer_s:
            cause = "reconnecting" if conn.state == "reconnecting" else "no answer"
            detail = conn.detail or self._rest_problem
            return Connection("stale", conn.latency_ms, conn.attempts, age, cause, detail)
        if paused and conn.state == "live":
            return dataclasses.replace(conn, state="paused")
        return conn

    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot:
        """A frame of the market. The REST parts are fetched at most every `refresh_s` (ten
        calls a frame at the TUI's 10 Hz would be 100 requests a second, past the server's
        per-key rate limit); in between, the last frame is returned with the streamed book
        and the current connection state. Any command invalidates it."""
        self.watch(market)
        key = (market, candle_interval)
        self._key_shown = key
        cached = self._cached
        if cached is None or cached[0] != key:  # nothing of this market to show meanwhile
            generation = self._generation
            snap = await self._fetch_snapshot(market, candle_interval)
            cached = self._cached = (key, time.monotonic(), snap, generation)
            return self._frame(cached)
        now = time.monotonic()
        dirty = cached[3] != self._generation
        due = dirty or now - cached[1] >= self.refresh_s
        if due and now >= self._next_probe and now >= self._limited_until and not self._refused:
            refresh = self._start_refresh(key)
            if refresh is not None and not self._rest_problem:
                # an answering server's numbers belong in this frame (a command's effect
                # above all); a server that does not answer holds the frame this long at most
                await asyncio.wait({refresh}, timeout=COMMAND_WAIT_S if dirty else FRAME_WAIT_S)
        return self._frame(self._cached or cached)

    def _frame(self, cached: tuple[tuple[str, str], float, VenueSnapshot, int]) -> VenueSnapshot:
        """The cached frame with the streamed book and the connection as of now."""
        market, snap = cached[0][0], cached[2]
        live = self._books.get(market) if self._state == "live" else None
        book = live.snapshot(market, 40) if live is not None else snap.book
        chip = self._chip(snap.clock.paused, cached[1])
        return dataclasses.replace(snap, connection=chip, book=book)

    def _start_refresh(self, key: tuple[str, str]) -> asyncio.Task[None] | None:
        """A refresh in the background, unless one is running: the new task, or None (a
        frame does not wait again on a refresh that is already overdue)."""
        if self._refresh is not None and not self._refresh.done():
            return None
        self._refresh = asyncio.get_running_loop().create_task(self._refresh_snapshot(key))
        return self._refresh

    async def _refresh_snapshot(self, key: tuple[str, str]) -> None:
        """Fetch a frame's REST parts in the background; on failure remember why (the chip
        says it once the numbers are old) and ask again DOWN_RETRY_S later. A command sent
        meanwhile makes it fetch once more: the frame after a command shows its effect."""
        while True:
            generation = self._generation
            try:
                snap = await self._fetch_snapshot(*key)
            except RateLimited as problem:  # asked again the moment Retry-After has passed
                self._rest_problem, self._rest_limited = str(problem), True
                return
            except (ExchangeError, KeyError, TypeError, ValueError, ArithmeticError) as problem:
                self._rest_problem = str(problem) or type(problem).__name__
                self._next_probe = time.monotonic() + DOWN_RETRY_S
                return
            self._rest_problem, self._rest_limited = "", False
            if key == self._key_shown:
                self._cached = (key, time.monotonic(), snap, generation)
            if generation == self._generation:
                return

    async def _fetch_snapshot(self, market: str, candle_interval: str) -> VenueSnapshot:
        live_book = self._books.get(market) if self._state == "live" else None
        calls = [
            self._get("/time"),
            self._get("/tickers"),
            self._get(f"/markets/{market}/trades", limit=60),
            self._get(f"/markets/{market}/candles", interval=candle_interval, source="mark",
                      limit=240),
            self._get("/insurance-fund?history=0"),  # the balance alone: polled
            self._get(f"/markets/{market}/funding"),
            self._get(f"/markets/{market}/book", depth=40) if live_book is None else _none(),
            self._get(f"/markets/{market}/candles", interval=candle_interval, source="index",
                      limit=240) if INDEX_CANDLES else _none(),
        ]  # fmt: skip
        if self.account:
            calls += [self._get("/account"), self._get("/orders")]
        results = await asyncio.gather(*calls)
        clock, tickers, trades, candles, fund, funding, book, index = results[:8]
        markets = {t["symbol"]: w.market_state(t) for t in tickers["tickers"]}
        if self.account:
            account, orders = results[8], results[9]
            health = w.account_health(account)
            leverage = w.leverage_map(account)
            open_orders = [w.order_info(o) for o in orders["orders"]]
        else:
            health = _empty_health()
            leverage, open_orders = {}, []
        paused = bool(clock.get("paused", False))
        return VenueSnapshot(
            clock=ClockInfo(int(clock["serverTime"]), Decimal(str(clock.get("speed", "1"))),
                            paused, adjustable=False),
            connection=self._chip(paused, time.monotonic()),
            market=market,
            markets=markets,
            book=live_book.snapshot(market, 40) if live_book is not None else w.book(book),
            trades=[w.trade(t) for t in trades["trades"]],
            candles=[w.candle(c) for c in candles["candles"]],
            health=health,
            open_orders=open_orders,
            leverage=leverage,
            insurance_fund=Decimal(fund["balance"]),
            funding_history=[w.funding_record(r) for r in funding["funding"]][-48:],
            **({"index_candles": [w.candle(c) for c in index["candles"]]} if index else {}),
        )  # fmt: skip

    async def fills(self, limit: int = 200) -> list[Fill]:
        if not self.account:  # a market-only key: no fills, funding or ledger of its own
            return []
        data = await self._get("/fills", limit=min(limit, 1000))
        return [w.fill(f, self.account) for f in reversed(data["fills"])]

    async def funding_payments(self, limit: int = 200) -> list[AccountFunding]:
        if not self.account:
            return []
        data = await self._get("/funding-payments")
        return [w.account_funding(p) for p in data["payments"]][-limit:]

    async def ledger(self, limit: int = 500, type_prefix: str = "") -> list[LedgerEntry]:
        if not self.account:
            return []
        limit = min(limit, 5000)
        kind = {"type": type_prefix.strip()} if type_prefix.strip() else {}
        head = await self._get("/ledger", limit=1, **kind)
        start = max(0, int(head.get("total", 0)) - limit)
        data = await self._get("/ledger", cursor=start, limit=limit, **kind)
        return [w.ledger_entry(e) for e in data["entries"]]

    # --- what-if --------------------------------------------------------------------------------
    async def preview_order(self, request: OrderRequest) -> OrderPreview:
        data = await self._request("POST", "/orders/preview", json=_order_body(request))
        preview: OrderPreview = w.load(OrderPreview, data)
        return preview

    async def explain(self, market: str) -> Explanation:
        data = await self._get(f"/positions/{market}/explain")
        explanation: Explanation = w.load(Explanation, data)
        return explanation

    # --- commands -------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> OrderResult:
        self._trading()
        coid = request.client_order_id or f"pt-{secrets.token_hex(12)}"
        body = _order_body(request)
        body["clientOrderId"] = coid
        try:
            data = await self._request("POST", "/orders", json=body)
        except VenueUnavailable:
            data = await self._recover_order(coid, body)
        return w.order_result(data["order"])

    async def _recover_order(self, coid: str, body: dict[str, Any]) -> dict[str, Any]:
        """After a lost answer: look the order up by its clientOrderId; if the server never got
        it, send it once more (safe: the same id can only ever make one order)."""
        try:
            order = await self._get(f"/orders/by-client-id/{quote(coid, safe='')}")
            return {"order": order}
        except errors.UnknownOrder:
            pass
        except VenueUnavailable:
            raise OrderFateUnknown(
                f"{self.name} is not answering; order {coid} may or may not have been placed "
                "(it will not be placed twice; checking again once it answers)",
                self,
                coid,
            ) from None
        data: dict[str, Any] = await self._request("POST", "/orders", json=body)
        return data

    async def amend_order(
        self,
        order_id: int,
        price: Decimal | None = None,
        size: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> OrderInfo:
        self._trading()
        fields = (("price", price), ("size", size), ("triggerPx", trigger_price))
        body = {k: _text(v) for k, v in fields if v is not None}
        data = await self._request("PATCH", f"/orders/{order_id}", json=body)
        return w.order_info(data["order"])

    async def cancel_order(self, order_id: int) -> OrderResult:
        self._trading()
        data = await self._request("DELETE", f"/orders/{order_id}")
        return w.order_result(data["order"])

    async def cancel_all(self, market: str | None = None) -> list[int]:
        self._trading()
        params = {"symbol": market} if market else {}
        data = await self._request("DELETE", "/orders", params=params)
        return [int(i) for i in data["canceled"]]

    async def close_position(self, market: str, cancel_orders: bool = True) -> OrderResult:
        self._trading()
        if cancel_orders:
            await self.cancel_all(market)
        account = await self._get("/account")
        size = next((Decimal(p["size"]) for p in account["positions"] if p["symbol"] == market),
                    Decimal(0))  # fmt: skip
        if not size:
            raise errors.InvalidOrder(f"there is no {market} position to close")
        side = "sell" if size > 0 else "buy"
        return await self.place_order(
            OrderRequest(market, side, abs(size), type="market", reduce_only=True)
        )

    async def set_leverage(self, market: str, leverage: Decimal) -> None:
        self._trading()
        await self._request("PUT", f"/leverage/{market}", json={"leverage": _text(leverage)})

    async def deposit(self, asset: str, amount: Decimal) -> None:
        """On a class server this is the instructor's: refused with NotAuthorized."""
        self._trading()
        await self._request("POST", "/deposits", json={"asset": asset, "amount": _text(amount)})

    async def withdraw(self, asset: str, amount: Decimal) -> None:
        self._trading()
        await self._request("POST", "/withdrawals", json={"asset": asset, "amount": _text(amount)})

    async def convert(self, from_asset: str, to_asset: str, amount: Decimal) -> None:
        self._trading()
        body = {"from": from_asset, "to": to_asset, "amount": _text(amount)}
        await self._request("POST", "/converts", json=body)

    # --- the stream -----------------------------------------------------------------------------
    async def _stream(self) -> None:
        """Connect, subscribe, read; on any failure wait (jittered exponential backoff) and
        start again: the snapshots that answer the subscriptions replace all local state."""
        while self._refused is None:
            try:
                async with connect(
                    self.ws_url, additional_headers={"Authorization": f"Bearer {self._key}"},
                    open_timeout=self.timeout, max_size=4 * 1024 * 1024,
                ) as ws:  # fmt: skip
                    self._ws = ws
                    self._books.clear()
                    self._seqs.clear()
                    self._ping_sent.clear()  # pings of a dead connection are never answered
                    await self._send([self._subscribe(k) for k in sorted(self._want)])
                    self._state, self._attempts = "live", 0
                    self._shutdown = None
                    self._next_probe = 0.0  # the server is back: the frame's REST parts now
                    self._last_message = time.monotonic()
                    pinger = asyncio.get_running_loop().create_task(self._pings())
                    try:
                        async for raw in ws:
                            self._last_message = time.monotonic()
                            ops = self.handle(json.loads(raw))
                            if ops:
                                await self._send(ops)
                            if self._events_behind:  # before the updates queued behind it
                                await self._catch_up_events()
                    finally:
                        pinger.cancel()
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:  # the handshake refused: 401 is the key
                if exc.response.status_code == 401:
                    self._refuse(_problem_detail(exc.response.body) or "the API key was refused")
            except ConnectionClosed as exc:  # 1008: the server closed on the key (revoked)
                if exc.rcvd is not None and exc.rcvd.code == 1008:
                    self._refuse(exc.rcvd.reason or "the API key was refused")
            except (OSError, WebSocketException, TimeoutError, ValueError):
                pass
            self._ws = None
            if self._refused is not None:
                self._state = "refused"
                return
            self._state = "reconnecting"
            self._attempts += 1
            delay = min(BACKOFF_MAX, self.backoff_start * 2 ** (self._attempts - 1))
            if self._shutdown is not None and self._attempts <= SHUTDOWN_FAST_ATTEMPTS:
                delay = min(delay, SHUTDOWN_RETRY_S)  # announced: back in seconds, not 30
            self._wake.clear()
            with contextlib.suppress(TimeoutError):  # or sooner: REST answers again
                await asyncio.wait_for(self._wake.wait(), delay * random.uniform(0.5, 1.0))

    def _subscribe(self, key: tuple[str, ...], op: str = "subscribe") -> dict[str, Any]:
        msg: dict[str, Any] = {"op": op, "channel": key[0]}
        if key[0] in ("book", "trades", "ticker"):
            msg["symbol"] = key[1]
        return msg

    async def _send(self, ops: list[dict[str, Any]]) -> None:
        ws = self._ws
        if ws is None:
            return
        for op in ops:
            self._next_id += 1
            op.setdefault("id", self._next_id)
            with contextlib.suppress(WebSocketException):
                await ws.send(json.dumps(op))

    async def _pings(self) -> None:
        while True:
            await asyncio.sleep(self.ping_seconds)
            self._next_id += 1
            self._ping_sent[self._next_id] = time.monotonic()
            await self._send([{"op": "ping", "id": self._next_id}])

    def handle(self, msg: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply one server message; returns the requests to send back (resyncs)."""
        kind = msg.get("type")
        channel = msg.get("channel")
        if kind == "pong":
            sent = self._ping_sent.pop(msg.get("id"), None)  # type: ignore[arg-type]
            if sent is not None:
                self._latency_ms = (time.monotonic() - sent) * 1000
            return []
        if kind == "info" and msg.get("code") == "SHUTDOWN":
            self._shutdown = str(msg.get("message") or "server stopping")
            self._shutdown_at = time.monotonic()
            self._notice = f"{self.name}: {self._shutdown}"
            return []
        if kind == "error" and msg.get("code") == "UNAUTHENTICATED" and msg.get("id") is None:
            self._refuse(str(msg.get("message") or "the API key was refused"))
            return []
        if kind not in ("snapshot", "update") or not isinstance(channel, str):
            return []  # acks, errors, info and anything newer than this client
        stream: tuple[str, ...] = (channel, msg["symbol"]) if "symbol" in msg else (channel,)
        if channel == "book":
            symbol = msg["symbol"]
            if kind == "snapshot":
                self._books[symbol] = LocalBook(msg)
                return []
            book = self._books.get(symbol)
            if book is None or msg.get("prevSeq") != book.seq:
                return self._gap(stream, msg)
            book.apply(msg)
            return []
        seq = int(msg.get("seq", 0))
        if kind == "snapshot":
            self._seqs[stream] = seq
            if channel == "events":  # a (re)subscription: what was missed comes by REST
                rows = msg.get("data")
                rows = rows if isinstance(rows, list) else []
                self._events_snapshot = [r for r in rows if isinstance(r, dict)]
                self._events_behind = True
            return []
        if self._seqs.get(stream) != msg.get("prevSeq"):
            return self._gap(stream, msg)
        self._seqs[stream] = seq
        if channel == "account":
            self._account_event(msg)
        elif channel == "events":
            self._public_event(msg["data"])
        return []

    def _gap(self, stream: tuple[str, ...], msg: dict[str, Any]) -> list[dict[str, Any]]:
        """A missed message: forget the stream's state and ask for a fresh snapshot."""
        self.resyncs += 1
        if stream[0] == "book":
            self._books.pop(stream[1], None)
        self._seqs.pop(stream, None)
        op: dict[str, Any] = {"op": "resync", "channel": stream[0]}
        if len(stream) > 1:
            op["symbol"] = stream[1]
        return [op]

    def _account_event(self, msg: dict[str, Any]) -> None:
        event, data, ts = msg.get("event"), msg.get("data"), int(msg.get("ts", 0))
        if event == "order":
            info = w.order_info(data)  # type: ignore[arg-type]
            kind = msg.get("kind", "OrderAccepted")
            if kind == "OrderCanceled":
                self._events.append(OrderCanceled(ts, info, msg.get("reason") or ""))
            elif kind == "OrderFilled":
                self._events.append(OrderFilled(ts, info))
            elif kind == "OrderTriggered":
                self._events.append(OrderTriggered(ts, info, Decimal(msg.get("markPx") or 0)))
            elif kind == "OrderAmended":
                self._events.append(OrderAmended(ts, info, bool(msg.get("lostPriority"))))
            else:
                self._events.append(OrderAccepted(ts, info))
        elif event == "fill":
            self._events.append(FillEvent(ts, w.fill(data, self.account)))  # type: ignore[arg-type]
        elif event == "margin" and isinstance(data, dict):
            self._events.append(w.load(MarginEvent, data))

    async def _catch_up_events(self) -> None:
        """After the events snapshot of a (re)connection or a resync: the events since the
        last one taken in; if REST cannot answer, at least the snapshot's own rows. (The
        stream waits meanwhile: the updates behind the snapshot come after what it fetched.)"""
        rows, self._events_snapshot = self._events_snapshot, []
        try:
            await self._backfill_events()
        except ExchangeError:
            for row in rows:
                self._public_event(row)
        finally:
            self._events_behind = False

    async def _backfill_events(self) -> None:
        """GET /events since the last id taken in (from the start on the first call), page by
        page, oldest first, through the same path as streamed events. Ids are only compared,
        never assumed to start at 1 or to be dense; a server whose newest id is below the
        last one taken in numbers afresh (restarted), so all it keeps is new."""
        since = self._event_id or 0
        for _ in range(BACKFILL_PAGES):
            page = await self._get("/events", since=since, limit=BACKFILL_LIMIT)
            newest = _as_id(page.get("lastId"))
            if since and newest is not None and newest < since:
                self._event_id, since = None, 0
                continue
            rows = [r for r in page.get("events") or () if isinstance(r, dict)]
            for row in rows:
                self._public_event(row)
            last = _as_id(rows[-1].get("id")) if rows else None
            if len(rows) < BACKFILL_LIMIT or last is None or last <= since:
                return
            since = last

    def _public_event(self, data: dict[str, Any]) -> None:
        """One market-wide event, streamed or backfilled: taken in once (by its id)."""
        event_id = _as_id(data.get("id"))
        if event_id is not None:
            if self._event_id is not None and event_id <= self._event_id:
                return  # already taken in (the backfill and the stream overlap)
            self._event_id = event_id
        self._market_event(data)

    def _market_event(self, data: dict[str, Any]) -> None:
        kind = data.get("kind")
        fields = {**data, "timeMs": data.get("ts", 0)}
        if kind == "LiquidationEvent":
            self._events.append(w.load(LiquidationEvent, fields))
        elif kind == "MarketEvent":
            self._events.append(w.load(MarketEvent, fields))
        elif kind == "InvariantViolated":
            self._events.append(w.load(InvariantViolated, fields))
        elif kind == "FundingPaid":
            record = data.get("record")
            if isinstance(record, dict):
                rec = w.load(w.FundingRecord, record)
                self._events.append(FundingPaid(int(fields["timeMs"]), rec))
        elif kind == "AdminAction":  # the server's own sentence; the raw detail as a fallback
            text = data.get("text")  # names the key already ("admin paused the class market")
            detail = {} if text else {"by": data.get("keyName"), **(data.get("detail") or {})}
            what = str(text or data.get("action"))
            self._events.append(MarketEvent(int(fields["timeMs"]), "class", what, detail))
        elif kind == "ScenarioStep":  # the teacher's live lesson, step by step
            row = data.get("detail") or {}
            outcome = {k: v for k, v in row.items() if k not in ("ts", "step")}
            what = f"lesson {data.get('scenario')}: {row.get('step', '')}"
            self._events.append(MarketEvent(int(fields["timeMs"]), "class", what,
                                            {"by": data.get("keyName"), **outcome}))  # fmt: skip


async def _none() -> None:
    return None


def _as_id(value: Any) -> int | None:
    """An event id as the server sends it (an integer, possibly a large one), or None."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _time_in_force(r: OrderRequest) -> str:
    """The wire's `timeInForce` of a request: API.md has one field for both, GTC | IOC | FOK
    | ALO, where ALO is post-only and therefore GTC. So post-only is sent as ALO only with
    GTC; a post-only IOC or FOK has no wire form and is refused here, before anything is
    sent, in the exchange's own words (the in-process venue raises the same). Why not send
    ALO anyway: it silently became a resting order, the opposite of an IOC or FOK; and an
    unknown tif was sent as GTC. Both are refused in the order the exchange checks them."""
    if r.tif not in TIFS:
        raise errors.InvalidOrder(f"tif must be one of {', '.join(TIFS)}, got {r.tif!r}")
    if not r.post_only:
        return TIFS[r.tif]
    if r.tif != "gtc":
        raise errors.InvalidOrder("post_only applies to GTC limit orders only")
    return "ALO"  # with a type other than limit the server refuses it in the same words


def _order_body(r: OrderRequest) -> dict[str, Any]:
    """An order in the wire's words: the body of POST /orders and of its preview."""
    body: dict[str, Any] = {
        "symbol": r.market, "side": r.side, "type": ORDER_TYPES.get(r.type, r.type),
        "size": _text(r.size), "timeInForce": _time_in_force(r), "reduceOnly": r.reduce_only,
    }  # fmt: skip
    if r.price is not None:
        body["price"] = _text(r.price)
    if r.trigger_price is not None:
        body["triggerPx"] = _text(r.trigger_price)
    return body


def _problem_detail(body: bytes | bytearray | None) -> str:
    """The `detail` of a problem+json body (a refused WebSocket handshake), or ""."""
    try:
        problem = json.loads(body or b"{}")
    except ValueError:
        return ""
    return str(problem.get("detail") or "") if isinstance(problem, dict) else ""


def _retry_after(header: str | None) -> float:
    """Retry-After in seconds (the server sends whole seconds; an HTTP date or a missing one
    counts as 1 s, the shortest the server ever asks for)."""
    try:
        return min(300.0, max(0.0, float(header))) if header is not None else 1.0
    except ValueError:
        return 1.0


def _text(value: Decimal) -> str:
    return format(Decimal(value), "f")


def _empty_health() -> Any:
    """A watch-only key without an account: an empty account (the projector shows markets)."""
    from exchange_local.health import AccountHealth

    z = Decimal(0)
    return AccountHealth("", z, z, z, z, [], z, z, z, z, z, z, None, None, z, None, "ok", False)
