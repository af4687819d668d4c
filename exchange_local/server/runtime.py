"""The exchange in a server: one lock around the single-threaded engine, and the clock driver
that advances exchange time with the wall clock (times `speed`) in an asyncio task.

Why every engine call goes through `run`: commands from requests and the clock's `advance`
must never interleave (the engine is synchronous and not re-entrant), and after each call the
hub turns the events it produced into WebSocket messages. Engine calls run on the event loop
itself: they are short (an order is ~0.1 ms, a second of the living market a few ms), and a
thread would buy nothing under the GIL but a copy of every event across threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from exchange_local.clock import seconds_to_ms
from exchange_local.errors import StoreError
from exchange_local.leaderboard import Tally
from exchange_local.server import wire
from exchange_local.server.hub import Counters, Hub
from exchange_local.server.ledger_pages import LedgerPages
from exchange_local.server.live_scenarios import LiveScenario

T = TypeVar("T")
log = logging.getLogger("exchange_local.server")

TICK_SECONDS = 0.2  # how often the driver advances the clock
MAX_STEP_MS = 1_000  # exchange time per lock hold: requests get in between steps
SUMMARY_SECONDS = 1.0  # account summaries on the WebSocket at most this often
SHUTDOWN_INFO = {"type": "info", "code": "SHUTDOWN", "message": "server stopping; reconnect in 5 s"}


class ExchangeRuntime:
    def __init__(
        self,
        exchange: Any,
        speed: Decimal | int | str = 0,
        tick_seconds: float = TICK_SECONDS,
        counters: Counters | None = None,
    ) -> None:
        self.ex = exchange
        self.lock = asyncio.Lock()
        self.hub = Hub(exchange, counters)  # counters: the key file keeps the event ids' mark
        self.tally = Tally(exchange)  # the leaderboard's sums, kept as transactions post
        self.pages = LedgerPages(exchange)  # ledger pages without reading whole ledgers
        self.speed = Decimal(speed)
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        self.paused = self.speed == 0
        self.tick_seconds = tick_seconds
        self.behind_ms = 0  # exchange time the driver could not keep up with (dropped)
        self.steps = 0
        self._task: asyncio.Task[None] | None = None
        self._anchor: tuple[float, int] = (time.monotonic(), exchange.now_ms)
        self._last_summary = 0.0
        self.scenario: LiveScenario | None = None  # a live teaching scenario (admin API)
        self.last_scenario: LiveScenario | None = None

    # --- engine calls ---------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the engine under the lock; the hub flushes what the call produced."""
        async with self.lock:
            self._check_store()
            try:
                return fn(*args, **kwargs)
            finally:
                self._flush()

    def _check_store(self) -> None:
        """After a failed store write every call is 503 UNAVAILABLE with the engine's words
        (exchange_local/durable.py): reads too, since the engine's state then holds the
        failed command's effects, which the store never saw and a restart will not have."""
        failure = getattr(self.ex, "store_failure", None)
        if failure is not None:
            raise StoreError(failure)

    def _flush(self) -> None:
        """The events a call produced to the hub; those of a command whose store write
        failed are dropped (their fills and ledger legs never happened as far as a restarted
        exchange knows)."""
        if getattr(self.ex, "store_failure", None) is not None:
            self.hub.pending.clear()
            return
        self.hub.flush()

    def account_json(self, account: str, withdrawable: bool = False) -> dict[str, Any]:
        """GET /account's body (called under the lock). `withdrawable`: with what each held
        asset can withdraw now (GET /account asks; the account channel's summary every tick
        does not, as it costs a withdraw check per asset)."""
        ex = self.ex
        h = ex.health(account)
        return wire.account_json(
            h,
            self.hub.seq[("account", account)],
            ex.now_ms,
            ex.leverage(account) if hasattr(ex, "leverage") else {},
            wire.withdrawable_by_asset(ex, account, h) if withdrawable else None,
        )

    # --- the clock ---------------------------------------------------------------------------

    def set_speed(self, speed: Decimal) -> None:
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self.speed = speed
        self.paused = speed == 0
        self._reanchor()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._reanchor()

    def _reanchor(self) -> None:
        self._anchor = (time.monotonic(), self.ex.now_ms)

    def start(self) -> None:
        if self._task is None:
            self._reanchor()
            self._task = asyncio.get_running_loop().create_task(self._drive())

    async def announce_shutdown(self, wait_seconds: float = 1.0) -> None:
        """API.md's `{"type": "info", "code": "SHUTDOWN"}` to every WebSocket, then up to
        `wait_seconds` for the writers to send it, so clients know to reconnect rather
        than see a bare close."""
        hub = self.hub
        hub.announce(SHUTDOWN_INFO)
        loop = asyncio.get_running_loop()
        end = loop.time() + wait_seconds
        while loop.time() < end and any(not b.queue.empty() for b in hub.connections):
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.hub.close()
        self.tally.close()

    async def _drive(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            try:
                await self._catch_up()
                await self._periodic()
            except asyncio.CancelledError:
                raise
            except StoreError:  # said once by the engine; every request now answers 503
                self.paused = True
            except Exception:  # the engine refused a step: stop the clock, keep serving
                log.exception("the clock driver failed; the market is paused")
                self.paused = True

    async def _catch_up(self) -> None:
        if self.paused or self.speed == 0:
            self._reanchor()
            return
        started = time.monotonic()
        wall, base = self._anchor
        target = base + int(Decimal(started - wall) * 1000 * self.speed)
        while self.ex.now_ms < target:
            await self.step_toward(target)
            if time.monotonic() - started > self.tick_seconds:
                # cannot keep up at this speed: drop the backlog rather than fall further behind
                self.behind_ms += target - self.ex.now_ms
                self._reanchor()
                return
            await asyncio.sleep(0)

    async def step_toward(self, target_ms: int) -> None:
        """One lock hold of exchange time toward `target_ms`: at most MAX_STEP_MS, and never
        past the live scenario's next step, which runs right after at its due time."""
        async with self.lock:
            self._check_store()
            try:
                now = self.ex.now_ms
                step = min(target_ms - now, MAX_STEP_MS)
                due = self.scenario.next_due_ms if self.scenario is not None else None
                if due is not None:
                    step = max(0, min(step, due - now))
                if step > 0:
                    self.ex.advance(Decimal(step) / 1000)
                self.steps += 1
                self.run_scenario()
            finally:
                self._flush()

    async def advance(self, seconds: Decimal) -> None:
        """The admin's manual advance: the same steps as the clock's, scenario included.

        Why it re-anchors: the running clock's target is anchor time + wall time x speed; left
        at the old anchor, the target stays behind the advanced clock and the market stood
        still for `seconds` of real time (no index, bots or serverTime). From the new time
        the clock goes on at its speed."""
        target = self.ex.now_ms + seconds_to_ms(seconds)
        try:
            while self.ex.now_ms < target:
                await self.step_toward(target)
                await asyncio.sleep(0)
        finally:
            self._reanchor()

    def run_scenario(self) -> None:
        """The live scenario's due steps, each noted on the events stream (under the lock)."""
        scenario = self.scenario
        if scenario is None:
            return
        for row in scenario.run_due(self.ex):
            self.hub.note(
                "ScenarioStep",
                row["ts"],
                {"scenario": scenario.name, "keyName": scenario.key_name, "detail": row},
            )
        if not scenario.steps:
            self.scenario = None
            self.last_scenario = scenario

    async def _periodic(self) -> None:
        if getattr(self.ex, "store_failure", None) is not None:
            return  # no summaries of a state the store never saw
        now = time.monotonic()
        summaries = now - self._last_summary >= SUMMARY_SECONDS
        if summaries:
            self._last_summary = now
        async with self.lock:
            self.hub.tick(self.account_json, summaries)

    async def publish_now(self) -> None:
        """Tickers, candles and account summaries at once (after a manual advance)."""
        self._last_summary = time.monotonic()
        async with self.lock:
            self.hub.tick(self.account_json, True)

    def clock_json(self) -> dict[str, Any]:
        return {
            "serverTime": self.ex.now_ms,
            "apiVersion": wire.API_VERSION,
            "speed": wire.dec(self.speed),
            "paused": self.paused,
            "wallTime": int(time.time() * 1000),
            "behindMs": self.behind_ms,
        }
