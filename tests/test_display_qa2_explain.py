"""Display QA 2, the explain screen: prices in its formulas lost their tick's digits
("0.1 × 99,838 × 0.975", "1 × 2,997.2" beside 2,997.20 everywhere else), at 120 columns a
formula broke inside "(s + k)" and a term inside a word ("same-underlyin" / "g"), and its
header read "bk 92,452.0 · zero 92,451.7" for one position with no same-underlying
collateral, where MECHANICS says the two prices coincide."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from rich.console import Console
from textual.widgets import Static

from exchange_local import Exchange, ExchangeConfig
from perptui import format as fmt
from perptui.derivation import Derivation
from perptui.screens.explain import ExplainScreen
from perptui.venues.base import OrderRequest
from tests.tui_support import PaperHost

D = Decimal


def exchange() -> Exchange:
    """A desk on BTC at 99,838.0 and ETH at 2,997.20; "me" with 0.1 BTC, 1 ETH and USD."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.set_index_price("BTC", D(99_838))
    ex.set_index_price("ETH", D("2997.2"))
    for name in ("desk", "me"):
        ex.create_account(name)
    ex.deposit("desk", "USD", D(10_000_000))
    ex.deposit("me", "USD", D(20_000))
    ex.deposit("me", "BTC", D("0.1"))
    ex.deposit("me", "ETH", D(1))
    ex.place_order("desk", "BTC-PERP", "sell", D(2), price=D(99_838))
    ex.place_order("desk", "ETH-PERP", "sell", D(5), price=D("2997.2"))
    return ex


def text(ex: Exchange, market: str, width: int | None = None) -> str:
    console = Console(width=width or 160, record=True, file=io.StringIO(), color_system=None)
    deriv = Derivation(ex.explain("me", market), ex.health("me"), ex.market(market), 2, width)
    for table in deriv.tables():
        console.print(table)
    return console.export_text()


def test_prices_in_the_formulas_keep_their_ticks_digits():
    ex = exchange()
    ex.place_order("me", "BTC-PERP", "buy", D(1), type="market")
    ex.place_order("me", "ETH-PERP", "buy", D(1), type="market")
    shown = text(ex, "ETH-PERP")
    assert "= 0.1 × 99,838.0 × 0.975" in shown, shown
    assert "= 1 × 2,997.20 × 0.95" in shown, shown
    assert "× 2,997.20" in shown.split("2 · Maintenance")[1]  # the position's mark too
    assert "× 99,838.0" in shown.split("2 · Maintenance")[1]  # another market's, its tick
    assert not re.search(r"2,997\.2(?!0)", shown) and not re.search(r"99,838(?![.\d])", shown)


@pytest.mark.parametrize("width", [56, 59, 60, 62, 70])
def test_formulas_break_at_spaces_outside_their_groups_and_words_stay_whole(width: int):
    ex = exchange()
    ex.place_order("me", "BTC-PERP", "buy", D(1), type="market")
    shown = text(ex, "BTC-PERP", width)
    rows = shown.splitlines()
    assert all(len(row.rstrip()) <= width for row in rows)
    assert not any(row.rstrip().endswith(("(s +", "(s + k")) for row in rows), shown
    assert "same-underlying" in shown
    assert not any("same-underlyin" in row and "same-underlying" not in row for row in rows)
    assert not any(row.strip().startswith(("ying", "g collateral", "k)")) for row in rows)


async def test_the_header_rounds_the_zero_price_as_the_bankruptcy_price():
    app = PaperHost()
    async with app.run_test(size=(120, 36)) as pilot:
        venue = app.venue
        ex = venue.ex
        assert ex is not None
        ex.create_account("solo")
        ex.deposit("solo", "USD", D(9_000))
        ex.place_order("solo", "BTC-PERP", "buy", D(1), type="market")
        venue.account = "solo"  # one position, no same-underlying collateral
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        e = screen.expl
        assert e is not None and e.bankruptcy_price is not None and e.zero_price is not None
        assert abs(e.bankruptcy_price - e.zero_price) < D("0.000001")  # MECHANICS: one price
        title = str(screen.query_one("#explain-title", Static).content)
        bk = fmt.liq_price(e.bankruptcy_price, e.mark, D("0.5"))
        assert f"bk {bk} · zero {bk}" in title, title
    await app.venue.stop()


async def test_the_whatif_shows_the_requirement_up_and_the_room_above_it_down():
    app = PaperHost()
    async with app.run_test(size=(160, 48)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        await pilot.press("left", "left", "left")
        head = str(screen.query_one("#whatif-head", Static).content)
        mmr = re.search(r"MMR\(p\) = +([\d,.]+)", head)
        assert mmr is not None
        assert screen.expl is not None and screen.target is not None
        from perptui import whatif

        line = whatif.from_explanation(screen.expl, whatif.other_notional(
            screen.health, "BTC-PERP") if screen.health else None)  # fmt: skip
        assert mmr.group(1) == fmt.usd_up(line.mmr_at(screen.target)), head
    await app.venue.stop()


async def test_the_steps_are_laid_out_for_the_width_they_are_shown_at():
    """The derivation was laid out once, before the screen had a width (or before its
    scrollbar took two columns), and not again while the numbers stayed the same: Rich then
    squeezed each step's columns its own way."""
    from rich.table import Table

    app = PaperHost()
    async with app.run_test(size=(120, 36)) as pilot:
        await app.venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        screen = ExplainScreen(app.venue, "BTC-PERP")
        await app.push_screen(screen)
        for _ in range(3):
            await pilot.pause()
        steps = [s for s in screen.query("#derivation > Static") if s.id and "step" in s.id]
        terms = set()
        for static in steps:
            assert isinstance(static, Static)
            table = static.content
            assert isinstance(table, Table)
            widths = [column.width for column in table.columns]
            assert None not in widths, widths  # laid out for a known width
            assert sum(w or 0 for w in widths) + 6 == static.content_region.width
            terms.add(widths[0])
        assert len(terms) == 1, terms  # the same term column in every step
    await app.venue.stop()
