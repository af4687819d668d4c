"""`q` and ctrl+q ask first where quitting loses the market for good (--memory: nothing
stores it), and quit at once where a store or a server keeps it. `q` lost a whole in-memory
session to one stray key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from perptui.screens.modals import QuitScreen
from perptui.venues.demo import DemoVenue
from perptui.venues.local import LocalVenue
from tests.tui_support import app_for, teaching_venue


@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_an_in_memory_market_asks_before_quitting(key: str):
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        for cancel in ("n", "escape"):  # each answers "stay"
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, QuitScreen)
            assert "memory only" in app.screen.body
            await pilot.press(key)  # pressed again: still one question, no stack
            await pilot.pause()
            assert sum(isinstance(s, QuitScreen) for s in app.screen_stack) == 1
            await pilot.press(cancel)
            await pilot.pause()
            assert app.screen is app.main and app.is_running
        await pilot.press(key)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running


async def test_enter_confirms_the_question():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert not app.is_running


async def test_a_stored_market_quits_at_once(tmp_path: Path):
    app = app_for(LocalVenue(tmp_path / "paper.sqlite", clock="manual", living=False))
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_a_demo_quits_at_once():
    """A lesson is run again as it was: nothing of the user's is lost."""
    app = app_for(DemoVenue("calm", clock="manual", speed=Decimal(1)))  # type: ignore[arg-type]
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
