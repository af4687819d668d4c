"""Class QA D5: at 80 columns a class server's header read " ● live 2ms │ BTC-PERP 87,492.0 │
F +0.027133% ⏱56:29 │ S 00:29", like a paper market's: the tightest form dropped the venue.
TUI.md section 1: "PAPER vs venue name always shown"; it is shortened (a server's host) where
the whole name does not fit, never left out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.app import App, ComposeResult

from exchange_local import Exchange, ExchangeConfig
from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.base import ClockInfo, Connection
from perptui.venues.remote import RemoteVenue
from perptui.widgets.header import MarketHeader
from tests.test_server_support import live_server, make_class

D = Decimal


class Bar(App[None]):
    def compose(self) -> ComposeResult:
        yield MarketHeader()


def market() -> tuple[Exchange, ClockInfo]:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3500))  # a funding rate and both countdowns
    return ex, ClockInfo(ex.now_ms, D(1), False, False)


def test_a_venue_name_is_shortened_never_dropped():
    from perptui.widgets.header import venue_forms

    assert venue_forms("127.0.0.1:8811") == ["127.0.0.1:8811", "127.0.0.1"]
    assert venue_forms("PAPER") == ["PAPER"]
    assert venue_forms("DEMO cascade") == ["DEMO cascade", "DEMO"]
    assert venue_forms("class.example.edu:8700")[2:] == ["class.examp…", "class.e…"]
    assert all(venue_forms(name)[-1] for name in ("[::1]:8700", "Hyperliquid testnet", "x"))


@pytest.mark.parametrize(
    ("venue", "paper", "conn", "shown"),
    [
        ("127.0.0.1:8811", False, Connection("live", latency_ms=2.0), "127.0.0.1"),
        ("class.example.edu:8700", False, Connection("live", latency_ms=12.0), "class.e"),
        ("DEMO cascade", True, Connection("live"), "DEMO"),
        ("PAPER", True, Connection("live"), "PAPER"),
        ("127.0.0.1:8811", False,
         Connection("stale", None, 3, 9.0, "reconnecting", "server stopping"), "127.0.0.1"),
    ],
)  # fmt: skip
async def test_every_80_column_header_names_the_venue(
    venue: str, paper: bool, conn: Connection, shown: str
):
    ex, clock = market()
    ms = ex.market("BTC-PERP")
    async with Bar().run_test(size=(80, 3)) as pilot:
        header = pilot.app.query_one(MarketHeader)
        header.show(ms, conn, clock, venue, paper)
        await pilot.pause()
        line = str(header.render())
        assert line.startswith(shown), line
        if conn.state == "live":  # the countdowns stay on the line beside it
            assert "⏱" in line and " S 0" in line and len(line.rstrip()) <= 78, line


async def test_a_reconnecting_server_keeps_its_name_in_the_chip_at_160_columns():
    """QA: "while reconnecting, the host also leaves the chip" at 160."""
    ex, clock = market()
    ms = ex.market("BTC-PERP")
    down = Connection("stale", None, 4, 9.0, "reconnecting",
                      "cannot reach 127.0.0.1:8811: All connection attempts failed")  # fmt: skip
    async with Bar().run_test(size=(160, 3)) as pilot:
        header = pilot.app.query_one(MarketHeader)
        header.show(ms, down, clock, "127.0.0.1:8811", False)
        await pilot.pause()
        line = str(header.render())
        assert line.startswith("127.0.0.1") and "STALE 9s" in line, line


async def test_a_student_at_80x24_sees_which_server_the_numbers_come_from():
    c = make_class()
    c.ex.advance(D(3500))  # a funding rate and both countdowns, as in the class
    with live_server(c.app) as live:
        venue = RemoteVenue(live.base_url, c.key["bob"])
        app = PerpApp(venue, Settings(), frame_loop=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await app.frame()
            await pilot.pause()
            line = str(app.main.query_one(MarketHeader).render())
    host = venue.name.rsplit(":", 1)[0]
    assert host == "127.0.0.1" and line.lstrip().startswith(host), line
