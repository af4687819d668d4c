"""`perptui --connect URL --key READKEY --projector`: the class market on the wall.

Why a separate, read-only app: a projector is watched from the back of a room, so it shows a
few things large (the mark, the insurance fund) and what a teacher talks over (every
liquidation stage, the leaderboard), and it has nothing to press by accident.
"""

from __future__ import annotations

import contextlib
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Digits, Footer, Label, Static

from exchange_local.errors import ExchangeError
from exchange_local.leaderboard import NO_EQUITY
from perptui import format as fmt
from perptui.eventtext import describe
from perptui.settings import Settings
from perptui.theme import DEFAULT_VARIABLES, THEMES
from perptui.venues.base import Connection, LeaderboardRow, Venue, VenueSnapshot, unknown_market
from perptui.widgets.header import MarketHeader
from perptui.widgets.history import EventsLog, RowsTable, right

FRAME_S = 0.5
BOARD_EVERY_FRAMES = 4
STALE_STATES = ("stale", "reconnecting", "failed")  # numbers from before the last answer
WALL_KINDS = ("liquidation", "funding", "market", "invariant")  # what a class talks about
BOARD_COLUMNS = ("#", "Account", "Equity", "PnL", "Status", "Positions")


def board_word(row: LeaderboardRow) -> str:
    """The account panel's word for the row: "NO EQUITY" for an account a liquidation left
    flat with nothing (the leaderboard's `no_equity`; an older server says `ok`, so equity
    at or below 0 without positions reads the same), never HEALTHY."""
    if row.status == NO_EQUITY or (row.status == "ok" and not row.positions and row.equity <= 0):
        return "NO EQUITY"
    return fmt.health_word(row.status, False)


def board_rows(rows: list[LeaderboardRow]) -> list[tuple[str, list[object]]]:
    return [(r.account, [str(r.rank), r.account, right(fmt.usd(r.equity)),
                         right(fmt.usd(r.pnl, sign=True)), board_word(r),
                         right(str(r.positions))]) for r in rows]  # fmt: skip


