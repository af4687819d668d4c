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

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from exchange_local.engine import MarketState
from exchange_local.errors import ExchangeError
from exchange_local.explain import Explanation, Term
from exchange_local.health import AccountHealth
from perptui import format as fmt
from perptui import whatif
from perptui.stress import STATUS_WORDS
from perptui.venues.base import Venue, describe

POLL_S = 0.5  # ~2 Hz: cheap for the local venue, and the numbers never look stale
STEP = Decimal("0.01")  # one key press moves the what-if price by 1 % of the mark
STATUS_COLOURS = {  # theme variables, first one defined wins (perptui's theme, then Textual's)
    "ok": ("success",),
    "warning": ("warn", "warning"),
    "liquidating": ("liq", "error"),
    "backstop": ("danger", "error"),
    "bankrupt": ("danger", "error"),
}


def colour(variables: dict[str, str], status: str) -> str:
    """A status colour from the app's theme, so the cb theme applies; words carry the meaning."""
    for name in STATUS_COLOURS[status]:
        if name in variables:
            return variables[name]
    return "red" if status != "ok" else "green"


def trim(value: Decimal, places: int = 8) -> str:
    """A coin amount or a fraction as written by hand: `0.0975`, `-0.5`, `1,234.5`."""
    text = fmt.num(value, places)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- the derivation, as Rich tables (one per step) ----------------------------------------------


