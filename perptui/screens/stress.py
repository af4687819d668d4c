"""The stress screen (`S`): the account after price shocks of -50 % to +50 %.

Why a grid and not one number: a liquidation price holds everything else fixed; a crash does
not. Columns are each underlying the account is exposed to (positions and collateral coins)
moving alone, then ALL of them moving together (correlated); rows are the shocks. Each cell
says the equity and, in a word as well as a colour, the status and the liquidation stage the
account would reach. The numbers are perptui.stress's, which equal the exchange's own health
after the same move (tests/test_stress.py checks that cell by cell).
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from exchange_local.health import AccountHealth
from perptui import format as fmt
from perptui.derivation import colour
from perptui.stress import ALL, StressCell, StressGrid, stress_grid
from perptui.theme import rich_colour
from perptui.venues.base import Venue, describe

POLL_S = 1.0  # ~1 Hz: a grid of 13 x (n + 1) exact recomputations is cheap but not free
ASSUMPTIONS = (
    "Assumes the book is deep enough, every other price unchanged (basis too), "
    "funding, fees and settlement ignored; reduce-only is not shown (needs IMR)."
)


def shock_label(x: Decimal) -> str:
    """`-50 %`, `0 % now`, `+5 %`."""
    if x == 0:
        return "0 % now"
    return f"{fmt.num(x * 100, 0, sign=True)} %"


def column_label(column: str) -> str:
    return "ALL together" if column == ALL else f"{column} alone"


EQUITY_WIDTH = 11  # "-12,345,678": cells are left-justified, so a column lines up


def cell_text(cell: StressCell) -> str:
    """What a grid cell says: equity in whole USD and the status word (never colour alone),
    the equity right-aligned in a fixed width so a column's equities line up under each
    other whatever the word after them (a right-justified cell ragged them)."""
    return f"{fmt.num(cell.equity, 0):>{EQUITY_WIDTH}} {cell.word}"


def detail_text(cell: StressCell) -> str:
    """The cursor cell in full: every figure the cell is made of, and the stage it reaches."""
    moved = "every underlying" if cell.column == ALL else cell.column
    return (
        f"{moved} {shock_label(cell.shock)}: E_mm {fmt.usd(cell.equity)} · MMR "
        f"{fmt.usd_up(cell.mmr)} · ACMR {fmt.usd_up(cell.acmr)} · margin fraction "
        f"{fmt.pct(cell.margin_fraction)} · usage "
        f"{fmt.pct(cell.margin_usage) if cell.margin_usage is not None else '∞'} · "
        f"{cell.word} · stage: {cell.stage}"
    )


class StressScreen(Screen[None]):
    """`StressScreen(venue)`; `market` only picks which snapshot to ask for (any will do)."""

    DEFAULT_CSS = """
    StressScreen { layout: vertical; }
    StressScreen #stress-title { height: auto; padding: 0 1; background: $panel; }
    StressScreen #stress-grid { height: auto; max-height: 1fr; }
    StressScreen #stress-detail { height: auto; min-height: 2; padding: 0 1;
                                  border-top: solid $panel-lighten-2; }
    StressScreen #stress-note { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="stress.close"),
        Binding("S", "close", "Back", show=False, id="stress.close_s"),
    ]
    AUTO_FOCUS = "#stress-grid"

    def __init__(self, venue: Venue, market: str | None = None) -> None:
        super().__init__()
        self.venue = venue
        self.market = market
        self.grid: StressGrid | None = None
        self.health: AccountHealth | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        yield Static(id="stress-title")
        table: DataTable[Text | str] = DataTable(id="stress-grid", cursor_type="cell")
        yield table
        yield Static(id="stress-detail")
        yield Static(ASSUMPTIONS, id="stress-note")
        yield Footer()

    async def on_mount(self) -> None:
        await self.poll()
        self.set_interval(POLL_S, self.poll)

    async def poll(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            market = self.market or self.venue.markets()[0]
            snap = await self.venue.snapshot(market)
        except Exception as err:  # keep the last grid, say why it is not moving
            self.query_one("#stress-title", Static).update(
                Text(f"Stress · {describe(err)}", style="bold reverse"))  # fmt: skip
            return
        finally:
            self._busy = False
        if snap.health == self.health:
            return
        self.health = snap.health
        self.show(stress_grid(snap.health, snap.markets))

    def styled(self, cell: StressCell) -> Text:
        variables = getattr(self.app, "theme_variables", {}) or {}
        style = Style(color=rich_colour(colour(variables, cell.status)),
                      bold=cell.status != "ok", reverse=cell.status == "bankrupt")  # fmt: skip
        return Text(cell_text(cell), style=style, justify="left")

    def show(self, grid: StressGrid) -> None:
        """Rebuild the table when its columns change; otherwise update the cells in place,
        so the cursor stays where the reader put it."""
        h = self.health
        assert h is not None
        table = self.query_one(DataTable)
        status = fmt.health_word(h.status, h.warning)
        self.query_one("#stress-title", Static).update(Text.assemble(
            ("Stress", "bold"), " · equity and status after a price shock · now: E_mm ",
            fmt.usd(h.equity), " · MMR ", fmt.usd_up(h.mmr), " · ACMR ", fmt.usd_up(h.acmr), " · ",
            (status, "bold"),
        ))  # fmt: skip
        old = self.grid
        self.grid = grid
        if not grid.columns:
            table.clear(columns=True)
            self.query_one("#stress-detail", Static).update(
                "Nothing to stress: no position and no collateral that a price moves."
            )
            return
        if old is None or old.columns != grid.columns or old.shocks != grid.shocks:
            table.clear(columns=True)
            table.add_column("shock", key="shock")
            for column in grid.columns:
                table.add_column(column_label(column), key=column)
            for x in grid.shocks:
                table.add_row(Text(shock_label(x), style="bold"),
                              *(self.styled(grid.cell(c, x)) for c in grid.columns),
                              key=str(x))  # fmt: skip
            table.move_cursor(row=grid.shocks.index(Decimal(0)) if Decimal(0) in grid.shocks
                              else 0, column=1)  # fmt: skip
        else:
            for x in grid.shocks:
                for c in grid.columns:
                    if old.cell(c, x) != grid.cell(c, x):
                        table.update_cell(str(x), c, self.styled(grid.cell(c, x)))
        self.show_detail(table.cursor_coordinate)

    def cell_at(self, coordinate: Coordinate) -> StressCell | None:
        grid = self.grid
        if grid is None or not grid.columns or not grid.shocks:
            return None
        row = min(coordinate.row, len(grid.shocks) - 1)
        column = min(max(coordinate.column, 1), len(grid.columns)) - 1
        return grid.cell(grid.columns[column], grid.shocks[row])

    def show_detail(self, coordinate: Coordinate) -> None:
        cell = self.cell_at(coordinate)
        if cell is not None:
            self.query_one("#stress-detail", Static).update(Text(detail_text(cell)))

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        self.show_detail(event.coordinate)

    def action_close(self) -> None:
        self.dismiss()
