"""Opening and closing a store that cannot be written, and the facade's words (the store QA
pass, items 5, 6, 7, 8 and 9):

5. Every failed write said "free the disk and restart it", a read-only store too ("attempt
   to write a readonly database"), and `serve` printed its admin key before failing: a store
   that can only be read is refused at open now, before anything is shown, and a failed
   write is worded by its cause.
6. `Exchange.close()` on a full disk raised SQLite's error from the final snapshot and left
   the store open; a failed final snapshot is a warning like any other (the journal has it).
7. `Exchange(store='/missing/dir/x.sqlite')` raised a bare "unable to open database file".
8. `~` in the facade's store path (and `exchange-local ledger --db '~/...'`) was not the
   home directory.
9. A corrupt store printed `PRAGMA quick_check`'s hundred lines as the error.

As root, a read-only file needs another user: those cases run as `nobody` (setpriv), or are
skipped where that user cannot run this checkout's Python.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.cli import main
from exchange_local.store import LedgerReader
from exchange_local.store_lock import store_lock
from tests.test_store_cli_errors import as_nobody
from tests.test_store_failure import FullDisk, trading_exchange
from tests.test_store_qa2_lock import make_store
from tests.test_store_qa2_reset import corrupt_store

ROOT = Path(__file__).resolve().parent.parent
D = Decimal
BTC = "BTC-PERP"


# --- 5. a failed write, worded by its cause ---------------------------------------------------


def _coded(message: str, code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code  # type: ignore[attr-defined]
    return error


class Refusing(FullDisk):
    """The store's connection, refusing COMMIT with a given SQLite error."""

    error: sqlite3.Error

    def execute(self, sql: str, *args: Any) -> Any:
        if self.full and sql == "COMMIT":
            raise self.error
        return self.db.execute(sql, *args)


CAUSES = {
    "disk-full": (sqlite3.OperationalError("database or disk is full"), "free the disk"),
    "read-only": (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    "read-only-code": (_coded("attempt to write a readonly database", 8), "read-only"),
    "other": (sqlite3.OperationalError("disk I/O error"), "once that is put right"),
}


@pytest.mark.parametrize("cause", list(CAUSES))
def test_a_failed_write_says_what_to_do_about_its_cause(tmp_path: Path, cause: str) -> None:
    error, advice = CAUSES[cause]
    ex, _ = trading_exchange(str(tmp_path / "s.sqlite"))
    assert ex._store is not None
    refusing = Refusing(ex._store.db.db)  # type: ignore[attr-defined]
    refusing.error = error
    ex._store.db = refusing  # type: ignore[assignment]
    refusing.full = True
    with pytest.raises(StoreError) as failed:
        ex.place_order("a", BTC, "buy", D(1), type="market")
    said = str(failed.value)
    assert f"could not be written ({error})" in said and advice in said, said
    assert "its last command (place_order) is not saved" in said, said
    if cause != "disk-full":
        assert "free the disk" not in said, said
    ex.close()


def test_close_after_a_failed_write_still_closes(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex, disk = trading_exchange(db)
    disk.full = True
    with pytest.raises(StoreError):
        ex.advance(1)
    ex.close()
    with store_lock(db):  # the store and its lock are let go
        pass


@pytest.fixture
def as_another_user() -> Iterator[tuple[Path, list[str]]]:
    """(a folder under /tmp, the command prefix that runs as a user a chmod stops): as root
    `nobody` through setpriv (root writes read-only files); otherwise this user."""
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    as_user = as_nobody() if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="ro-store-"))
    try:
        yield folder, as_user
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


FACADE = """
import os, sys
sys.path.insert(0, {root!r})
from exchange_local import Exchange, StoreError
if sys.argv[2] == "trust-access":  # as if the permissions said yes: SQLite's own refusal
    os.access = lambda *args, **kwargs: True
try:
    Exchange(store=sys.argv[1]).close()
except StoreError as problem:
    print(problem)
    sys.exit(1)
"""


def _run(as_user: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*as_user, sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=ROOT
    )


def test_a_read_only_store_is_refused_at_open_and_left_as_it_was(
    as_another_user: tuple[Path, list[str]],
) -> None:
    folder, as_user = as_another_user
    db = folder / "class.sqlite"
    make_store(db)
    Path(f"{db}.lock").unlink()  # root's: the other user makes its own
    db.chmod(0o444)
    folder.chmod(0o777)  # the folder takes new files: only the store itself is read-only
    before = db.read_bytes()
    for access in ("check-access", "trust-access"):
        done = _run(as_user, "-c", FACADE.format(root=str(ROOT)), str(db), access)
        assert done.returncode == 1, done.stderr
        assert done.stdout == f"{db} is read-only: the exchange cannot write to it; make it " \
            "writable (or copy it to a writable place) and open it again (exchange-local " \
            "ledger reads it as it is)\n", done.stdout  # fmt: skip
    assert db.read_bytes() == before
    # serve: refused before its admin key is printed (it was printed, then serve failed)
    done = _run(as_user, "-m", "exchange_local.cli", "serve", "--port", "0", "--db", str(db))
    assert done.returncode == 1, done.stderr
    assert "admin key" not in done.stdout and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("exchange-local serve: error: "), lines
    assert f"{db} is read-only" in lines[0]
    assert not (folder / "class.keys.sqlite").exists()
    # still readable: the export reads it as it is
    done = _run(as_user, "-m", "exchange_local.cli", "ledger", "--db", str(db), "--account",
                "alice")  # fmt: skip
    assert done.returncode == 0 and "DEPOSIT" in done.stdout, done.stderr


