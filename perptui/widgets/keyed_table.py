"""A DataTable of rows keyed by id (a market, an order id), with the cursor row's key.

Why a shared base: the positions table and the tab tables both need the cursor's key and the
same work-around for Textual 8.2.8, which keeps drawing rows at their columns' old widths
after they grow (seen in snapshots: "BTC-PE").
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist


class KeyedTable(DataTable[object]):
    class RowChosen(Message):
        """Enter on a row: its key and the market it is about (None: the row names none)."""

        def __init__(self, key: str, market: str | None) -> None:
            super().__init__()
            self.key, self.market = key, market

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def action_select_cursor(self) -> None:
        """Enter: the row's market, for the app to show in the ticket and the chart
        (`RowChosen`). Never the ticket's Send: Enter on a position or an order opened "Send
        this order?" for the ticket's order, which had nothing to do with the row, and with
        confirmations off the first Enter sent it."""
        key = self.selected_key
        if key is not None:
            self.post_message(self.RowChosen(key, self.row_market(key)))

    def row_market(self, key: str) -> str | None:
        """The text of row `key`'s Market column (None without one: the ledger); the app
        keeps it only if it is a market, else tries the key (positions are keyed by it)."""
        try:
            return str(self.get_cell(key, "Market")).strip() or None
        except (CellDoesNotExist, ColumnDoesNotExist, RowDoesNotExist):
            return None

    def redraw_when_measured(self) -> None:
        """After rows changed: once the new column widths are in, drop the row caches."""
        self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        self._clear_caches()
        self.refresh()

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None in an empty table)."""
        if not self.row_count:
            return None
        try:
            key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except Exception:  # the cursor past the rows while they are being replaced
            return None
        return key.value
