"""A price chart of the mark drawn on the Line API, with the position's lines across it.

Why our own chart: textual-plotext is unmaintained and pinned to an old plotext (shared/TUI.md),
and what matters here is not the candles but where entry, liquidation and bankruptcy prices sit
against them, so those lines are first-class.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from exchange_local.marketdata import Candle
from perptui import format as fmt

AXIS = 12  # columns of the price axis
LINE_RANGE = Decimal("0.25")  # lines farther than this from the mark are noted, not drawn
INTERVALS = ("1m", "5m", "15m", "1h", "4h")
TIME_LABEL_EVERY = 12  # columns between two time-axis labels (a label is 5 wide)
LINE_TURNS = {(True, True): "╯", (True, False): "╭", (False, True): "╮", (False, False): "╰"}


@dataclass(slots=True)
class ChartLine:
    label: str  # "entry", "liq", "bk", "order"
    price: Decimal
    kind: str  # component class suffix: entry, liq, bk, order


@dataclass(slots=True)
class ChartState:
    market: str = ""
    tick: Decimal = Decimal("0.1")
    candles: list[Candle] = field(default_factory=list)
    index: Decimal | None = None
    mark: Decimal | None = None
    lines: list[ChartLine] = field(default_factory=list)
    index_candles: list[Candle] = field(default_factory=list)
    liq_state: str = "ok"  # the position's: "now" or "bankrupt" has no liq price ahead


Cell = tuple[str, str]  # (character, component class suffix or "")


def chart_grid(
    state: ChartState, width: int, height: int, mode: str
) -> tuple[list[list[Cell]], list[str]]:
    """The plot as rows of cells plus its caption lines; from 6 rows the last is the time
    axis. Pure, for text tests."""
    plot_w = max(1, width - AXIS)
    candles = state.candles[-plot_w:]
    grid: list[list[Cell]] = [[(" ", "")] * plot_w for _ in range(height)]
    notes: list[str] = []
    if not candles or height < 3:
        return grid, ["no prices yet"]
    with_times = height >= 6
    if with_times:
        grid.pop()
        height -= 1
    lo = min(c.low for c in candles)
    hi = max(c.high for c in candles)
    mark = state.mark or candles[-1].close
    drawn = []
    for ln in state.lines:
        if abs(ln.price - mark) <= mark * LINE_RANGE:
            drawn.append(ln)
            lo, hi = min(lo, ln.price), max(hi, ln.price)
        else:
            notes.append(off_chart_note(ln, mark, state.tick, width))
    if hi == lo:
        hi, lo = hi + state.tick * 5, lo - state.tick * 5
    pad = (hi - lo) * Decimal("0.05")
    hi, lo = hi + pad, lo - pad
    span = hi - lo

    def row(p: Decimal) -> int:
        r = int((hi - p) / span * (height - 1))
        return min(height - 1, max(0, r))

    for ln in drawn:
        r = row(ln.price)
        ch = {"liq": "━", "bk": "┅", "entry": "╌", "order": "┄"}.get(ln.kind, "─")
        grid[r] = [(ch, ln.kind)] * plot_w
    offset = plot_w - len(candles)
    previous: int | None = None
    for x, c in enumerate(candles):
        col = offset + x
        up = c.close >= c.open
        kind = "up" if up else "down"
        if mode == "line":
            previous = _line_step(grid, col, previous, row(c.close), kind)
            continue
        top, bottom = row(c.high), row(c.low)
        body_top, body_bottom = row(max(c.open, c.close)), row(min(c.open, c.close))
        for r in range(top, bottom + 1):
            grid[r][col] = ("┃" if body_top <= r <= body_bottom else "│", kind)
    index_by_start = {c.start: c.close for c in state.index_candles}
    for x, c in enumerate(candles):  # the index as a dotted line behind the mark
        price = index_by_start.get(c.start)
        if price is not None and lo <= price <= hi and grid[row(price)][offset + x][0] == " ":
            grid[row(price)][offset + x] = ("·", "index")
    if state.index is not None and lo <= state.index <= hi:
        grid[row(state.index)][plot_w - 1] = ("◆", "index")
    axis_rows = {0: hi, height // 2: (hi + lo) / 2, height - 1: lo}
    for ln in drawn:
        axis_rows[row(ln.price)] = ln.price
    labels = {r: fmt.price(p, state.tick) for r, p in axis_rows.items()}
    for ln in drawn:
        labels[row(ln.price)] = ln.label
    for r in range(height):
        label = labels.get(r, "")
        grid[r] = [(ch, "axis") for ch in f"{label[: AXIS - 2]:>{AXIS - 2}} ┤"] + grid[r]
    if with_times:
        grid.append(_time_axis(candles, offset, plot_w))
    liq = next((ln for ln in state.lines if ln.kind == "liq"), None)
    room = width - 1  # a note's row starts with a space
    if state.liq_state == "now":
        notes.insert(0, fitted(LIQ_NOW, room))
    elif state.liq_state == "bankrupt":
        notes.insert(0, fitted(BANKRUPT, room))
    elif liq is not None and liq in drawn:  # off the chart, its note says the distance
        below = liq.price < mark
        distance = fmt.distance(abs(liq.price - mark) / mark)
        where = "below" if below else "above"
        notes.insert(0, fitted((f"liq is {distance} {where} the mark",
                                f"liq {distance} {where} the mark",
                                f"liq {'↓' if below else '↑'}{distance}"), room))  # fmt: skip
    return grid, [part for note in notes for part in wrapped(note, room)]


# a caption's forms, longest first: at 120 columns the chart has 34 for it, and "liquidation
# now: equity below maintenance" was cut to "liquidation now: equity below mai"
LIQ_NOW = ("liquidation now: equity below maintenance", "liquidation now: equity < maintenance",
           "liquidation now: E_mm < MMR", "liq now: E_mm < MMR")  # fmt: skip
BANKRUPT = ("bankrupt: equity below zero", "bankrupt: equity < 0", "bankrupt: E_mm < 0")


def fitted(forms: tuple[str, ...], width: int) -> str:
    """The longest of a caption's `forms` that fits `width` (the shortest where none does)."""
    return next((form for form in forms if len(form) <= width), forms[-1])


