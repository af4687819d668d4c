"""The durable store: SQLite (WAL) holding the ledger, a journal of accepted commands and
snapshots of the engine state.

Why journal + snapshot: the engine is deterministic, so the state after N commands is a pure
function of the state before them. Restart = load the latest snapshot, replay the journal rows
after it; start-up time depends on the distance to the last snapshot, not on the ledger's
length. Every command's journal row and ledger legs are committed in one SQLite transaction
before the command returns (WAL, synchronous=NORMAL: survives a killed process), so nothing
acknowledged is lost and nothing unacknowledged is half-applied.

The ledger's layout (chunks of legs in posting order, an account index written in batches) and
why it is shaped so: exchange_local/store_ledger.py.

Why a separate read-only reader: exports and audits must be able to read a store, even one an
exchange has open, without constructing an Exchange (which writes a snapshot on close).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import pickle
import sqlite3
from decimal import Decimal
from typing import Any

from exchange_local.errors import StoreError
from exchange_local.store_ledger import LEDGER_SCHEMA, LedgerQueries, LedgerWriter
from exchange_local.store_lock import store_path, writer_lock

# 3: legs in transaction-ordered chunks with a batched account index (store_ledger.py);
# 2 had a row per (transaction, account), 1 a row per leg
SCHEMA_VERSION = 3
APPLICATION_ID = 0x50455250  # "PERP": marks the file as ours before we read anything else

SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    command TEXT NOT NULL,
    args TEXT NOT NULL
);
CREATE TABLE snapshots (
    journal_seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    state BLOB NOT NULL
);
"""
    + LEDGER_SCHEMA
)


