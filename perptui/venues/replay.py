"""A recorded session as a venue: a store's journal played again on our clock.

Why a venue: the replay is shown exactly as the live session was (health, positions, the
chart and its liquidation lines, every stage in the events tab), and the clock controls are
the paper market's own: `p` pauses, `+`/`-` change the speed, `w` watches the next account.
The session's store is only read (exchange_local/replay.py).
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local.replay import JournalReplay
from perptui import format as fmt
from perptui.venues.base import TradingDisabled, VenueSnapshot
from perptui.venues.local import PAPER_ACCOUNT, LocalVenue

GAP_MS = 60_000  # a pause in the recording longer than this is skipped, not waited through


def watchable(names: list[str]) -> list[str]:
    """The session's people: not the living market's bots, nor the backstop providers."""
    return [n for n in names if not n.startswith("bot-")]


class ReplayVenue(LocalVenue):
    """`ReplayVenue(replay, account=None)`: `replay` may already be played to where the
    viewer wants to start (the command line fast-forwards before the screen opens)."""

    can_trade = False

    def __init__(self, replay: JournalReplay, *, account: str | None = None,
                 speed: Decimal = Decimal(1), clock: str = "real") -> None:  # fmt: skip
        super().__init__(None, speed=speed, clock=clock, living=False, exchange=replay.ex,
                         name=f"REPLAY {replay.path}")  # fmt: skip
        self.replay = replay
        names = watchable(replay.ex.accounts())
        if account is None:
            account = PAPER_ACCOUNT if PAPER_ACCOUNT in names else (names[0] if names else "")
        self.account = account
        self.read_only_reason = f"a replay of {replay.path}: you are watching what happened"
        self._at_ms = replay.ex.now_ms  # the replay's own clock: commands come at their time
        self._said_end = False

    async def start(self) -> None:
        """LocalVenue's start less what a replay must not do (start a market, open or fund
        an account, read the pause file); the fills made before `--from` are listed too."""
        self._load_fills()
        self._unsubscribe = self._exchange().subscribe(self._on_event)
        self.paused_for_s = 0.0
        if self.clock_mode == "real":
            import asyncio

            self._driver = asyncio.get_running_loop().create_task(self._drive())

    async def stop(self) -> None:
        await super().stop()
        self.replay.close()

    @property
    def finished(self) -> bool:
        """The recording has been played to its end (the watch panel then offers no clock)."""
        return self.replay.finished

    def watchable(self) -> list[str]:
        """The accounts `w` moves between, as a demo's are (ViewActions offers `w` only
        while there is one besides the account on screen)."""
        return watchable(self._exchange().accounts())

    def watch_next(self) -> str:
        names = self.watchable()
        if names:
            i = names.index(self.account) if self.account in names else -1
            self.account = names[(i + 1) % len(names)]
            self._load_fills()  # the Fills tab is the new account's, all of them
        return self.account

    def _run_clock(self, exchange_seconds: Decimal) -> None:
        self._carry += exchange_seconds
        whole = int(self._carry)
        if whole > 0:
            self._carry -= whole
            self._play(whole * 1000)

    def _play(self, ms: int) -> None:
        """Move the replay's clock by `ms` and apply the commands due by then; a long pause
        in the recording (a server stopped overnight) is jumped over."""
        self._at_ms += ms
        upcoming = self.replay.next_time_ms()
        if upcoming is not None and upcoming - self._at_ms > GAP_MS:
            self._at_ms = upcoming
        self.replay.play_until(self._at_ms)
        if self.replay.finished and not self._said_end:
            self._said_end = True
            self.paused = True
            end = fmt.exchange_time(self._exchange().now_ms)
            self._notice = f"the recording ends here, at {end}: q quits"

    async def advance(self, seconds: Decimal) -> None:
        self._play(int(seconds * 1000))

    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot:
        snap = await super().snapshot(market, candle_interval)
        state = "ended" if self.replay.finished else "paused" if self.stopped else ""
        snap.connection = type(snap.connection)("replay", detail=state)
        return snap

    async def shock(self, asset: str, fraction: Decimal) -> None:
        raise TradingDisabled(self.read_only_reason)
