"""Class QA D2: a short past its liquidation price read "Liq now ... Dist ↓0.0%": the arrow
came from the liquidation price against the mark, which turns round once the mark has
passed it. The arrow follows the side (a long falls into liquidation, a short rises into
it), and under liquidation the distance is "0.0%" with no arrow: nothing is ahead."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from exchange_local.health import PositionRisk
from perptui.teaching import move_index_near_liquidation
from perptui.venues.remote import RemoteVenue
from perptui.widgets.positions import PositionsTable, distance_text
from tests.test_server_support import live_server, make_class
from tests.tui_support import app_for, teaching_venue

D = Decimal


def row(size: str, liq: str, mark: str, state: str, distance: str | None) -> PositionRisk:
    """A position's risk row with only what distance_text reads set to something real."""
    zero = D(0)
    return PositionRisk(
        "BTC-PERP", D(size), D(100_000), D(100_000), D(mark), zero, zero, zero, zero, zero,
        D("0.02"), D("0.01"), D(liq), None, None, state,
        None if distance is None else D(distance),
    )  # fmt: skip


def test_the_arrow_follows_the_side_while_a_price_is_ahead():
    assert distance_text(row("1", "91000", "100000", "ok", "0.09")) == "↓9.0%"
    assert distance_text(row("-1", "116700", "100000", "ok", "0.167")) == "↑16.7%"


def test_past_the_liquidation_price_there_is_no_arrow():
    # the QA's numbers: a short at 88,454.5 over a liquidation price of 87,506.04
    short = row("-1.6", "87506.04", "88454.5", "now", "0")
    assert distance_text(short) == "0.0%"
    long = row("2", "95000", "94000", "now", "0")  # a long whose mark fell through it
    assert distance_text(long) == "0.0%"
    bankrupt = dataclasses.replace(short, liquidation_state="bankrupt")
    assert distance_text(bankrupt) == "0.0%"
    gone = dataclasses.replace(long, liquidation_price=None, distance_to_liquidation=None)
    assert distance_text(gone) == "0.0%"
    flat_risk = dataclasses.replace(gone, liquidation_state="ok")
    assert distance_text(flat_risk) == "—"  # no price would liquidate it


async def test_a_short_under_liquidation_on_a_class_server_has_no_down_arrow():
    """The QA repro: bob short 2 BTC-PERP, the price gapped through his liquidation price."""
    c = make_class()
    c.ex.place_order("bob", "BTC-PERP", "sell", D(2), type="market")
    liq = c.ex.health("bob").positions[0].liquidation_price
    assert liq is not None
    c.ex.set_index_price("BTC", (liq * D("1.01")).quantize(D("0.5")))
    with live_server(c.app) as live:
        venue = RemoteVenue(live.base_url, c.key["bob"])
        await venue.start()
        try:
            snap = await venue.snapshot("BTC-PERP")
        finally:
            await venue.stop()
    (pos,) = snap.health.positions
    assert pos.size < 0 and pos.liquidation_state == "now"
    assert pos.liquidation_price is not None and pos.liquidation_price < pos.mark_price
    assert distance_text(pos) == "0.0%"


async def test_the_positions_table_reads_liq_now_beside_a_distance_without_an_arrow():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "sell", D(3), type="market")
        move_index_near_liquidation(venue, "BTC-PERP", D("1.005"))  # over it: a rise liquidated
        await app.frame()
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        assert str(table.get_cell("BTC-PERP", "Liq")) == "now"
        assert str(table.get_cell("BTC-PERP", "Dist")) == "0.0%"
