"""The stress screen's grid says what perptui.stress computes from the venue's own health."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import DataTable, Static

from perptui import format as fmt
from perptui.screens.stress import StressScreen, cell_text, column_label, detail_text
from perptui.stress import ALL, SHOCKS, StressGrid, stress_grid
from perptui.venues.base import OrderRequest
from perptui.venues.local import LocalVenue
from tests.tui_support import PaperHost

D = Decimal


def expected_grid(venue: LocalVenue) -> StressGrid:
    ex = venue.ex
    assert ex is not None
    return stress_grid(ex.health(venue.account), {m: ex.market(m) for m in ex.markets()})


def shown(table: DataTable, grid: StressGrid) -> dict[tuple[str, Decimal], str]:
    return {(c, x): table.get_cell(str(x), c).plain for c in grid.columns for x in grid.shocks}


async def test_grid_equals_the_pure_computation() -> None:
    app = PaperHost()
    async with app.run_test(size=(120, 36)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        screen = StressScreen(venue)
        await app.push_screen(screen)
        await pilot.pause()
        grid = expected_grid(venue)
        # positions first, then the paper account's coins (0.1 BTC, 1 ETH)
        assert grid.columns == ("BTC", "ETH", ALL) and grid.shocks == SHOCKS
        table = screen.query_one(DataTable)
        labels = [str(col.label) for col in table.columns.values()]
        assert labels == ["shock", *(column_label(c) for c in grid.columns)]
        assert table.row_count == len(SHOCKS)
        assert shown(table, grid) == {k: cell_text(v) for k, v in grid.cells.items()}
        assert "BANKRUPT" in cell_text(grid.cell("BTC", D("-0.5")))  # 2.2x long + BTC coins, -50 %
        # the equities of a column line up: each ends at the same place, whatever the word
        ends = {cell_text(c).index(fmt.num(c.equity, 0)) + len(fmt.num(c.equity, 0))
                for c in grid.cells.values()}  # fmt: skip
        assert len(ends) == 1

        # the cursor starts on "0 % now" in the first column; up moves to -5 %
        detail = screen.query_one("#stress-detail", Static)
        assert str(detail.content) == detail_text(grid.cell("BTC", D(0)))
        await pilot.press("up", "right", "right")
        await pilot.pause()
        assert str(detail.content) == detail_text(grid.cell(ALL, D("-0.05")))
        assert "stage:" in str(detail.content) and "usage" in str(detail.content)

        # the venue moves: the next poll (about 1 Hz) shows the new grid, cursor kept
        await venue.shock("BTC", D("-0.2"))
        await venue.advance(D(1))
        await screen.poll()
        moved = expected_grid(venue)
        assert moved != grid
        assert shown(table, moved) == {k: cell_text(v) for k, v in moved.cells.items()}
        assert table.cursor_coordinate.row == SHOCKS.index(D("-0.05"))

        await pilot.press("S")
        await pilot.pause()
        assert not isinstance(app.screen, StressScreen)
    await app.venue.stop()


async def test_flat_account_shows_its_coins_and_escape_closes() -> None:
    app = PaperHost()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = StressScreen(app.venue)
        await app.push_screen(screen)
        await pilot.pause()
        grid = expected_grid(app.venue)
        assert grid.columns == ("BTC", "ETH", ALL)  # collateral alone is exposed too
        table = screen.query_one(DataTable)
        assert shown(table, grid) == {k: cell_text(v) for k, v in grid.cells.items()}
        assert all(cell.word == "OK" for cell in grid.cells.values())  # nothing to liquidate
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StressScreen)
    await app.venue.stop()
