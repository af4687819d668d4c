"""`exchange-local scenario` (docs QA items 1 and 7).

1. `scenario cascade --speed 10` printed nothing until the run was over (61.7 s), then the whole
   timeline at once: with --speed each row is printed and flushed as it happens. The run is
   paced on a fake clock here, never by sleeping: at each pause the test looks at what a person
   watching the terminal had seen (the flushed output).
7. `scenario` without a name said "unknown scenario None".
"""

from __future__ import annotations

import io
import sys

import pytest

from exchange_local import scenarios
from exchange_local.cli import main
from exchange_local.scenarios import SCENARIOS, format_timeline, run_scenario


class Terminal(io.StringIO):
    """Standard output as a person watching it sees it: only what has been flushed."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = ""

    def flush(self) -> None:
        super().flush()
        self.shown = self.getvalue()


class FakeClock:
    """Real time for the pacing: sleeping moves it on at once and notes what was on screen."""

    def __init__(self, terminal: Terminal) -> None:
        self.now = 0.0
        self.terminal = terminal
        self.at_pauses: list[str] = []  # what the terminal showed at each pause, in order

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.at_pauses.append(self.terminal.shown)
        self.now += seconds


def paced(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[int, Terminal, FakeClock]:
    terminal = Terminal()
    clock = FakeClock(terminal)
    monkeypatch.setattr(scenarios, "REAL_TIME", scenarios.RealTime(clock.monotonic, clock.sleep))
    monkeypatch.setattr(sys, "stdout", terminal)
    status = main(argv)
    return status, terminal, clock


def timeline_rows(out: str) -> list[str]:
    """The printed timeline's rows (after its title and column names, before the summary)."""
    return out.split("\n\nsummary:")[0].splitlines()[2:]


def test_a_paced_scenario_shows_each_row_as_it_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    status, terminal, clock = paced(monkeypatch, ["scenario", "gap", "--speed", "10"])
    assert status == 0
    # gap runs 30 + 120 exchange seconds: one pause a second, 150 s at 10x is 15 s
    assert len(clock.at_pauses) == 150
    assert clock.now == pytest.approx(15.0)
    first = clock.at_pauses[0]
    assert first.startswith("scenario gap, seed 1\n    time  event")
    assert "eve buys 1 from desk" in first and "liquidation" not in first
    rows = timeline_rows(terminal.getvalue())
    assert any("liquidation: adl" in row for row in rows)
    for row in rows:  # each row on screen within a second of its exchange time, not before
        second = int(row.split()[0])
        assert not any(row in shown for shown in clock.at_pauses[: max(second - 1, 0)]), row
        assert row in clock.at_pauses[second], row
    assert "summary:" not in clock.at_pauses[-1]  # the summary only once the run is over
    assert all(row in terminal.shown for row in rows)  # flushed, not left in a buffer
    assert terminal.getvalue().endswith("invariants: all held\n")


@pytest.mark.parametrize("name", ["gap", "squeeze"])
def test_a_paced_timeline_says_what_the_final_one_says(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rows and words (squeeze's "[no caps]"/"[caps]" labels too); only the event
    column is wider, since the widest event is not known while the run goes on."""
    status, terminal, _ = paced(monkeypatch, ["scenario", name, "--speed", "1000"])
    assert status == 0
    final = format_timeline(run_scenario(name, seed=1)).splitlines()[1:]
    assert [row.split() for row in timeline_rows(terminal.getvalue())] == [
        row.split() for row in final
    ]


def test_without_speed_the_timeline_is_printed_once_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    status, terminal, clock = paced(monkeypatch, ["scenario", "gap"])
    assert status == 0 and clock.at_pauses == []  # full speed: no pacing
    timeline = format_timeline(run_scenario("gap", seed=1))
    assert terminal.getvalue().startswith(f"scenario gap, seed 1\n{timeline}\n\nsummary:\n")


def test_run_scenario_hands_each_row_to_a_watcher_as_it_is_recorded() -> None:
    seen: list[scenarios.Row] = []
    result = run_scenario("squeeze", seed=1, on_row=seen.append)
    assert seen == result.rows
    assert run_scenario("gap", seed=1).rows  # no watcher left behind for the next run
    assert seen == result.rows


def test_a_scenario_without_a_name_asks_for_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err
    assert err.startswith("exchange-local scenario: error: give a scenario name (or --list)")
    assert "None" not in err
    for name, (description, _) in SCENARIOS.items():
        assert f"  {name:<10} {description}\n" in err
