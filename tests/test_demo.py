"""`perptui demo`: a scenario stepped on the TUI's clock, every stage visible in the events tab."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local.errors import InvalidRequest
from exchange_local.scenarios import run_scenario
from exchange_local.stepping import SteppedScenario
from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.base import OrderRequest, TradingDisabled
from perptui.venues.demo import DemoVenue
from perptui.widgets.history import EventsLog


def test_a_stepped_scenario_ends_exactly_where_the_headless_one_does():
    stepped = SteppedScenario("gap", seed=3)
    stepped.start()
    assert stepped.run.scripted[:1] == ["desk"]
    while stepped.step():
        pass
    headless = run_scenario("gap", seed=3)
    assert stepped.result.summary == headless.summary
    assert [r.event for r in stepped.result.rows] == [r.event for r in headless.rows]
    assert stepped.error is None and stepped.result.ok
    assert stepped.seconds == 150  # 30 + 120 scripted seconds


def test_an_unknown_scenario_is_refused_with_the_list():
    with pytest.raises(InvalidRequest, match="cascade"):
        SteppedScenario("crash-everything")


async def test_the_cascade_demo_shows_every_stage_and_refuses_trading():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert venue.account == "ada"  # the lesson's first account, not its liquidity desk
        from textual.widgets import TabbedContent

        assert app.main.query_one(TabbedContent).active == "events"
        for _ in range(12):
            await venue.advance(Decimal(50))
            await app.frame()
        log = app.main.query_one(EventsLog)
        text = "\n".join(line.text for line in log.lines_seen)
        for stage in ("stage 1", "stage 2", "stage 3", "stage 5"):
            assert stage in text, stage
        assert "ada: stage 2" in text  # the watched account is named, not "YOU"
        assert venue.scenario.finished
        with pytest.raises(TradingDisabled):
            await venue.place_order(OrderRequest("BTC-PERP", "buy", Decimal(1), "market"))
        assert venue.watch_next() == "ben"


async def test_w_watches_the_next_account_in_the_panel_and_re_marks_the_events_log():
    """After `w` the log kept the first account's lines marked ▶ as ours and the new one's
    unmarked; the ticket's place names whom we watch and the keys a demo has."""
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        panel = app.main.query_one("#watch")
        words = str(panel.render())
        assert "Watching ada" in words and "demo cascade" in words
        for offered in ("p pause", "+ faster", "- slower", "w next account", "t explain"):
            assert offered in words, offered
        for _ in range(12):
            await venue.advance(Decimal(50))
            await app.frame()
        await pilot.pause()
        words = str(panel.render())  # the lesson is over: no clock left to offer
        assert "■ ended" in words and "pause" not in words and "faster" not in words
        log = app.main.query_one(EventsLog)

        def marked(account: str) -> list[bool]:
            ours = f"{account}:"
            return [line.mine for line in log.lines_seen
                    if line.kind == "liquidation" and line.text.startswith(ours)]  # fmt: skip

        assert marked("ada") and all(marked("ada")) and marked("ben") and not any(marked("ben"))
        await pilot.press("w")
        await pilot.pause()
        assert all(marked("ben")) and not any(marked("ada"))
        assert "Watching ben" in str(panel.render())
        footer = {b.binding.action for b in app.screen.active_bindings.values()}
        assert "watch_next" in footer and "cancel_all" not in footer
