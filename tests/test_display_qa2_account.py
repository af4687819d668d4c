"""Display QA 2, the account panel: at 120x36 its numbers were cut ("● LIQUIDATING
(liquidatin…", "USD 12,077.32272 1.00 1.000 12,077.…"), the status word was said twice, and
a weight rounded up to three decimals made its row not add up (AAPL 50,000 x 230 x 0.860 is
9,890,000, the value beside it 9,886,608.83)."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

import pytest
from textual.content import Content

from exchange_local import Exchange, ExchangeConfig
from exchange_local.health import AccountHealth
from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.teaching import DESK, requote
from perptui.venues.demo import DemoVenue
from perptui.widgets.account import AccountPanel, account_markup, status_markup

D = Decimal
MEDIUM = 49  # the panel's columns at 120x36 (51 of the column, its left padding, a scrollbar)


def lines(markup: str) -> list[str]:
    return [Content.from_markup(line).plain for line in markup.splitlines()]


def rich_account() -> AccountHealth:
    """USD with six decimals, BTC and 50,000 AAPL (w_tot 0.85970512), a BTC long."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account(DESK)
    ex.deposit(DESK, "USD", D(100_000_000))
    requote(ex, D(100_000))
    ex.create_account("me")
    for asset, amount in (("USD", "12077.32272"), ("BTC", "0.1"), ("AAPL", "50000")):
        ex.deposit("me", asset, D(amount))
    ex.place_order("me", "BTC-PERP", "buy", D("1.5"), type="market")
    return ex.health("me")


def test_the_weight_has_four_decimals_rounded_down_in_both_forms():
    h = rich_account()
    aapl = next(c for c in h.collateral if c.asset == "AAPL")
    assert str(aapl.weight).startswith("0.859705")  # 0.85970512 to eight places
    for markup in (account_markup(h), account_markup(h, rows=11)):  # full, tight
        row = next(line for line in lines(markup) if line.lstrip().startswith("AAPL"))
        assert "0.8597" in row and "0.860" not in row, row
        assert "9,886,608.83" in row
        # what is shown, multiplied out, is not more than the value shown
        assert D(50_000) * D(230) * D("0.8597") <= D("9886608.83")
    usd = next(line for line in lines(account_markup(h)) if line.lstrip().startswith("USD"))
    assert "1.0000" in usd


@pytest.mark.parametrize("width", [MEDIUM, 62])
@pytest.mark.parametrize("rows", [None, 11])
def test_every_line_fits_the_panel_and_keeps_its_value(width: int, rows: int | None):
    h = rich_account()
    shown = lines(account_markup(h, rows=rows, width=width, fund=D("20506.33")))
    assert all(len(line) <= width for line in shown), [(len(x), x) for x in shown]
    for asset, value in (("USD", "11,852.17"), ("BTC", "9,750.00"), ("AAPL", "9,886,608.83")):
        row = next(line for line in shown if line.lstrip().startswith(asset))
        assert row.rstrip().endswith(value), row
    assert any("Ins. fund" in line and "20,506.33" in line for line in shown), shown


def test_a_narrow_panel_gives_up_the_usd_decimals_then_price_and_weight():
    h = rich_account()
    assert any("11,852.17272" in line for line in lines(account_markup(h, width=62)))
    tight = lines(account_markup(h, rows=11, width=MEDIUM))
    usd = next(line for line in tight if line.lstrip().startswith("USD"))
    assert "11,852.17272" not in usd and "11,852.17" in usd, tight


def test_the_status_word_is_not_said_twice():
    h = rich_account()
    liquidating = dataclasses.replace(h, status="liquidating")
    assert "(liquidating)" not in status_markup(liquidating)
    assert "● LIQUIDATING" in status_markup(liquidating)
    assert "LIQUIDATING (backstop)" in status_markup(dataclasses.replace(h, status="backstop"))
    assert "LIQUIDATING (bankrupt)" in status_markup(dataclasses.replace(h, status="bankrupt"))


async def test_no_account_row_is_cut_through_a_cascade_at_120_columns():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    seen: set[str] = set()
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        panel = app.main.query_one(AccountPanel)
        for _ in range(30):
            await venue.advance(D(5))
            await app.frame()
            await pilot.pause()
            region = panel.region
            shown = [app.screen._compositor.render_strips()[y].crop(region.x, region.right).text
                     for y in range(region.y, region.bottom)]  # fmt: skip
            assert not any("…" in line for line in shown), shown
            seen.update(word for word in ("LIQUIDATING", "Ins. fund") if word in "".join(shown))
            if any(re.search(r"USD +[\d,]+\.\d{6}", line) for line in shown):
                seen.add("micro-dollars")  # 2,942.317369 in full: "2,942.…" before
    assert {"LIQUIDATING", "Ins. fund", "micro-dollars"} <= seen, seen
