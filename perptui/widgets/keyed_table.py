"""A DataTable of rows keyed by id (a market, an order id), with the cursor row's key.

Why a shared base: the positions table and the tab tables both need the cursor's key and the
same work-around for Textual 8.2.8, which keeps drawing rows at their columns' old widths
after they grow (seen in snapshots: "BTC-PE").
"""

from __future__ import annotations

from textual.widgets import DataTable


class KeyedTable(DataTable[object]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]

    def action_select_cursor(self) -> None:
        """Enter: the app's Send, as everywhere else on the screen (help lists ⏎ Send). A
        table took it to select a row, which nothing here uses, and the key did nothing."""
        self.run_worker(self.app.run_action("submit"))

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
