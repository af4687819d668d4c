"""API keys, client-order-id memory and the admin audit log, in one SQLite file beside the
exchange's store (`class.sqlite` -> `class.keys.sqlite`; `:memory:` for an in-memory exchange).

Why a sibling file and not tables in the store: the exchange's store has one writer (the
engine) and restores itself from its journal; keys change from the admin CLI while a server
runs, and must never contend for the engine's write lock. Why SHA-256 and no slow hash: keys
are 256-bit random strings, not passwords, so a fast hash loses nothing (DESIGN.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

SCOPES = ("read", "trade", "admin")
KEY_PREFIX = "elk"
CACHE_SECONDS = 2.0  # a revocation from another process takes effect within this time

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    account TEXT,
    scopes TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE TABLE IF NOT EXISTS idempotency (
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (account, kind, key)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    key_name TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as the server knows it (never the secret itself)."""

    key_id: str
    name: str
    account: str | None  # the account it reads or trades; None for admin/watch-only keys
    scopes: frozenset[str]
    created_ms: int
    revoked_ms: int | None = None

    def allows(self, scope: str) -> bool:
        """admin implies trade implies read."""
        if scope in self.scopes or "admin" in self.scopes:
            return True
        return scope == "read" and "trade" in self.scopes


def keys_path(store_path: str | None) -> str:
    """Where the keys of an exchange store live (`:memory:` without a store): beside the
    store's real file, so a symlink to it finds the same keys (it made a key file of its own
    and printed a new admin key)."""
    if store_path is None or store_path == ":memory:":
        return ":memory:"
    if os.path.islink(store_path):
        store_path = os.path.realpath(store_path)
    base = store_path[:-7] if store_path.endswith(".sqlite") else store_path
    return f"{base}.keys.sqlite"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(scopes)
    unknown = sorted(chosen - set(SCOPES))
    if unknown or not chosen:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}, got {sorted(chosen)}")
    return chosen


class KeyStore:
    """Thread-safe (one connection, one lock): the server's event loop and tests share it."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA busy_timeout=5000")
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- keys ----------------------------------------------------------------------------------

    def create(
        self, name: str, account: str | None, scopes: Iterable[str], now_ms: int | None = None
    ) -> tuple[str, ApiKey]:
        """A new key: returns (the secret, shown once; its record)."""
        chosen = normalize_scopes(scopes)
        if account is None and chosen != {"admin"} and chosen != {"read"}:
            raise ValueError("a trade key belongs to an account")
        key_id = secrets.token_hex(4)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        created = int(time.time() * 1000) if now_ms is None else now_ms
        record = ApiKey(key_id, name, account, chosen, created)
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key_id, hash_key(secret), name, account, ",".join(sorted(chosen)), created),
            )
        return secret, record

    def lookup(self, secret: str) -> ApiKey | None:
        """The live (unrevoked) key with this secret, or None."""
        if not secret or len(secret) > 200:
            return None
        digest = hash_key(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self._lock:
            row = self._db.execute(
                "SELECT key_id, name, account, scopes, created_ms, revoked_ms FROM api_keys "
                "WHERE hash = ?",
                (digest,),
            ).fetchone()
        key = _record(row) if row is not None and row[5] is None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, key)
        return key

    def all(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, name, account, scopes, created_ms, revoked_ms FROM api_keys "
                "ORDER BY created_ms, key_id"
            ).fetchall()
        return [_record(r) for r in rows]

    def revoke(self, key_id: str, now_ms: int | None = None) -> bool:
        """Revoke one key by its id; True if it was live. By id only: names need not be
        unique, and "id or name" revoked every key of that name and any whose id equalled it
        (another student's). `admin_cli._one_live_key` resolves what a person typed."""
        revoked = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            cur = self._db.execute(
                "UPDATE api_keys SET revoked_ms = ? WHERE key_id = ? AND revoked_ms IS NULL",
                (revoked, key_id),
            )
        self._cache.clear()
        return cur.rowcount > 0

    def has_admin(self) -> bool:
        return any("admin" in k.scopes and k.revoked_ms is None for k in self.all())

    def accounts_with_keys(self) -> list[str]:
        """Every account a key was ever issued for, revoked ones too: the class's roster.
        Revoking a lost key, or locking a student out, must not erase their standing."""
        return sorted({k.account for k in self.all() if k.account})

    # --- idempotency ------------------------------------------------------------------------

    def remembered(self, account: str, kind: str, key: str) -> tuple[str, int, str] | None:
        """(fingerprint, status, response JSON) of an earlier request with this key."""
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, status, response FROM idempotency "
                "WHERE account = ? AND kind = ? AND key = ?",
                (account, kind, key),
            ).fetchone()
        return (row[0], int(row[1]), row[2]) if row else None

    def remember(
        self, account: str, kind: str, key: str, fingerprint: str, status: int, response: object
    ) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    account,
                    kind,
                    key,
                    fingerprint,
                    status,
                    json.dumps(response),
                    int(time.time() * 1000),
                ),
            )

    # --- counters ----------------------------------------------------------------------------

    def counter(self, name: str) -> int:
        """A number the server keeps across restarts (0 until set): the public events' id mark
        (server.hub). The table is created on open, so an older key file simply gains it."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row is not None else 0

    def set_counter(self, name: str, value: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value))

    # --- audit ----------------------------------------------------------------------------------

    def audit(self, time_ms: int, key_name: str, action: str, detail: object) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit (time_ms, key_name, action, detail) VALUES (?, ?, ?, ?)",
                (time_ms, key_name, action, json.dumps(detail, default=str)),
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT time_ms, key_name, action, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {"ts": r[0], "keyName": r[1], "action": r[2], "detail": json.loads(r[3])} for r in rows
        ]


def _record(row: tuple) -> ApiKey:
    key_id, name, account, scopes, created, revoked = row
    return ApiKey(key_id, name, account, frozenset(scopes.split(",")), created, revoked)