class Derivation:
    """Builds the steps from one Explanation (+ the health record for the numbers that went
    into each term). `places` is the money precision: 2 reads well, 6 is the ledger's quantum
    (sums of rounded terms can then be checked to the last cent)."""

    def __init__(
        self, expl: Explanation, health: AccountHealth | None, state: MarketState | None,
        places: int = 2,
    ) -> None:  # fmt: skip
        self.e = expl
        self.h = health
        self.tick = state.tick if state else Decimal("0.01")
        self.places = places

    def money(self, v: Decimal) -> str:
        return fmt.num(v, self.places)

    def px(self, v: Decimal) -> str:
        return fmt.price(v, self.tick)

    def table(self, title: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", show_header=False,
                  box=None, expand=True, padding=(0, 1))  # fmt: skip
        t.add_column("term", ratio=2, overflow="fold")
        t.add_column("formula", ratio=3, style="dim", overflow="fold")
        t.add_column("value", justify="right", no_wrap=True)
        return t

    def terms(self, t: Table, terms: tuple[Term, ...], numbers: list[str] | None = None,
              coins: bool = False) -> None:  # fmt: skip
        for i, term in enumerate(terms):
            formula = term.formula
            if numbers and i < len(numbers) and numbers[i]:
                formula += f"\n= {numbers[i]}"
            value = trim(term.value) if coins else self.money(term.value)
            t.add_row(f"  {term.name}", formula, value)

    def total(self, t: Table, label: str, value: Decimal, coins: bool = False) -> None:
        t.add_row(Text(f"= {label}", style="bold"), "",
                  Text(trim(value) if coins else self.money(value), style="bold"))  # fmt: skip

    # the numbers behind each term, from the health record when it lines up with the terms
    def collateral_numbers(self) -> list[str]:
        if self.h is None or len(self.h.collateral) != len(self.e.collateral_terms):
            return []
        return [f"{trim(c.amount)} × {trim(c.price)}" + (f" × {trim(c.weight)}"
                if c.amount > 0 else "") for c in self.h.collateral]  # fmt: skip

    def position_numbers(self, kind: str) -> list[str]:
        if self.h is None:
            return []
        rows = []
        for term in self.e.unsettled_terms:  # both term lists follow the account's markets
            market = term.name.split(" ")[0]
            p = next((q for q in self.h.positions if q.market == market), None)
            if p is None:
                rows.append("")
            elif kind == "pnl":
                rows.append(f"{trim(p.size)} × ({trim(p.mark_price)} − {trim(p.settle_price)})")
            else:
                rows.append(f"{trim(p.mmf)} × {trim(abs(p.size))} × {trim(p.mark_price)}")
        return rows

    def tables(self) -> list[Table]:
        e = self.e
        out = []
        t = self.table("1 · Equity  E_mm = C_tot + unsettled PnL")
        self.terms(t, e.collateral_terms, self.collateral_numbers())
        self.total(t, "C_tot", e.equity_terms[0].value)
        self.terms(t, e.unsettled_terms, self.position_numbers("pnl"))
        self.total(t, "unsettled PnL", e.equity_terms[1].value)
        self.total(t, "E_mm = C_tot + unsettled PnL", e.equity)
        out.append(t)

        t = self.table("2 · Maintenance  MMR = Σ MMF × |s| × M")
        self.terms(t, e.mmr_terms, self.position_numbers("mmr"))
        self.total(t, "MMR", e.mmr)
        own = e.mmf * abs(e.size) * e.mark
        t.add_row("  MMR_o (other markets)", "MMR − this market's maintenance",
                  self.money(e.mmr - own))  # fmt: skip
        out.append(t)

        t = self.table(f"3 · k = weighted {e.underlying} coins held as collateral")
        if e.k_terms:
            self.terms(t, e.k_terms, coins=True)
        else:
            t.add_row(f"  no {e.underlying} held", "nothing moves with the mark but the position",
                      "0")  # fmt: skip
        self.total(t, "k", e.k, coins=True)
        out.append(t)

        out.append(self.quotient(
            "4 · Liquidation price: E(p) = MMR(p)",
            "p_liq = (E_mm − s·M − k·M − MMR_o) / (|s|·MMF − s − k)",
            e.liquidation_numerator, e.liquidation_denominator, e.liquidation_price, liq=True,
        ))  # fmt: skip
        out.append(self.quotient(
            "5 · Bankruptcy price: E(p) = 0",
            "p_bk = (s·M + k·M − E_mm) / (s + k)  =  M − E_mm / (s + k)",
            e.bankruptcy_numerator, e.bankruptcy_denominator, e.bankruptcy_price, liq=False,
        ))  # fmt: skip
        out.append(self.zero())
        return out

    def quotient(
        self,
        title: str,
        formula: str,
        numerator: tuple[Term, ...],
        denominator: tuple[Term, ...],
        result: Decimal | None,
        liq: bool,
    ) -> Table:
        e = self.e
        t = self.table(f"{title}\n  {formula}")
        t.add_row("numerator", "", "")
        self.terms(t, numerator)
        num = sum((x.value for x in numerator), Decimal(0))
        self.total(t, "numerator", num)
        t.add_row("denominator (coins)", "", "")
        self.terms(t, denominator, coins=True)
        den = sum((x.value for x in denominator), Decimal(0))
        self.total(t, "denominator", den, coins=True)
        name = "p_liq" if liq else "p_bk"
        if den == 0:
            why = "the denominator is 0: no price of this market makes it happen"
            t.add_row(Text(f"{name}: none", style="bold"), why, "")
        elif result is None:
            why = f"{self.money(num)} / {trim(den)} ≤ 0: no positive price solves it"
            t.add_row(Text(f"{name}: none", style="bold"), why, "")
        else:
            t.add_row(Text(f"= {name}", style="bold"),
                      f"numerator / denominator = {self.money(num)} / {trim(den)}",
                      Text(fmt.num(result, 6), style="bold"))  # fmt: skip
            shown = fmt.liq_price(result, e.mark, self.tick) if liq else self.px(result)
            move = (result - e.mark) / e.mark
            way = "below" if move < 0 else "above"
            how = "rounded toward the mark" if liq else "rounded to the tick"
            where = f"{how}; {fmt.pct(abs(move))} {way} the mark {self.px(e.mark)}"
            t.add_row(Text(f"{name} shown {shown}", style="bold"), where, "")
        if liq and e.liq_state != "ok":
            word = "now: E_mm < MMR already" if e.liq_state == "now" else "bankrupt: E_mm < 0"
            t.add_row(Text(f"state: {word}", style="bold reverse"),
                      "the price above is where the account would recover", "")  # fmt: skip
        return t

    def zero(self) -> Table:
        e = self.e
        t = self.table("6 · Zero price (what a backstop closes at)")
        if e.pmpd is None or e.zero_price is None:
            t.add_row("  none", "no position, or MMR = 0: no share of equity to take", "")
            return t
        t.add_row(Text("PMPD = MMF × E_mm / MMR", style="italic"),
                  f"{trim(e.mmf)} × {self.money(e.equity)} / {self.money(e.mmr)}",
                  trim(e.pmpd, 10))  # fmt: skip
        self.terms(t, e.zero_price_terms)
        self.total(t, "zero price", e.zero_price)
        note = ("closing every position at its zero price leaves the account at exactly 0; "
                "it equals p_bk for one position with no same-underlying collateral")  # fmt: skip
        t.add_row("", note, "")
        return t


# --- the what-if chart ------------------------------------------------------------------------


