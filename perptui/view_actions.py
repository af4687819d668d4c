"""What the keys that look do: markets, tabs, chart, book, clock, screens, help, palette.

A mixin of PerpApp, like trading_actions.py; the command palette offers every binding here
too, plus the markets and the paper market's tools.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen
from textual.widgets import TabbedContent

from exchange_local.errors import ExchangeError
from perptui import format as fmt
from perptui.app_state import AppState
from perptui.keys import BINDINGS, SPEEDS, key_display
from perptui.screens.help import HelpScreen, help_sections, not_offered
from perptui.screens.main import MainScreen
from perptui.venues.base import TradingDisabled
from perptui.widgets.book import OrderBookView
from perptui.widgets.chart import PriceChart
from perptui.widgets.history import EventsLog
from perptui.widgets.positions import PositionsTable

# perptui's keys that mean the same on every screen; its others act on the main screen
# (Textual's own, like the palette's ctrl+p, are left alone)
EVERY_SCREEN = frozenset({"help", "screenshot", "quit", "speed", "pause"})
MAIN_SCREEN_ONLY = frozenset(b.action.split("(")[0] for b in BINDINGS) - EVERY_SCREEN
# the keys that send, change or cancel orders: none where the venue cannot trade
TRADING = frozenset({"side", "cycle_type", "leverage", "submit", "close_position", "close_all",
                     "cancel_all", "cancel_selected", "amend_selected", "convert"})  # fmt: skip
# paying paper money in or out: the local paper market's only (a class's deposits are the
# teacher's), and never where the venue only watches
FUNDS = frozenset({"deposit", "withdraw"})
CLOCK = frozenset({"speed", "pause"})  # a paper clock's: sped up, slowed, paused


class ViewActions(AppState):
    """Looking around: nothing here changes the account."""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The main screen's keys only where the main screen is. Why: they are the app's
        bindings, so they reached through the explain and stress screens: Enter on explain
        sent the hidden ticket's order, x/c/l opened their dialogs, digits switched the
        hidden tabs and t/S stacked screens without end. Actions run by name (the palette)
        are not keys and are not asked here."""
        if not self._offered(action):
            return False  # off the footer, and the key does nothing (the watch panel says why)
        if action not in MAIN_SCREEN_ONLY or not self.screen_stack:
            return True
        screen = type(self.screen).__name__
        if (action, screen) in (("teach", "ExplainScreen"), ("stress", "StressScreen")):
            return True  # its own key closes it, whatever the keymap made that key
        return isinstance(self.screen, MainScreen)

    def _offered(self, action: str) -> bool:
        """Whether this venue has the action at all: a venue that only watches (a demo, a
        replay, a read key) has no trading keys, and only a demo or a replay watches the next
        account. The footer, the keys and the palette ask alike."""
        if action in TRADING:
            return self.venue.can_trade
        if action in FUNDS:
            return self.venue.can_trade and self.venue.paper_funding
        return action != "watch_next" or self._can_watch_next()

    def _can_watch_next(self) -> bool:
        """Whether `w` would watch another account: a demo or a replay with an account to
        watch besides the one on screen. Why not every demo: the calm and volatility lessons
        script no account of their own, and `w` was offered there to say "watching paper"
        about the account already watched."""
        choices = getattr(self.venue, "watchable", None)
        if choices is None or not hasattr(self.venue, "watch_next"):
            return False
        return any(name != self.venue.account for name in choices())

    async def action_watch_next(self) -> None:
        watch = getattr(self.venue, "watch_next", None)
        if watch is None:
            self.notify("only a demo or a replay watches other accounts", severity="warning")
            return
        if not self._can_watch_next():  # check_action keeps the key off; a direct call says why
            who = self.venue.account or "the market"
            self.notify(f"no other account to watch here: {who} is the only one",
                        severity="warning")  # fmt: skip
            return
        account = watch()
        you = "YOU" if self.venue.can_trade else account
        self.main.query_one(EventsLog).remark(account, you)
        self.notify(f"watching {account}")
        await self.frame()

    async def action_next_market(self) -> None:
        markets = self.venue.markets()
        self.market = markets[(markets.index(self.market) + 1) % len(markets)]
        await self.frame()

    async def action_set_market(self, market: str) -> None:
        self.market = market
        await self.frame()

    def action_sort_positions(self) -> None:
        column = self.main.query_one(PositionsTable).cycle_sort()
        self.notify(
            f"positions sorted by {column}" if column else "positions in the exchange's order"
        )

    def action_tab(self, tab: str) -> None:
        """Show a bottom tab and put the keyboard in its table, so the arrows move the cursor
        that `x`, `d` and `a` act on (they scrolled the right-hand column before)."""
        pane = "funding-tab" if tab == "funding" else tab
        self.main.query_one(TabbedContent).active = pane
        # the ledger's filter takes letters and lets digits through (widgets/type_filter.py);
        # the events log too: left on the hidden ledger table, the keyboard moved on to the
        # ledger's filter, which took the tab back and the next digits as its text
        scrollable = self.main.query(f"#{pane} TypeFilter, #{pane} DataTable, #{pane} EventsLog")
        if scrollable:
            scrollable.first().focus()
        else:
            self.set_focus(None)

    def action_grouping(self) -> None:
        self.main.query_one(OrderBookView).cycle_grouping()

    async def action_timeframe(self, step: int) -> None:
        self.main.query_one(PriceChart).cycle_interval(step)
        await self.frame()

    def action_chart_mode(self) -> None:
        self.main.query_one(PriceChart).toggle_mode()

    async def action_speed(self, step: int) -> None:
        clock = self.snapshot.clock if self.snapshot else None
        if clock is None or not clock.adjustable:
            self.notify("this venue's clock is not ours to change", severity="warning")
            return
        i = min(range(len(SPEEDS)), key=lambda k: abs(SPEEDS[k] - clock.speed))
        speed = SPEEDS[max(0, min(len(SPEEDS) - 1, i + step))]
        await self.venue.set_speed(speed)
        self.notify(f"clock speed {speed}x")

    async def action_pause(self) -> None:
        clock = self.snapshot.clock if self.snapshot else None
        if clock is None or not clock.adjustable:
            self.notify("this venue's clock is not ours to pause", severity="warning")
            return
        try:
            await self.venue.set_paused(not clock.paused)
        except TradingDisabled as refusal:  # a paper store that failed: it stays stopped
            self.notify(str(refusal), severity="error")

    async def action_shock(self, fraction: str) -> None:
        ms = self.snapshot.markets[self.market] if self.snapshot else None
        if ms is None:
            return
        try:
            await self.venue.shock(ms.underlying, Decimal(fraction))
        except (TradingDisabled, ExchangeError) as refusal:
            self.notify(str(refusal), severity="error")
            return
        self.notify(f"{ms.underlying} index shocked {fmt.pct(Decimal(fraction), 0, sign=True)}")
        await self.frame()

    def action_advance(self, seconds: str) -> None:
        from perptui.screens.advancing import Advanced, AdvanceScreen

        asked = Decimal(seconds)

        async def finished(done: Advanced | None) -> None:
            if done is None:
                return
            if done.refusal is not None:
                self.notify(done.refusal, severity="error")
            elif done.seconds < asked:
                self.notify(f"clock advanced {fmt.duration(float(done.seconds))} "
                            f"of {fmt.duration(float(asked))}: stopped")  # fmt: skip
            else:
                self.notify(f"clock advanced {fmt.duration(float(done.seconds))}")
            await self.frame()

        self.push_screen(AdvanceScreen(asked, self.venue.advance), finished)

    def action_teach(self) -> None:
        from perptui.screens.explain import ExplainScreen

        if isinstance(self.screen, ExplainScreen):  # the teach key, remapped too, toggles
            self.pop_screen()
            return
        market = self.main.query_one(PositionsTable).selected_market or self.market
        self.push_screen(ExplainScreen(self.venue, market))

    def action_stress(self) -> None:
        from perptui.screens.stress import StressScreen

        if isinstance(self.screen, StressScreen):  # the stress key, remapped too, toggles
            self.pop_screen()
            return
        self.push_screen(StressScreen(self.venue))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        here = None if isinstance(self.screen, MainScreen) else type(self.screen)
        self.push_screen(HelpScreen(help_sections(here, self._in_help),
                                    not_offered(self._in_help)))  # fmt: skip

    def _in_help(self, action: str) -> bool:
        """Help's rule: the offered keys, less the clock's where the venue's clock is not
        ours (a class server's, Hyperliquid's): help listed `+`, `-` and `p` there as working.
        The keys themselves stay live, so pressing one still says why it does nothing."""
        if action in CLOCK:
            clock = self.snapshot.clock if self.snapshot else None
            return clock is None or clock.adjustable
        return self._offered(action)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Textual's own action, with a notice that says where the SVG went."""
        saved = Path(self.save_screenshot(filename, path)).resolve()
        self.notify(f"screenshot saved: {saved}")

    # --- the command palette: every action, plus paper-market tools -------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in BINDINGS:  # with the key the keymap gave it, as help and the footer show
            if not self._offered(b.action.split("(")[0]):
                continue
            keys = key_display(self, b, self._keymap)
            yield SystemCommand(f"{b.description} ({keys})", f"binding {b.id}",
                                _runner(self, b.action))  # fmt: skip
        for market in self.venue.markets():
            yield SystemCommand(f"Market: {market}", "switch the screen to this market",
                                _runner(self, f"set_market('{market}')"))  # fmt: skip
        clock = self.snapshot.clock if self.snapshot else None
        if self.venue.paper and clock is not None and clock.adjustable:  # ours, not a class's
            for pct in ("-0.2", "-0.1", "-0.05", "0.05", "0.1"):
                yield SystemCommand(f"Simulate price shock {fmt.pct(Decimal(pct), 0, sign=True)}",
                                    "move this market's index at once (paper only)",
                                    _runner(self, f"shock('{pct}')"))  # fmt: skip
            yield SystemCommand("Advance clock 1h (funding)", "run an hour of exchange time now",
                                _runner(self, "advance('3600')"))  # fmt: skip
            yield SystemCommand("Advance clock 30 s (settlement)", "run one settlement cycle",
                                _runner(self, "advance('30')"))  # fmt: skip


def _runner(app: Any, action: str) -> Callable[[], Awaitable[None]]:
    """A palette entry that runs `action` on the app, as its key would."""

    async def run() -> None:
        await app.run_action(action)

    return run
