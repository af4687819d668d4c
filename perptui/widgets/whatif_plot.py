"""Equity against the maintenance line as one price moves (the teach view's what-if chart)."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from textual.content import Content
from textual.widget import Widget

from perptui import format as fmt
from perptui import whatif
from perptui.derivation import colour
from perptui.stress import STATUS_WORDS

# --- the what-if chart ------------------------------------------------------------------------

THRESHOLDS = {"liq", "bk"}  # marks where a status begins: their rows show the one past them


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

    def _price_text(self, p: Decimal, names: Collection[str], mark: Decimal) -> str:
        """A row's price: the liquidation or bankruptcy price on its own row rounded toward
        the mark, as the title, the positions table and the main chart show it (92,147.5,
        where half-even read 92,147.4 beside "liq 92,147.5"); any other on the tick."""
        own = any(n in names and self.marks.get(n) == p for n in THRESHOLDS)
        return fmt.liq_price(p, mark, self.tick) if own else fmt.price(p, self.tick)

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
                row = int(((hi - p) / step).to_integral_value())
                if row not in labels and row < len(prices):  # drawn at the marked price
                    prices[row] = p  # itself: at the row's own, "◀ liq" sat on a WATCH row
                labels.setdefault(row, []).append(name)
        variables = getattr(self.app, "theme_variables", {}) or {}
        out = [Content.from_markup(f"[dim]{'price':>11} █ equity E(p)  ┃ maintenance MMR(p)[/]")]
        for i, p in enumerate(prices):
            e, mmr = line.equity_at(p), line.mmr_at(p)
            filled = int(max(Decimal(0), e) / scale) if e > 0 else 0
            at = min(bar_w - 1, int(mmr / scale))
            cells = ["┃" if j == at else ("█" if j < filled else "·") for j in range(bar_w)]
            tag = " ".join(labels.get(i, ()))
            status = line.status_at(p)
            if set(labels.get(i, ())) & THRESHOLDS:
                # at p_liq itself E = MMR, which is not yet liquidation: the row says what a
                # tick past it brings, so "◀ liq" sits on LIQ and "◀ bk" on BANKRUPT
                beyond = self.tick if p > line.mark else -self.tick
                status = line.status_at(p + beyond)
            bar = "".join(cells)
            text = f"{self._price_text(p, labels.get(i, ()), line.mark):>11} "
            out.append(Content.assemble(
                text, (bar, colour(variables, status)),
                f" {STATUS_WORDS[status]:<8} ", (f"◀ {tag}" if tag else "", "bold"),
            ))  # fmt: skip
        return Content("\n").join(out)