def wrapped(note: str, width: int) -> list[str]:
    """A caption on as many rows as it needs, broken at spaces, never inside a word (a word
    longer than the row is cut: nothing else can be done with it)."""
    if width <= 0 or len(note) <= width:
        return [note]
    return textwrap.wrap(note, width, break_long_words=False, break_on_hyphens=False) or [note]


def off_chart_note(line: ChartLine, mark: Decimal, tick: Decimal, width: int) -> str:
    """A line too far from the mark to draw: its price and distance, in words where the chart
    is wide enough, else "liq 63,865.0 ↓36.2% off chart" (at 120 columns the worded note lost
    its distance to the chart's edge, under a second note saying the distance again)."""
    shown = (fmt.liq_price(line.price, mark, tick) if line.kind in ("liq", "bk")
             else fmt.price(line.price, tick))  # fmt: skip
    distance = fmt.distance(abs(line.price - mark) / mark)  # toward zero: never further
    below = line.price < mark
    note = f"{line.label} {shown} is off chart, {distance} {'below' if below else 'above'}"
    if len(note) + 1 <= width:  # the row's leading space
        return note
    return f"{line.label} {shown} {'↓' if below else '↑'}{distance} off chart"


def _line_step(grid: list[list[Cell]], col: int, previous: int | None, r: int, kind: str) -> int:
    """One column of the line chart: joined to the column before it with box-drawing turns,
    so the closes read as one line (a dot per close read as scattered points)."""
    if previous is None or previous == r:
        grid[r][col] = ("─", kind)
        return r
    rising = r < previous  # rows count down from the top
    grid[previous][col] = (LINE_TURNS[(rising, True)], kind)
    for between in range(min(r, previous) + 1, max(r, previous)):
        grid[between][col] = ("│", kind)
    grid[r][col] = (LINE_TURNS[(rising, False)], kind)
    return r


