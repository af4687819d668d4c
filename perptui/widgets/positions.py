"""Positions: every position's liquidation and bankruptcy price and how far away they are.

Why a keyed DataTable updated cell by cell: positions change a few numbers at a time, and
rebuilding the table would reset the cursor the trader uses to pick what `x` closes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.widgets import DataTable

from exchange_local.engine import MarketState
from exchange_local.health import PositionRisk
from exchange_local.orders import OrderInfo
from perptui import format as fmt
from perptui.theme import rich_colour
from perptui.venues.base import VenueLiquidation
from perptui.widgets.keyed_table import KeyedTable

COLUMNS = ("Market", "Side", "Size", "Notional", "Entry", "Mark", "Liq", "Bkr", "Dist",
           "Unsettled", "uPnL", "Realised", "Funding", "ADL", "TP / SL")  # fmt: skip
NARROW_COLUMNS = ("Market", "Size", "Mark", "Liq", "Dist", "uPnL")
# Where the full form does not fit the table (it needs about 148 columns; at 120 it was cut
# after "Realised  Fu", so funding, ADL and an attached stop could not be seen), the table
# takes TUI.md's sketch of it: whole dollars of value, the ADL bars without their digit,
# "—/95,000.0", shorter headers, and without these columns: unsettled and realised PnL are
# the account's (its panel and the ledger), and neither says how near the position is to
# trouble. The bankruptcy price stays while it fits (at 120 columns it went with 20 columns
# free): it is what a liquidation lesson compares the liquidation price with.
MEDIUM_COLUMNS = ("Market", "Side", "Size", "Notional", "Entry", "Mark", "Liq", "Bkr", "Dist",
                  "uPnL", "Funding", "ADL", "TP / SL")  # fmt: skip
MEDIUM_LABELS = {"Notional": "Value", "TP / SL": "TP/SL"}  # the sketch's shorter headers
# Where even that does not fit (100 to 119 columns, a venue's liquidation price beside ours),
# these go one by one, toward the narrow form: the bankruptcy price (in the ticket's preview
# and the explain screen, t), the side (the size's sign says it), value, entry, ADL, funding,
# and last the attached TP and stop.
MEDIUM_DROPS = ("Bkr", "Side", "Notional", "Entry", "ADL", "Funding", "TP / SL")
Form = tuple[tuple[str, ...], bool]  # the column keys, and whether in the sketch's formats
CELL_PADDING = 1  # DataTable's default, on each side of a cell


def liq_text(p: PositionRisk, tick: Decimal) -> str:
    """MECHANICS section 3: "now" below maintenance, "bankrupt" below zero, — when none exists."""
    return fmt.liq_label(p.liquidation_state, p.liquidation_price, p.mark_price, tick)


def distance_text(p: PositionRisk) -> str:
    """`↓9.0%` (a fall liquidates: a long) or `↑16.7%` (a rise does: a short); — when no
    price would; `0.0%` without an arrow once liquidation is here ("now" or "bankrupt").

    Why the side and not the liquidation price against the mark: once the mark has passed
    the liquidation price that comparison turns round, and a short under liquidation read
    `↓0.0%`. Why no arrow then: the arrow says which way trouble lies, and beside "Liq now"
    there is no way left to go; `↑0.0%` would read as one more tick to go."""
    if p.liquidation_state != "ok":
        return fmt.distance(p.distance_to_liquidation or Decimal(0))
    if p.distance_to_liquidation is None or p.liquidation_price is None:
        return fmt.DASH
    arrow = "↓" if p.size > 0 else "↑"
    return f"{arrow}{fmt.distance(p.distance_to_liquidation)}"  # toward zero: never further


def adl_text(quintile: int | None, digit: bool = True) -> str:
    """`▮▮▮▯▯ 3`: 5 = first in line to be auto-deleveraged; without the `digit` (the
    medium form) the bars alone say it."""
    if quintile is None:
        return fmt.DASH
    return "▮" * quintile + "▯" * (5 - quintile) + (f" {quintile}" if digit else "")


def tp_sl_text(market: str, orders: list[OrderInfo], tick: Decimal, between: str = " / ") -> str:
    tp = [o.trigger_price for o in orders if o.market == market and o.type == "take_profit"]
    sl = [o.trigger_price for o in orders if o.market == market and o.type == "stop_market"]
    show = lambda xs: fmt.price(xs[0], tick) if xs and xs[0] is not None else fmt.DASH  # noqa: E731
    return f"{show(tp)}{between}{show(sl)}"


Colours = dict[str, str]  # theme variables: profit, loss, liq (shared/TUI.md section 6)
PLAIN: Colours = {"profit": "", "loss": "", "liq": "bold"}


def signed(value: Decimal, text: str, colours: Colours) -> Text:
    style = "" if value == 0 else (colours["profit"] if value > 0 else colours["loss"])
    return Text(text, style=style, justify="right")


def position_cells(
    p: PositionRisk,
    ms: MarketState,
    orders: list[OrderInfo],
    narrow: bool = False,
    colours: Colours = PLAIN,
    stale: bool = False,
    venue_liq: VenueLiquidation | None = None,
    form: Form | None = None,
) -> list[str | Text]:
    """The row's cells: in `form`'s columns and formats (see MEDIUM_COLUMNS), else in
    NARROW_COLUMNS (`narrow`) or COLUMNS."""
    columns, medium = form or (NARROW_COLUMNS if narrow else COLUMNS, False)
    side = "LONG" if p.size > 0 else "SHORT"
    liq = liq_text(p, ms.tick)
    cells: dict[str, str | Text] = {
        "Market": p.market,
        "Side": Text(side, style=colours["profit"] if p.size > 0 else colours["loss"]),
        "Size": Text(fmt.size(p.size, ms.lot, sign=True), justify="right"),
        "Notional": Text(
            fmt.num(p.notional, 0) if medium else fmt.usd(p.notional), justify="right"
        ),
        "Entry": Text(fmt.price(p.entry_price, ms.tick), justify="right"),
        "Mark": Text(fmt.price(p.mark_price, ms.tick), justify="right"),
        "Liq": Text(
            liq,
            style=f"bold {colours['liq']}" if liq in ("now", "bankrupt") else "",
            justify="right",
        ),
        "Bkr": Text(fmt.liq_price(p.bankruptcy_price, ms.mark, ms.tick), justify="right"),
        "Dist": Text(distance_text(p), justify="right"),
        "Unsettled": signed(p.unsettled_pnl, fmt.usd(p.unsettled_pnl, sign=True), colours),
        "uPnL": signed(p.unrealized_pnl, fmt.usd(p.unrealized_pnl, sign=True), colours),
        "Realised": signed(p.realized_pnl, fmt.usd(p.realized_pnl, sign=True), colours),
        "Funding": signed(-p.funding_paid, fmt.usd(-p.funding_paid, sign=True), colours),
        "ADL": adl_text(p.adl_quintile, digit=not medium),
        "TP / SL": tp_sl_text(p.market, orders, ms.tick, "/" if medium else " / "),
    }
    if venue_liq is not None:  # a watched real account: the venue's own figure beside ours
        theirs = fmt.price(venue_liq.price, ms.tick)
        flag = f" ≠{fmt.pct(venue_liq.difference, 1)}" if venue_liq.mismatch else " ="
        style = f"bold {colours['liq']}" if venue_liq.mismatch else ""
        cells["Liq"] = Text(f"{liq} (venue {theirs}{flag})", style=style, justify="right")
    if stale:  # numbers from a feed that went quiet: marked, never passed off as live
        for name in ("Mark", "Liq", "Dist", "uPnL", "Unsettled"):
            cell = cells[name]
            cells[name] = Text(f"{cell.plain if isinstance(cell, Text) else cell} ?",
                               style="dim strike", justify="right")  # fmt: skip
    return [cells[c] for c in columns]


def forms(narrow: bool) -> list[Form]:
    """The forms the table may take, widest first: the narrow form alone under 100 columns;
    else all columns, then the sketch's, then the sketch's less MEDIUM_DROPS one by one."""
    if narrow:
        return [(NARROW_COLUMNS, False)]
    return [(COLUMNS, False)] + [
        (tuple(c for c in MEDIUM_COLUMNS if c not in MEDIUM_DROPS[:n]), True)
        for n in range(len(MEDIUM_DROPS) + 1)
    ]


def form_width(labels: list[str], rows: list[list[str | Text]]) -> int:
    """Columns a DataTable needs for these headers and rows: each column as wide as its
    widest cell, with a cell's padding either side."""
    widths = [cell_len(label) for label in labels]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], cell.cell_len if isinstance(cell, Text) else cell_len(cell))
    return sum(w + 2 * CELL_PADDING for w in widths)


