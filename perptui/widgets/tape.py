"""The trade tape on the Line API: newest first, ▲ for buyer-initiated, ▼ for seller-initiated."""

from __future__ import annotations

from decimal import Decimal

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from exchange_local.marketdata import Trade
from perptui import format as fmt


def tape_rows(trades: list[Trade], tick: Decimal, lot: Decimal) -> list[tuple[str, str]]:
    """(kind, text) newest first; kind is "buy" or "sell" (the aggressor)."""
    rows = []
    for t in reversed(trades):
        arrow = "▲" if t.taker_side == "buy" else "▼"
        rows.append((t.taker_side, f" {fmt.price(t.price, tick):>11} {fmt.size(t.size, lot):>9} "
                     f"{arrow} {fmt.exchange_time(t.time_ms)}"))  # fmt: skip
    return rows


class TradeTape(Widget):
    COMPONENT_CLASSES = {"tape--buy", "tape--sell", "tape--title", "tape--own"}
    DEFAULT_CSS = """
    TradeTape { height: 1fr; min-width: 34; }
    TradeTape > .tape--buy { color: $up; }
    TradeTape > .tape--sell { color: $down; }
    TradeTape > .tape--own { text-style: bold reverse; }
    TradeTape > .tape--title { text-style: bold; color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._rows: list[tuple[str, str]] = []
        self._own: set[int] = set()
        self._ids: list[int] = []
        self._last: object = None

    def show(self, trades: list[Trade], tick: Decimal, lot: Decimal, own_ids: set[int]) -> None:
        key = (trades[-1].trade_id if trades else None, len(trades), len(own_ids))
        if key == self._last:
            return
        self._last = key
        self._rows = tape_rows(trades, tick, lot)
        self._ids = [t.trade_id for t in reversed(trades)]
        self._own = own_ids
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return Strip([Segment(" Trades".ljust(width)[:width],
                                  self.get_component_rich_style("tape--title"))])  # fmt: skip
        i = y - 1
        if i >= len(self._rows):
            return Strip.blank(width)
        kind, text = self._rows[i]
        style = self.get_component_rich_style(f"tape--{kind}")
        if self._ids[i] in self._own:
            style += self.get_component_rich_style("tape--own")
            text = own_row(text, width)
        return Strip([Segment(text[:width].ljust(width), style)])


def own_row(text: str, width: int) -> str:
    """A row of the tape that is your own trade, marked "you" after its time, or in its
    time's place where the column is too narrow for both (the book's column, 35 wide between
    100 and 160 terminal columns, cut the word to "y"): the reverse style alone is lost in
    monochrome and on a projector."""
    if len(text) + 4 <= width:
        return text + " you"
    return text[:-TIME_WIDTH] + "you".rjust(TIME_WIDTH)


TIME_WIDTH = len("00:00:00")