def encode(value: Any) -> Any:
    """JSON-safe form of command arguments: Decimals as exact strings, tagged."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$d"}:
            return Decimal(value["$d"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _dir_writable(path: str) -> bool:
    """Whether files can be created beside `path` (SQLite's -wal and -shm files)."""
    return os.access(os.path.dirname(os.path.abspath(path)) or ".", os.W_OK)


def _connect_read_only(path: str, immutable: bool) -> sqlite3.Connection:
    """A `mode=ro` connection that has opened the file (SQLite opens on first use, so a file
    that cannot be opened fails here, not on some later query)."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    uri = f"{pathlib.Path(os.path.abspath(path)).as_uri()}?{query}"  # ? and # escaped
    ro = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        ro.execute("PRAGMA schema_version").fetchone()
    except BaseException:
        ro.close()
        raise
    return ro


def _cannot_open(exc: sqlite3.Error) -> bool:
    """Whether SQLite could not open the file (or its -shm file) rather than read it: the
    primary code CANTOPEN ("unable to open database file") or READONLY (READONLY_DIRECTORY:
    "attempt to write a readonly database", SQLite >= 3.22 in a directory it cannot write)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in (sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY)
    text = str(exc)
    return "unable to open database file" in text or "readonly database" in text


def _open_read_only(path: str, immutable_fallback: bool) -> sqlite3.Connection:
    """Open `path` read-only. A WAL store needs its -shm file, which SQLite creates beside it:
    in a directory that is not writable (a read-only mount) a cleanly closed store (no -wal
    file left) cannot be opened `mode=ro`. With `immutable_fallback` such a store is opened
    `immutable=1`: nothing can be writing it (a writer would need the -wal file) and there is
    no WAL content to miss. Otherwise the StoreError says why the file cannot be opened."""
    try:
        return _connect_read_only(path, immutable=False)
    except sqlite3.Error as exc:
        if not _cannot_open(exc):
            raise
        error = exc
    if _dir_writable(path):
        raise StoreError(f"{path} cannot be opened read-only: {error}")
    folder = os.path.dirname(os.path.abspath(path))
    wal = f"{path}-wal"
    if os.path.exists(wal):
        raise StoreError(
            f"{path} cannot be read: it was not closed cleanly or is still open (its "
            f"{os.path.basename(wal)} file is there) and its directory {folder} is not writable, "
            "so SQLite cannot create the -shm file it needs; copy the store with its -wal file "
            "to a writable directory"
        )
    if not immutable_fallback:
        raise StoreError(
            f"{path} cannot be opened: its directory {folder} is not writable (SQLite needs to "
            "create its -wal and -shm files there)"
        )
    try:
        return _connect_read_only(path, immutable=True)
    except sqlite3.Error as exc:
        raise StoreError(
            f"{path} cannot be read (directory {folder} not writable): {exc}"
        ) from None


class StoreDamaged(StoreError):
    """The file is an exchange store, but damaged (corrupt, malformed, cut short): it was left
    untouched. `problem`: SQLite's first complaint, one line."""

    def __init__(self, message: str, problem: str) -> None:
        super().__init__(message)
        self.problem = problem


def first_problem(text: object) -> str:
    """The first line of an SQLite complaint that says something: `PRAGMA quick_check` and
    some errors give a hundred lines ("*** in database main ***", "Page 125 is never
    used", ...), and a one-line refusal needs only the first real one."""
    lines = [line.strip() for line in str(text).splitlines()]
    said = [line for line in lines if line and not line.startswith("***")]
    return said[0] if said else str(text).strip()


def _damaged(path: str, problem: object, check: bool = False) -> StoreDamaged:
    """One line: what is wrong (SQLite's first complaint) and what to do."""
    first = first_problem(problem)
    said = "is corrupt" if check else "cannot be read as an exchange store: it is damaged"
    return StoreDamaged(
        f"{path} {said} ({first}); it was left untouched: restore it from a copy, or use "
        "another store (--db PATH)",
        first,
    )


def _our_header(header: bytes) -> bool:
    """Whether an SQLite header carries our application_id (bytes 68-71, big-endian)."""
    return header[68:72] == APPLICATION_ID.to_bytes(4, "big")


def store_file_kind(path: str) -> str:
    """What is at `path`, found without writing anything: "missing", "directory", "empty",
    "store" (an exchange store: SQLite with our application_id, or our meta table's
    schema_version; damaged or not) or "other" (another program's file, text, garbage).
    Why: only a store or an empty file may be replaced by a new one (perptui --reset); what
    another program keeps under that name is not ours to delete."""
    path = store_path(path)
    if os.path.isdir(path):
        return "directory"
    if not os.path.lexists(path):
        return "missing"
    try:
        if os.path.getsize(path) == 0:
            return "empty"
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError:
        return "other"
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return "other"
    if _our_header(header):
        return "store"
    try:  # through SQLite: a store not yet checkpointed has its header in the -wal file
        ro = _open_read_only(path, immutable_fallback=True)
    except (StoreError, sqlite3.Error):
        return "other"
    try:
        if ro.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
            return "store"
        row = ro.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if row and ro.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone():
            return "store"
    except sqlite3.Error:
        pass
    finally:
        ro.close()
    return "other"


def _sqlite_header(path: str) -> bytes:
    """The first 100 bytes of an SQLite file; StoreError if `path` is not one."""
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not an exchange store")
    try:
        with open(path, "rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise StoreError(f"{path} is not an exchange store (not an SQLite database, or truncated)")
    return header


def open_validated(path: str, immutable_fallback: bool = False) -> sqlite3.Connection:
    """A read-only connection to an existing store, after checking that it is ours, of our
    schema version and not corrupt (StoreDamaged if it is ours but damaged). Nothing here
    writes to the file. `immutable_fallback`: see _open_read_only (a store in a directory
    that is not writable)."""
    path = store_path(path)
    ours = _our_header(_sqlite_header(path))
    try:
        ro = _open_read_only(path, immutable_fallback)
        try:
            app_id = ro.execute("PRAGMA application_id").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StoreError(f"{path} is an SQLite file but not an exchange store")
            ours = True
            check = ro.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise _damaged(path, check, check=True)
            row = ro.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except BaseException:
            ro.close()
            raise
    except sqlite3.DatabaseError as exc:
        if ours:
            raise _damaged(path, exc) from None
        raise StoreError(
            f"{path} cannot be read as an exchange store: {first_problem(exc)}"
        ) from None
    version = int(row[0]) if row else None
    if version != SCHEMA_VERSION:
        ro.close()
        raise StoreError(
            f"{path} was written by schema version {version}; this exchange reads version "
            f"{SCHEMA_VERSION}. Open it with a matching version (the file was left untouched)"
        )
    return ro


WAL_KEPT_BYTES = 4 * 1024 * 1024


def _check_place(path: str) -> None:
    """StoreError if `path` cannot name a store: its directory is missing (a typo must not
    make a new store somewhere else), or it is a directory. Said as serve and admin say it."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StoreError(f"cannot open {path}: the directory {folder} does not exist")
    if os.path.isdir(path):
        raise StoreError(f"{path} is a directory, not an exchange store; give the store's file")


def _check_writable(path: str, exists: bool) -> None:
    """StoreError, before anything is written or shown, if the store could only be read: a
    read-only file (or its -wal/-shm file) or a directory SQLite cannot create them in.
    Without it the first command failed with "attempt to write a readonly database", after
    serve had printed its admin key."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.access(folder, os.W_OK):
        doing = "open" if exists else "create"
        raise StoreError(
            f"cannot {doing} {path} for writing: its directory {folder} is not writable "
            "(SQLite creates the store's -wal and -shm files there)"
        )
    for name in (path, f"{path}-wal", f"{path}-shm") if exists else ():
        if os.path.exists(name) and not os.access(name, os.W_OK):
            raise StoreError(_read_only(path, name))


def _read_only(path: str, name: str | None = None) -> str:
    shown = path if name in (None, path) else f"{path} ({os.path.basename(name or '')})"
    return (
        f"{shown} is read-only: the exchange cannot write to it; make it writable (or copy "
        "it to a writable place) and open it again (exchange-local ledger reads it as it is)"
    )


def _write_refused(path: str, exc: sqlite3.Error) -> StoreError:
    """A StoreError naming the store for SQLite refusing to open or write it at open."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in str(exc):
        return StoreError(_read_only(path))
    if primary == sqlite3.SQLITE_FULL or "disk is full" in str(exc):
        return StoreError(f"{path} cannot be written ({exc}): free the disk and open it again")
    return StoreError(f"{path} cannot be used: {first_problem(exc)}")


class Store(LedgerWriter):
    """One SQLite file. Opening an existing file validates it and never modifies a bad one.

    Why the store takes its single-writer lock itself (store_lock.writer_lock): a script's
    `Exchange(store=...)` beside a running perptui forked the journal ("UNIQUE constraint
    failed: journal.seq") and perptui's later history was lost on restart. Programs that hold
    the lock around their session (serve, admin, perptui) are not locked out by it."""

    def __init__(self, path: str) -> None:
        path = store_path(path)  # `~/class.sqlite` is in the home directory, not in ./~
        self.path = path
        self._lock = contextlib.ExitStack()
        _check_place(path)
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if exists:
            _sqlite_header(path)  # a stranger's file: refused before a lock file is made
        # before anything is made beside it (the lock file, validation's -wal and -shm)
        _check_writable(path, exists)
        self._lock.enter_context(writer_lock(path))
        try:
            self._open(path)
        except BaseException:
            self.close()
            raise

    def _open(self, path: str) -> None:
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if exists:
            open_validated(path).close()
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # the write-ahead log shrinks back to this after a checkpoint: without it a paper
            # market at --speed 100 kept a 16 MB -wal file beside its store for as long as it ran
            self.db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            if exists:  # can it be written? (a read-only mount, a file SQLite opened read-only)
                self._probe_write()
            else:
                self.db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                self.db.executescript(SCHEMA)
                self.db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.Error as exc:
            raise _write_refused(path, exc) from None
        self.fresh = not exists
        self._load_ledger()
        self.journal_seq = self._max("SELECT MAX(seq) FROM journal")

    def _probe_write(self) -> None:
        """A write, rolled back: SQLite opens a file it may not write read-only and says so
        only at the first write (BEGIN IMMEDIATE alone passes in WAL mode)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
        finally:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")

    def _max(self, sql: str) -> int:
        value = self.db.execute(sql).fetchone()[0]
        return int(value) if value is not None else 0

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def stored_config(self) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
        if row is None:
            raise StoreError(f"{self.path} has no configuration; it was not finished being created")
        return pickle.loads(bytes.fromhex(row[0]))

    # --- writing -----------------------------------------------------------------------

    def commit_command(self, time_ms: int, command: str, args: dict[str, Any]) -> None:
        """Journal one accepted command with the ledger rows it produced, atomically."""
        self.journal_seq += 1
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute(
                "INSERT INTO journal VALUES (?, ?, ?, ?)",
                (self.journal_seq, time_ms, command, json.dumps(encode(args))),
            )
            self._flush_ledger()
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self.journal_seq -= 1
            self.discard_pending()
            raise
        self._ledger_committed()

    def commit_pending(self) -> None:
        """Commit ledger rows that belong to no command (the engine's genesis)."""
        self.db.execute("BEGIN")
        self._flush_ledger()
        self.db.execute("COMMIT")
        self._ledger_committed()

    def write_snapshot(self, time_ms: int, state: Any) -> None:
        """The state as of the latest journaled command, pickled here and now."""
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        self.write_snapshot_blob(self.journal_seq, time_ms, blob)

    def write_snapshot_blob(self, seq: int, time_ms: int, blob: bytes) -> None:
        """A pickled state as of journal row `seq` (a forked child's, see snapshot_fork.py),
        replacing every older snapshot; a newer one already stored is kept as the latest."""
        self.db.execute("BEGIN")
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (seq, time_ms, blob)
            )
            self.db.execute("DELETE FROM snapshots WHERE journal_seq < ?", (seq,))
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    # --- reading -------------------------------------------------------------------------

    def latest_snapshot(self) -> tuple[int, Any] | None:
        row = self.db.execute(
            "SELECT journal_seq, state FROM snapshots ORDER BY journal_seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return int(row[0]), pickle.loads(row[1])

    def journal_after(self, seq: int) -> list[tuple[int, int, str, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT seq, time_ms, command, args FROM journal WHERE seq > ? ORDER BY seq", (seq,)
        ).fetchall()
        return [(s, t, c, decode(json.loads(a))) for s, t, c, a in rows]

    def close(self) -> None:
        """Close the file and release its lock. Safe to call twice."""
        try:
            db = getattr(self, "db", None)
            if db is not None:
                db.close()
        finally:
            self._lock.close()


class LedgerReader(LedgerQueries):
    """A store opened read-only (SQLite `mode=ro`) for exports: validated like Store, and
    nothing here can write to the file. Safe while an exchange has the store open: WAL readers
    see the last committed command. A cleanly closed store in a directory that is not writable
    (a read-only mount) is opened `immutable=1` (open_validated)."""

    def __init__(self, path: str) -> None:
        path = store_path(path)
        if not os.path.exists(path):
            raise StoreError(f"{path} does not exist")
        if not os.path.isfile(path):
            raise StoreError(f"{path} is not a file")
        if os.path.getsize(path) == 0:
            raise StoreError(f"{path} is empty: not an exchange store")
        self.path = path
        self.db = open_validated(path, immutable_fallback=True)

    def __enter__(self) -> LedgerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_account(self, account: str) -> bool:
        """Whether the account exists: it has legs, or a journaled create_account made it."""
        if self.db.execute("SELECT 1 FROM accounts WHERE name = ?", (account,)).fetchone():
            return True
        return account in self._created_accounts()

    def accounts(self) -> list[str]:
        """Every account the store knows: those created by command (in creation order), then
        the others that hold legs (system accounts, accounts built without commands)."""
        names = dict.fromkeys(self._created_accounts())
        for (account,) in self.db.execute("SELECT name FROM accounts ORDER BY name"):
            names.setdefault(account)
        return list(names)

    def _created_accounts(self) -> list[str]:
        rows = self.db.execute(
            "SELECT args FROM journal WHERE command = 'create_account' ORDER BY seq"
        )
        names = []
        for (args,) in rows:
            name = decode(json.loads(args)).get("name")
            if isinstance(name, str):
                names.append(name)
        return names

    def close(self) -> None:
        self.db.close()
