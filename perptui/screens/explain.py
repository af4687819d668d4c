"""The teach view (`t`): how one position's liquidation, bankruptcy and zero prices come about.

Why every term is on screen: a liquidation price is a single number a trader has to trust.
Here it is taken apart into the terms `exchange_local.explain` sums (each with its label, its
formula in words, the numbers that go into it, and its value), then the two sums, the division
and the result, so a student can redo it by hand and land on the same digits. The what-if panel
beside it draws equity against the maintenance line as the price moves (perptui.whatif), with
the liquidation and bankruptcy prices marked, and the status the account would have there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from exchange_local.engine import MarketState
from exchange_local.errors import ExchangeError
from exchange_local.explain import Explanation
from exchange_local.health import AccountHealth
from perptui import format as fmt
from perptui import whatif
from perptui.adl_text import adl_lines
from perptui.derivation import Derivation, colour
from perptui.keys import BINDINGS, key_display
from perptui.stress import STATUS_WORDS
from perptui.venues.base import Venue, describe
from perptui.widgets.keys_in_order import KeysInOrderInput
from perptui.widgets.whatif_plot import WhatIfPlot

POLL_S = 0.5  # ~2 Hz: cheap for the local venue, and the numbers never look stale
STEP = Decimal("0.01")  # one key press moves the what-if price by 1 % of the mark
# --- the screen -------------------------------------------------------------------------------


def reachable(price: Decimal | None) -> Decimal | None:
    """A price a market can trade at, or None. Why: a long well covered by collateral has a
    zero price below 0 (the formula's honest answer, kept in the derivation below), and the
    header read "zero -12,885.3" beside "liq —" and "bk —"."""
    return price if price is not None and price > 0 else None


class ExplainScreen(Screen[None]):
    """`ExplainScreen(venue, market)`: the derivation and the what-if of one position."""

    DEFAULT_CSS = """
    ExplainScreen { layout: vertical; }
    ExplainScreen #explain-title { height: auto; padding: 0 1; background: $panel; }
    ExplainScreen #explain-body { height: 1fr; }
    ExplainScreen #derivation { width: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    ExplainScreen #derivation > Static { margin-bottom: 1; }
    ExplainScreen #whatif { width: 58; border-left: solid $panel-lighten-2; padding: 0 1; }
    ExplainScreen #whatif-head { height: auto; }
    ExplainScreen #price { margin: 0; }
    ExplainScreen.-narrow #explain-body { layout: vertical; }
    ExplainScreen.-narrow #derivation { height: 1fr; width: 1fr; }
    ExplainScreen.-narrow #whatif { width: 1fr; height: 4; border-left: none;
                                    border-top: solid $panel-lighten-2; }
    ExplainScreen.-narrow #price { border: none; height: 1; padding: 0 1; }
    ExplainScreen.-narrow WhatIfPlot { display: none; }
    ExplainScreen #no-position { padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="explain.close"),
        Binding("t", "close", "Back", show=False, id="explain.close_t"),
        Binding("left,minus", "step(-1)", "−1 %", id="explain.price_down"),
        Binding("right,plus,equals_sign", "step(1)", "+1 %", id="explain.price_up"),
        Binding("0", "reset", "At mark", id="explain.price_reset"),
        Binding("p", "focus_price", "Exact price", id="explain.price_input"),
        Binding("d", "digits", "Cents/µ", id="explain.digits"),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # TUI.md: narrow below 100
    AUTO_FOCUS = "#derivation"

    def __init__(self, venue: Venue, market: str) -> None:
        super().__init__()
        self.venue = venue
        self.market = market
        self.expl: Explanation | None = None
        self.health: AccountHealth | None = None
        self.state: MarketState | None = None
        self.target: Decimal | None = None  # the what-if price; None follows the mark
        self.places = 2
        self.error: str | None = None
        self._busy = False
        self._shown: object = None
        self._whatif_shown: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="explain-title")
        with Horizontal(id="explain-body"):
            with VerticalScroll(id="derivation"):
                for i in range(6):
                    yield Static(id=f"step-{i}")
                yield Static(id="adl")
                yield Static(id="no-position")
            with Vertical(id="whatif"):
                yield Static(id="whatif-head")
                yield KeysInOrderInput(placeholder="exact price, then enter", id="price",
                            restrict=r"[0-9.,]*")  # fmt: skip
                yield WhatIfPlot(id="plot")
        yield Footer()

    async def on_mount(self) -> None:
        await self.poll()  # first numbers before the first frame, then ~2 Hz
        self.set_interval(POLL_S, self.poll)

    async def poll(self) -> None:
        """Fetch explain + health; re-render only when something changed."""
        if self._busy:
            return  # a slow venue: skip a beat rather than queue calls
        self._busy = True
        try:
            try:
                expl: Explanation | None = await self.venue.explain(self.market)
            except ExchangeError:
                expl = None  # no position and no resting order: nothing to explain
            snap = await self.venue.snapshot(self.market)
            self.error = None
        except Exception as err:  # a remote venue gone: keep the last numbers, say so
            self.error = describe(err)
            self.render_all()
            return
        finally:
            self._busy = False
        self.expl = expl if expl is not None and expl.size != 0 else None
        self.health = snap.health
        self.state = snap.markets.get(self.market)
        self.render_all()

    # --- rendering ----------------------------------------------------------------------------
    def what_if_price(self) -> Decimal | None:
        if self.expl is None:
            return None
        return self.target if self.target is not None else self.expl.mark

    def render_all(self) -> None:
        """Redraw what changed: the derivation on new data, the what-if also on a new price
        (a key press must not rebuild six tables)."""
        narrow = self.has_class("-narrow")
        # the tables' width too: laid out for no width before the first layout, or for
        # another one, their columns came out different in every step (Rich squeezed each)
        width = self.query_one("#step-0", Static).content_region.width
        key = (self.expl, self.health, self.places, self.error, width)
        whatif_key = (self.expl, self.health, self.target, narrow)
        if key != self._shown:
            self._shown = key
            self.render_derivation()
        if whatif_key != self._whatif_shown:
            self._whatif_shown = whatif_key
            if self.expl is not None:
                self.render_whatif(self.expl, self.tick())

    def tick(self) -> Decimal:
        return self.state.tick if self.state else Decimal("0.01")

    def render_derivation(self) -> None:
        title = self.query_one("#explain-title", Static)
        stale = ("  " + self.error, "bold reverse") if self.error else ""
        no_pos = self.query_one("#no-position", Static)
        whatif_panel = self.query_one("#whatif")
        steps = [self.query_one(f"#step-{i}", Static) for i in range(6)]
        e = self.expl
        if e is None:
            title.update(Content.assemble((f"Explain {self.market}", "bold"), stale))
            no_pos.update(self.no_position_words())
            no_pos.display = True
            whatif_panel.display = False
            for s in steps:
                s.display = False
            self.query_one("#adl", Static).display = False
            return
        no_pos.display = False
        whatif_panel.display = True
        tick = self.tick()
        lot = self.state.lot if self.state else Decimal("0.0001")
        side = "LONG" if e.size > 0 else "SHORT"
        title.update(Content.assemble(
            (f"Explain {e.market}", "bold"),
            f" · {side} {fmt.size(abs(e.size), lot)} · mark {fmt.price(e.mark, tick)} · MMF "
            f"{fmt.pct(e.mmf)} · liq {self.liq_text(e, tick)} · bk "
            f"{fmt.liq_price(e.bankruptcy_price, e.mark, tick)} · zero "
            # on the tick toward the mark as bk is: one position's two prices are one price
            # (MECHANICS 3), and "bk 92,452.0 · zero 92,451.7" read as two
            f"{fmt.liq_price(reachable(e.zero_price), e.mark, tick)}",
            stale,
        ))  # fmt: skip
        width = steps[0].content_region.width or None  # 0 before the first layout
        tables = Derivation(e, self.health, self.state, self.places, width).tables()
        for static, table in zip(steps, tables, strict=True):
            static.display = True
            static.update(table)
        adl = self.query_one("#adl", Static)
        lines = adl_lines(self.health, e.market) if self.health is not None else []
        adl.display = bool(lines)
        if lines:
            adl.update(Content.assemble((lines[0], "bold"), "\n" + "\n".join(lines[1:])))

    def no_position_words(self) -> str:
        """Why there is nothing to explain, and what to do about it where this venue is.

        Why two wordings: a demo, a replay or a read-only key cannot trade, and "Open a
        position" sent a student looking for an order ticket that the watch panel replaces
        there; they are told whom they watch and how to watch someone with a position."""
        keys = {b.id: key_display(self.app, b, self.app._keymap)  # as settings.toml set them
                for b in BINDINGS if b.id in ("screen.teach", "demo.watch_next")}  # fmt: skip
        teach = keys["screen.teach"]
        if self.venue.can_trade:
            return (f"There is no {self.market} position, so there is no liquidation or "
                    f"bankruptcy price to explain.\nOpen a position and come back with "
                    f"{teach}; escape goes back.")  # fmt: skip
        if not self.venue.account:  # a server key bound to no account: the market only
            return (
                "No account is watched here (this key sees the market only), so there is "
                "no liquidation or bankruptcy price to explain; escape goes back."
            )
        can_watch_next = getattr(self.app, "_can_watch_next", None)
        elsewhere = (f", where {keys['demo.watch_next']} watches the next account"
                     if can_watch_next is not None and can_watch_next() else "")  # fmt: skip
        return (f"{self.venue.account} has no {self.market} position, so there is no "
                f"liquidation or bankruptcy price to explain.\nNothing is traded from here: "
                f"you are watching. Come back with {teach} when the account you watch holds "
                f"a {self.market} position; escape goes back{elsewhere}.")  # fmt: skip

    @staticmethod
    def liq_text(e: Explanation, tick: Decimal) -> str:
        return fmt.liq_label(e.liq_state, e.liquidation_price, e.mark, tick)

    def render_whatif(self, e: Explanation, tick: Decimal) -> None:
        others = whatif.other_notional(self.health, e.market) if self.health else None
        line = whatif.from_explanation(e, others)
        p = self.what_if_price()
        assert p is not None
        eq, mmr = line.equity_at(p), line.mmr_at(p)
        status = line.status_at(p)
        variables = getattr(self.app, "theme_variables", {}) or {}
        usage = fmt.pct(mmr / eq, 1) if eq > 0 else "∞"
        move = (p - e.mark) / e.mark
        word = (f" {STATUS_WORDS[status]} ", f"bold reverse {colour(variables, status)}")
        head = Content.assemble(
            ("What if ", "bold"), f"p = {fmt.price(p, tick)} ({fmt.pct(move, 2, sign=True)}): ",
            f"E {fmt.usd(eq)} · MMR {fmt.usd_up(mmr)} · E−MMR {fmt.usd_down(eq - mmr, sign=True)} ",
            word,
        ) if self.has_class("-narrow") else Content.assemble(
            ("What if ", "bold"), (f"{e.market}", "bold"), " moved to\n",
            f"  p = {fmt.price(p, tick)}  ({fmt.pct(move, 2, sign=True)} from the mark)\n",
            f"  E(p)   = {fmt.usd(eq):>14}\n",
            # the requirement rounded up, the room above it down: neither looks better
            f"  MMR(p) = {fmt.usd_up(mmr):>14}   usage {usage}\n",
            f"  E − MMR = {fmt.usd_down(eq - mmr, sign=True):>13}\n",
            "  status at p: ", word,
        )  # fmt: skip
        self.query_one("#whatif-head", Static).update(head)
        marks = {"mark": e.mark, "p": p}
        if e.liquidation_price is not None:
            marks["liq"] = e.liquidation_price
        if e.bankruptcy_price is not None:
            marks["bk"] = e.bankruptcy_price
        self.query_one(WhatIfPlot).show(line, marks, tick)

    def on_resize(self) -> None:
        self.call_after_refresh(self.render_all)  # the breakpoint class may have changed

    # --- actions ------------------------------------------------------------------------------
    def action_close(self) -> None:
        self.dismiss()

    def action_step(self, direction: int) -> None:
        if self.expl is None:
            return
        tick = self.tick()
        base = self.what_if_price() or self.expl.mark
        moved = base + direction * STEP * self.expl.mark
        self.target = max(tick, (moved / tick).to_integral_value() * tick)
        self.render_all()

    def action_reset(self) -> None:
        self.target = None
        self.render_all()

    def action_focus_price(self) -> None:
        self.query_one("#price", Input).focus()

    def action_digits(self) -> None:
        self.places = 6 if self.places == 2 else 2
        self.render_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.replace(",", "").strip()
        try:
            value = Decimal(text)
        except ArithmeticError:
            value = Decimal(0)
        if value > 0:
            self.target = value
            event.input.value = ""
            self.render_all()
        else:
            self.notify(f"not a price: {event.value!r}", severity="warning")
        self.query_one("#derivation").focus()
