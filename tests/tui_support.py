"""Shared pieces of the TUI tests: venues on a manual clock and an SVG snapshot helper.

Why our own snapshot helper: pytest-textual-snapshot caps pytest below 9 and only works from
sync tests (shared/TUI.md); `export_screenshot()` is byte-identical across runs once the ids
Textual puts in it are stripped.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from textual.app import App
from textual.pilot import Pilot

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.teaching import teaching_venue
from perptui.venues.local import LocalVenue

SNAPSHOTS = Path(__file__).parent / "snapshots"
SETTLE_TRIES = 20  # pauses a snapshot waits at most for the screen to stop changing
__all__ = ["teaching_venue"]


class PaperHost(App[None]):
    """The smallest app that can hold one screen: a paper venue with a book, 5 s in."""

    def __init__(self) -> None:
        super().__init__()
        self.venue = LocalVenue(clock="manual")

    async def on_mount(self) -> None:
        await self.venue.start()
        await self.venue.advance(Decimal(5))


def living_venue() -> LocalVenue:
    """The default paper market (bots and feed), seeded, on a manual clock."""
    return LocalVenue(clock="manual", seed=1)


def app_for(venue: LocalVenue, confirm: bool = True) -> PerpApp:
    return PerpApp(venue, Settings(confirm_orders=confirm), frame_loop=False)


def freeze(app: PerpApp) -> None:
    """No blinking cursors: a snapshot must not depend on when it was taken."""
    from textual.widgets import Input

    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    for screen in app.screen_stack:
        for widget in screen.query(Input):
            widget.cursor_blink = False


def normalise(svg: str) -> str:
    return re.sub(r"terminal-\d+-", "terminal-", svg)


async def assert_snapshot(pilot: Pilot[None], app: PerpApp, name: str) -> None:
    """Compare the screen with tests/snapshots/NAME.svg; UPDATE_SNAPSHOTS=1 rewrites it.

    Why wait for two equal exports first: a DataTable sizes its columns when the app is idle,
    and on a busy machine one pause can end before that (a positions row was caught with its
    cells cut to the header's widths); the screens here run on a manual clock, so once laid
    out they stay the same.
    """
    freeze(app)
    svg = normalise(app.export_screenshot(title=name))
    for _ in range(SETTLE_TRIES):
        await pilot.pause()
        again = normalise(app.export_screenshot(title=name))
        if again == svg:
            break
        svg = again
    path = SNAPSHOTS / f"{name}.svg"
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        if os.environ.get("CI") and not path.exists():
            raise AssertionError(f"snapshot {path} is missing; run UPDATE_SNAPSHOTS=1 locally")
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
        return
    expected = path.read_text()
    if svg != expected:
        actual = path.with_suffix(".actual.svg")
        actual.write_text(svg)
        raise AssertionError(f"{name} differs from {path}; see {actual}")
