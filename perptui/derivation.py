"""A position's liquidation, bankruptcy and zero prices taken apart into the terms
`exchange_local.explain` sums, as Rich tables a student can check by hand (the teach view).

No Textual here: the tables are plain Rich renderables, tested as text.
"""

from __future__ import annotations

from decimal import Decimal

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
        self.narrow = width is not None and width < NARROW  # the tables' width, when known
        self.tick = state.tick if state else Decimal("0.01")
        self.places = places

    def money(self, v: Decimal) -> str:
        return fmt.num(v, self.places)

    def px(self, v: Decimal) -> str:
        return fmt.price(v, self.tick)

    def table(self, title: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", show_header=False,
                  box=None, expand=True, padding=(0, 1))  # fmt: skip
        if self.narrow:
            # Rich gives a ratio column less than its min_width when the table is tight: at
            # 100 columns "collateral" broke mid-word ("collatera" / "l"). A fixed width holds.
            t.add_column("term", width=TERM_WIDTH, overflow="fold")
        else:
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
            indent = "" if self.narrow else "  "  # narrow: the column's room is for words
            t.add_row(f"{indent}{term.name}", formula, value)

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
            shown = fmt.liq_price(result, e.mark, self.tick)
            move = (result - e.mark) / e.mark
            way = "below" if move < 0 else "above"
            where = (f"on the tick toward the mark; {fmt.pct(abs(move))} {way} the mark "
                     f"{self.px(e.mark)}")  # fmt: skip
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
