"""The watch panel's words: whom, why, the clock and the keys that work where nothing trades."""

from __future__ import annotations

from decimal import Decimal

from perptui.venues.base import ClockInfo
from perptui.widgets.watch_panel import WatchState, watch_markup

KEYS = {"clock.pause": "p", "clock.faster": "+", "clock.slower": "-", "demo.watch_next": "w",
        "screen.teach": "t", "tab.events": "6", "app.quit": "q"}  # fmt: skip


def clock(speed: str, paused: bool, adjustable: bool = True) -> ClockInfo:
    return ClockInfo(0, Decimal(speed), paused, adjustable)


def test_a_replay_offers_its_clock_keys_by_its_state() -> None:
    playing = watch_markup(WatchState("ann", "a replay", clock("50", False), True, KEYS))
    assert "▶ playing at 50x" in playing and "[b]p[/b] pause" in playing
    assert "[b]w[/b] next account" in playing
    paused = watch_markup(WatchState("ann", "a replay", clock("50", True), True, KEYS))
    assert "⏸ paused at 50x" in paused and "[b]p[/b] play" in paused
    still = watch_markup(WatchState("ann", "a replay", clock("0", True), True, KEYS))
    assert "still (speed 0)" in still and "[b]+[/b] plays" in still


def test_a_servers_read_key_offers_no_clock_nor_next_account() -> None:
    text = watch_markup(WatchState("", "class: this key can only watch", clock("1", False, False),
                                   False, KEYS))  # fmt: skip
    assert "Watching the market" in text and "this key can only watch" in text
    assert "pause" not in text and "faster" not in text and "next account" not in text
    assert "[b]t[/b] explain" in text


def test_a_remapped_key_is_the_one_shown_and_markup_in_names_is_escaped() -> None:
    keys = dict(KEYS, **{"clock.pause": "space"})
    text = watch_markup(WatchState("[red]x", "why", clock("1", False), True, keys))
    assert "[b]space[/b] pause" in text and "\\[red]x" in text


def test_an_ended_demo_or_replay_offers_no_clock_keys() -> None:
    """A finished demo said "▶ playing at 1x  p pause", and p only toggled the words."""
    text = watch_markup(WatchState("ada", "demo cascade", clock("1", False), True, KEYS, True))
    assert "■ ended" in text and "[b]q[/b] quits" in text
    assert "playing" not in text and "pause" not in text and "faster" not in text
