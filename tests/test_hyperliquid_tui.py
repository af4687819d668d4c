"""The terminal on Hyperliquid, headless against the loopback fake (fixtures constructed from
shared/VENUES.md's documented shapes, not recorded live: no network here): the watched account
on the main screen, explain and stress on it, an order refused as read-only; the paper market
on mirrored prices; and the command line's checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from perptui.app import PerpApp
from perptui.cli import main
from perptui.settings import Settings
from perptui.venues.hyperliquid import HyperliquidVenue, cli_venue
from perptui.venues.hyperliquid_mirror import HyperliquidPriceSource, MirrorVenue
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable
from tests.test_hyperliquid_fake import ADDRESS, FakeHyperliquid

D = Decimal


def test_the_command_line_checks_its_hyperliquid_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--venue", "hyperliquid"]) == 2
    assert "needs --address" in capsys.readouterr().err
    assert main(["--venue", "hyperliquid", "--address", "0x12"]) == 2
    assert "0x followed by 40 hex digits" in capsys.readouterr().err
    assert main(["--prices", "hyperliquid", "--venue", "hyperliquid", "--address", ADDRESS]) == 2
    assert "choose one" in capsys.readouterr().err
    assert main(["--address", ADDRESS]) == 2
    watch = cli_venue(True, False, ADDRESS, testnet=True)
    assert isinstance(watch, HyperliquidVenue) and watch.name == "Hyperliquid testnet"
    mirror = cli_venue(False, True, None, testnet=False, seed=3)
    assert isinstance(mirror, MirrorVenue) and mirror.seed == 3 and mirror.hold_gaps


async def test_the_watched_account_on_screen_with_explain_stress_and_a_refusal() -> None:
    async with FakeHyperliquid() as fake:
        venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, ws_url=fake.ws_url,
                                 poll_seconds=0.05)  # fmt: skip
        app = PerpApp(venue, Settings(confirm_orders=False), frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.frame()
            await pilot.pause()
            assert app.market == "ETH-PERP"  # the account's first position comes first
            table = app.main.query_one(PositionsTable)
            assert table.row_count == 3
            await pilot.press("t")
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "ExplainScreen"
            await pilot.press("escape")
            await pilot.press("S")
            await pilot.pause(0.3)
            assert type(app.screen).__name__ == "StressScreen"
            await pilot.press("escape")
            await pilot.pause()
            assert not app.main.query_one(OrderTicket).display  # nothing to send from here
            words = str(app.main.query_one("#watch").render())
            assert f"Watching {ADDRESS}" in words and "never signs an order" in words
            await pilot.press("b")
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert type(app.screen).__name__ == "MainScreen"  # the keys are off: no dialog


async def test_the_paper_market_on_mirrored_prices_on_screen() -> None:
    async with FakeHyperliquid() as fake:
        fake.on_subscribe["allMids"] = [("allMids", {"mids": {
            "BTC": "68001.5", "ETH": "3010.05", "SOL": "160.01"}})]  # fmt: skip
        fake.on_subscribe["activeAssetCtx"] = [
            (
                "activeAssetCtx",
                lambda sub: {
                    "coin": sub["coin"],
                    "ctx": {
                        "oraclePx": {"BTC": "68010.0", "ETH": "3011.5", "SOL": "160.05"}[
                            sub["coin"]
                        ]
                    },
                },
            )
        ]
        source = HyperliquidPriceSource(base_url=fake.base_url, ws_url=fake.ws_url)
        venue = MirrorVenue(source, clock="manual", first_prices_s=3)
        app = PerpApp(venue, Settings(confirm_orders=False), frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await app.frame()
            await pilot.pause()
            assert app.snapshot is not None
            assert app.snapshot.markets["BTC-PERP"].index == D(68010)
            assert app.snapshot.connection.state == "live" and not app.snapshot.clock.adjustable
