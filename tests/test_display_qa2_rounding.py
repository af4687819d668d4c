"""Display QA 2, rounding: a distance to liquidation rounded half-even looked further away
than it is (17.6 % for 17.5587 %, 0.5 % for 0.487 %); requirements were shown rounded down
(MMR 1,505.18 for 1,505.1815922, a preview's IMR → 14,375.08 beside a refusal that "needs
14375.09"), fees down (the ledger rounds them up), free collateral up. Also the chart's
caption cut mid-word at 120 columns, and the positions table without its Bkr column there."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from textual.content import Content

from exchange_local import Exchange, ExchangeConfig
from exchange_local.health import AccountHealth, PositionRisk
from exchange_local.marketdata import Candle
from perptui import format as fmt
from perptui.teaching import DESK, requote
from perptui.widgets.account import account_markup
from perptui.widgets.chart import ChartLine, ChartState, chart_grid
from perptui.widgets.positions import PositionsTable, distance_text
from tests.test_layout_120 import SIZE, row_text, with_a_long_and_its_stop
from tests.tui_support import app_for, teaching_venue

D = Decimal


def long_account(size: str = "1") -> tuple[AccountHealth, PositionRisk]:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account(DESK)
    ex.deposit(DESK, "USD", D(100_000_000))
    requote(ex, D(100_000))
    ex.create_account("me")
    ex.deposit("me", "USD", D(20_000))
    ex.place_order("me", "BTC-PERP", "buy", D(size), type="market")
    h = ex.health("me")
    return h, h.positions[0]


def plain(markup: str) -> str:
    return "\n".join(Content.from_markup(line).plain for line in markup.splitlines())


def test_format_rounds_each_kind_of_figure_its_own_way():
    assert fmt.distance(D("0.175587")) == "17.5%"
    assert fmt.distance(D("0.00487")) == "0.4%"
    assert fmt.distance(D("0.2040955"), 2) == "20.40%"
    assert fmt.usd_up(D("1505.1815922")) == "1,505.19"
    assert fmt.usd_up(D("23.732921")) == "23.74"  # a fee, as the ledger rounds it
    assert fmt.usd_up(D("14375.0801")) == "14,375.09"
    assert fmt.usd_up(D("-0.001")) == "0.00"  # no "-0.00"
    assert fmt.usd_down(D("10.009")) == "10.00"
    assert fmt.usd_down(D("-10.001")) == "-10.01"
    assert fmt.weight(D("0.85970512")) == "0.8597" and fmt.weight(D(1)) == "1.0000"
    assert fmt.usd(D("1505.185")) == "1,505.18"  # equity and balances: as they were


def test_a_distance_to_liquidation_never_looks_further_than_it_is():
    h, p = long_account()
    near = dataclasses.replace(p, distance_to_liquidation=D("0.175587"))
    assert distance_text(near) == "↓17.5%"
    short = dataclasses.replace(p, size=-p.size, distance_to_liquidation=D("0.00487"))
    assert distance_text(short) == "↑0.4%"
    text = plain(account_markup(dataclasses.replace(h, positions=[near])))
    assert "17.5% BTC-PERP" in text and "17.6%" not in text
    narrow = plain(account_markup(dataclasses.replace(h, positions=[near]), narrow=True))
    assert narrow.endswith("liq 17.5%"), narrow


def test_the_chart_says_the_distance_rounded_toward_zero():
    candle = Candle(0, D(100000), D(100100), D(99900), D(100000), D(1))
    liq = D(100000) * (1 - D("0.175587"))
    state = ChartState("BTC-PERP", D("0.5"), [candle], D(100000), D(100000),
                       [ChartLine("liq", liq, "liq")])  # fmt: skip
    _, notes = chart_grid(state, 60, 12, "candle")
    assert notes[0] == "liq is 17.5% below the mark", notes


def test_requirements_round_up_and_free_collateral_down_in_the_panel():
    h, _ = long_account()
    h = dataclasses.replace(h, imr=D("14375.0801"), mmr=D("1505.1815922"),
                            acmr=D("752.590796"), free_collateral=D("10.009"))  # fmt: skip
    text = plain(account_markup(h))
    assert "14,375.09" in text and "1,505.19" in text and "752.60" in text, text
    assert "10.00" in text and "10.01" not in text


def test_the_chart_caption_fits_the_chart_at_120_columns_in_whole_words():
    candle = Candle(0, D(100000), D(100100), D(99900), D(100000), D(1))
    for liq_state in ("now", "bankrupt"):
        state = ChartState("BTC-PERP", D("0.5"), [candle], D(100000), D(100000), [], [],
                           liq_state)  # fmt: skip
        _, notes = chart_grid(state, 35, 20, "candle")  # the chart's columns at 120
        assert notes and all(len(n) + 1 <= 35 for n in notes), notes
        assert not notes[0].endswith(("mai", "maint")), notes
    from perptui.widgets.chart import wrapped

    assert wrapped("liq 100,000.0 is off chart, 36.0% below", 20) == [
        "liq 100,000.0 is off", "chart, 36.0% below"]  # fmt: skip


async def test_the_positions_table_keeps_the_bankruptcy_price_at_120_columns():
    app = app_for(teaching_venue())
    async with app.run_test(size=SIZE) as pilot:
        await with_a_long_and_its_stop(app, pilot)
        table = app.main.query_one(PositionsTable)
        labels = [str(column.label) for column in table.columns.values()]
        assert "Bkr" in labels and "TP/SL" in labels, labels
        assert table.max_scroll_x == 0  # every column within the table
        snap = app.snapshot
        assert snap is not None
        p = snap.health.positions[0]
        ms = snap.markets[p.market]
        bkr = fmt.liq_price(p.bankruptcy_price, ms.mark, ms.tick)
        row = row_text(app, table.region.y + 1, table.region)
        assert bkr in row, (bkr, row)
