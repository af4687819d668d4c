"""One writer per store, the Python facade included (the store QA pass, items 4 and 10):

4. `Exchange(store=PATH)` took no lock: a script's `advance(10)` beside a running perptui
   succeeded, perptui then stopped with "UNIQUE constraint failed: journal.seq" and its later
   history was gone after a restart. Now the facade refuses with the "open in another
   process" words, holds the lock until close(), and perptui, serve and admin, which hold
   the lock around their session, still open their own store; readers (`exchange-local
   ledger`, replay) still read while a writer runs.
10. `admin create-account` on a store a perptui had open said "a server has it open; create
   the account through it: --url": the lock file now records its holder (pid and kind), and
   the refusal names it.

The other process is a real one, started and stopped by the test (`holding`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.cli import main
from exchange_local.replay import JournalReplay
from exchange_local.store import LedgerReader
from exchange_local.store_lock import (
    StoreInUse,
    StoreLocked,
    lock_path,
    store_lock,
)

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import asyncio, sys
sys.path.insert(0, {root!r})
db, kind = sys.argv[1], sys.argv[2]
if kind == "perptui":
    from perptui.venues.local import LocalVenue

    async def hold():
        venue = LocalVenue(db, clock="manual")
        await venue.start()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await venue.stop()

    asyncio.run(hold())
else:
    from exchange_local import Exchange

    ex = Exchange(store=db)
    print("ready", flush=True)
    sys.stdin.read()
    ex.close()
"""


@contextmanager
def holding(db: Path, kind: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with `db` open until the block ends: a perptui on its paper market
    ("perptui"), a script's Exchange(store=...) ("script") or a class server ("serve")."""
    if kind == "serve":
        cmd = [sys.executable, "-m", "exchange_local.cli", "serve", "--db", str(db),
               "--port", "0", "--scenario", "none"]  # fmt: skip
    else:
        cmd = [sys.executable, "-c", HOLDER.format(root=str(ROOT)), str(db), kind]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        while True:  # serve says "admin key ..." first, then "... serving ..."
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "the holder ended"
            if line.startswith("ready") or "serving" in line:
                break
        yield proc
    finally:
        if kind == "serve":
            proc.terminate()  # SIGTERM: serve's graceful stop and final snapshot
        elif proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr, proc.stdin):
                if stream is not None:
                    stream.close()


def make_store(db: Path) -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"), store=str(db))
    ex.create_account("alice")
    ex.deposit("alice", "USD", Decimal(100))
    ex.close()


# --- 4. the facade takes the lock ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["perptui", "script"])
def test_the_facade_refuses_a_store_another_process_has_open(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, kind):
        with pytest.raises(StoreInUse, match="is open in another process") as refused:
            Exchange(store=str(db))
        assert isinstance(refused.value, StoreError)  # what a script catches already
        # readers still read while the writer runs: the export and the replay
        with LedgerReader(str(db)) as reader:
            assert reader.has_account("alice")
        replay = JournalReplay(str(db))
        assert "alice" in replay.account_names()
        replay.close()
    again = Exchange(store=str(db))  # the holder closed: open again, its history whole
    assert again.balances("alice") == {"USD": Decimal(100)}
    assert again.check_invariants() == []
    again.close()


def test_the_ledger_export_reads_a_store_a_script_is_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, "script"):
        capsys.readouterr()
        assert main(["ledger", "--db", str(db), "--account", "alice"]) == 0
        assert "DEPOSIT" in capsys.readouterr().out


