"""The perptui App: one venue, one frame loop, every action behind a binding id.

Why a fixed-rate frame loop: the venue can emit thousands of events a second; widgets render
from the latest plain snapshot ten times a second and the event log takes what arrived since
the last frame, so the screen never falls behind the market (shared/TUI.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from decimal import Decimal

from textual import events, on
from textual.app import App
from textual.css.query import NoMatches
from textual.markup import escape
from textual.widgets import Input, TabbedContent

from exchange_local.errors import ExchangeError
from perptui import format as fmt
from perptui.eventtext import describe
from perptui.keys import (
    BINDINGS,
    FOOTER_PALETTE_WIDTH,
    footer_key_width,
    footer_keys,
    key_display,
)
from perptui.screens.main import MainScreen
from perptui.screens.modals import ConfirmScreen, QuitScreen
from perptui.settings import Settings
from perptui.sizing import largest_size, percent_of
from perptui.theme import DEFAULT_VARIABLES, THEMES
from perptui.ticket import TicketError, TicketForm, describe_arithmetic
from perptui.trading_actions import TradingActions
from perptui.venues.base import (
    REFUSED_HINT,
    Connection,
    NotAsked,
    Venue,
    VenueSnapshot,
    unknown_market,
)
from perptui.view_actions import ViewActions
from perptui.widgets.account import AccountPanel
from perptui.widgets.cached import update_static
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
from perptui.widgets.watch_panel import WatchState

FRAME_S = 0.1
CALLS_WAIT_S = 0.5  # a frame waits this long for fills, history and the preview
HISTORY_EVERY_FRAMES = 10  # fills, funding and ledger tabs: once a second while visible
PREVIEW_EVERY_FRAMES = 5  # the preview follows the mark twice a second even without typing


# the bindings the watch panel names, by id (with the keys the keymap gave them)
WATCH_KEYS = frozenset({"clock.pause", "clock.faster", "clock.slower", "demo.watch_next",
                        "screen.teach", "tab.events", "app.quit"})  # fmt: skip


class PerpApp(TradingActions, ViewActions, App[None]):
    TITLE = "perptui"
    _watch_keys: dict[str, str] | None = None  # WATCH_KEYS' keys, worked out at first use
    _watch_next_offered: bool | None = None  # `w` as the bindings last offered it
    BINDINGS = BINDINGS  # type: ignore[assignment]
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, venue: Venue, settings: Settings | None = None, market: str | None = None,
                 frame_loop: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.venue = venue
        self.settings = settings or Settings()
        self.market = market or "BTC-PERP"
        self.market_asked = market is not None  # --market: a typo is refused, not replaced
        self.frame_loop = frame_loop
        self.snapshot: VenueSnapshot | None = None
        self.frames = 0
        self.events_absorbed = 0
        self.first_frame_at: float | None = None
        self.started_at = time.perf_counter()
        self._preview_dirty = True
        self._order_seq = 0
        self._last_default: str | None = None
        self._calls: asyncio.Task[None] | None = None  # fills, history, preview under way

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
        self._fit_footer(self.size.width)  # with the keys the keymap gave
        if self.settings.problem:
            self.notify(self.settings.problem, severity="warning", timeout=10)
        try:
            await self.venue.start()
        except Exception as problem:  # an unreachable server or venue: say so, no traceback
            self.exit(return_code=1, message=f"perptui: cannot open {self.venue.where}: {problem}")
            return
        if self.venue.default_market:
            self.market = self.venue.default_market
        if self.market not in self.venue.markets():
            if self.market_asked:
                self.exit(return_code=2, message=unknown_market(self.market, self.venue))
                return
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

    # --- the footer -------------------------------------------------------------------------
    def on_resize(self, event: events.Resize) -> None:
        self._fit_footer(event.size.width)

    def _fit_footer(self, width: int) -> None:
        """The footer's keys that fit whole at this width (keys.footer_keys); the others
        stay working, off the footer (help and the palette list them). Textual's footer
        clips what does not fit: "t Teach  S▏" at 100 columns."""
        shown = {str(b.id): b for b in BINDINGS if b.show and b.id}
        widths = {
            binding_id: footer_key_width(
                max(key_display(self, b, self._keymap).split(", "), key=len), b.description)
            for binding_id, b in shown.items() if self._offered(b.action.split("(")[0])
        }  # fmt: skip
        room = width - (FOOTER_PALETTE_WIDTH if self.ENABLE_COMMAND_PALETTE else 0)
        keep = footer_keys(widths, room)
        changed = False
        for key, bindings in self._bindings.key_to_bindings.items():
            fitted = [dataclasses.replace(b, show=b.id in keep) if b.id in shown else b
                      for b in bindings]  # fmt: skip
            if fitted != bindings:
                self._bindings.key_to_bindings[key] = fitted
                changed = True
        if changed:
            self.refresh_bindings()

    async def action_quit(self) -> None:
        """q, ctrl+q and the palette's Quit: at once, unless quitting loses what no store
        keeps (a --memory paper market: one stray `q` lost a whole session of the market):
        then a question first, Enter or y quits, Esc or n stays. A stored market, a class
        server, a demo or a replay quits at once, as before."""
        lost = self.venue.lost_on_quit
        if lost is None:
            self.exit()
            return
        if isinstance(self.screen, QuitScreen):
            return  # asked already (ctrl+q reaches a dialog too): one question on screen

        def answer(ok: bool | None) -> None:
            if ok:
                self.exit()

        body = f"{lost[0].upper()}{lost[1:]}.\n\ny or Enter quits; n or Esc stays."
        self.push_screen(QuitScreen("Quit perptui?", body, "Quit", danger=True, refuse="Stay"),
                         answer)  # fmt: skip

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
        try:
            await self._draw(snap)
        except ExchangeError as problem:  # the venue went away mid-frame: stale, not a crash
            if snap.connection.state in ("live", "paused", "replay"):
                self._venue_problem(problem)
                self._show_stale()
            # otherwise the header already says why (reconnecting, rate limited, key refused):
            # a toast of each failing call and a STALE 0s over it only hid the reason

    async def _draw(self, snap: VenueSnapshot) -> None:
        """The rest of a frame, from a snapshot; its other venue calls may fail like it.

        The frame is drawn first, and the other venue calls (fills, history, preview) hold it
        at most CALLS_WAIT_S: against a hung server each held the frame for the whole request
        timeout (the header froze on "● live", then counted in 5 s steps). While the venue's
        numbers are old (STALE: not answering, rate limited, key refused) they are not made at
        all: each failure was another toast over a header that already says why."""
        quiet = snap.connection.says_why_old
        due = self.frames % HISTORY_EVERY_FRAMES == 0 and not quiet
        self.main.show(snap, self.venue.name, self.venue.paper, self.venue.paused_for_s,
                       getattr(self, "_own_trade_ids", set()),
                       self.venue.venue_liquidations(), self._watching(snap))  # fmt: skip
        if snap.connection.cause == "refused":
            self._show_refused(snap.connection.detail)
        events = self.venue.drain_events()
        self.events_absorbed += len(events)
        me = self.venue.account
        you = "YOU" if self.venue.can_trade else me
        lines = [line for e in events if (line := describe(e, me, you)) is not None]
        if lines:
            v = self.theme_variables
            self.main.query_one(EventsLog).add(lines, v.get("accent", ""), v.get("liq", ""))
        orders = order_rows(snap.open_orders, snap.markets)  # each on its venue market's steps
        self.main.query_one("#orders-table", RowsTable).set_rows(orders)
        preview = not quiet and (self._preview_dirty or self.frames % PREVIEW_EVERY_FRAMES == 0)
        preview = preview and self.venue.can_trade  # a venue that only watches has no ticket
        if quiet:  # a preview from before would still say "✓ would be accepted now"
            why = snap.connection.detail or snap.connection.cause
            self.main.query_one(OrderTicket).show_preview(None, f"cannot preview now: {why}")
            self._preview_dirty = True  # asked afresh as soon as the venue answers
        if due or preview:
            await self._venue_calls(due, preview)
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

    def _watching(self, snap: VenueSnapshot) -> WatchState | None:
        """The watch panel's state where the venue cannot trade, else None (the ticket)."""
        if self.venue.can_trade:
            return None
        keys = self._watch_keys
        if keys is None:  # the keymap is set once, at start: not worked out every frame
            keys = self._watch_keys = {
                b.id: key_display(self, b, self._keymap).split(", ")[0]  # its first key: room
                for b in BINDINGS if b.id in WATCH_KEYS
            }  # fmt: skip
        reason = getattr(self.venue, "read_only_reason", None) or self.venue.watch_words
        can_watch_next = self._can_watch_next()
        if can_watch_next != self._watch_next_offered:  # a replay's second account arrived
            self._watch_next_offered = can_watch_next
            self.refresh_bindings()
        return WatchState(self.venue.account, reason, snap.clock, can_watch_next, keys,
                          bool(getattr(self.venue, "finished", False)))  # fmt: skip

    async def _history_on_demand(self, fills: bool) -> None:
        """The visible tab's rows now (a tab shown, a filter typed), unless the venue already
        says its numbers are old, and never for longer than CALLS_WAIT_S. Why: with the
        server down, hung or the key refused, a tab key raised VenueUnavailable out of this
        handler and perptui exited; against a hung server the screen went blank for the
        request's whole timeout. The tables keep what they showed; the header says why."""
        if self.snapshot is not None and self.snapshot.connection.says_why_old:
            return  # the rule of the frame's own calls (_draw)
        try:
            async with asyncio.timeout(CALLS_WAIT_S * 2):
                await self._refresh_history(await self.venue.fills(500) if fills else None)
        except (ExchangeError, TimeoutError):
            return

    async def _venue_calls(self, history: bool, preview: bool) -> None:
        """Fills and the visible history tab (`history`) and the ticket's preview, waited for
        at most CALLS_WAIT_S: what has not answered by then finishes in the background (its
        refusal said as a toast while the venue looks live) and the frame goes on; the next
        ones wait until it has."""
        running = self._calls
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self._calls_now(history, preview))
        self._calls = task
        done, _ = await asyncio.wait({task}, timeout=CALLS_WAIT_S)
        if task in done:
            task.result()  # a refusal goes to frame()'s handler, as before
        else:
            task.add_done_callback(self._late_calls)

    async def _calls_now(self, history: bool, preview: bool) -> None:
        fills = await self.venue.fills(500) if history else None
        if fills is not None:
            self._own_trade_ids = {f.fill_id for f in fills}
            await self._refresh_history(fills)
        if preview:
            await self._preview()

    def _late_calls(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        problem = task.exception()
        if isinstance(problem, ExchangeError):
            live = self.snapshot is not None and self.snapshot.connection.state == "live"
            if live:
                self._venue_problem(problem)
        elif isinstance(problem, Exception):  # a bug, not the venue: as any other crash
            self._handle_exception(problem)

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

    def _show_refused(self, reason: str) -> None:
        """The key was refused (revoked): the account panel says so and what to do instead
        of the last equity under a HEALTHY it no longer knows (the header says it too)."""
        panel = self.main.query_one(AccountPanel)
        markup = "\n".join([
            "[b]Account[/b]   [b $error]KEY REFUSED[/]",
            f" [$error]{escape(reason)}[/]",
            " no numbers of this account are current any more;",
            f" {REFUSED_HINT}",
        ])  # fmt: skip
        update_static(panel, markup)

    def _venue_problem(self, problem: Exception) -> None:
        """Say what went wrong once per kind of problem, not ten times a second."""
        text = f"{type(problem).__name__}: {problem}"
        if text != getattr(self, "_last_problem", None):
            self._last_problem = text
            self.notify(text, title="venue", severity="error", timeout=8)

    async def _refresh_history(self, fills: list | None) -> None:
        active = self.main.query_one(TabbedContent).active
        if active == "fills" and fills is not None:
            markets = self.snapshot.markets if self.snapshot else None  # each fill's tick
            self.main.query_one("#fills-table", RowsTable).set_rows(
                fill_rows(fills, self.venue.account, markets)
            )
        elif active == "funding-tab":
            rows = funding_rows(await self.venue.funding_payments())
            self.main.query_one("#funding-table", RowsTable).set_rows(rows)
        elif active == "ledger":
            flt = self.main.query_one("#ledger-filter", Input).value
            entries = await self.venue.ledger(1000, flt)
            self.main.query_one("#ledger-table", RowsTable).set_rows(ledger_rows(entries))

    async def _preview(self) -> None:
        """The ticket's preview and largest size. A number no decimal context can hold (a
        price of 1e40 reaching a venue) is a refusal on the ticket, never a crash: the venue
        is not trusted to bound what it is given."""
        self._preview_dirty = False
        ticket = self.main.query_one(OrderTicket)
        try:  # largest_size takes the venue's refusals (NotAsked too) as "cannot say"
            if ticket.form.market and ticket.market_state is not None and self.snapshot:
                form = dataclasses.replace(ticket.form)  # as it is now; typing may go on
                ticket.set_gate_max(form, await self._largest_size(ticket, form))
        except ArithmeticError as problem:
            ticket.show_preview(None, f"cannot size this order: {describe_arithmetic(problem)}")
            return
        if not ticket.form.market or not ticket.form.size:
            ticket.show_preview(None)
            return
        try:
            request = ticket.form.request()
            preview = await self.venue.preview_order(request)
        except TicketError as problem:
            ticket.show_preview(None, str(problem))
            return
        except NotAsked as problem:  # no verdict: the venue did not answer
            ticket.show_preview(None, f"cannot preview now: {problem}")
            return
        except ExchangeError as refusal:
            ticket.show_preview(None, str(refusal))
            return
        except ArithmeticError as problem:
            ticket.show_preview(None, f"cannot preview: {describe_arithmetic(problem)}")
            return
        ticket.show_preview(preview)

    @on(OrderTicket.SizeWanted)
    async def _size_wanted(self, message: OrderTicket.SizeWanted) -> None:
        ticket = self.main.query_one(OrderTicket)
        ms = ticket.market_state
        if ms is None or self.snapshot is None:
            return
        form = dataclasses.replace(ticket.form)
        position = self._position_size(form.market)
        try:
            top = await self._largest_size(ticket, form)
            if top is not None:
                ticket.set_gate_max(form, top)
            else:
                top = ticket.sizing_estimate()
            size = percent_of(top, message.percent, position, form.side, ms.lot)
        except ArithmeticError as problem:  # a price no market holds: a refusal, not a crash
            ticket.show_message(f"✗ cannot size this order: {describe_arithmetic(problem)}",
                                ok=False)  # fmt: skip
            return
        if size <= 0:
            ticket.show_message("no size of this order passes now (free collateral, or "
                                "nothing to reduce)", ok=False)  # fmt: skip
            return
        ticket.set_size(size)

    async def _largest_size(self, ticket: OrderTicket, form: TicketForm) -> Decimal | None:
        """The exchange's largest passing size for `form` (sizing.largest_size), from the
        ticket's estimate and the position it would reduce."""
        ms = ticket.market_state
        assert ms is not None
        position = self._position_size(form.market)
        return await largest_size(self.venue, form, ticket.sizing_estimate(), position, ms.lot)

    def _position_size(self, market: str) -> Decimal:
        snap = self.snapshot
        if snap is None:
            return Decimal(0)
        return next((p.size for p in snap.health.positions if p.market == market), Decimal(0))

    @on(OrderTicket.PreviewWanted)
    def _preview_wanted(self) -> None:
        self._preview_dirty = True

    @on(Input.Changed, "#ledger-filter")
    async def _ledger_filter(self) -> None:
        await self._history_on_demand(fills=False)

    @on(TabbedContent.TabActivated)
    async def _tab_shown(self) -> None:
        await self._history_on_demand(fills=True)
        if self.main.query_one(TabbedContent).active == "events":
            # lines written while the tab was hidden are laid out now: show the newest
            log = self.main.query_one(EventsLog)
            log.call_after_refresh(log.scroll_end, animate=False, immediate=True)

    # --- orders -----------------------------------------------------------------------------
    @on(OrderTicket.Submitted)
    async def _submitted(self, message: OrderTicket.Submitted) -> None:
        await self.send_order(message.form)
