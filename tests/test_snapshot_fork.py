"""Snapshots pickled by a forked child (exchange_local/snapshot_fork.py): the same bytes as
an inline snapshot, stored under the journal row of the fork, never in the engine's way, and
never holding the store after the engine is gone."""

from __future__ import annotations

import gc
import logging
import os
import pickle
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

import exchange_local.durable as durable
from exchange_local import Exchange, ExchangeConfig, snapshot_fork
from exchange_local.store_lock import store_lock

pytestmark = pytest.mark.skipif(not snapshot_fork.AVAILABLE, reason="fork() snapshots: Linux")

D = Decimal
BTC = "BTC-PERP"


def stored_snapshots(ex: Exchange) -> list[tuple[int, bytes]]:
    assert ex._store is not None
    rows = ex._store.db.execute("SELECT journal_seq, state FROM snapshots").fetchall()
    return [(int(seq), bytes(blob)) for seq, blob in rows]


def trading(path: str) -> Exchange:
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    for name in ("a", "b"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(100_000))
    return ex


def until(done: Callable[[], bool]) -> None:
    """Wait, a minute at most, for another process to do something (a file it makes)."""
    deadline = time.monotonic() + 60
    while not done() and time.monotonic() < deadline:
        time.sleep(0.01)


def waiting_for(
    flag: Path, state: Callable[[], dict[str, object]], started: Path | None = None
) -> Callable[[], dict[str, object]]:
    """A _snapshot_state for the child only: it says it runs (`started`), past closing what
    it inherited, then holds the pickling until the test makes `flag`."""

    def waiting() -> dict[str, object]:
        if started is not None:
            started.touch()
        until(flag.exists)
        return state()

    return waiting


def test_the_child_stores_the_bytes_an_inline_snapshot_would_under_the_forks_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 6)
    ex = trading(str(tmp_path / "s.sqlite"))
    ex.place_order("b", BTC, "sell", D(2), price=D(100_000))
    ex.place_order("a", BTC, "buy", D(1), type="market")  # the sixth command: a fork
    assert ex._forked_snapshot is not None and ex._forked_snapshot.busy
    assert stored_snapshots(ex) == []  # the command returned without waiting for it
    inline = pickle.dumps(ex._snapshot_state(), protocol=pickle.HIGHEST_PROTOCOL)
    ex.finish_snapshot()
    assert stored_snapshots(ex) == [(6, inline)]
    assert not ex._forked_snapshot.busy
    assert list(tmp_path.glob("*.snapshot*")) == []  # the child's file is gone once stored
    ex.advance(1)
    before = ex.balances("a"), [p.size for p in ex.health("a").positions]
    ex.close()  # the final snapshot (inline) replaces it
    again = Exchange(store=str(tmp_path / "s.sqlite"))
    assert (again.balances("a"), [p.size for p in again.health("a").positions]) == before
    assert again.check_invariants() == []
    again.close()


def test_a_failed_child_is_logged_and_the_next_snapshot_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    ex = trading(str(tmp_path / "s.sqlite"))  # four commands: a child started at the third
    assert ex._forked_snapshot is not None
    ex.finish_snapshot()
    assert [seq for seq, _ in stored_snapshots(ex)] == [3]

    def broken() -> dict[str, object]:
        raise RuntimeError("cannot pickle")

    monkeypatch.setattr(ex, "_snapshot_state", broken)
    for _ in range(2):
        ex.advance(1)  # the second is due (seq 6, three after 3): its child fails
    with caplog.at_level(logging.WARNING, logger="exchange_local.snapshot_fork"):
        ex.finish_snapshot()
    assert "snapshot child process failed (exit 1)" in caplog.text
    assert [seq for seq, _ in stored_snapshots(ex)] == [3]  # the older one stays
    monkeypatch.undo()
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    for _ in range(3):
        ex.advance(1)
    ex.finish_snapshot()
    assert [seq for seq, _ in stored_snapshots(ex)] == [9]
    assert list(tmp_path.glob("*.snapshot*")) == []
    ex.close()


def test_closing_replaces_a_child_at_work_with_the_final_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    path = tmp_path / "s.sqlite"
    flag = tmp_path / "never"
    ex = trading(str(path))
    ex.finish_snapshot()
    monkeypatch.setattr(ex, "_snapshot_state", waiting_for(flag, ex._snapshot_state))
    for _ in range(3):
        ex.advance(1)
    assert ex._forked_snapshot is not None and ex._forked_snapshot.busy
    monkeypatch.undo()
    ex.close()  # kills the waiting child, writes the final snapshot here
    assert list(tmp_path.glob("*.snapshot*")) == []
    again = Exchange(store=str(path))
    assert again._store is not None
    snapshot = again._store.latest_snapshot()
    assert snapshot is not None and snapshot[0] == again._store.journal_seq == 7
    again.close()


def test_a_child_still_pickling_does_not_keep_the_store_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server died (no close) while its child pickled: a restart must open the store."""
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    path = str(tmp_path / "s.sqlite")
    flag = tmp_path / "go"
    started = tmp_path / "started"
    with store_lock(path):
        ex = trading(path)
        ex.finish_snapshot()  # the one of the third command
        monkeypatch.setattr(ex, "_snapshot_state", waiting_for(flag, ex._snapshot_state, started))
        for _ in range(3):
            ex.advance(1)
        child = ex._forked_snapshot
        assert child is not None and child.pid is not None
        pid = child.pid
        until(started.exists)  # the child is a real process: wait until it runs
    # the parent's lock is released: a second holder gets it although the child lives on
    with store_lock(path):
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # still running
    flag.touch()
    os.waitpid(pid, 0)
    child.pid = None


def test_leftover_snapshot_files_of_a_crash_are_removed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    trading(str(path)).close()
    left = [tmp_path / "s.sqlite.12.snapshot", tmp_path / "s.sqlite.13.snapshot-part"]
    for file in left:
        file.write_bytes(b"half")
    keep = tmp_path / "other.sqlite.12.snapshot"
    keep.write_bytes(b"not ours")
    Exchange(store=str(path)).close()
    assert [f.exists() for f in left] == [False, False]
    assert keep.exists()


def test_inline_where_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    monkeypatch.setattr(Exchange, "fork_snapshots", False)
    ex = trading(str(tmp_path / "s.sqlite"))
    assert ex._forked_snapshot is None
    assert [seq for seq, _ in stored_snapshots(ex)] == [3]
    ex.close()


def _state_of(pid: int) -> str | None:
    """The process's state letter from /proc ('Z' a zombie), None once it is reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_the_child_of_an_exchange_dropped_without_closing_is_reaped_by_the_next_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    dropped = trading(str(tmp_path / "dropped.sqlite"))
    assert dropped._forked_snapshot is not None and dropped._forked_snapshot.busy
    pid = dropped._forked_snapshot.pid
    assert pid is not None
    del dropped
    gc.collect()
    until(lambda: _state_of(pid) == "Z")  # finished; nobody waited for it
    assert _state_of(pid) == "Z"
    other = trading(str(tmp_path / "other.sqlite"))  # its own fork reaps the dropped child
    assert _state_of(pid) is None
    other.close()