def _time_axis(candles: list[Candle], offset: int, plot_w: int) -> list[Cell]:
    """The bottom row: a tick `┴` under a candle every TIME_LABEL_EVERY columns, its start in
    exchange time just left of it (HH:MM, or MM-DD for daily candles), counted from the
    newest candle so the labels stay put as candles arrive."""
    daily = len(candles) > 1 and candles[-1].start - candles[-2].start >= 86_400
    shape = "%m-%d" if daily else "%H:%M"
    row = [(" ", "axis")] * (AXIS - 1) + [("└", "axis")] + [("─", "axis")] * plot_w
    for x in range(len(candles) - 1, -1, -TIME_LABEL_EVERY):
        col = AXIS + offset + x
        label = datetime.fromtimestamp(int(candles[x].start), tz=UTC).strftime(shape)
        if col - len(label) < AXIS:
            break
        row[col - len(label) : col + 1] = [(ch, "axis") for ch in label + "┴"]
    return row


class PriceChart(Widget):
    """Mark candles (or a line) per time frame; `[`/`]` change the frame, `v` the style."""

    COMPONENT_CLASSES = {"chart--up", "chart--down", "chart--liq", "chart--bk", "chart--entry",
                         "chart--order", "chart--index", "chart--axis", "chart--title",
                         "chart--note"}  # fmt: skip
    DEFAULT_CSS = """
    PriceChart { height: 1fr; min-width: 24; }
    PriceChart > .chart--up { color: $up; }
    PriceChart > .chart--down { color: $down; }
    PriceChart > .chart--liq { color: $liq; text-style: bold; }
    PriceChart > .chart--bk { color: $danger; }
    PriceChart > .chart--entry { color: $accent; }
    PriceChart > .chart--order { color: $secondary; }
    PriceChart > .chart--index { color: $warning; }
    PriceChart > .chart--axis { color: $text-muted; }
    PriceChart > .chart--title { text-style: bold; color: $text-muted; }
    PriceChart > .chart--note { color: $liq; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.state = ChartState()
        self.mode = "candle"
        self.interval = "1m"
        self._rows: list[list[Cell]] = []
        self._notes: list[str] = []
        self._key: object = None

    def show(self, state: ChartState) -> None:
        key = (state.candles[-1:], len(state.candles), state.index, state.index_candles[-1:],
               tuple((ln.kind, ln.price) for ln in state.lines))  # fmt: skip
        if key == self._key:
            return
        self._key = key
        self.state = state
        self._rebuild()

    def cycle_interval(self, step: int) -> str:
        i = INTERVALS.index(self.interval)
        self.interval = INTERVALS[(i + step) % len(INTERVALS)]
        return self.interval

    def toggle_mode(self) -> str:
        self.mode = "line" if self.mode == "candle" else "candle"
        self._rebuild()
        return self.mode

    def on_resize(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        plot_h = max(1, self.size.height - 1 - 2)
        self._rows, self._notes = chart_grid(self.state, self.size.width, plot_h, self.mode)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            frames = " ".join(f"[{i}]" if i == self.interval else i for i in INTERVALS)
            market, mode = self.state.market, f"{self.mode} (v)"
            forms = (f" Chart {market} mark  {frames}  {mode}  · ◆ index",
                     f" {market} mark  {frames}  {mode}  ◆ index",  # the legend at 160
                     f" Chart {market} mark  {frames}  {mode}",
                     f" {market} {frames}  {mode}")  # fmt: skip
            # the widest that fits, every time frame kept: at 120 columns 1h and 4h fell off
            title = next((t for t in forms if len(t) <= width), f" {market} {frames}")
            return Strip([Segment(title[:width].ljust(width),
                                  self.get_component_rich_style("chart--title"))])  # fmt: skip
        r = y - 1
        if r < len(self._rows):
            segments = []
            cache: dict[str, Style] = {}
            for ch, kind in self._rows[r][:width]:
                if kind not in cache:
                    cache[kind] = (
                        self.get_component_rich_style(f"chart--{kind}") if kind else Style()
                    )
                segments.append(Segment(ch, cache[kind]))
            return Strip(Segment.simplify(segments)).adjust_cell_length(width)
        n = r - len(self._rows)
        if n < len(self._notes):
            return Strip([Segment(f" {self._notes[n]}"[:width].ljust(width),
                                  self.get_component_rich_style("chart--note"))])  # fmt: skip
        return Strip.blank(width)