class ProjectorApp(App[None]):
    TITLE = "perptui projector"
    CSS = """
    #wall { height: 1fr; }
    #numbers { width: 2fr; padding: 1 2; }
    #numbers Label { color: $text-muted; margin-top: 1; }
    #numbers Digits { width: auto; }
    #board { width: 3fr; padding: 1 2; }
    #facts { margin-top: 1; }
    EventsLog { height: 12; border-top: solid $panel-lighten-2; }
    """
    BINDINGS = [
        Binding("n", "next_market", "Next market", id="projector.next"),
        Binding("q,ctrl+q", "quit", "Quit", id="projector.quit"),
    ]

    def __init__(self, venue: Venue, settings: Settings | None = None,
                 market: str | None = None, frame_loop: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.venue = venue
        self.settings = settings or Settings()
        self.market = market or "BTC-PERP"
        self.market_asked = market is not None
        self.frame_loop = frame_loop
        self.frames = 0
        self.snapshot: VenueSnapshot | None = None
        self._said: set[str] = set()  # problems said since the last whole frame (D1)
        self._board_ok = True  # the last leaderboard call answered
        self._last_ok = time.monotonic()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_VARIABLES)

    def compose(self) -> ComposeResult:
        yield MarketHeader(id="header")
        with Horizontal(id="wall"):
            with Vertical(id="numbers"):
                yield Label("", id="mark-label")
                yield Digits("", id="mark")
                yield Label("insurance fund (USD)")
                yield Digits("", id="fund")
                yield Static("", id="facts")
            with Vertical(id="board"):
                yield Label("Leaderboard: trading PnL", id="board-title")
                yield RowsTable(BOARD_COLUMNS, id="leaderboard")
        yield EventsLog(id="events")
        yield Footer()

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = (
            self.settings.theme
            if self.settings.theme in self.available_themes
            else ("perptui-dark")
        )
        try:
            await self.venue.start()
        except Exception as problem:  # an unreachable server: say so, no traceback
            self.exit(return_code=1, message=f"perptui: cannot open {self.venue.where}: {problem}")
            return
        if self.market not in self.venue.markets():
            if self.market_asked:
                self.exit(return_code=2, message=unknown_market(self.market, self.venue))
                return
            self.market = self.venue.markets()[0]
        await self.frame()
        if self.frame_loop:
            self.set_interval(FRAME_S, self.frame)

    async def on_unmount(self) -> None:
        await self.venue.stop()

    async def frame(self) -> None:
        try:
            snap = await self.venue.snapshot(self.market)
        except Exception as problem:  # keep the wall up; say what is wrong once
            self._problem(problem)
            return
        live = snap.connection.state not in STALE_STATES  # old numbers are not a good frame
        if live:
            self._last_ok = time.monotonic()
        try:
            await self._draw(snap)
        except ExchangeError as problem:  # the server went away mid-frame
            self._problem(problem)
            return
        if live and self._board_ok:
            self._said.clear()  # a whole frame: a problem from now on is news again

    def _problem(self, problem: Exception) -> None:
        """Once per kind of problem until a whole frame succeeds (`frame`); and the header
        turns STALE with its age, since the last numbers on a wall must never pass for live
        ones (it kept saying ● live after the server was killed).

        Why not forget the problem when a frame starts drawing: with the server down the
        venue answers snapshot() from its cache, so the frame drew and only the leaderboard
        call failed; the wall was covered by the same toast every refresh (9 in 12 s)."""
        text = f"{type(problem).__name__}: {problem}"
        if text not in self._said:
            self._said.add(text)
            self.notify(text, severity="error")
        snap = self.snapshot
        if snap is None:
            return
        # the venue's own age when it knows the last live answer better (a cached snapshot
        # read "STALE 0s" for as long as the server was down)
        age = max(time.monotonic() - self._last_ok, snap.connection.age_s)
        ms = snap.markets[self.market]
        with contextlib.suppress(NoMatches):
            self.query_one(MarketHeader).show(ms, Connection("stale", age_s=age), snap.clock,
                                              self.venue.name, self.venue.paper)  # fmt: skip

    async def _draw(self, snap: VenueSnapshot) -> None:
        self.snapshot = snap
        ms = snap.markets[self.market]
        self.query_one(MarketHeader).show(ms, snap.connection, snap.clock, self.venue.name,
                                          self.venue.paper)  # fmt: skip
        self.query_one("#mark-label", Label).update(f"{self.market} mark")
        self.query_one("#mark", Digits).update(fmt.price(ms.mark, ms.tick))
        self.query_one("#fund", Digits).update(fmt.num(snap.insurance_fund, 0))
        self.query_one("#facts", Static).update(
            f"index {fmt.price(ms.index, ms.tick)} · 24h {fmt.pct(ms.change_24h, 2, sign=True)}"
            f" · OI ${fmt.compact(ms.open_interest_usd)} of {fmt.compact(ms.oi_cap)}"
            f" · funding {fmt.rate(ms.funding_rate)}/h, next {fmt.rate(ms.predicted_funding_rate)}"
        )
        described = (describe(e, "", "") for e in self.venue.drain_events())
        lines = [line for line in described if line is not None and line.kind in WALL_KINDS]
        if lines:
            v = self.theme_variables
            self.query_one(EventsLog).add(lines, v.get("accent", ""), v.get("liq", ""))
        if self.frames % BOARD_EVERY_FRAMES == 0:
            self._board_ok = False  # until it answers: no frame before then is a whole one
            board = await self.venue.leaderboard()
            self._board_ok = True
            self.query_one(RowsTable).set_rows(board_rows(board))  # type: ignore[arg-type]
        self.frames += 1

    async def action_next_market(self) -> None:
        markets = self.venue.markets()
        self.market = markets[(markets.index(self.market) + 1) % len(markets)]
        await self.frame()
