"""Display QA 2, the header and the insurance fund: at 120x36 a demo's header dropped OI
(the README promises mark, index, 24 h, OI and funding from 120 columns), a replay's put the
whole store path in it and lost the index, the 24 h change and OI, and the fund showed only
as "$20.0K" under the chart at 160 columns (nowhere at 120)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from textual.app import App, ComposeResult

from exchange_local import Exchange, ExchangeConfig
from perptui import format as fmt
from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.base import ClockInfo, Connection
from perptui.venues.demo import DemoVenue
from perptui.widgets.account import AccountPanel
from perptui.widgets.header import MarketHeader

D = Decimal
PROMISED = ("Mark ", "Index ", "24h ", "OI $", "/1h", "⏱")


def row(app: App[None], y: int) -> str:
    return app.screen._compositor.render_strips()[y].text


class Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield MarketHeader()


async def test_a_demo_header_keeps_oi_at_120_columns_playing_fast_and_paused():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        await venue.advance(D(5))
        await app.frame()
        await pilot.pause()
        text = row(app, 0)
        for piece in PROMISED:
            assert piece in text, (piece, text)
        header = app.main.query_one(MarketHeader)
        snap = app.snapshot
        assert snap is not None
        ms = snap.markets[snap.market]
        for clock in (ClockInfo(snap.clock.now_ms, D(20), False, True),  # the 20x chip too
                      ClockInfo(snap.clock.now_ms, D(20), True, True)):  # fmt: skip
            conn = Connection("paused") if clock.paused else Connection("live")
            header.show(ms, conn, clock, venue.name, True)
            await pilot.pause()
            text = row(app, 0)
            for piece in PROMISED:
                assert piece in text, (piece, text)
            assert "DEMO" in text and not text.rstrip().endswith("…")


def test_a_replay_is_named_by_its_file_not_its_path():
    from perptui.widgets.header import shown_venue

    assert shown_venue("REPLAY /home/t/classes/2025-03/crash.sqlite") == "REPLAY crash.sqlite"
    assert shown_venue("REPLAY crash.sqlite") == "REPLAY crash.sqlite"
    assert shown_venue("127.0.0.1:8811") == "127.0.0.1:8811"  # not a path: as it is


@pytest.mark.parametrize("width", [120, 160])
async def test_a_replay_header_with_a_long_path_keeps_the_promised_figures(width: int):
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3500))  # a funding rate and both countdowns
    clock = ClockInfo(ex.now_ms, D(1), False, True)
    async with Bar().run_test(size=(width, 3)) as pilot:
        header = pilot.app.query_one(MarketHeader)
        venue = "REPLAY /tmp/a/rather/long/path/to/the/class/server/session.sqlite"
        header.show(ex.market("BTC-PERP"), Connection("replay"), clock, venue, True)
        text = str(header.render())
        assert "/tmp/" not in text and "REPLAY" in text
        for piece in PROMISED:
            assert piece in text, (piece, text)
        if width == 160:
            assert "session.sqlite" in text  # the file's name where it has room


@pytest.mark.parametrize("size", [(120, 36), (160, 48)])
async def test_the_insurance_fund_is_in_the_account_panel_to_the_cent(size: tuple[int, int]):
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=size) as pilot:
        await app.frame()
        for _ in range(3):  # past the first liquidation: its fee went to the fund
            await venue.advance(D(50))
            await app.frame()
        await pilot.pause()
        snap = app.snapshot
        assert snap is not None
        fund = fmt.usd(snap.insurance_fund)
        assert re.fullmatch(r"[\d,]+\.\d\d", fund) and not fund.endswith(".00"), fund
        panel = app.main.query_one(AccountPanel)
        region = panel.region
        shown = [row(app, y)[region.x : region.right] for y in range(region.y, region.bottom)]
        assert any("Ins. fund" in line and fund in line for line in shown), (fund, shown)


async def test_the_fund_stays_in_a_paper_panel_at_120x36_beside_the_ticket():
    """The tight form above the ticket gives up unsettled PnL (settled within 30 s) before
    the fund."""
    from tests.tui_support import app_for, living_venue

    venue = living_venue()
    app = app_for(venue)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await venue.advance(D(5))
        for _ in range(2):
            await app.frame()
            await pilot.pause()
        snap = app.snapshot
        assert snap is not None
        region = app.main.query_one(AccountPanel).region
        shown = [row(app, y)[region.x : region.right] for y in range(region.y, region.bottom)]
        fund = fmt.usd(snap.insurance_fund)
        assert any("Ins. fund" in line and fund in line for line in shown), (fund, shown)
        for asset in ("USD", "BTC", "ETH"):
            assert any(line.lstrip().startswith(asset) for line in shown), (asset, shown)
