"""Fan-out of the engine's events to WebSocket subscribers, one numbered stream at a time.

Why collect then flush: the engine calls subscribers synchronously in the middle of a command;
the hub only appends there, and after the command (runtime.run) turns the batch into one
message per stream, serialised once and queued to every subscriber. Every stream has its own
counter (book: the engine's own book seq, so REST `GET .../book` and the WebSocket agree);
each update carries `seq` and `prevSeq` (the previous message's seq on that stream), so a
client sees a gap at once. A subscriber whose queue is full is dropped (slow consumer) instead
of growing the server's memory.

Why public event ids are reserved in the key file: the recent events are in memory only, so
a counter that restarted at 1 after a restart (kill -9 included) made a client polling
`GET /events?since=lastId` miss every new event until the ids passed its old lastId. The ids
are a counter that goes on across restarts: before an id past the reserved mark is handed out,
the mark moves EVENT_ID_BLOCK ahead in the key file (`Counters`, one small write per block),
and a restarted hub starts above the mark, so its ids exceed every id an earlier run gave
(they jump by up to a block). Why not derive them from the exchange clock: a paused clock
restarts at the very millisecond of the last events, so a run cannot know how many ids of
that millisecond the run before it used. The exchange's store is not touched (no migration).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Protocol

from exchange_local.events import (
    BookDelta,
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
    PriceUpdate,
)
from exchange_local.server import wire

StreamKey = tuple[str, ...]
ORDER_EVENTS = (OrderAccepted, OrderCanceled, OrderFilled, OrderTriggered, OrderAmended)
RECENT_EVENTS = 500  # market-wide events kept for GET /events and the events snapshot
DEFAULT_QUEUE = 2_000
DEFAULT_QUEUE_BYTES = 2 << 20  # and at most this much text: 2,000 book snapshots are 40 MB
WS_PER_ADDRESS = 32  # open WebSockets per client address (create_app, serve); 0: no limit
EVENT_ID_BLOCK = 1_000  # public event ids reserved per write to the key file
EVENT_COUNTER = "public_event_id"  # the mark's name in the key file

log = logging.getLogger("exchange_local.server")


class Counters(Protocol):
    """Where the reserved mark of the event ids survives a restart (server.keys.KeyStore)."""

    def counter(self, name: str) -> int: ...

    def set_counter(self, name: str, value: int) -> None: ...


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class Outbox:
    """One connection's queue of encoded messages; `dropped` once it overflowed.

    Why a bound in characters as well as in messages: what a client that stops reading
    costs the server is the text queued for it, and 2,000 messages are 0.5 MB of trades or
    40 MB of 500-level book snapshots (a resync each). A message is always taken into an
    empty queue, so no single message is too big to send."""

    def __init__(self, maxsize: int = DEFAULT_QUEUE, max_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.max_bytes = max_bytes
        self.queued_bytes = 0  # characters of the queued messages (JSON here is ASCII)
        self.dropped = asyncio.Event()
        self.account: str | None = None

    def push(self, text: str) -> bool:
        if self.dropped.is_set():
            return False
        size = len(text)
        try:
            if self.queued_bytes + size > self.max_bytes and not self.queue.empty():
                raise asyncio.QueueFull
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped.set()
            return False
        self.queued_bytes += size
        return True

    async def take(self) -> str:
        """The next message to send (the connection's writer)."""
        text = await self.queue.get()
        self.queued_bytes -= len(text)
        return text


class Hub:
    def __init__(self, exchange: Any, counters: Counters | None = None) -> None:
        self.ex = exchange
        self.subs: dict[StreamKey, set[Outbox]] = defaultdict(set)
        self.seq: dict[StreamKey, int] = defaultdict(int)
        self.pending: list[Event] = []
        self.dirty_markets: set[str] = set()
        self.dirty_accounts: set[str] = set()
        self.prices_moved = False  # every account's summary is due
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        # every id an earlier run gave is at most its reserved mark: this run starts above it
        self._counters = counters
        self.last_event_id = counters.counter(EVENT_COUNTER) if counters is not None else 0
        self._reserved_id = self.last_event_id
        self.sent = 0
        self.slow_dropped = 0
        self.updated_ms: dict[int, int] = {}  # order id -> last change (Order's updatedAt)
        self.connections: set[Outbox] = set()  # every open WebSocket, subscribed or not
        self.per_address: dict[str, int] = {}  # open WebSockets per client address
        self._unsubscribe: Callable[[], None] = exchange.subscribe(self.pending.append)

    def close(self) -> None:
        self._unsubscribe()

    # --- subscriptions ---------------------------------------------------------------------

    def add(self, key: StreamKey, box: Outbox) -> None:
        self.subs[key].add(box)

    def remove(self, key: StreamKey, box: Outbox) -> None:
        boxes = self.subs.get(key)
        if boxes is not None:
            boxes.discard(box)
            if not boxes:
                del self.subs[key]

    def drop(self, box: Outbox) -> None:
        for key in [k for k, boxes in self.subs.items() if box in boxes]:
            self.remove(key, box)

    def admit(self, address: str, limit: int) -> bool:
        """Count a new WebSocket from `address`, unless it has `limit` open already (0: no
        limit); every admitted one is given back with `leave`."""
        open_now = self.per_address.get(address, 0)
        if limit and open_now >= limit:
            return False
        self.per_address[address] = open_now + 1
        return True

    def leave(self, address: str) -> None:
        left = self.per_address.get(address, 0) - 1
        if left > 0:
            self.per_address[address] = left
        else:
            self.per_address.pop(address, None)

    def announce(self, message: dict[str, Any]) -> None:
        """`message` to every open connection (API.md's `info` SHUTDOWN before a stop)."""
        text = encode(message)
        for box in list(self.connections):
            box.push(text)

    def publish(self, key: StreamKey, message: dict[str, Any]) -> None:
        """Number `message` as the next update of `key` and queue it to its subscribers."""
        boxes = self.subs.get(key)
        if not boxes:
            return
        prev = self.seq[key]
        message.setdefault("seq", prev + 1)
        message["prevSeq"] = prev
        self.seq[key] = message["seq"]
        text = encode(message)
        for box in list(boxes):
            if box.push(text):
                self.sent += 1
            else:
                self.slow_dropped += 1
                self.drop(box)

    # --- the batch after each command --------------------------------------------------------

    def flush(self) -> None:
        events, self.pending[:] = list(self.pending), []
        if not events:
            return
        subs = self.subs
        books: dict[str, tuple[int, int, dict[tuple[str, Any], Any]]] = {}
        trades: dict[str, list[dict[str, Any]]] = {}
        for ev in events:
            kind = type(ev)
            if kind is BookDelta:
                assert isinstance(ev, BookDelta)
                if ("book", ev.market) in subs:
                    seq, ts, changes = books.get(ev.market, (0, 0, {}))
                    for side, price, size in ev.changes:
                        changes.pop((side, price), None)  # keep the newest last
                        changes[(side, price)] = size
                    books[ev.market] = (ev.seq, ev.time_ms, changes)
                self.dirty_markets.add(ev.market)
            elif kind is FillEvent:
                assert isinstance(ev, FillEvent)
                f = ev.fill
                self.dirty_markets.add(f.market)
                if ("trades", f.market) in subs:
                    trades.setdefault(f.market, []).append(
                        {
                            "tradeId": str(f.fill_id),
                            "px": wire.dec(f.price),
                            "sz": wire.dec(f.size),
                            "side": f.taker_side,
                            "ts": f.time_ms,
                        }
                    )
                for account in (f.taker, f.maker):
                    self.dirty_accounts.add(account)
                    if ("account", account) in subs:
                        data = wire.fill_json(f, account, self._client_id(f, account))
                        self._account(account, "fill", data, ev.time_ms)
            elif kind in ORDER_EVENTS:
                order = ev.order  # type: ignore[attr-defined]
                self.updated_ms[order.order_id] = ev.time_ms
                if ("account", order.account) in subs:
                    extra: dict[str, Any] = {"kind": ev.kind}
                    if kind is OrderCanceled:
                        extra["reason"] = ev.reason  # type: ignore[attr-defined]
                    elif kind is OrderTriggered:
                        extra["markPx"] = wire.dec(ev.mark)  # type: ignore[attr-defined]
                    elif kind is OrderAmended:
                        extra["lostPriority"] = ev.lost_priority  # type: ignore[attr-defined]
                    data = wire.order_json(order, ev.time_ms)
                    self._account(order.account, "order", data, ev.time_ms, extra)
                self.dirty_accounts.add(order.account)
            elif kind is PriceUpdate:
                self.dirty_markets.add(ev.market)  # type: ignore[attr-defined]
                self.prices_moved = True
            elif kind is LiquidationEvent:
                assert isinstance(ev, LiquidationEvent)
                data = self._public(ev)
                if ("account", ev.account) in subs:
                    self._account(ev.account, "liquidation", data, ev.time_ms)
                self.dirty_accounts.add(ev.account)
            elif kind is MarginEvent:
                assert isinstance(ev, MarginEvent)
                if ("account", ev.account) in subs:
                    self._account(ev.account, "margin", wire.dump(ev), ev.time_ms)
            elif kind in (MarketEvent, InvariantViolated):
                self._public(ev)
            elif kind is FundingPaid:
                self._public(ev)
                self.prices_moved = True  # every position's equity moved
        for market, (seq, ts, changes) in books.items():
            bids = [[wire.dec(p), wire.dec(q)] for (side, p), q in changes.items() if side == "bid"]
            asks = [[wire.dec(p), wire.dec(q)] for (side, p), q in changes.items() if side == "ask"]
            self.publish(
                ("book", market),
                {
                    "type": "update",
                    "channel": "book",
                    "symbol": market,
                    "seq": seq,
                    "ts": ts,
                    "bids": bids,
                    "asks": asks,
                },
            )
        for market, rows in trades.items():
            self.publish(
                ("trades", market),
                {"type": "update", "channel": "trades", "symbol": market, "data": rows},
            )
        if len(self.updated_ms) > 200_000:
            self.updated_ms.clear()

    def _client_id(self, f: Any, account: str) -> str | None:
        oid = f.taker_order_id if f.taker == account else f.maker_order_id
        info = self.ex.order(account, oid)
        return info.client_order_id if info is not None else None

    def _account(
        self, account: str, event: str, data: Any, ts: int, extra: dict[str, Any] | None = None
    ) -> None:
        message = {"type": "update", "channel": "account", "event": event, "ts": ts, "data": data}
        if extra:
            message.update(extra)
        self.publish(("account", account), message)

    def _public(self, ev: Event) -> dict[str, Any]:
        """A market-wide event for GET /events and the `events` channel."""
        data = {"id": self.event_id(), "kind": ev.kind, "ts": ev.time_ms, **wire.dump(ev)}
        data.pop("timeMs", None)
        self.recent.append(data)
        self.publish(("events",), {"type": "update", "channel": "events", "data": data})
        return data

    def event_id(self) -> int:
        """The next public event's id; past the reserved mark, the mark moves a block ahead
        in the key file first, so no id is seen before the mark covers it."""
        self.last_event_id += 1
        if self.last_event_id > self._reserved_id:
            self._reserved_id = self.last_event_id + EVENT_ID_BLOCK - 1
            if self._counters is not None:
                try:
                    self._counters.set_counter(EVENT_COUNTER, self._reserved_id)
                except sqlite3.Error:  # ids still grow in this run; keep serving
                    log.exception("could not reserve public event ids in the key file")
        return self.last_event_id

    def note(self, kind: str, ts: int, detail: dict[str, Any]) -> None:
        """A server-side event (an admin action) on the public events stream."""
        data = {"id": self.event_id(), "kind": kind, "ts": ts, **detail}
        self.recent.append(data)
        self.publish(("events",), {"type": "update", "channel": "events", "data": data})

    # --- throttled streams (ticker, candles, account summaries) ------------------------------

    def tick(self, account_json: Callable[[str], dict[str, Any]], summaries: bool) -> None:
        """Called a few times a second by the runtime, under its lock."""
        ex = self.ex
        now = ex.now_ms
        markets, self.dirty_markets = self.dirty_markets, set()
        for market in markets:
            if ("ticker", market) in self.subs:
                data = wire.ticker_json(ex.market(market), now)
                self.publish(
                    ("ticker", market),
                    {
                        "type": "update",
                        "channel": "ticker",
                        "symbol": market,
                        "ts": now,
                        "data": data,
                    },
                )
        for key in [k for k in self.subs if k[0] == "candles" and k[1] in markets]:
            rows = ex.candles(key[1], key[2], limit=2)
            self.publish(
                key,
                {
                    "type": "update",
                    "channel": "candles",
                    "symbol": key[1],
                    "interval": key[2],
                    "ts": now,
                    "data": [wire.candle_json(c) for c in rows],
                },
            )
        if not summaries:
            return
        accounts, self.dirty_accounts = self.dirty_accounts, set()
        if self.prices_moved:
            accounts.update(k[1] for k in self.subs if k[0] == "account")
            self.prices_moved = False
        for account in accounts:
            if ("account", account) in self.subs:
                self._account(account, "summary", account_json(account), now)
