"""What the account panel and the chart say once a position is past its liquidation price.

Why: QA shocked a 20x long 20 % down. The positions row said "bankrupt", but the chart still
drew the liquidation line with "liq is 22.0% above the mark", the account panel read
"Nearest liq 0.0% BTC-PERP" and "Lev 0.00x" beside 326k of notional (leverage has no value
without equity). MECHANICS section 3's words, "now" and "bankrupt", are used everywhere now.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from perptui.widgets.account import account_markup
from perptui.widgets.chart import ChartLine, ChartState, chart_grid

D = Decimal
BTC = "BTC-PERP"


def long_at_20x() -> Exchange:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.set_index_price("BTC", D(100_000))
    for name, usd in (("me", 10_000), ("maker", 10_000_000)):
        ex.create_account(name)
        ex.deposit(name, "USD", D(usd))
    ex.set_leverage("me", BTC, 20)
    ex.place_order("maker", BTC, "sell", D(2), price=D(100_000))
    ex.place_order("me", BTC, "buy", D("1.5"), type="market")
    return ex


def test_the_account_panel_says_now_and_bankrupt_and_no_leverage_without_equity() -> None:
    ex = long_at_20x()
    assert "Nearest liq" in account_markup(ex.health("me")) and "%" in account_markup(
        ex.health("me")
    )
    ex.set_index_price("BTC", D(94_500))  # below p_liq, above p_bk: no liquidation tick ran
    h = ex.health("me")
    assert h.positions[0].liquidation_state == "now"
    text = account_markup(h)
    assert "Nearest liq now BTC-PERP" in " ".join(text.split())
    assert "now" in account_markup(h, narrow=True)
    ex.set_index_price("BTC", D(80_000))
    h = ex.health("me")
    assert h.positions[0].liquidation_state == "bankrupt" and h.leverage is None
    full = " ".join(account_markup(h).split())
    assert "bankrupt BTC-PERP" in full and "0.00x" not in full and "Leverage —" in full
    assert "0.0x" not in account_markup(h, narrow=True)


def test_the_chart_draws_no_liquidation_line_ahead_once_it_is_passed() -> None:
    ex = long_at_20x()
    ex.set_index_price("BTC", D(94_500))
    pos = ex.health("me").positions[0]
    line = ChartLine("liq", pos.liquidation_price, "liq")  # what the screen gave it before
    candles = ex.candles(BTC, "1m")
    assert candles
    _, notes = chart_grid(ChartState(BTC, D("0.5"), candles, mark=D(94_500), lines=[line],
                                     liq_state="now"), 60, 12, "candle")  # fmt: skip
    assert notes[0] == "liquidation now: equity below maintenance"
    assert not any("above the mark" in n or "below the mark" in n for n in notes)
    _, notes = chart_grid(ChartState(BTC, D("0.5"), candles, mark=D(80_000),
                                     liq_state="bankrupt"), 60, 12, "candle")  # fmt: skip
    assert notes[0] == "bankrupt: equity below zero"