class WhatIfPlot(Widget):
    """Equity (bar) against the maintenance line (┃) over a price range, one row per price,
    with the liquidation, bankruptcy, mark and what-if prices marked; words, not only colour."""

    DEFAULT_CSS = """
    WhatIfPlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.line: whatif.WhatIf | None = None
        self.marks: dict[str, Decimal] = {}
        self.tick = Decimal("0.01")

    def show(self, line: whatif.WhatIf | None, marks: dict[str, Decimal], tick: Decimal) -> None:
        self.line, self.marks, self.tick = line, marks, tick
        self.refresh()

    def price_range(self) -> tuple[Decimal, Decimal]:
        assert self.line is not None
        m = self.line.mark
        points = [p for p in self.marks.values() if m / 4 <= p <= m * 4] or [m]
        lo, hi = min(points), max(points)
        if hi - lo < m * Decimal("0.2"):
            mid = (hi + lo) / 2
            lo, hi = mid - m * Decimal("0.1"), mid + m * Decimal("0.1")
        pad = (hi - lo) * Decimal("0.08")
        return max(lo - pad, m / 100), hi + pad

    def render(self) -> Content:
        if self.line is None:
            return Content("")
        line = self.line
        rows = max(3, self.size.height - 1)
        lo, hi = self.price_range()
        step = (hi - lo) / (rows - 1)
        prices = [hi - step * i for i in range(rows)]
        bar_w = max(8, self.size.width - 31)
        top = max(max(line.equity_at(p), line.mmr_at(p)) for p in (lo, hi))
        scale = top / bar_w if top > 0 else Decimal(1)
        labels: dict[int, list[str]] = {}
        for name, p in self.marks.items():
            if lo - step / 2 <= p <= hi + step / 2:
                labels.setdefault(int(((hi - p) / step).to_integral_value()), []).append(name)
        variables = getattr(self.app, "theme_variables", {}) or {}
        out = [Content.from_markup(f"[dim]{'price':>11} █ equity E(p)  ┃ maintenance MMR(p)[/]")]
        for i, p in enumerate(prices):
            e, mmr = line.equity_at(p), line.mmr_at(p)
            filled = int(max(Decimal(0), e) / scale) if e > 0 else 0
            at = min(bar_w - 1, int(mmr / scale))
            cells = ["┃" if j == at else ("█" if j < filled else "·") for j in range(bar_w)]
            status = line.status_at(p)
            bar = "".join(cells)
            tag = " ".join(labels.get(i, ()))
            text = f"{fmt.price(p, self.tick):>11} "
            out.append(Content.assemble(
                text, (bar, colour(variables, status)),
                f" {STATUS_WORDS[status]:<8} ", (f"◀ {tag}" if tag else "", "bold"),
            ))  # fmt: skip
        return Content("\n").join(out)


# --- the screen -------------------------------------------------------------------------------


class ExplainScreen(Screen[None]):
    """`ExplainScreen(venue, market)`: the derivation and the what-if of one position."""

    DEFAULT_CSS = """
    ExplainScreen { layout: vertical; }
    ExplainScreen #explain-title { height: auto; padding: 0 1; background: $panel; }
    ExplainScreen #explain-body { height: 1fr; }
    ExplainScreen #derivation { width: 1fr; padding: 0 1; }
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
                yield Static(id="no-position")
            with Vertical(id="whatif"):
                yield Static(id="whatif-head")
                yield Input(placeholder="exact price, then enter", id="price",
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
        key = (self.expl, self.health, self.places, self.error)
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
            no_pos.update(f"There is no {self.market} position, so there is no liquidation or "
                          "bankruptcy price to explain.\nOpen a position and come back with t; "
                          "escape goes back.")  # fmt: skip
            no_pos.display = True
            whatif_panel.display = False
            for s in steps:
                s.display = False
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
            f"{fmt.price(e.bankruptcy_price, tick)} · zero {fmt.price(e.zero_price, tick)}",
            stale,
        ))  # fmt: skip
        tables = Derivation(e, self.health, self.state, self.places).tables()
        for static, table in zip(steps, tables, strict=True):
            static.display = True
            static.update(table)

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
            f"E {fmt.usd(eq)} · MMR {fmt.usd(mmr)} · E−MMR {fmt.usd(eq - mmr, sign=True)} ",
            word,
        ) if self.has_class("-narrow") else Content.assemble(
            ("What if ", "bold"), (f"{e.market}", "bold"), " moved to\n",
            f"  p = {fmt.price(p, tick)}  ({fmt.pct(move, 2, sign=True)} from the mark)\n",
            f"  E(p)   = {fmt.usd(eq):>14}\n",
            f"  MMR(p) = {fmt.usd(mmr):>14}   usage {usage}\n",
            f"  E − MMR = {fmt.usd(eq - mmr, sign=True):>13}\n",
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