def test_the_facade_holds_the_lock_until_close(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex = Exchange(store=db)
    with pytest.raises(StoreInUse, match=r"Exchange\.close\(\)"), store_lock(db):
        pass  # as a second process would find it (the lock file says who holds it)
    other = Exchange(store=db)  # this process's own again (a test playing a crash does it)
    ex.close()
    with pytest.raises(StoreInUse), store_lock(db):
        pass  # still held: `other` is open
    other.close()
    with store_lock(db):  # released with the last one
        pass
    ex.close()  # twice: nothing more to release


def test_a_refused_open_holds_nothing(tmp_path: Path) -> None:
    """An exchange whose open fails after the store was opened (another configuration)
    releases the lock with the file."""
    db = str(tmp_path / "s.sqlite")
    make_store(Path(db))
    with pytest.raises(StoreError, match="different exchange configuration"):
        Exchange(ExchangeConfig(mark_source="index", seed=99), store=db)
    with store_lock(db):
        pass


def test_programs_that_hold_the_lock_still_open_their_own_store(tmp_path: Path) -> None:
    """serve, admin and perptui take the lock around their session and then open the store:
    the store's own lock is theirs (same process), not a refusal."""
    db = str(tmp_path / "s.sqlite")
    with store_lock(db):
        ex = Exchange(store=db)
        ex.create_account("bob")
        ex.close()
        ex = Exchange(store=db)  # again, after a close, within the same session
        assert "bob" in ex.accounts()
        ex.close()
    with store_lock(db):  # and the session's lock was released at its end
        pass


def test_an_exchange_dropped_without_close_does_not_lock_out_the_next(tmp_path: Path) -> None:
    """A script (or a test) that drops an exchange without close(): its store sits in a
    reference cycle until the collector runs; the next open in the process collects it."""
    db = str(tmp_path / "s.sqlite")
    ex = Exchange(store=db)
    ex.create_account("carol")
    del ex
    again = Exchange(store=db)
    assert "carol" in again.accounts()
    again.close()


# --- 10. the refusal names the holder ---------------------------------------------------------


def test_the_lock_file_records_its_holder(tmp_path: Path) -> None:
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, "perptui") as proc:
        assert Path(lock_path(str(db))).read_text().split() == [str(proc.pid), "perptui"]
        with pytest.raises(StoreInUse, match=f"perptui, pid {proc.pid}") as refused:
            Exchange(store=str(db))
        assert (refused.value.kind, refused.value.pid) == ("perptui", proc.pid)


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("perptui", "close that perptui first"),
        ("script", "a Python program using Exchange(store=...)"),
    ],
)
def test_admin_on_a_store_held_by_perptui_or_a_script_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, says: str
) -> None:
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, kind) as proc:
        capsys.readouterr()
        for args in (["create-account", "bob", "--deposit", "USD=5"], ["halt", "BTC-PERP"]):
            assert main(["admin", *args, "--db", str(db)]) == 1
            err = capsys.readouterr().err
            lines = err.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in err, err
            assert lines[0].startswith(f"exchange-local admin {args[0]}: error: "), err
            assert f"{db} is open in another process" in lines[0] and says in lines[0], err
            assert f"pid {proc.pid}" in lines[0], err
            assert "a server has" not in lines[0] and "--url" not in lines[0], err


def test_admin_on_a_store_held_by_a_server_still_says_act_through_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "class.sqlite"
    make_store(db)
    with holding(db, "serve") as proc:
        assert Path(lock_path(str(db))).read_text().split() == [
            str(proc.pid), "exchange-local", "serve"
        ]  # fmt: skip
        with pytest.raises(StoreLocked, match=f"exchange-local serve, pid {proc.pid}"):
            Exchange(store=str(db))
        capsys.readouterr()
        assert main(["admin", "create-account", "bob", "--db", str(db)]) == 1
        assert "--url" in capsys.readouterr().err


def test_a_lock_file_without_a_holder_is_said_as_before(tmp_path: Path) -> None:
    """An older process's lock file (a pid alone) or an empty one: the words of before."""
    db = str(tmp_path / "s.sqlite")
    with store_lock(db, holder=""):
        Path(lock_path(db)).write_text("")
        no_holder = r"\(a perptui or an exchange-local\)$"
        with pytest.raises(StoreLocked, match=no_holder), store_lock(db):
            pass
        Path(lock_path(db)).write_text(f"{os.getpid() + 1}\n")
        with (
            pytest.raises(StoreLocked, match="a perptui or an exchange-local, pid"),
            store_lock(db),
        ):
            pass


def test_serve_admin_and_ledger_expand_tilde_in_db() -> None:
    """`--db=~/x` reaches the program unexpanded by the shell: serve made a literal ./~/."""
    from exchange_local.cli import build_parser

    home = os.path.expanduser("~")
    parser = build_parser()
    assert parser.parse_args(["serve", "--db=~/class.sqlite"]).db == f"{home}/class.sqlite"
    ledger = parser.parse_args(["ledger", "--db=~/c.sqlite", "--account", "a"])
    assert ledger.db == f"{home}/c.sqlite"
    admin = parser.parse_args(["admin", "create-account", "zed", "--db=~/c.sqlite"])
    assert admin.db == f"{home}/c.sqlite"


@pytest.mark.parametrize("kind", ["script", "perptui"])
def test_a_deleted_lock_file_lets_no_second_writer_in(tmp_path: Path, kind: str) -> None:
    """A tidy-up deleted `two.sqlite.lock` under its holder, and the next opener locked a new
    file of that name: two writers on one store (a review found it). The store file is
    locked too."""
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, kind):
        os.remove(lock_path(str(db)))
        with pytest.raises(StoreInUse, match="is open in another process"):
            Exchange(store=str(db))
    again = Exchange(store=str(db))
    assert again.balances("alice") == {"USD": Decimal(100)}
    again.close()
