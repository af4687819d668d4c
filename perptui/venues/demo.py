"""A teaching scenario as a venue: the scripted market runs on our clock, one second per step.

Why a venue: the TUI shows a demo exactly as it shows the paper market (health, positions,
events), and the clock controls (+/-, pause) are the ones the paper market has. The watched
account is one of the lesson's scripted accounts; `w` moves to the next one.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from exchange_local.stepping import SteppedScenario
from perptui import format as fmt
from perptui.venues.base import TradingDisabled, VenueSnapshot
from perptui.venues.local import LocalVenue

NOT_WATCHED = ("desk", "hlp")  # the lesson's liquidity, not its subject
MAX_STEPS = 600  # lesson seconds one tick of the clock runs at most (a fast clock's bound)


def summary_value(value: object) -> str:
    """A lesson's summary as a person reads it: `cancel 2, book_close 6` rather than a
    Python dict, and a rate or amount to a sensible number of places, not 34 digits."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {summary_value(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(summary_value(v) for v in value) or "none"
    if isinstance(value, Decimal):
        if value != 0 and abs(value) < 1:
            return f"{value:.6%}" if abs(value) < Decimal("0.01") else f"{value:.2%}"
        return fmt.num(value, 2) if value != value.to_integral_value() else f"{value:,.0f}"
    return "—" if value is None else str(value)


class DemoVenue(LocalVenue):
    can_trade = False

    def __init__(self, scenario: str, *, seed: int = 1, speed: Decimal = Decimal(1),
                 clock: str = "real") -> None:  # fmt: skip
        super().__init__(None, speed=speed, clock=clock, seed=seed, living=False,
                         name=f"DEMO {scenario}")  # fmt: skip
        self.scenario = SteppedScenario(scenario, seed)
        self.read_only_reason = f"demo {scenario}: you are watching scripted accounts"
        self._run_seen: object = None

    async def start(self) -> None:
        self.scenario.start()
        self._follow_run()
        if self.clock_mode == "real":
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    def _follow_run(self) -> None:
        """Watch the scenario's current exchange (squeeze runs two, one after the other)."""
        run = self.scenario.run
        if run is None or run is self._run_seen:
            return
        self._run_seen = run
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.ex = run.ex
        self._unsubscribe = run.ex.subscribe(self._on_event)
        self.account = self.watchable()[0] if self.watchable() else self._paper_account()
        self.default_market = run.market
        self._load_fills()  # the lesson's set-up traded before the screen (or this run) began

    def _paper_account(self) -> str:
        ex = self._exchange()
        if "paper" not in ex.accounts():
            ex.create_account("paper")
            ex.deposit("paper", "USD", Decimal(10000))
        return "paper"

    def watchable(self) -> list[str]:
        run = self.scenario.run
        return [a for a in (run.scripted if run else []) if a not in NOT_WATCHED]

    def watch_next(self) -> str:
        names = self.watchable()
        if names:
            i = names.index(self.account) if self.account in names else -1
            self.account = names[(i + 1) % len(names)]
            self._load_fills()  # the Fills tab is the new account's, all of them
        return self.account

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            self._driver = None
        self.scenario.close()

    def _step(self) -> None:
        if not self.scenario.step():
            self._finish()
        self._follow_run()

    def _finish(self) -> None:
        if getattr(self, "_finished_said", False):
            return
        self._finished_said = True
        s = self.scenario
        if s.error is not None:
            self._notice = f"the scenario stopped with an error: {s.error}"
        elif s.result is not None:
            summary = "; ".join(f"{k}: {summary_value(v)}" for k, v in s.result.summary.items())
            self._notice = f"scenario {s.name} finished. {summary}"

    def _run_clock(self, exchange_seconds: Decimal) -> None:
        """The lesson moves in whole seconds: carry the fractions to the next tick. At most
        MAX_STEPS a tick, and time owed beyond that is dropped, not kept: a backlog built at
        10,000x went on running the lesson fast after `-` or `p` had slowed it."""
        if self.scenario.finished:
            return
        self._carry += exchange_seconds
        steps = min(int(self._carry), MAX_STEPS)
        self._carry = self._carry - steps if steps < MAX_STEPS else self._carry % 1
        for _ in range(steps):
            self._step()

    async def advance(self, seconds: Decimal) -> None:
        for _ in range(int(seconds)):
            self._step()

    @property
    def finished(self) -> bool:
        """The lesson's script has run to its end (the watch panel then offers no clock)."""
        return self.scenario.finished

    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot:
        snap = await super().snapshot(market, candle_interval)
        if self.scenario.finished:
            snap.connection = type(snap.connection)("paused", latency_ms=None)
        return snap

    def markets(self) -> list[str]:
        return self._exchange().markets()

    async def shock(self, asset: str, fraction: Decimal) -> None:
        raise TradingDisabled(self.read_only_reason)