# What each sortable column sorts by, and which way first: the nearest liquidation, the
# biggest notional, the worst uPnL first; no column (None) keeps the exchange's order.
SORTS: dict[str, tuple[Callable[[PositionRisk], Any], bool]] = {
    "Market": (lambda p: p.market, False),
    "Size": (lambda p: abs(p.size), True),
    "Notional": (lambda p: p.notional, True),
    "Dist": (lambda p: (p.distance_to_liquidation is None, p.distance_to_liquidation or 0), False),
    "uPnL": (lambda p: p.unrealized_pnl, False),
    "Funding": (lambda p: -p.funding_paid, False),
    "ADL": (lambda p: p.adl_quintile or 0, True),
}
SORT_CYCLE = (None, "Dist", "Notional", "uPnL", "Market")  # the `o` key steps through these


def sorted_positions(positions: list[PositionRisk], column: str | None, reverse: bool
                     ) -> list[PositionRisk]:  # fmt: skip
    """The rows in the user's chosen order (ties keep the exchange's order: a stable sort)."""
    if column is None:
        return list(positions)
    key, descending = SORTS[column]
    return sorted(positions, key=key, reverse=descending != reverse)


def theme_colours(variables: dict[str, str]) -> Colours:
    return {k: rich_colour(variables.get(k, PLAIN[k])) for k in PLAIN}


