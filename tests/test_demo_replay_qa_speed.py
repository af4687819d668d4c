"""`perptui demo --speed` (QA D1, D2): the paper market's and the replay's rule, 0 to 10,000.

"abc" and "nan" crashed with a traceback, and "inf" (or 1e9) opened a lesson frozen at 00:00
under "Infinityx", whose `-` then went to 0x. The keys keep to the same range.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from perptui.app import PerpApp
from perptui.cli import main as cli_main
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue
from perptui.venues.local import MAX_SPEED, LocalVenue

D = Decimal


@pytest.fixture
def no_screen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[PerpApp]:
    """The apps `perptui demo` would run, kept rather than run (no terminal in a test), and
    settings read from an empty directory rather than the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    opened: list[PerpApp] = []
    monkeypatch.setattr(PerpApp, "run", lambda app, *a, **k: opened.append(app))
    return opened


@pytest.mark.parametrize(
    ("speed", "said"),
    [
        ("abc", "speed 'abc' is not a number"),
        ("nan", "speed must be between 0 and 10000"),
        ("inf", "speed must be between 0 and 10000"),
        ("1e9", "speed must be between 0 and 10000"),
        ("10000.5", "speed must be between 0 and 10000"),
        ("-1", "speed must be between 0 and 10000"),
    ],
)
def test_a_bad_demo_speed_is_one_line_of_argparse_and_no_lesson(
    speed: str, said: str, no_screen: list[PerpApp], capsys: Any
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["demo", "cascade", "--speed", speed])
    assert exit_.value.code == 2 and no_screen == []
    err = capsys.readouterr().err
    assert f"perptui demo: error: argument --speed: {said}" in err
    assert "Traceback" not in err


def test_the_demo_takes_the_same_speeds_as_the_paper_market_and_the_replay(
    no_screen: list[PerpApp],
) -> None:
    for speed in ("0", "2.5", "10000"):
        assert cli_main(["demo", "cascade", "--speed", speed]) == 0
    assert [app.venue.speed for app in no_screen] == [D(0), D("2.5"), D(10000)]
    assert cli_main(["demo", "cascade"]) == 0
    assert no_screen[-1].venue.speed == D(5)  # the default


@pytest.mark.parametrize("speed", ["Infinity", "NaN", "10001", "-0.5"])
async def test_the_venue_refuses_a_clock_speed_outside_the_range(speed: str) -> None:
    venue = LocalVenue(clock="manual", speed=D(5))
    with pytest.raises(ValueError, match="between 0 and 10000"):
        await venue.set_speed(D(speed))
    assert venue.speed == D(5)
    await venue.set_speed(MAX_SPEED)
    assert venue.speed == MAX_SPEED


async def test_a_lesson_at_the_top_speed_keeps_no_backlog_once_slowed() -> None:
    """At 10,000x a tick owes 1,000 lesson seconds and runs 600; the rest was kept, and after
    `-` (or `p` and resume) the lesson went on at 600 seconds a tick until it was paid."""
    venue = DemoVenue("funding", clock="manual", speed=MAX_SPEED)  # a 900-second lesson
    await venue.start()
    try:
        venue._run_clock(D("0.1") * MAX_SPEED)
        assert venue.scenario.seconds == 600
        await venue.set_speed(D(1))
        venue._run_clock(D("0.1"))  # a tenth of a lesson second: no step yet
        assert venue.scenario.seconds == 600 and not venue.scenario.finished
    finally:
        await venue.stop()


async def test_plus_and_minus_keep_the_demo_clock_within_the_range() -> None:
    venue = DemoVenue("cascade", clock="manual", speed=MAX_SPEED)
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        seen = []
        for key in ("minus", "plus", "plus", "plus", *["minus"] * 12):
            await pilot.press(key)
            await pilot.pause()
            await app.frame()  # the snapshot the next key reads the speed from
            seen.append(venue.speed)
        assert all(D(0) <= s <= MAX_SPEED for s in seen), seen
        assert seen[-1] == 0 and max(seen) > 0