def test_a_store_in_a_directory_that_cannot_be_written_is_refused_at_open(
    as_another_user: tuple[Path, list[str]],
) -> None:
    folder, as_user = as_another_user
    folder.chmod(0o555)
    db = folder / "new.sqlite"
    done = _run(as_user, "-c", FACADE.format(root=str(ROOT)), str(db), "check-access")
    assert done.returncode == 1, done.stderr
    assert done.stdout.strip() == (
        f"cannot create {db} for writing: its directory {folder} is not writable (SQLite "
        "creates the store's -wal and -shm files there)"
    )
    assert list(folder.iterdir()) == []


# --- 6. close() on a full disk ---------------------------------------------------------------


@pytest.mark.parametrize("forked", [False, True], ids=["inline", "forked"])
def test_close_on_a_full_disk_warns_and_closes_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    forked: bool,
) -> None:  # fmt: skip
    monkeypatch.setattr(Exchange, "fork_snapshots", forked)
    db = str(tmp_path / "s.sqlite")
    ex, _ = trading_exchange(db)
    ex.place_order("a", BTC, "buy", D("0.5"), type="market")
    before = (ex.balances("a"), [p.size for p in ex.health("a").positions])
    store = ex._store
    assert store is not None

    def full(*args: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "write_snapshot_blob", full)
    with caplog.at_level(logging.WARNING, logger="exchange_local.durable"):
        ex.close()  # raised sqlite3.OperationalError and left the store open
    assert "final snapshot could not be written (database or disk is full)" in caplog.text
    assert ex._store is None
    with store_lock(db):  # closed, its lock let go
        pass
    monkeypatch.undo()
    again = Exchange(store=db)  # the journal had every command
    assert (again.balances("a"), [p.size for p in again.health("a").positions]) == before
    assert again.check_invariants() == []
    again.close()


# --- 7 and 8. the facade's path: a missing directory, `~` ------------------------------------


def test_the_facade_says_a_directory_is_missing(tmp_path: Path) -> None:
    db = tmp_path / "missing" / "dir" / "x.sqlite"
    with pytest.raises(StoreError) as refused:
        Exchange(store=str(db))
    assert str(refused.value) == f"cannot open {db}: the directory {db.parent} does not exist"
    assert not (tmp_path / "missing").exists()


def test_the_facade_and_the_export_expand_tilde(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    ex = Exchange(ExchangeConfig(mark_source="index"), store="~/x.sqlite")
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(100))
    ex.close()
    assert (home / "x.sqlite").exists()
    with LedgerReader("~/x.sqlite") as reader:
        assert reader.has_account("alice")
    capsys.readouterr()
    assert main(["ledger", "--db", "~/x.sqlite", "--account", "alice"]) == 0
    assert "DEPOSIT" in capsys.readouterr().out
    again = Exchange(store="~/x.sqlite")
    assert again.balances("alice") == {"USD": D(100)}
    again.close()
    assert list(work.iterdir()) == []  # nothing named ~ here


# --- 9. a corrupt store is one line ------------------------------------------------------------


def test_a_corrupt_store_is_one_line_with_its_first_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "mid.sqlite"
    corrupt_store(db)
    capsys.readouterr()
    for args, prefix in (
        (["ledger", "--db", str(db), "--account", "alice"], "exchange-local ledger: error: "),
        (["admin", "halt", "BTC-PERP", "--db", str(db)], "exchange-local admin halt: error: "),
    ):
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith(f"{prefix}{db} is corrupt (On tree page "), err
        assert "never used" not in err, err
        assert err.rstrip().endswith(
            "it was left untouched: restore it from a copy, or use another store (--db PATH)"
        ), err
    with pytest.raises(StoreError) as refused:
        Exchange(store=str(db))
    assert "\n" not in str(refused.value)


async def test_perptui_closes_its_market_and_lets_go_when_the_pause_note_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk the note of when the market was paused could not be written; the
    OSError skipped the final close and kept the store's lock until the process ended."""
    from perptui.venues.local import LocalVenue

    db = tmp_path / "paper.sqlite"
    venue = LocalVenue(db, clock="manual")
    await venue.start()

    def full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(venue, "_write_pause", full)
    await venue.stop()  # raised OSError before the close
    with store_lock(str(db)):  # closed, its lock let go
        pass
