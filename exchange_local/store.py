"""The durable store: SQLite (WAL) holding the ledger, a journal of accepted commands and
snapshots of the engine state.

Why journal + snapshot: the engine is deterministic, so the state after N commands is a pure
function of the state before them. Restart = load the latest snapshot, replay the journal rows
after it; start-up time depends on the distance to the last snapshot, not on the ledger's
length. Every command's journal row and ledger legs are committed in one SQLite transaction
before the command returns (WAL, synchronous=NORMAL: survives a killed process), so nothing
acknowledged is lost and nothing unacknowledged is half-applied.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from decimal import Decimal
from typing import Any

from exchange_local.errors import StoreError
from exchange_local.ledger import LedgerEntry, Transaction

SCHEMA_VERSION = 1
APPLICATION_ID = 0x50455250  # "PERP": marks the file as ours before we read anything else

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    command TEXT NOT NULL,
    args TEXT NOT NULL
);
CREATE TABLE transactions (
    txid INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    ref TEXT NOT NULL
);
CREATE TABLE legs (
    txid INTEGER NOT NULL,
    account TEXT NOT NULL,
    asset TEXT NOT NULL,
    amount TEXT NOT NULL,
    balance TEXT NOT NULL
);
CREATE INDEX legs_by_account ON legs (account, txid);
CREATE TABLE snapshots (
    journal_seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    state BLOB NOT NULL
);
"""


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


class Store:
    """One SQLite file. Opening an existing file validates it and never modifies a bad one."""

    def __init__(self, path: str) -> None:
        self.path = path
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if exists:
            self._validate_existing(path)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if not exists:
            self.db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self.db.executescript(SCHEMA)
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self.fresh = not exists
        self._pending_legs: list[tuple[int, str, str, str, str]] = []
        self._pending_txs: list[tuple[int, int, str, str]] = []
        self.journal_seq = self._max("SELECT MAX(seq) FROM journal")

    @staticmethod
    def _validate_existing(path: str) -> None:
        """Read-only checks: ours, our schema version, not corrupt. Leaves the file untouched."""
        with open(path, "rb") as fh:
            header = fh.read(100)
        if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
            raise StoreError(
                f"{path} is not an exchange store (not an SQLite database, or truncated)"
            )
        try:
            ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                app_id = ro.execute("PRAGMA application_id").fetchone()[0]
                if app_id != APPLICATION_ID:
                    raise StoreError(f"{path} is an SQLite file but not an exchange store")
                check = ro.execute("PRAGMA quick_check").fetchone()[0]
                if check != "ok":
                    raise StoreError(f"{path} is corrupt ({check}); it was left untouched")
                row = ro.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            finally:
                ro.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path} cannot be read as an exchange store: {exc}") from None
        version = int(row[0]) if row else None
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by schema version {version}; this exchange reads version "
                f"{SCHEMA_VERSION}. Open it with a matching version (the file was left untouched)"
            )

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

    def add_transaction(self, tx: Transaction, balances_after: list[Decimal]) -> None:
        self._pending_txs.append((tx.txid, tx.time_ms, str(tx.type), tx.ref))
        legs = self._pending_legs
        for (account, asset, amount), balance in zip(tx.legs, balances_after, strict=True):
            legs.append((tx.txid, account, asset, str(amount), str(balance)))

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
            db.execute("ROLLBACK")
            self.journal_seq -= 1
            raise

    def commit_pending(self) -> None:
        """Commit ledger rows that belong to no command (the engine's genesis)."""
        self.db.execute("BEGIN")
        self._flush_ledger()
        self.db.execute("COMMIT")

    def _flush_ledger(self) -> None:
        if self._pending_txs:
            self.db.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?)", self._pending_txs)
            self.db.executemany("INSERT INTO legs VALUES (?, ?, ?, ?, ?)", self._pending_legs)
            self._pending_txs = []
            self._pending_legs = []

    def discard_pending(self) -> None:
        self._pending_txs = []
        self._pending_legs = []

    def write_snapshot(self, time_ms: int, state: Any) -> None:
        blob = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        self.db.execute("BEGIN")
        self.db.execute(
            "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (self.journal_seq, time_ms, blob)
        )
        self.db.execute("DELETE FROM snapshots WHERE journal_seq < ?", (self.journal_seq,))
        self.db.execute("COMMIT")

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

    def entries(
        self, account: str, since_ms: int | None, until_ms: int | None
    ) -> list[LedgerEntry]:
        sql = (
            "SELECT t.txid, t.time_ms, t.type, l.asset, l.amount, l.balance, t.ref "
            "FROM legs l JOIN transactions t ON t.txid = l.txid WHERE l.account = ?"
        )
        params: list[Any] = [account]
        if since_ms is not None:
            sql += " AND t.time_ms >= ?"
            params.append(since_ms)
        if until_ms is not None:
            sql += " AND t.time_ms <= ?"
            params.append(until_ms)
        sql += " ORDER BY l.txid, l.rowid"
        return [
            LedgerEntry(txid, Decimal(t) / 1000, typ, asset, Decimal(amt), Decimal(bal), ref)
            for txid, t, typ, asset, amt, bal, ref in self.db.execute(sql, params)
        ]

    def balances_at(self, account: str, until_ms: int) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        rows = self.db.execute(
            "SELECT l.asset, l.amount FROM legs l JOIN transactions t ON t.txid = l.txid "
            "WHERE l.account = ? AND t.time_ms <= ?",
            (account, until_ms),
        )
        for asset, amount in rows:
            totals[asset] = totals.get(asset, Decimal(0)) + Decimal(amount)
        return totals

    def all_legs_by_account(self) -> dict[str, dict[str, Decimal]]:
        """Balances rebuilt from every leg on disk (the proof that state = ledger)."""
        totals: dict[str, dict[str, Decimal]] = {}
        for account, asset, amount in self.db.execute("SELECT account, asset, amount FROM legs"):
            per = totals.setdefault(account, {})
            per[asset] = per.get(asset, Decimal(0)) + Decimal(amount)
        return totals

    def close(self) -> None:
        self.db.close()
