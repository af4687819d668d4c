"""A store's session played again from its first command: the record/replay of a lesson.

Why the journal is the recording: every command the exchange accepted is in it, in order,
with the exchange time after it, and the engine is deterministic, so applying them to a new
exchange of the stored configuration rebuilds every moment of the session exactly: the
cascade a class watched, tick by tick, with each liquidation stage's event as it happened.
Nothing is recorded twice and nothing is written: the store is opened read-only (a running
server or perptui may keep writing it; the replay sees what was committed when it read).
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any

from exchange_local.errors import StoreError
from exchange_local.exchange import Exchange
from exchange_local.store import decode, open_validated

BATCH = 5_000  # journal rows read at a time: a week's paper market has millions


class JournalReplay:
    """`JournalReplay(path)`: `.ex` is a new in-memory exchange at the session's start;
    `play_until(ms)` applies the commands up to that exchange time; `.finished` at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        # a store in a read-only directory is read as `ledger` reads it (immutable)
        self._db = open_validated(path, immutable_fallback=True)
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='config'").fetchone()
            if row is None:
                raise StoreError(f"{path} has no configuration: it was never finished")
            config = pickle.loads(bytes.fromhex(row[0]))
            last = self._db.execute("SELECT MAX(seq), MAX(time_ms) FROM journal").fetchone()
        except sqlite3.Error as problem:
            self._db.close()
            raise StoreError(f"{path} cannot be read as an exchange store: {problem}") from None
        self.last_seq = int(last[0] or 0)
        self.end_ms = int(last[1] or 0)
        self.ex = Exchange(config)
        self.ex._replaying = True  # as on a restart: the commands' own effects, nothing more
        self.seq = 0  # the last command applied
        self._rows: deque[tuple[int, int, str, str]] = deque()

    def first_time_ms(self) -> int:
        """The exchange time of the session's first command (a server's clock starts at the
        wall time it was created, a paper market's at 0)."""
        row = self._db.execute("SELECT MIN(time_ms) FROM journal").fetchone()
        return int(row[0] or 0)

    def account_names(self) -> list[str]:
        """Every account the session created, in order, from its journal alone (the replay
        may not have reached their creation yet)."""
        rows = self._db.execute(
            "SELECT args FROM journal WHERE command = 'create_account' ORDER BY seq"
        ).fetchall()
        return [str(decode(json.loads(args)).get("name", "")) for (args,) in rows]

    def play_until_account(self, wanted: Callable[[list[str]], bool]) -> None:
        """Apply commands until `wanted(accounts)` holds (an account the viewer asked for,
        or any person at all, exists), or the session ends."""
        while not wanted(self.ex.accounts()) and (row := self._next()) is not None:
            self.play_until(row[1])

    @property
    def finished(self) -> bool:
        return self.seq >= self.last_seq

    def _next(self) -> tuple[int, int, str, str] | None:
        if not self._rows:
            rows = self._db.execute(
                "SELECT seq, time_ms, command, args FROM journal WHERE seq > ? ORDER BY seq "
                "LIMIT ?",
                (self.seq, BATCH),
            ).fetchall()
            self._rows.extend(rows)
        return self._rows[0] if self._rows else None

    def play_until(self, time_ms: int) -> int:
        """Apply every command whose exchange time is at most `time_ms`; the number applied.
        The exchange's clock then stands where the last of them left it."""
        applied = 0
        while (row := self._next()) is not None and row[1] <= time_ms:
            self._rows.popleft()
            seq, _, command, args = row
            arguments: dict[str, Any] = decode(json.loads(args))
            getattr(type(self.ex), command)(self.ex, **arguments)
            self.seq = seq
            applied += 1
        return applied

    def next_time_ms(self) -> int | None:
        """The exchange time of the next command, None at the end: a gap in the session
        (perptui closed for a night) is skipped rather than waited through."""
        row = self._next()
        return row[1] if row is not None else None

    def close(self) -> None:
        self._db.close()