class PositionsTable(KeyedTable):
    """One row per position, keyed by market; the cursor row is the "selected position"."""

    DEFAULT_CSS = """
    PositionsTable { height: 1fr; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.narrow = False  # set by the screen under 100 columns
        self.form: Form = (COLUMNS, False)  # what the table shows: show() fits it to the width
        self._columns_for: Form | None = None
        self.sort_column: str | None = None  # None: the exchange's order
        self.sort_reverse = False
        self._last: tuple[list[PositionRisk], dict[str, MarketState], list[OrderInfo], bool,
                          dict[str, VenueLiquidation] | None] | None = None  # fmt: skip

    def on_mount(self) -> None:
        self._ensure_columns()

    def on_resize(self) -> None:
        """Another width may take another form: fitted again at once, not at the next frame
        (on a test's manual clock none may come)."""
        if self._last is not None:
            self.show(*self._last)

    def _ensure_columns(self) -> None:
        if self._columns_for == self.form:
            return
        self.clear(columns=True)
        for name in self.form[0]:
            self.add_column(self._label(name), key=name)
        self._columns_for = self.form

    def _fit(self, rows: list[tuple[PositionRisk, MarketState, VenueLiquidation | None]],
             orders: list[OrderInfo], colours: Colours, stale: bool) -> Form:  # fmt: skip
        """The widest form whose columns all fit the table's width (the last one where none
        does; the full one before the table has a width)."""
        options = forms(self.narrow)
        width = self.scrollable_content_region.width
        if not width:
            return options[0]
        for form in options:
            labels = [self._label(name, form[1]) for name in form[0]]
            cells = [position_cells(p, ms, orders, self.narrow, colours, stale, venue_liq, form)
                     for p, ms, venue_liq in rows]  # fmt: skip
            if form_width(labels, cells) <= width:
                return form
        return options[-1]

    def _label(self, name: str, medium: bool | None = None) -> str:
        """The header: the key, or the sketch's shorter word in its formats (`medium`, else
        as the table shows them now), with the sort's arrow on the sorted column."""
        medium = self.form[1] if medium is None else medium
        label = MEDIUM_LABELS.get(name, name) if medium else name
        if name != self.sort_column:
            return label
        _, descending = SORTS[name]
        return f"{label} {'▼' if descending != self.sort_reverse else '▲'}"

    # --- the user's sort ------------------------------------------------------------------
    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        """Order the rows by a column (None: as the exchange lists them); the cursor stays on
        the position it was on, so `x` still closes what the trader picked."""
        self.sort_column, self.sort_reverse = column, reverse
        for key, col in self.columns.items():
            col.label = Text(self._label(str(key.value)))
        if self._last is not None:
            self.show(*self._last)
        self.refresh()

    def cycle_sort(self) -> str | None:
        """The `o` key: nearest liquidation, biggest notional, worst uPnL, market, none; a
        column the table does not show at this width is stepped over (a sort by a column
        nobody can see looks like rows shuffled at random)."""
        shown = [c for c in SORT_CYCLE if c is None or c in self.form[0]]
        i = shown.index(self.sort_column) if self.sort_column in shown else 0
        self.sort_by(shown[(i + 1) % len(shown)])
        return self.sort_column

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        """A click on a sortable header sorts by it; a second click turns the order round."""
        column = str(event.column_key.value)
        if column in SORTS:
            same = column == self.sort_column
            self.sort_by(column, reverse=not self.sort_reverse if same else False)

    def show(
        self,
        positions: list[PositionRisk],
        markets: dict[str, MarketState],
        orders: list[OrderInfo],
        stale: bool = False,
        venue_liqs: dict[str, VenueLiquidation] | None = None,
    ) -> None:
        self._last = (positions, markets, orders, stale, venue_liqs)
        colours = theme_colours(self.app.theme_variables)
        wanted = {p.market: p for p in sorted_positions(positions, self.sort_column,
                                                          self.sort_reverse)}  # fmt: skip
        self.form = self._fit([(p, markets[m], (venue_liqs or {}).get(m))
                               for m, p in wanted.items()], orders, colours, stale)  # fmt: skip
        self._ensure_columns()
        columns = self.form[0]
        for key in [k.value for k in self.rows]:
            if key is not None and key not in wanted:
                self.remove_row(key)
        changed = False
        for market, p in wanted.items():
            cells = position_cells(p, markets[market], orders, self.narrow, colours, stale,
                                   (venue_liqs or {}).get(market), self.form)  # fmt: skip
            if market in [k.value for k in self.rows]:
                for column, cell in zip(columns, cells, strict=True):
                    if str(self.get_cell(market, column)) != str(cell):
                        self.update_cell(market, column, cell, update_width=True)
                        changed = True
            else:
                self.add_row(*cells, key=market)
                changed = True
        order = list(wanted)
        if [row.key.value for row in self.ordered_rows] != order:
            selected = self.selected_key
            self.sort(key=lambda row: order.index(row[0]) if row[0] in wanted else len(order))
            if selected in wanted:
                self.move_cursor(row=order.index(selected), animate=False)
            changed = True
        if changed:
            self.redraw_when_measured()

    @property
    def selected_market(self) -> str | None:
        return self.selected_key
