"""QA D7 and D8: the watched account's maintenance checked against Hyperliquid's own, and
Free and the isolated margin as Hyperliquid reports them.

D7: `crossMaintenanceMarginUsed` was read and never compared, though the README says the
gauge is HL's cross figures. Ours is now compared with it as the liquidation prices are
(flagged beyond 0.5 %), with a notice, and the watch panel gives HL's figure while they differ.

D8: with the isolated 10 SOL (marginUsed 400, leverage 5, notional 1,600) "Free" read 4,308,
more than HL's `withdrawable` 4,228: the 80 of isolated margin beyond notional / leverage was
counted as free cross collateral. And the isolated margin was a second, unlabelled "USDC
300.00" row. Fixtures: tests/fixtures/hyperliquid (constructed from documented shapes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange_local.health import CollateralLine
from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.stress import stress_grid
from perptui.venues.hyperliquid import HyperliquidVenue
from perptui.venues.hyperliquid_risk import (
    IsolatedMarginLine,
    WatchedRisk,
    compare_maintenance,
    watched_risk,
)
from perptui.venues.hyperliquid_wire import parse_account, parse_markets
from perptui.widgets.watch_panel import WatchPanel
from tests.test_hyperliquid_fake import ADDRESS, FakeHyperliquid, fixture, wait_for

D = Decimal


def risk_of(state: dict[str, Any]) -> WatchedRisk:
    _, infos = parse_markets(fixture("meta_and_asset_ctxs"), 0)
    return watched_risk(parse_account(state), infos, ADDRESS)


def drain(venue: HyperliquidVenue) -> list[str]:
    return list(iter(venue.take_notice, None))


# --- D7: maintenance, ours against HL's ---------------------------------------------------------


def test_our_maintenance_is_compared_with_hyperliquids() -> None:
    state = fixture("clearinghouse_state")
    agreed = risk_of(state).maintenance
    assert (agreed.ours, agreed.venue, agreed.mismatch) == (D("162.9"), D("162.9"), False)
    assert agreed.difference == 0
    state["crossMaintenanceMarginUsed"] = "400"  # QA's case: HL counts 400, we 162.90
    differs = risk_of(state).maintenance
    assert differs.mismatch and differs.venue == D(400)
    assert differs.difference == (D(400) - D("162.9")) / D(400)
    state["crossMaintenanceMarginUsed"] = "163.6"  # 0.43 % apart: within the tolerance
    assert not risk_of(state).maintenance.mismatch
    state["crossMaintenanceMarginUsed"] = "163.8"  # 0.55 % apart: beyond it
    assert risk_of(state).maintenance.mismatch
    del state["crossMaintenanceMarginUsed"]  # an older answer: nothing to compare
    older = risk_of(state).maintenance
    assert (older.venue, older.difference, older.mismatch) == (None, None, False)


def test_a_cent_of_rounding_or_no_cross_position_is_not_a_mismatch() -> None:
    assert not compare_maintenance(D(0), D(0)).mismatch  # isolated only: none either side
    assert not compare_maintenance(D("0.004"), D("0.001")).mismatch  # dust: HL's rounding
    assert compare_maintenance(D("0.5"), D(0)).mismatch  # HL has none, we have some


async def test_a_maintenance_mismatch_is_said_once_and_shown_while_it_lasts() -> None:
    async with FakeHyperliquid() as fake:
        venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, ws_url=fake.ws_url,
                                 poll_seconds=0.05)  # fmt: skip
        await venue.start()
        try:
            assert not any("maintenance" in n for n in drain(venue))
            assert venue.read_only_reason is None  # agreed: the usual watch words
            wrong = fixture("clearinghouse_state")
            wrong["crossMaintenanceMarginUsed"] = "400"
            fake.info["clearinghouseState"] = wrong
            await wait_for(lambda: venue.maintenance_check is not None
                           and venue.maintenance_check.mismatch)  # fmt: skip
            polled = len(fake.requests)
            await wait_for(lambda: len(fake.requests) > polled + 2)  # more polls, same answer
            said = [n for n in drain(venue) if "maintenance" in n]
            assert said == [
                "cross maintenance: ours 162.90 and Hyperliquid's crossMaintenanceMarginUsed "
                "400.00 differ by more than 0.5 % (59.28% apart); the MMR and gauge shown are "
                "ours"
            ]
            reason = venue.read_only_reason
            assert reason is not None and reason.startswith(venue.watch_words)
            assert "Hyperliquid's cross maintenance is 400.00, ours 162.90" in reason
            fake.info["clearinghouseState"] = fixture("clearinghouse_state")  # agrees again
            await wait_for(lambda: venue.read_only_reason is None)
            fake.info["clearinghouseState"] = wrong  # and differs again: said again
            await wait_for(lambda: any("maintenance" in n for n in drain(venue)))
        finally:
            await venue.stop()


async def test_the_watch_panel_shows_hyperliquids_maintenance_where_they_differ() -> None:
    async with FakeHyperliquid() as fake:
        wrong = fixture("clearinghouse_state")
        wrong["crossMaintenanceMarginUsed"] = "400"
        fake.info["clearinghouseState"] = wrong
        venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, ws_url=fake.ws_url,
                                 poll_seconds=0.05)  # fmt: skip
        app = PerpApp(venue, Settings(confirm_orders=False), frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.frame()
            await pilot.pause()
            text = str(app.main.query_one(WatchPanel).render())
            assert "400.00" in text and "162.90" in text


# --- D8: Free and the isolated margin ------------------------------------------------------------


def test_free_is_hyperliquids_withdrawable_and_imr_locks_the_isolated_margin() -> None:
    state = fixture("clearinghouse_state")
    h = risk_of(state).health
    assert h.free_collateral == D(4228)  # HL's withdrawable, not 5,400 - 1,092 = 4,308
    # IMR: cross 602 + 170, and SOL's isolated 400 whole (HL's marginSummary.totalMarginUsed)
    assert h.imr == D(1172) and h.equity - h.imr == h.free_collateral
    state["withdrawable"] = "4000"  # HL holds back more than we would: its figure
    assert risk_of(state).health.free_collateral == D(4000)
    del state["withdrawable"]  # an answer without it: the cross account's own E - IMR
    assert risk_of(state).health.free_collateral == D(5000) - D(772)


def test_the_isolated_margin_row_says_what_it_is() -> None:
    h = risk_of(fixture("clearinghouse_state")).health
    cross, iso = h.collateral
    assert type(cross) is CollateralLine and not hasattr(cross, "label")
    assert isinstance(iso, IsolatedMarginLine)
    assert (iso.asset, iso.amount, iso.market, iso.label) == ("USDC", D(300), "SOL-PERP",
                                                               "isolated SOL")  # fmt: skip
    # still USDC to the stress grid: no column of its own, never shocked
    markets, _ = parse_markets(fixture("meta_and_asset_ctxs"), 0)
    grid = stress_grid(h, markets)
    assert set(grid.columns) == {"ETH", "BTC", "SOL", "ALL"}
    assert grid.cell("ALL", D(0)).equity == h.equity == D(5400)


def test_the_account_panel_labels_the_isolated_margin_row_in_both_forms() -> None:
    """Where price x weight stood (1.00 x 1.000 for USDC), the row says whose margin it is;
    the row keeps its width, so the tight form at 120 columns is not cut."""
    import re

    from perptui.widgets.account import account_markup

    def plain(markup: str) -> list[str]:  # Textual's $variables are not Rich markup
        return re.sub(r"\[/?[$a-z][^\]]*\]", "", markup).splitlines()

    h = risk_of(fixture("clearinghouse_state")).health
    full, tight = plain(account_markup(h)), plain(account_markup(h, rows=8))
    for lines in (full, tight):
        rows = [line for line in lines if line.lstrip().startswith("USDC")]
        assert len(rows) == 2, lines
        assert "isolated SOL" in rows[1] and "isolated" not in rows[0], rows
        assert len(rows[1]) == len(rows[0]), rows  # the same columns, the value aligned
        assert rows[1].rstrip().endswith("300.00"), rows
