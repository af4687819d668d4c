"""The chart's line mode is a joined line and the chart has a time axis.

Why (student QA): `v` drew one dot per close, which read as scattered points, not a line,
and neither mode said when a candle was (TUI.md's sketch has 11:00 11:30 ... under it).
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local.marketdata import Candle
from perptui.widgets.chart import AXIS, ChartState, chart_grid

D = Decimal


def candles(closes: list[int], start_s: int = 10 * 3600, step_s: int = 60) -> list[Candle]:
    out, previous = [], closes[0]
    for i, close in enumerate(closes):
        o, c = D(previous), D(close)
        out.append(Candle(D(start_s + i * step_s), o, max(o, c), min(o, c), c, D(1)))
        previous = close
    return out


def text(rows: list[list[tuple[str, str]]]) -> list[str]:
    return ["".join(ch for ch, _ in row) for row in rows]


def test_line_mode_joins_each_close_to_the_next() -> None:
    state = ChartState("BTC-PERP", D("0.5"), candles([100, 100, 110, 90, 90]), mark=D(90))
    rows, _ = chart_grid(state, AXIS + 5, 12, "line")
    plot = [row[AXIS:] for row in text(rows)[:-1]]
    assert "•" not in "".join(plot)
    for col in range(1, 5):  # every column after the first is drawn, one connected run
        drawn = [r for r, line in enumerate(plot) if line[col] != " "]
        assert drawn == list(range(drawn[0], drawn[-1] + 1)), col
    assert {plot[r][2] for r in range(len(plot))} >= {"╯", "╭"}  # up: into the column, out
    assert {plot[r][3] for r in range(len(plot))} >= {"╮", "╰"}  # down


def test_the_bottom_row_labels_candles_with_their_exchange_time() -> None:
    state = ChartState("BTC-PERP", D("0.5"), candles(list(range(100, 160))), mark=D(159))
    rows, _ = chart_grid(state, AXIS + 60, 14, "candle")
    axis = text(rows)[-1]
    assert axis[AXIS - 1] == "└"
    assert axis.endswith("10:59┴")  # the newest candle: 10:00 + 59 minutes
    assert "10:47┴" in axis and "10:35┴" in axis  # every 12 columns
    daily = ChartState("BTC-PERP", D("0.5"), candles([1, 2, 3], step_s=86_400), mark=D(3))
    assert text(chart_grid(daily, AXIS + 20, 10, "candle")[0])[-1].endswith("01-03┴")


def test_a_short_chart_keeps_its_rows_for_prices() -> None:
    state = ChartState("BTC-PERP", D("0.5"), candles([100, 101, 102]), mark=D(102))
    rows, _ = chart_grid(state, AXIS + 10, 5, "candle")
    assert len(rows) == 5 and "┴" not in "".join(text(rows))
