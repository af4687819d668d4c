"""`perptui replay --from "1d 00:01"` past the end (QA D9): the target is said with its day,
as `--from` takes it; it read "the recording ends at 00:05:32, before 00:01:00"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from perptui.replay import DAY_MS, exchange_ms, from_text, open_replay, start_ms
from tests.test_replay import class_session, session

HOUR_MS = 3_600_000


def test_a_target_past_the_end_is_said_with_its_day(tmp_path: Path, capsys: Any) -> None:
    db = str(tmp_path / "s.sqlite")
    session(db)[0].close()  # a paper session, 00:00:00 to 00:03:00
    assert open_replay(["--db", db, "--from", "1d 00:01"]) == 2
    err = capsys.readouterr().err
    assert "the recording ends at 00:03:00, before 1d 00:01:00" in err
    assert open_replay(["--db", db, "--from", "99999999999d 00:00"]) == 2
    assert "before 99999999999d 00:00:00" in capsys.readouterr().err


def test_a_class_stores_target_on_its_first_day_keeps_its_words(
    tmp_path: Path, capsys: Any
) -> None:
    db = str(tmp_path / "class.sqlite")
    class_session(db)  # 17:00 to 17:12 on a day of 2026
    assert open_replay(["--db", db, "--from", "1d 17:05"]) == 2
    assert "the recording ends at 17:12:00, before 1d 17:05:00" in capsys.readouterr().err


def test_the_from_text_names_a_moment_as_from_takes_it() -> None:
    assert from_text(0, 60_000) == "00:01:00"
    assert from_text(0, DAY_MS + 60_000) == "1d 00:01:00"
    server = 20_787 * DAY_MS + 17 * HOUR_MS  # a class server's clock, started at 17:00
    assert from_text(server, server + 11 * 60_000) == "17:11:00"
    assert from_text(server, server + 8 * HOUR_MS) == "01:00:00"  # after midnight: no day
    assert from_text(server, server + DAY_MS + 11 * 60_000) == "1d 17:11:00"


@given(
    first_s=st.integers(min_value=0, max_value=30_000 * 86_400),
    later_s=st.integers(min_value=0, max_value=400 * 86_400),
)
def test_from_text_read_back_by_from_is_the_same_moment(first_s: int, later_s: int) -> None:
    first, at = first_s * 1000, (first_s + later_s) * 1000
    assert start_ms(first, exchange_ms(from_text(first, at))) == at
