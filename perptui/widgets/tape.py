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
        self.own_label = YOU

    def show(self, trades: list[Trade], tick: Decimal, lot: Decimal, own_ids: set[int],
             own_label: str = "you") -> None:  # fmt: skip
        """`own_label`: the word after a trade of the account shown ("you", or in a demo or
        a replay the name of the account watched, which is not the viewer's)."""
        key = (trades[-1].trade_id if trades else None, len(trades), len(own_ids), own_label)
        if key == self._last:
            return
        self._last = key
        self._rows = tape_rows(trades, tick, lot)
        self._ids = [t.trade_id for t in reversed(trades)]
        self._own = own_ids
        self.own_label = own_label
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
            text = own_row(text, width, self.own_label)
        return Strip([Segment(text[:width].ljust(width), style)])


YOU = "you"
OWN_MARK = "▶"  # as the events log marks the lines of the account shown


def own_row(text: str, width: int, label: str = YOU) -> str:
    """A row of the tape that is a trade of the account shown, marked ▶ in its first column
    (as the events log marks that account's lines) and `label` after its time where the
    column has room for it: "you", or in a demo the watched account's name (a scripted
    account's trade read "you" beside "you are watching scripted accounts"). Why the mark:
    the reverse style alone is lost in monochrome and on a projector. Why never in the
    time's place: between 100 and 160 columns "you" stood where the time was, and the tape
    read as if that trade had none."""
    marked = OWN_MARK + text[1:] if text.startswith(" ") else text
    if label and len(marked) + 1 + len(label) <= width:
        return f"{marked} {label}"
    return marked
