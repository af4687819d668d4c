"""Prices on the market's tick where QA found extra or missing digits: the Fills tab (a 0.5
tick read 100,100.00 there and 100,100.0 in the book; SOL's 0.001 tick read 149.73 beside
149.772) and the liquidation and bankruptcy lines of the explain screen's what-if chart
(rounded half-even there, 92,147.4, beside "liq 92,147.5" rounded toward the mark above it)."""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from exchange_local.orders import Fill
from perptui import format as fmt
from perptui.widgets.history import RowsTable, fill_rows
from perptui.widgets.whatif_plot import WhatIfPlot
from tests.tui_support import app_for, teaching_venue

D = Decimal


def fill(market: str, price: str) -> Fill:
    return Fill(1, 0, market, D(price), D(1), "buy", "me", "them", 1, 2, D(0), D(0))


def price_cell(market: str, price: str, with_markets: bool = True) -> str:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    markets = {m: ex.market(m) for m in ex.markets()} if with_markets else None
    ((_, cells),) = fill_rows([fill(market, price)], "me", markets)
    return str(cells[4]).strip()


def test_fill_prices_show_the_markets_tick_decimals():
    assert price_cell("BTC-PERP", "100100") == "100,100.0"  # tick 0.5: was 100,100.00
    assert price_cell("BTC-PERP", "100100.5") == "100,100.5"
    assert price_cell("ETH-PERP", "3001.35") == "3,001.35"
    assert price_cell("SOL-PERP", "149.73") == "149.730"  # tick 0.001: was 149.73


def test_fill_prices_without_the_venues_markets_use_the_default_ticks():
    assert price_cell("BTC-PERP", "100100", with_markets=False) == "100,100.0"
    assert price_cell("SOL-PERP", "149.73", with_markets=False) == "149.730"
    # a market nobody here knows keeps every digit it has (a remote venue's fine tick)
    assert price_cell("JELLY-PERP", "0.29973", with_markets=False) == "0.29973"


async def test_the_fills_tab_shows_a_fill_on_the_tick():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await pilot.press("3")
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        table = app.main.query_one("#fills-table", RowsTable)
        assert table.row_count == 1
        row = [str(c).strip() for c in table.get_row_at(0)]
        assert "100,100.0" in row, row  # the desk's ask at 100,100, as the book shows it


async def test_the_what_if_charts_liq_and_bankruptcy_rows_round_toward_the_mark():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(2), type="market")
        await app.frame()
        await pilot.press("t")
        await pilot.pause()
        await pilot.pause()
        expl = app.screen.expl  # type: ignore[attr-defined]
        assert expl is not None and expl.liquidation_price is not None
        tick = D("0.5")
        liq = fmt.liq_price(expl.liquidation_price, expl.mark, tick)
        bk = fmt.liq_price(expl.bankruptcy_price, expl.mark, tick)
        assert (liq, bk) == ("92,147.5", "89,511.5")  # a long's: rounded up, toward the mark
        lines = str(app.screen.query_one(WhatIfPlot).render()).splitlines()
        liq_row = next(ln for ln in lines if "◀ liq" in ln)
        bk_row = next(ln for ln in lines if "◀ bk" in ln)
        assert liq_row.split()[0] == liq, liq_row
        assert bk_row.split()[0] == bk, bk_row


def size_cell(market: str, size: str) -> str:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    markets = {m: ex.market(m) for m in ex.markets()}
    btc = Fill(2, 0, "BTC-PERP", D(100000), D("0.0001"), "buy", "me", "them", 1, 2, D(0), D(0))
    mine = Fill(1, 0, market, D(3000), D(size), "buy", "me", "them", 1, 2, D(0), D(0))
    rows = fill_rows([mine, btc], "me", markets)  # BTC's four decimals beside it
    return str(rows[1][1][3]).strip()


def test_fill_sizes_show_their_markets_lot_decimals() -> None:
    # student QA: ETH's 4.168 read 4.1680, aligned with BTC's 0.0001 lot
    assert size_cell("ETH-PERP", "4.168") == "4.168"
    assert size_cell("SOL-PERP", "2.5") == "2.50"


def test_funding_sizes_carry_their_sign_as_the_positions_do() -> None:
    from exchange_local.funding import AccountFunding
    from perptui.widgets.history import funding_rows

    paid = AccountFunding(D(3600), "BTC-PERP", D("1.5"), D("0.0001"), D("15"))
    received = AccountFunding(D(3600), "ETH-PERP", D(-10), D("0.0001"), D("-3"))
    rows = funding_rows([paid, received])
    sizes = [str(cells[2]).strip() for _, cells in rows]
    assert sizes == ["-10.000", "+1.5000"]  # newest first
