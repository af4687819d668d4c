"""A position's liquidation, bankruptcy and zero prices taken apart into the terms
`exchange_local.explain` sums, as Rich tables a student can check by hand (the teach view).

No Textual here: the tables are plain Rich renderables, tested as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from exchange_local.engine import MarketState
from exchange_local.explain import Explanation, Term
from exchange_local.health import AccountHealth
from perptui import format as fmt

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


NARROW = 60  # a table this narrow gets a term column of fixed width
TERM_WIDTH = 11  # "collateral" and "maintenance" on one line each
PADDING = 2  # cells of padding a column of these tables has, one either side
Cell = str | Text


def plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def longest_word(cells: list[Cell]) -> int:
    """Cells the longest word of these cells needs (leading spaces go with a line's first)."""
    longest = 0
    for cell in cells:
        for line in plain(cell).split("\n"):
            indent = len(line) - len(line.lstrip(" "))
            for i, word in enumerate(line.split()):
                longest = max(longest, cell_len(word) + (indent if i == 0 else 0))
    return longest


def groups(line: str) -> list[str]:
    """A formula's words, a group in parentheses kept as one: "(s + k)" is a single term of
    the formula, and a break inside it ("(s +" / "k)") reads as two."""
    out: list[str] = []
    depth, current = 0, ""
    for ch in line:
        depth += (ch == "(") - (ch == ")")
        if ch == " " and depth <= 0:
            if current:
                out.append(current)
            current = ""
        else:
            current += ch
    return [*out, current] if current else out


def wrap_formula(text: str, width: int) -> str:
    """`text` in lines of at most `width` cells, broken at spaces outside parentheses, inside
    a group only where the group alone is longer than a line, never inside a word (Rich,
    left to it, broke "(s + k)" after its "+", and a narrow term column "same-underlyin" /
    "g"). A word longer than the line stays whole; Rich folds it, there being no space."""
    lines = []
    for line in text.split("\n"):
        if cell_len(line) <= width:
            lines.append(line)
            continue
        current = ""
        for group in groups(line):
            for word in [group] if cell_len(group) <= width else group.split(" "):
                if current and cell_len(current) + 1 + cell_len(word) <= width:
                    current += " " + word
                else:
                    if current:
                        lines.append(current)
                    current = word
        lines.append(current)
    return "\n".join(lines)


def wrap_title_formula(formula: str, width: int, indent: str = "  ") -> str:
    """A step's formula under its title, its forms ("p_bk = (…) / (s + k)  =  M − E_mm / (s +
    k)") each kept whole on a line where the line is too narrow for both."""
    room = width - cell_len(indent)
    if cell_len(formula) <= room:
        return indent + formula
    lines: list[str] = []
    for i, form in enumerate(formula.split("  =  ")):
        form = form if i == 0 else "=  " + form
        if lines and cell_len(lines[-1]) + 2 + cell_len(form) <= room:
            lines[-1] += "  " + form
        else:
            lines += wrap_formula(form, room).split("\n")
    return "\n".join(indent + line for line in lines)


@dataclass
class Sheet:
    """One step's rows before they become a table: the columns are sized from all of them."""

    title: str
    formula: str = ""  # the step's formula, under its title
    rows: list[tuple[Cell, Cell, Cell]] = field(default_factory=list)

    def add_row(self, term: Cell, formula: Cell, value: Cell) -> None:
        self.rows.append((term, formula, value))


class Derivation:
    """Builds the steps from one Explanation (+ the health record for the numbers that went
    into each term). `places` is the money precision: 2 reads well, 6 is the ledger's quantum
    (sums of rounded terms can then be checked to the last cent)."""

    def __init__(
        self, expl: Explanation, health: AccountHealth | None, state: MarketState | None,
        places: int = 2, width: int | None = None,
    ) -> None:  # fmt: skip
        self.e = expl
        self.h = health
        self.width = width
        self.narrow = width is not None and width < NARROW  # the tables' width, when known
        self.state = state
        self.tick = state.tick if state else Decimal("0.01")
        self.places = places

    def money(self, v: Decimal) -> str:
        return fmt.num(v, self.places)

    def money_up(self, v: Decimal) -> str:
        """A requirement (MMR), rounded up: never shown less than is required."""
        return fmt.num(v, self.places, rounding=ROUND_CEILING)

    def px(self, v: Decimal) -> str:
        return fmt.price(v, self.tick)

    def market_px(self, market: str, v: Decimal) -> str:
        """A price of `market` on its tick's digits (ETH's 2,997.20, BTC's 99,838.0; "2,997.2"
        and "99,838" beside them elsewhere read as other numbers): this market's tick, else
        the exchange's default market's, else every digit the price has."""
        if self.state is not None and market == self.state.symbol and v % self.tick == 0:
            return self.px(v)
        return fmt.market_price(market, v)

    def asset_px(self, asset: str, v: Decimal) -> str:
        """An asset's price (its index) on the tick of the market on it, if any."""
        if self.state is not None and asset == self.state.underlying:
            return self.market_px(self.state.symbol, v)
        market = next((m for m in fmt.MARKET_STEPS if m.split("-")[0] == asset), None)
        return fmt.market_price(market, v) if market is not None else trim(v, 10)

    def table(self, title: str, formula: str = "") -> Sheet:
        return Sheet(title, formula)

    def widths(self, sheets: list[Sheet]) -> list[tuple[int, int, int] | None]:
        """(term, formula, value) columns of each step for the known width: the value column
        as wide as the step's widest number, the term column the same in every step, about
        2/5 of the rest but never narrower than the longest word of a term where the formula
        columns can spare it ("same-underlyin" / "g" at 120 columns)."""
        if self.width is None:
            return [None for _ in sheets]
        values = [max((cell_len(plain(r[2])) for r in sheet.rows), default=1) or 1
                  for sheet in sheets]  # fmt: skip
        rooms = [max(2, self.width - v - 3 * PADDING) for v in values]
        spares = [room - min(longest_word([r[1] for r in sheet.rows]), room // 2)
                  for sheet, room in zip(sheets, rooms, strict=True)]  # fmt: skip
        need = longest_word([r[0] for sheet in sheets for r in sheet.rows])
        base = TERM_WIDTH if self.narrow else min(rooms) * 2 // 5
        term = max(base, min(need, *spares))
        return [(min(term, room - 1), room - min(term, room - 1), value)
                for room, value in zip(rooms, values, strict=True)]  # fmt: skip

    def render(self, sheet: Sheet, widths: tuple[int, int, int] | None = None) -> Table:
        title = sheet.title
        if sheet.formula:
            title += "\n" + (wrap_title_formula(sheet.formula, self.width) if self.width
                             else "  " + sheet.formula)  # fmt: skip
        t = Table(title=title, title_justify="left", title_style="bold", show_header=False,
                  box=None, expand=True, padding=(0, 1))  # fmt: skip
        if widths is not None:
            term, formula, value = widths
            t.add_column("term", width=term, overflow="fold")
            t.add_column("formula", width=formula, style="dim", overflow="fold")
            t.add_column("value", width=value, justify="right", no_wrap=True)
            for a, b, c in sheet.rows:
                t.add_row(a, wrap_formula(b, formula) if isinstance(b, str) else b, c)
            return t
        if self.narrow:
            # Rich gives a ratio column less than its min_width when the table is tight: at
            # 100 columns "collateral" broke mid-word ("collatera" / "l"). A fixed width holds.
            t.add_column("term", width=TERM_WIDTH, overflow="fold")
        else:
            t.add_column("term", ratio=2, overflow="fold")
        t.add_column("formula", ratio=3, style="dim", overflow="fold")
        t.add_column("value", justify="right", no_wrap=True)
        for row in sheet.rows:
            t.add_row(*row)
        return t

    def terms(self, t: Sheet, terms: tuple[Term, ...], numbers: list[str] | None = None,
              coins: bool = False, up: bool = False) -> None:  # fmt: skip
        """`up`: requirements, rounded up as the account panel shows them."""
        money = self.money_up if up else self.money
        for i, term in enumerate(terms):
            formula = term.formula
            if numbers and i < len(numbers) and numbers[i]:
                formula += f"\n= {numbers[i]}"
            value = trim(term.value) if coins else money(term.value)
            indent = "" if self.narrow else "  "  # narrow: the column's room is for words
            t.add_row(f"{indent}{term.name}", formula, value)

    def total(self, t: Sheet, label: str, value: Decimal, coins: bool = False,
              up: bool = False) -> None:  # fmt: skip
        shown = trim(value) if coins else self.money_up(value) if up else self.money(value)
        t.add_row(Text(f"= {label}", style="bold"), "", Text(shown, style="bold"))

    # the numbers behind each term, from the health record when it lines up with the terms
    def collateral_numbers(self) -> list[str]:
        if self.h is None or len(self.h.collateral) != len(self.e.collateral_terms):
            return []
        return [f"{trim(c.amount)} × {self.asset_px(c.asset, c.price)}"
                + (f" × {trim(c.weight)}" if c.amount > 0 else "")
                for c in self.h.collateral]  # fmt: skip

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
                rows.append(f"{trim(p.size)} × ({self.market_px(market, p.mark_price)} − "
                            f"{self.market_px(market, p.settle_price)})")  # fmt: skip
            else:
                rows.append(f"{trim(p.mmf)} × {trim(abs(p.size))} × "
                            f"{self.market_px(market, p.mark_price)}")  # fmt: skip
        return rows

    def tables(self) -> list[Table]:
        sheets = self.sheets()
        return [self.render(sheet, widths)
                for sheet, widths in zip(sheets, self.widths(sheets), strict=True)]  # fmt: skip

    def sheets(self) -> list[Sheet]:
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
        self.terms(t, e.mmr_terms, self.position_numbers("mmr"), up=True)
        self.total(t, "MMR", e.mmr, up=True)
        own = e.mmf * abs(e.size) * e.mark
        t.add_row("  MMR_o (other markets)", "MMR − this market's maintenance",
                  self.money_up(e.mmr - own))  # fmt: skip
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
    ) -> Sheet:
        e = self.e
        t = self.table(title, formula)
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
            shown = fmt.liq_price(result, e.mark, self.tick)
            move = (result - e.mark) / e.mark
            way = "below" if move < 0 else "above"
            # the distance toward zero: never further from the mark than it is
            where = (f"on the tick toward the mark; {fmt.distance(abs(move), 2)} {way} the "
                     f"mark {self.px(e.mark)}")  # fmt: skip
            t.add_row(Text(f"{name} shown {shown}", style="bold"), where, "")
        if liq and e.liq_state != "ok":
            word = "now: E_mm < MMR already" if e.liq_state == "now" else "bankrupt: E_mm < 0"
            t.add_row(Text(f"state: {word}", style="bold reverse"),
                      "the price above is where the account would recover", "")  # fmt: skip
        return t

    def zero(self) -> Sheet:
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
        if e.zero_price > 0:  # rounded as p_bk is, so one position's two prices read alike
            t.add_row(Text(f"zero shown {fmt.liq_price(e.zero_price, e.mark, self.tick)}",
                           style="bold"), "on the tick toward the mark, as p_bk", "")  # fmt: skip
        note = ("closing every position at its zero price leaves the account at exactly 0; "
                "it equals p_bk for one position with no same-underlying collateral")  # fmt: skip
        t.add_row("", note, "")
        return t
