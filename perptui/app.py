"""The perptui App: one venue, one frame loop, every action behind a binding id.

Why a fixed-rate frame loop: the venue can emit thousands of events a second; widgets render
from the latest plain snapshot ten times a second and the event log takes what arrived since
the last frame, so the screen never falls behind the market (shared/TUI.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterable
from decimal import Decimal

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, TabbedContent

from exchange_local.errors import ExchangeError
from perptui import format as fmt
from perptui.eventtext import describe
from perptui.screens.help import HelpScreen
from perptui.screens.main import TABS, MainScreen
from perptui.screens.modals import ConfirmScreen, ValueScreen
from perptui.settings import Settings
from perptui.theme import DEFAULT_VARIABLES, THEMES
from perptui.ticket import TYPE_LABELS, TicketError, TicketForm
from perptui.venues.base import Connection, TradingDisabled, Venue, VenueSnapshot
from perptui.widgets.book import OrderBookView
from perptui.widgets.chart import PriceChart
from perptui.widgets.history import (
    EventsLog,
    RowsTable,
    fill_rows,
    funding_rows,
    ledger_rows,
    order_rows,
)
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable

FRAME_S = 0.1
HISTORY_EVERY_FRAMES = 10  # fills, funding and ledger tabs: once a second while visible
PREVIEW_EVERY_FRAMES = 5  # the preview follows the mark twice a second even without typing
SPEEDS = (Decimal(0), Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5), Decimal(10),
          Decimal(30), Decimal(60), Decimal(120), Decimal(300), Decimal(600))  # fmt: skip

BINDINGS = [
    Binding("b", "side('buy')", "Buy", id="order.buy"),
    Binding("s", "side('sell')", "Sell", id="order.sell"),
    Binding("m", "cycle_type", "Type", id="order.type"),
    Binding("l", "leverage", "Leverage", id="order.leverage"),
    Binding("enter", "submit", "Send", id="order.submit", show=False),
    Binding("x", "close_position", "Close", id="position.close"),
    Binding("X", "close_all", "Close all", id="position.close_all", show=False),
    Binding("c", "cancel_all", "Cancel all", id="order.cancel_all"),
    Binding("d", "cancel_selected", "Cancel order", id="order.cancel", show=False),
    Binding("a", "amend_selected", "Amend order", id="order.amend", show=False),
    Binding("u", "convert", "Repay USD", id="account.convert", show=False),
    Binding("n", "next_market", "Market", id="market.next"),
    Binding("w", "watch_next", "Watch next", id="demo.watch_next", show=False),
    Binding("t", "teach", "Teach", id="screen.teach"),
    Binding("S", "stress", "Stress", id="screen.stress"),
    Binding("g", "grouping", "Group", id="book.grouping", show=False),
    Binding("left_square_bracket", "timeframe(-1)", "Frame −", id="chart.frame_down", show=False),
    Binding("right_square_bracket", "timeframe(1)", "Frame +", id="chart.frame_up", show=False),
    Binding("v", "chart_mode", "Candle/line", id="chart.mode", show=False),
    Binding("plus,equals_sign", "speed(1)", "Faster", id="clock.faster", show=False),
    Binding("minus", "speed(-1)", "Slower", id="clock.slower", show=False),
    Binding("p", "pause", "Pause", id="clock.pause", show=False),
    Binding("escape", "leave_input", "Leave field", id="focus.leave", show=False),
    Binding("f1,question_mark", "help", "Help", id="app.help"),
    Binding("f8", "screenshot", "Screenshot", id="app.screenshot", show=False),
    Binding("q,ctrl+q", "quit", "Quit", id="app.quit"),
] + [
    Binding(str(i + 1), f"tab('{tab}')", tab.title(), id=f"tab.{tab}", show=False)
    for i, tab in enumerate(TABS)
]


class PerpApp(App[None]):
    TITLE = "perptui"
    BINDINGS = BINDINGS  # type: ignore[assignment]
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, venue: Venue, settings: Settings | None = None, market: str | None = None,
                 frame_loop: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.venue = venue
        self.settings = settings or Settings()
        self.market = market or "BTC-PERP"
        self.frame_loop = frame_loop
        self.snapshot: VenueSnapshot | None = None
        self.frames = 0
        self.events_absorbed = 0
        self.first_frame_at: float | None = None
        self.started_at = time.perf_counter()
        self._preview_dirty = True
        self._order_seq = 0
        self._last_default: str | None = None

    # --- start and stop ---------------------------------------------------------------------
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_VARIABLES)

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        try:
            self.theme = self.settings.theme
        except Exception:
            self.theme = "perptui-dark"
            self.notify(f"unknown theme {self.settings.theme!r}; using perptui-dark",
                        severity="warning")  # fmt: skip
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning", timeout=10)
        try:
            await self.venue.start()
        except Exception as problem:  # an unreachable server or venue: say so, no traceback
            self.exit(return_code=1, message=f"perptui: cannot open {self.venue.name}: {problem}")
            return
        if self.venue.default_market:
            self.market = self.venue.default_market
        if self.market not in self.venue.markets():
            self.market = self.venue.markets()[0]
        await self.push_screen(MainScreen())
        await self.frame()
        if self.venue.paused_for_s >= 1:
            self.notify(f"The paper market was paused for {fmt.duration(self.venue.paused_for_s)}"
                        " while perptui was closed; it resumes now.", timeout=8)  # fmt: skip
        if self.venue.read_only_reason if hasattr(self.venue, "read_only_reason") else False:
            self.action_tab("events")
        if self.frame_loop:
            self.set_interval(FRAME_S, self.frame)

    async def on_unmount(self) -> None:
        await self.venue.stop()

    @property
    def main(self) -> MainScreen:
        return self.get_screen_stack_main()

    def get_screen_stack_main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("no main screen")

    # --- the frame --------------------------------------------------------------------------
    async def frame(self) -> None:
        """One frame: a snapshot of the venue, the events since the last one, the preview."""
        try:
            chart = self.main.query_one(PriceChart)
        except (LookupError, NoMatches):
            return  # starting up or shutting down: no main screen to draw on
        try:
            snap = await self.venue.snapshot(self.market, chart.interval)
        except Exception as problem:  # a venue hiccup must not take the terminal down
            self._venue_problem(problem)
            self._show_stale()
            return
        self._last_ok = time.monotonic()
        self.snapshot = snap
        fills = await self.venue.fills(500) if self.frames % HISTORY_EVERY_FRAMES == 0 else None
        if fills is not None:
            self._own_trade_ids = {f.fill_id for f in fills}
        self.main.show(snap, self.venue.name, self.venue.paper, self.venue.paused_for_s,
                       getattr(self, "_own_trade_ids", set()),
                       self.venue.venue_liquidations())  # fmt: skip
        events = self.venue.drain_events()
        self.events_absorbed += len(events)
        me = self.venue.account
        you = "YOU" if self.venue.can_trade else me
        lines = [line for e in events if (line := describe(e, me, you)) is not None]
        if lines:
            v = self.theme_variables
            self.main.query_one(EventsLog).add(lines, v.get("accent", ""), v.get("liq", ""))
        self.main.query_one("#orders-table", RowsTable).set_rows(order_rows(snap.open_orders))
        if self.frames % HISTORY_EVERY_FRAMES == 0:
            await self._refresh_history(fills)
        if self._preview_dirty or self.frames % PREVIEW_EVERY_FRAMES == 0:
            await self._preview()
        self._ask_pending_decision()
        notice = self.venue.take_notice()
        if notice:
            self.notify(notice, timeout=30)
        if self.venue.default_market and self.venue.default_market != self._last_default:
            self._last_default = self.venue.default_market  # a demo moved to its next lesson
            self.market = self.venue.default_market
        self.frames += 1
        if self.first_frame_at is None:
            self.first_frame_at = time.perf_counter()

    def _ask_pending_decision(self) -> None:
        """A question the venue cannot answer alone (prices back with a jump), asked once."""
        if getattr(self, "_deciding", False):
            return
        decision = self.venue.pending_decision()
        if decision is None:
            return
        self._deciding = True

        async def answer(accept: bool | None) -> None:
            try:
                await self.venue.decide(bool(accept))
            finally:
                self._deciding = False

        screen = ConfirmScreen(decision.title, decision.body, decision.accept,
                               danger=decision.danger, refuse=decision.refuse)  # fmt: skip
        self.push_screen(screen, answer)

    def _show_stale(self) -> None:
        """The last frame again, marked STALE with its age: old numbers must never look live."""
        if self.snapshot is None:
            return
        age = time.monotonic() - getattr(self, "_last_ok", time.monotonic())
        stale = dataclasses.replace(self.snapshot, connection=Connection("stale", age_s=age))
        with contextlib.suppress(NoMatches):  # the screen may be going away (quitting)
            self.main.show(stale, self.venue.name, self.venue.paper, self.venue.paused_for_s,
                           getattr(self, "_own_trade_ids", set()))  # fmt: skip

    def _venue_problem(self, problem: Exception) -> None:
        """Say what went wrong once per kind of problem, not ten times a second."""
        text = f"{type(problem).__name__}: {problem}"
        if text != getattr(self, "_last_problem", None):
            self._last_problem = text
            self.notify(text, title="venue", severity="error", timeout=8)

    async def _refresh_history(self, fills: list | None) -> None:
        active = self.main.query_one(TabbedContent).active
        if active == "fills" and fills is not None:
            self.main.query_one("#fills-table", RowsTable).set_rows(
                fill_rows(fills, self.venue.account)
            )
        elif active == "funding-tab":
            rows = funding_rows(await self.venue.funding_payments())
            self.main.query_one("#funding-table", RowsTable).set_rows(rows)
        elif active == "ledger":
            entries = await self.venue.ledger(1000)
            flt = self.main.query_one("#ledger-filter", Input).value
            self.main.query_one("#ledger-table", RowsTable).set_rows(ledger_rows(entries, flt))

    async def _preview(self) -> None:
        self._preview_dirty = False
        ticket = self.main.query_one(OrderTicket)
        if not ticket.form.market or not ticket.form.size:
            ticket.show_preview(None)
            return
        try:
            request = ticket.form.request()
            preview = await self.venue.preview_order(request)
        except TicketError as problem:
            ticket.show_preview(None, str(problem))
            return
        except ExchangeError as refusal:
            ticket.show_preview(None, str(refusal))
            return
        ticket.show_preview(preview)

    @on(OrderTicket.PreviewWanted)
    def _preview_wanted(self) -> None:
        self._preview_dirty = True

    @on(Input.Changed, "#ledger-filter")
    async def _ledger_filter(self) -> None:
        await self._refresh_history(None)

    @on(TabbedContent.TabActivated)
    async def _tab_shown(self) -> None:
        await self._refresh_history(await self.venue.fills(500))
        if self.main.query_one(TabbedContent).active == "events":
            # lines written while the tab was hidden are laid out now: show the newest
            log = self.main.query_one(EventsLog)
            log.call_after_refresh(log.scroll_end, animate=False, immediate=True)

    # --- orders -----------------------------------------------------------------------------
    @on(OrderTicket.Submitted)
    async def _submitted(self, message: OrderTicket.Submitted) -> None:
        await self.send_order(message.form)

    def _next_client_id(self) -> str:
        self._order_seq += 1
        return f"perptui-{int(time.time() * 1000)}-{self._order_seq}"

    async def send_order(self, form: TicketForm) -> None:
        ticket = self.main.query_one(OrderTicket)
        try:
            request = form.request(self._next_client_id())
        except TicketError as problem:
            ticket.show_message(str(problem), ok=False)
            return
        if self.settings.confirm_orders:
            preview_text = str(self.main.query_one("#preview").render())
            what = (f"{request.side.upper()} {request.size} {request.market} "
                    f"{TYPE_LABELS[request.type]}"
                    + (f" @ {request.price}" if request.price else "")
                    + (f" trigger {request.trigger_price}" if request.trigger_price else "")
                    + (" reduce-only" if request.reduce_only else "")
                    + (" post-only" if request.post_only else ""))  # fmt: skip
            body = f"{what}\n\n{preview_text}"

            async def answer(ok: bool | None) -> None:
                if ok:
                    await self._place(request)

            self.push_screen(ConfirmScreen("Send this order?", body, "Send"), answer)
            return
        await self._place(request)

    async def _place(self, request: object) -> None:
        ticket = self.main.query_one(OrderTicket)
        try:
            result = await self.venue.place_order(request)  # type: ignore[arg-type]
        except (ExchangeError, TradingDisabled) as refusal:
            ticket.show_message(f"✗ refused: {refusal}", ok=False)
            self.notify(str(refusal), title="Order refused", severity="error")
            return
        status = result.status.value if hasattr(result.status, "value") else result.status
        text = f"✓ order {result.order_id} {status}"
        if result.filled:
            text += f", filled {result.filled} @ {result.avg_price}"
        if result.canceled_reason:
            text += f" ({result.canceled_reason})"
        ticket.show_message(text, ok=True)
        await self.frame()

    # --- actions ----------------------------------------------------------------------------
    def action_side(self, side: str) -> None:
        ticket = self.main.query_one(OrderTicket)
        ticket.set_side(side)
        self.main.query_one("#size", Input).focus()

    def action_cycle_type(self) -> None:
        self.main.query_one(OrderTicket).cycle_type()

    def action_submit(self) -> None:
        self.main.query_one(OrderTicket).submit()

    def action_leave_input(self) -> None:
        self.main.query_one(PositionsTable).focus()

    async def _guard(self, coro: object, what: str) -> bool:
        try:
            await coro  # type: ignore[misc]
        except (ExchangeError, TradingDisabled) as refusal:
            self.notify(str(refusal), title=f"{what} refused", severity="error")
            return False
        await self.frame()
        return True

    def action_leverage(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        ms = snap.markets[self.market]
        current = snap.leverage.get(self.market, ms.max_leverage)

        async def chosen(value: Decimal | None) -> None:
            ok = value is not None and await self._guard(
                self.venue.set_leverage(self.market, value), "Leverage"
            )
            if ok:
                self.notify(f"{self.market} leverage {value}x")

        prompt = f"1 to {ms.max_leverage} (IMF = max(1/leverage, size-scaled))"
        screen = ValueScreen(f"Leverage for {self.market}", prompt, str(current), Decimal(1),
                             ms.max_leverage)  # fmt: skip
        self.push_screen(screen, chosen)

    def action_close_position(self) -> None:
        market = self.main.query_one(PositionsTable).selected_market or self.market
        snap = self.snapshot
        pos = next((p for p in snap.health.positions if p.market == market), None) if snap else None
        if pos is None:
            self.notify(f"no {market} position to close", severity="warning")
            return
        screen = ConfirmScreen(
            f"Close {market}?",
            f"A reduce-only market order for {abs(pos.size)} at about the mark {pos.mark_price}; "
            f"unrealised PnL {fmt.usd(pos.unrealized_pnl, sign=True)}.",
            "Close", danger=True, option="also cancel this market's open orders",
        )  # fmt: skip

        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.close_position(market, screen.option_value), "Close")

        if self.settings.confirm_orders:
            self.push_screen(screen, answer)
        else:
            self.run_worker(answer(True))

    def action_close_all(self) -> None:
        snap = self.snapshot
        markets = [p.market for p in snap.health.positions] if snap else []
        if not markets:
            self.notify("no positions to close", severity="warning")
            return

        async def answer(ok: bool | None) -> None:
            if ok:
                for m in markets:
                    await self._guard(self.venue.close_position(m, True), "Close")

        self.push_screen(ConfirmScreen("Close every position?", ", ".join(markets), "Close all",
                                       danger=True), answer)  # fmt: skip

    def action_cancel_all(self) -> None:
        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.cancel_all(None), "Cancel all")

        n = len(self.snapshot.open_orders) if self.snapshot else 0
        if self.settings.confirm_orders:
            self.push_screen(ConfirmScreen("Cancel all orders?", f"{n} open orders", "Cancel all",
                                           danger=True), answer)  # fmt: skip
        else:
            self.run_worker(answer(True))

    async def action_cancel_selected(self) -> None:
        key = self.main.query_one("#orders-table", RowsTable).selected_key
        if key is None:
            self.notify("no order selected (tab 2)", severity="warning")
            return
        await self._guard(self.venue.cancel_order(int(key)), "Cancel")

    def action_amend_selected(self) -> None:
        key = self.main.query_one("#orders-table", RowsTable).selected_key
        order = next((o for o in self.snapshot.open_orders if str(o.order_id) == key),
                     None) if self.snapshot and key else None  # fmt: skip
        if order is None:
            self.notify("no order selected (tab 2)", severity="warning")
            return

        async def chosen(value: Decimal | None) -> None:
            if value is not None:
                await self._guard(self.venue.amend_order(order.order_id, price=value), "Amend")

        self.push_screen(ValueScreen(f"Amend order {order.order_id}", "new price",
                                     str(order.price or "")), chosen)  # fmt: skip

    def action_convert(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        usd = next((c for c in snap.health.collateral if c.asset == "USD"), None)
        coins = [
            c for c in snap.health.collateral if c.asset not in ("USD", "USDC") and c.amount > 0
        ]
        if not coins:
            self.notify("no collateral to convert", severity="warning")
            return
        coin = max(coins, key=lambda c: c.value)
        need = (
            -usd.amount / coin.price * Decimal("1.002") if usd and usd.amount < 0 else coin.amount
        )
        need = min(need, coin.amount).quantize(Decimal("0.0001"))

        async def chosen(value: Decimal | None) -> None:
            if value is not None and await self._guard(
                self.venue.convert(coin.asset, "USD", value), "Convert"
            ):
                self.notify(f"converted {value} {coin.asset} to USD")

        self.push_screen(ValueScreen(f"Convert {coin.asset} to USD",
                                     f"{coin.asset} to sell at the index ({coin.price}) less 0.1 %",
                                     str(need)), chosen)  # fmt: skip

    async def action_watch_next(self) -> None:
        watch = getattr(self.venue, "watch_next", None)
        if watch is None:
            self.notify("only a demo watches other accounts", severity="warning")
            return
        self.notify(f"watching {watch()}")
        await self.frame()

    async def action_next_market(self) -> None:
        markets = self.venue.markets()
        self.market = markets[(markets.index(self.market) + 1) % len(markets)]
        await self.frame()

    async def action_set_market(self, market: str) -> None:
        self.market = market
        await self.frame()

    def action_tab(self, tab: str) -> None:
        self.main.query_one(TabbedContent).active = "funding-tab" if tab == "funding" else tab

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
            return
        await self.venue.set_paused(not clock.paused)

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

    async def action_advance(self, seconds: str) -> None:
        try:
            await self.venue.advance(Decimal(seconds))
        except TradingDisabled as refusal:
            self.notify(str(refusal), severity="error")
            return
        await self.frame()

    def action_teach(self) -> None:
        from perptui.screens.explain import ExplainScreen

        market = self.main.query_one(PositionsTable).selected_market or self.market
        self.push_screen(ExplainScreen(self.venue, market))

    def action_stress(self) -> None:
        from perptui.screens.stress import StressScreen

        self.push_screen(StressScreen(self.venue))

    def action_help(self) -> None:
        rows = []
        for b in BINDINGS:
            keys = self.get_key_display(b) if hasattr(self, "get_key_display") else b.key
            rows.append((str(keys), str(b.description), str(b.id)))
        self.push_screen(HelpScreen(rows))

    def action_screenshot(self) -> None:
        path = self.save_screenshot()
        self.notify(f"screenshot saved: {path}")

    # --- the command palette: every action, plus paper-market tools -------------------------
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in BINDINGS:
            yield SystemCommand(f"{b.description} ({b.key})", f"binding {b.id}",
                                _runner(self, b.action))  # fmt: skip
        for market in self.venue.markets():
            yield SystemCommand(f"Market: {market}", "switch the screen to this market",
                                _runner(self, f"set_market('{market}')"))  # fmt: skip
        if self.venue.paper:
            for pct in ("-0.2", "-0.1", "-0.05", "0.05", "0.1"):
                yield SystemCommand(f"Simulate price shock {fmt.pct(Decimal(pct), 0, sign=True)}",
                                    "move this market's index at once (paper only)",
                                    _runner(self, f"shock('{pct}')"))  # fmt: skip
            yield SystemCommand("Advance clock 1h (funding)", "run an hour of exchange time now",
                                _runner(self, "advance('3600')"))  # fmt: skip
            yield SystemCommand("Advance clock 30 s (settlement)", "run one settlement cycle",
                                _runner(self, "advance('30')"))  # fmt: skip


def _runner(app: PerpApp, action: str):  # type: ignore[no-untyped-def]
    async def run() -> None:
        await app.run_action(action)

    return run
