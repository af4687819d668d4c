"""The main screen at 120x36, the size TUI.md section 1 targets: what is on screen, read from
the composited screen, not what the widgets hold.

QA found at this size: the chart (and the position's liquidation line on it) hidden, the
header in its 80-column form (no index, 24 h change or OI, and with the chart hidden the
index nowhere on screen), and the positions table cut after "Realised  Fu" (funding, ADL and
an attached stop out of view).
"""

from __future__ import annotations

from decimal import Decimal

from textual.geometry import Region

from perptui.app import PerpApp
from perptui.widgets.chart import PriceChart
from perptui.widgets.header import MarketHeader
from perptui.widgets.positions import PositionsTable
from tests.tui_support import app_for, teaching_venue

D = Decimal
SIZE = (120, 36)
STOP = D(95000)


def row_text(app: PerpApp, y: int, region: Region) -> str:
    """Row `y` of the screen as drawn, cut to `region`'s columns."""
    strip = app.screen._compositor.render_strips()[y]
    return strip.crop(region.x, region.right).text


async def with_a_long_and_its_stop(app: PerpApp, pilot) -> None:  # type: ignore[no-untyped-def]
    """0.5 BTC long with a stop attached, a minute in: funding is predicted by then, which
    is what made the header too long for the full form."""
    venue = app.venue
    venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
    venue.ex.place_order(venue.account, "BTC-PERP", "sell", D("0.5"), type="stop_market",
                         trigger_price=STOP, reduce_only=True)  # fmt: skip
    await venue.advance(D(61))
    await app.frame()
    for _ in range(3):
        await pilot.pause()
    await app.frame()
    await pilot.pause()


async def test_the_chart_and_the_liquidation_on_it_are_shown_at_120_columns():
    app = app_for(teaching_venue())
    async with app.run_test(size=SIZE) as pilot:
        await with_a_long_and_its_stop(app, pilot)
        chart = app.main.query_one(PriceChart)
        assert chart.display and app.main.query_one("#left").display
        region = chart.region
        assert region.width >= 32, region  # under 32 it was thought of no use, and hidden
        assert app.screen.region.contains_region(region)
        top, _ = app.screen.get_widget_at(region.x, region.y)
        assert top is chart  # drawn, not covered
        shown = [row_text(app, y, region) for y in range(region.y, region.bottom)]
        assert shown[0].startswith(" BTC-PERP [1m] 5m 15m 1h 4h"), shown  # every frame in view
        # the liquidation is off this chart: its price and distance in one note, in full
        notes = [line.strip() for line in shown if "off chart" in line]
        assert notes and notes[0].startswith("liq ") and "↓" in notes[0], shown
        assert notes[0].endswith("% off chart"), notes  # not cut at the chart's edge
        assert not any("liq is" in line for line in shown), shown  # the distance said once


async def test_no_account_row_is_cut_at_120_columns():
    app = app_for(teaching_venue())
    async with app.run_test(size=SIZE) as pilot:
        await with_a_long_and_its_stop(app, pilot)
        panel = app.main.query_one("#account")
        rows = [row_text(app, y, panel.region) for y in range(panel.region.y, panel.region.bottom)]
        assert any("Nearest liq" in row and "BTC-PERP" in row for row in rows), rows
        assert not any("…" in row for row in rows), rows


async def test_the_header_keeps_the_index_24h_oi_and_funding_at_120_columns():
    app = app_for(teaching_venue())
    async with app.run_test(size=SIZE) as pilot:
        await with_a_long_and_its_stop(app, pilot)
        header = app.main.query_one(MarketHeader)
        text = row_text(app, header.region.y, header.region)
        for piece in ("Mark ", "Index ", "24h ", "OI $", "pred ", "/1h", "⏱", " S "):
            assert piece in text, (piece, text)
        assert len(text.rstrip()) <= header.region.width - 1  # the padding: nothing cut off


async def test_every_positions_column_is_within_the_table_at_120_columns():
    app = app_for(teaching_venue())
    async with app.run_test(size=SIZE) as pilot:
        await with_a_long_and_its_stop(app, pilot)
        table = app.main.query_one(PositionsTable)
        region = table.region
        visible = table.scrollable_content_region.width
        right = sum(column.get_render_width(table) for column in table.columns.values())
        assert right <= visible, (right, visible, [str(c.label) for c in table.columns.values()])
        assert table.scroll_x == 0 and table.max_scroll_x == 0  # nothing to scroll to
        header = row_text(app, region.y, region)
        labels = [str(column.label) for column in table.columns.values()]
        assert labels and all(label in header for label in labels), (labels, header)
        for label in ("Liq", "Dist", "Funding", "ADL", "TP/SL"):
            assert label in header, (label, header)
        row = row_text(app, region.y + 1, region)
        assert "BTC-PERP" in row and "95,000.0" in row, row  # the attached stop, in view
