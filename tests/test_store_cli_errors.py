"""A store that cannot be used, aliases of one store, stopping a server with a signal, and
exporting from a read-only directory (the durability QA pass):

1. `exchange-local serve --db X` and `exchange-local admin ... --db X` on a missing directory,
   a file that is not a store (garbage, truncated, old schema), a directory, a lock file that
   cannot be created (read-only directory), a corrupt key file or a full disk: one line
   `exchange-local serve: error: ...` naming the path, status 1, no traceback, nothing left
   open.
2. The lock is on the resolved path: a symlink or another relative path to the same store
   takes the same lock.
3. SIGINT and SIGTERM stop `serve` with status 0, no traceback, and the final snapshot.
4. `exchange-local ledger` reads a cleanly closed store in a directory it cannot write.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import exchange_local.store as store_module
import exchange_local.store_lock as store_lock_module
from exchange_local.cli import main
from exchange_local.server import market
from exchange_local.server.keys import keys_path
from exchange_local.store_lock import StoreLocked, store_lock

ROOT = Path(__file__).resolve().parent.parent


def make_store(db: Path) -> None:
    """A store with one funded account (alice), cleanly closed."""
    assert main(["admin", "create-account", "alice", "--deposit", "USD=100", "--db", str(db)]) == 0


def one_error_line(err: str, prefix: str, path: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    assert path in lines[0], err
    assert "Traceback" not in err
    return lines[0]


# --- 1. a store that cannot be used -----------------------------------------------------------


def _not_a_store(tmp: Path) -> str:
    (tmp / "notes.sqlite").write_text("not a database\n" * 20)
    return str(tmp / "notes.sqlite")


def _truncated(tmp: Path) -> str:
    make_store(tmp / "whole.sqlite")
    (tmp / "cut.sqlite").write_bytes((tmp / "whole.sqlite").read_bytes()[:3000])
    return str(tmp / "cut.sqlite")


def _old_schema(tmp: Path) -> str:
    make_store(tmp / "old.sqlite")
    db = sqlite3.connect(tmp / "old.sqlite")
    db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    return str(tmp / "old.sqlite")


def _directory(tmp: Path) -> str:
    (tmp / "class.sqlite").mkdir()
    return str(tmp / "class.sqlite")


def _missing_directory(tmp: Path) -> str:
    return str(tmp / "nowhere" / "class.sqlite")


def _corrupt_keys(tmp: Path) -> str:
    make_store(tmp / "class.sqlite")
    Path(keys_path(str(tmp / "class.sqlite"))).write_bytes(b"\x13garbage" * 1000)
    return str(tmp / "class.sqlite")


UNUSABLE = {
    "not-a-store": (_not_a_store, "is not an exchange store"),
    "truncated": (_truncated, "cannot be read as an exchange store"),
    "old-schema": (_old_schema, "schema version 2"),
    "directory": (_directory, "is a directory"),
    "missing-directory": (_missing_directory, "does not exist"),
    "corrupt-keys": (_corrupt_keys, "key file"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_serve_on_an_unusable_store_is_one_line_and_status_1(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, says = UNUSABLE[case]
    db = make(tmp_path)
    capsys.readouterr()
    assert main(["serve", "--port", "0", "--scenario", "none", "--db", db]) == 1
    named = keys_path(db) if case == "corrupt-keys" else db
    line = one_error_line(capsys.readouterr().err, "exchange-local serve: error: ", named)
    assert says in line
    assert not os.path.exists(_missing_directory(tmp_path))  # nothing created on the way


ADMIN_COMMANDS = {
    "create-account": ["create-account", "bob", "--deposit", "USD=5"],
    "halt": ["halt", "BTC-PERP"],
    "create-key": ["create-key", "proj", "--scope", "read"],
}
KEYS_ONLY = ("create-key",)  # keys alone live in the key file: the store is not opened
ADMIN_CASES = [
    (command, case)
    for command in ADMIN_COMMANDS
    for case in UNUSABLE
    if command not in KEYS_ONLY or case in ("directory", "missing-directory", "corrupt-keys")
]


@pytest.mark.parametrize(("command", "case"), ADMIN_CASES)
def test_admin_on_an_unusable_store_is_one_line_and_status_1(
    command: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, says = UNUSABLE[case]
    db = make(tmp_path)
    capsys.readouterr()
    assert main(["admin", *ADMIN_COMMANDS[command], "--db", db]) == 1
    prefix = f"exchange-local admin {command}: error: "
    named = keys_path(db) if case == "corrupt-keys" else db
    line = one_error_line(capsys.readouterr().err, prefix, named)
    assert says in line


def test_a_store_error_from_the_command_line_has_no_traceback(tmp_path: Path) -> None:
    """The real process: one line on stderr, status 1 (what `serve --help` documents)."""
    db = str(tmp_path / "nowhere" / "class.sqlite")
    for args in (["serve", "--port", "0"], ["admin", "halt", "BTC-PERP"]):
        done = subprocess.run(
            [sys.executable, "-m", "exchange_local.cli", *args, "--db", db],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert done.returncode == 1, done.stderr
        one_error_line(done.stderr, f"exchange-local {args[0]}", db)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_lock_file_that_cannot_be_created_is_one_line(
    code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read-only directory (as root chmod does not stop us: the lock file's open fails as
    a read-only mount or a directory without write permission makes it fail)."""
    db = str(tmp_path / "class.sqlite")

    def refuse(path: str, *args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(store_lock_module, "open", refuse, raising=False)
    assert main(["serve", "--port", "0", "--db", db]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local serve: error: ", db)
    assert os.strerror(code) in line and ".lock" in line
    assert main(["admin", "create-account", "bob", "--db", db]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local admin create-account", db)
    assert os.strerror(code) in line
    assert main(["admin", "halt", "BTC-PERP", "--db", db]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local admin halt: error: ", db)
    assert os.strerror(code) in line


def test_a_full_disk_at_start_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")

    def full(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(market, "open_exchange", full)
    assert main(["serve", "--port", "0", "--db", db]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local serve: error: ", db)
    assert "database or disk is full" in line
    assert main(["admin", "create-account", "bob", "--db", db]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local admin create-account", db)
    assert "database or disk is full" in line


def test_a_key_store_that_fails_closes_the_exchange_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _corrupt_keys(tmp_path)
    opened: list[Any] = []
    real_open = market.open_exchange

    def spy(*args: Any, **kwargs: Any) -> Any:
        ex = real_open(*args, **kwargs)
        opened.append(ex)
        return ex

    monkeypatch.setattr(market, "open_exchange", spy)
    capsys.readouterr()
    assert main(["serve", "--port", "0", "--db", db]) == 1
    assert "key file" in capsys.readouterr().err
    assert len(opened) == 1 and opened[0]._store is None  # closed: nothing half-open
    with store_lock(db):  # and the lock was released
        pass


# --- 2. one lock per store, whatever the path -----------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_a_symlink_or_another_path_takes_the_same_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "real.sqlite"
    make_store(real)
    alias = tmp_path / "alias.sqlite"
    alias.symlink_to(real)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    relative = os.path.join("..", "sub", "..", "real.sqlite")
    with store_lock(str(real)):
        for other in (str(alias), relative):
            with pytest.raises(StoreLocked, match="is open in another process"), store_lock(other):
                pass
    with store_lock(str(alias)):
        held = re.escape(f"{real} is open in another process")
        with pytest.raises(StoreLocked, match=held), store_lock(str(real)):
            pass
        capsys.readouterr()
        assert main(["serve", "--port", "0", "--db", relative]) == 1
        line = one_error_line(capsys.readouterr().err, "exchange-local serve: error: ", relative)
        assert "is open in another process" in line


# --- 3. SIGINT and SIGTERM stop the server cleanly ------------------------------------------


def _start(db: str) -> tuple[subprocess.Popen[str], str, str]:
    cmd = [sys.executable, "-m", "exchange_local.cli", "serve", "--db", db, "--port", "0"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("admin key"), first
    line = proc.stdout.readline()
    assert "serving" in line, line
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    return proc, url, first.strip().rsplit(" ", 1)[-1]


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_serve_with_status_0_and_a_final_snapshot(
    sig: signal.Signals, tmp_path: Path
) -> None:
    db = str(tmp_path / "class.sqlite")
    proc, url, admin = _start(db)
    try:
        # a command after the opening snapshot: only the final snapshot covers it
        r = httpx.post(
            f"{url}/admin/accounts",
            json={"name": "alice", "deposits": {"USD": "100"}, "scopes": ["trade"]},
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        journal = ro.execute("SELECT MAX(seq) FROM journal").fetchone()[0]
        snapshot = ro.execute("SELECT MAX(journal_seq) FROM snapshots").fetchone()[0]
        created = ro.execute(
            "SELECT COUNT(*) FROM journal WHERE command = 'create_account'"
        ).fetchone()[0]
    finally:
        ro.close()
    assert created >= 1
    assert snapshot == journal
    with store_lock(db):  # released: the process is gone
        pass


# --- 4. the ledger export from a read-only directory --------------------------------------


def _refuse_plain_read_only(monkeypatch: pytest.MonkeyPatch, writable: bool) -> list[bool]:
    """As a read-only directory makes SQLite fail: `mode=ro` cannot create the -shm file."""
    real = store_module._connect_read_only
    tried: list[bool] = []

    def connect(path: str, immutable: bool) -> sqlite3.Connection:
        tried.append(immutable)
        if not immutable:
            raise sqlite3.OperationalError("unable to open database file")
        return real(path, immutable)

    monkeypatch.setattr(store_module, "_connect_read_only", connect)
    monkeypatch.setattr(store_module, "_dir_writable", lambda path: writable)
    return tried


def test_ledger_falls_back_to_immutable_for_a_cleanly_closed_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")
    make_store(Path(db))
    capsys.readouterr()
    tried = _refuse_plain_read_only(monkeypatch, writable=False)
    assert main(["ledger", "--db", db, "--account", "alice"]) == 0
    assert tried == [False, True]
    out = capsys.readouterr().out
    assert "DEPOSIT" in out and "100.000000" in out
    assert not os.path.exists(f"{db}-wal") and not os.path.exists(f"{db}-shm")


def test_ledger_says_why_a_store_in_a_read_only_directory_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")
    make_store(Path(db))
    Path(f"{db}-wal").write_bytes(b"\0" * 64)  # not closed cleanly: immutable would miss it
    capsys.readouterr()
    tried = _refuse_plain_read_only(monkeypatch, writable=False)
    assert main(["ledger", "--db", db, "--account", "alice"]) == 1
    assert tried == [False]
    line = one_error_line(capsys.readouterr().err, "exchange-local ledger: error: ", db)
    assert "not closed cleanly" in line and "not writable" in line
    os.remove(f"{db}-wal")
    tried = _refuse_plain_read_only(monkeypatch, writable=True)  # another cause: said as is
    assert main(["ledger", "--db", db, "--account", "alice"]) == 1
    line = one_error_line(capsys.readouterr().err, "exchange-local ledger: error: ", db)
    assert "unable to open database file" in line and tried == [False]


def as_nobody() -> list[str]:
    """The command prefix that runs as `nobody` (setpriv), for a test as root, whom a chmod
    does not stop; skips where that cannot run this checkout's Python."""
    if shutil.which("setpriv") is None:
        pytest.skip("as root a read-only file or directory needs setpriv to drop privileges")
    as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(  # a checkout or venv under a private folder: nobody cannot run it
        [*as_user, sys.executable, "-c", "import exchange_local.cli"],
        capture_output=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip("user nobody cannot run this checkout's Python (a private folder)")
    return as_user


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """(a directory the export cannot write, the command prefix that runs as such a user):
    chmod 555 works for an ordinary user; root is not stopped by it, so as root the export
    runs as `nobody` (setpriv) in a directory under /tmp that nobody can read."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        yield folder, []
        folder.chmod(0o755)
        return
    as_user = as_nobody()
    folder = Path(tempfile.mkdtemp(prefix="ro-store-"))
    folder.chmod(0o755)
    try:
        yield folder, as_user
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_ledger_reads_a_store_in_a_read_only_directory(
    read_only_dir: tuple[Path, list[str]],
) -> None:
    folder, as_user = read_only_dir
    db = folder / "class.sqlite"
    make_store(db)
    for leftover in folder.iterdir():
        leftover.chmod(0o644)
    folder.chmod(0o555)
    ledger = ["ledger", "--db", str(db), "--account", "alice"]
    done = subprocess.run(
        [*as_user, sys.executable, "-m", "exchange_local.cli", *ledger],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "DEPOSIT" in done.stdout and "100.000000" in done.stdout
    assert sorted(p.name for p in folder.iterdir()) == [
        "class.keys.sqlite",
        "class.sqlite",
        "class.sqlite.lock",
    ]


def test_a_symlink_to_a_store_finds_the_stores_own_keys(tmp_path: Path) -> None:
    from exchange_local.server.keys import keys_path

    real = tmp_path / "real.sqlite"
    real.write_bytes(b"")
    alias = tmp_path / "alias.sqlite"
    alias.symlink_to(real)
    assert keys_path(str(alias)) == keys_path(str(real)) == str(tmp_path / "real.keys.sqlite")


def test_a_lock_file_that_cannot_be_written_on_a_full_disk_still_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk the pid written into the lock file failed at close: a traceback from
    serve instead of the store's own one-line 'database or disk is full'."""
    import errno

    from exchange_local import store_lock as module

    class FullFile:
        def __init__(self, path: str) -> None:
            self.real = open(path, "a+")  # noqa: SIM115

        def fileno(self) -> int:
            return self.real.fileno()

        def seek(self, *args: Any) -> None:
            self.real.seek(*args)

        def truncate(self) -> None:
            self.real.truncate()

        def write(self, text: str) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        flush = write  # type: ignore[assignment]

        def close(self) -> None:
            self.real.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(module, "open", lambda path, mode: FullFile(path), raising=False)
    db = str(tmp_path / "s.sqlite")
    # still held (the flock is the lock), though its pid could not be written
    with module.store_lock(db), pytest.raises(module.StoreLocked), module.store_lock(db):
        pass


@pytest.mark.parametrize("args", [["list"], ["create-key", "zz", "--scope", "read"]])
def test_key_commands_refuse_a_file_that_is_not_a_store_or_a_typo(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`admin create-key --db typo.sqlite` printed a "shown once" key into a key file of its
    own beside nothing; `list` on a junk file printed nothing, status 0."""
    junk = tmp_path / "junk.sqlite"
    junk.write_text("junk\n")
    for db, says in ((junk, "is not an exchange store"), (tmp_path / "typo.sqlite", "no store")):
        assert main(["admin", *args, "--db", str(db)]) == 1
        line = one_error_line(capsys.readouterr().err, "exchange-local admin", str(db))
        assert says in line and "shown once" not in line
        assert not Path(keys_path(str(db))).exists()  # nothing made beside it
