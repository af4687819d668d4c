"""The ledger's on-disk layout: transaction-ordered chunks of legs, and an account index that
is written a bucket at a time (a small log-structured index).

Why not one indexed row per leg (or per transaction and account), as schema version 2 had:
inserting a row from Python costs about 1.2 us on the 2-core CI machine and a secondary index
entry about as much again; worse, an index keyed by account gains one entry per leg inside
every account's range, so a settlement (one leg for every account) dirties every leaf page of
that index in each commit, and the write-ahead log carried the whole index again and again.
That held durable writes to 75,000-140,000 settlement-shaped legs per second (target 300,000).

The layout instead:
- `legs`: a row per chunk of at most CHUNK_LEGS legs of one transaction, in posting order, as
  text: "#ID ASSET AMOUNT BALANCE" per leg, separated by spaces. ID is the account's number
  in `accounts`; AMOUNT and BALANCE (after the leg) are exact Decimal text. Asset symbols are
  alphanumeric and Decimal text has neither spaces nor '#', so "#ID " marks exactly that
  account's legs. Rows are appended in chunk order: a commit writes a few sequential pages.
- `postings`: for each closed bucket (a run of chunks, `buckets`) and each account in it, the
  chunks that hold the account's legs. A bucket closes inside the commit that brings the
  unindexed tail to BUCKET_BYTES of leg text, so the index costs one row per account and
  bucket, appended in key order, and is always consistent with the legs it points to.
- The tail after the last closed bucket: the writer keeps its postings in memory (rebuilt at
  restart by reading at most BUCKET_BYTES); a read-only reader scans it with GLOB.

Every leg and account row still lands in the command's own SQLite transaction, so the
durability rule is unchanged: what a command acknowledged is on disk, and nothing else.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from exchange_local.ledger import LedgerEntry, Transaction

CHUNK_LEGS = 64  # legs per row: about 2.5 KB of text, one 4 KB page
BUCKET_BYTES = 8 << 20  # the unindexed tail a read may scan (a few ms) before it is indexed
TAG = re.compile(r"#[0-9]+")  # an account's mark in a chunk (no other field holds '#')
BATCH = 500  # chunk ids per SELECT ... IN (...) (under SQLite's oldest parameter limit, 999)

LEDGER_SCHEMA = """
CREATE TABLE transactions (
    txid INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    type TEXT NOT NULL,
    ref TEXT NOT NULL
);
CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE legs (
    chunk INTEGER PRIMARY KEY,
    txid INTEGER NOT NULL,
    entries TEXT NOT NULL
);
CREATE TABLE buckets (
    id INTEGER PRIMARY KEY,
    first_chunk INTEGER NOT NULL,
    last_chunk INTEGER NOT NULL
);
CREATE TABLE postings (
    bucket INTEGER NOT NULL,
    account INTEGER NOT NULL,
    chunks TEXT NOT NULL,
    PRIMARY KEY (bucket, account)
) WITHOUT ROWID;
"""


def legs_of(entries: str, tag: str) -> Iterator[tuple[str, str, str]]:
    """(asset, amount, balance) text of the legs in one chunk that carry `tag` ("#ID ")."""
    i = entries.find(tag)
    while i >= 0:
        j = entries.find(" #", i)
        _, asset, amount, balance = (entries[i:j] if j >= 0 else entries[i:]).split(" ")
        yield asset, amount, balance
        if j < 0:
            return
        i = entries.find(tag, j + 1)


class LedgerQueries:
    """The ledger's read side, shared by the writing Store and the read-only LedgerReader."""

    db: sqlite3.Connection

    def _account_chunks(self, account: str) -> tuple[str, list[int]]:
        """The account's tag and the chunks holding its legs, oldest first. The index and the
        tail are read in one snapshot; chunks never change once written."""
        db = self.db
        row = db.execute("SELECT id FROM accounts WHERE name = ?", (account,)).fetchone()
        if row is None:
            return "", []
        acct_id = row[0]
        tag = f"#{acct_id}"
        chunks: list[int] = []
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")
        try:
            rows = db.execute(
                "SELECT p.chunks FROM buckets b JOIN postings p "
                "ON p.bucket = b.id AND p.account = ? ORDER BY b.id",
                (acct_id,),
            )
            for (text,) in rows:
                chunks += map(int, text.split(" "))
            chunks += self._tail_chunks(tag)
        finally:
            if own:
                db.execute("COMMIT")
        return tag + " ", chunks

    def _tail_chunks(self, tag: str) -> list[int]:
        """Chunks after the last closed bucket that hold legs of `tag`: a scan of at most
        BUCKET_BYTES of text (the writer keeps them in memory instead)."""
        tail = self.db.execute("SELECT COALESCE(MAX(last_chunk), 0) + 1 FROM buckets").fetchone()
        rows = self.db.execute(
            "SELECT chunk FROM legs WHERE chunk >= ? AND entries GLOB ? ORDER BY chunk",
            (tail[0], f"*{tag} *"),
        )
        return [c for (c,) in rows]

    def entries(
        self, account: str, since_ms: int | None, until_ms: int | None
    ) -> list[LedgerEntry]:
        return list(self.iter_entries(account, since_ms, until_ms))

    def iter_entries(
        self, account: str, since_ms: int | None, until_ms: int | None
    ) -> Iterator[LedgerEntry]:
        """An account's legs oldest first, streamed (an export need not hold them all)."""
        for txid, t, typ, ref, asset, amount, balance in self._rows(account, since_ms, until_ms):
            yield LedgerEntry(
                txid, Decimal(t) / 1000, typ, asset, Decimal(amount), Decimal(balance), ref
            )

    def _rows(
        self, account: str, since_ms: int | None, until_ms: int | None
    ) -> Iterator[tuple[int, int, str, str, str, str, str]]:
        tag, chunks = self._account_chunks(account)
        where = ""
        params: list[Any] = []
        if since_ms is not None:
            where += " AND t.time_ms >= ?"
            params.append(since_ms)
        if until_ms is not None:
            where += " AND t.time_ms <= ?"
            params.append(until_ms)
        for start in range(0, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            sql = (
                "SELECT t.txid, t.time_ms, t.type, t.ref, l.entries "
                "FROM legs l JOIN transactions t ON t.txid = l.txid "
                f"WHERE l.chunk IN ({','.join('?' * len(batch))}){where} ORDER BY l.chunk"
            )
            for txid, t, typ, ref, packed in self.db.execute(sql, [*batch, *params]).fetchall():
                for asset, amount, balance in legs_of(packed, tag):
                    yield txid, t, typ, ref, asset, amount, balance

    def balances_at(self, account: str, until_ms: int) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for *_, asset, amount, _balance in self._rows(account, None, until_ms):
            totals[asset] = totals.get(asset, Decimal(0)) + Decimal(amount)
        return totals

    def all_legs_by_account(self) -> dict[str, dict[str, Decimal]]:
        """Balances rebuilt from every leg on disk (the proof that state = ledger)."""
        names = {f"#{i}": name for i, name in self.db.execute("SELECT id, name FROM accounts")}
        totals: dict[str, dict[str, Decimal]] = {}
        for (packed,) in self.db.execute("SELECT entries FROM legs ORDER BY chunk"):
            parts = packed.split(" ")
            for tag, asset, amount in zip(parts[0::4], parts[1::4], parts[2::4], strict=True):
                per = totals.setdefault(names[tag], {})
                per[asset] = per.get(asset, Decimal(0)) + Decimal(amount)
        return totals


class LedgerWriter(LedgerQueries):
    """The write side: legs queued per transaction, written with the command's commit, and
    the tail's postings kept in memory until its bucket closes."""

    def _load_ledger(self) -> None:
        db = self.db
        self._tags: dict[str, str] = {
            name: f"#{i}" for i, name in db.execute("SELECT id, name FROM accounts")
        }
        self._next_account = int(db.execute("SELECT COALESCE(MAX(id), 0) FROM accounts")
                                 .fetchone()[0]) + 1  # fmt: skip
        self._next_chunk = int(db.execute("SELECT COALESCE(MAX(chunk), 0) FROM legs")
                               .fetchone()[0]) + 1  # fmt: skip
        bucket, tail = db.execute(
            "SELECT COALESCE(MAX(id), 0), COALESCE(MAX(last_chunk), 0) + 1 FROM buckets"
        ).fetchone()
        self._bucket, self._tail_start = int(bucket), int(tail)
        # tag -> chunks of the tail holding its legs (pending ones included), oldest first
        self._tail: dict[str, list[int]] = {}
        self._tail_bytes = 0
        self._closing = 0  # the bucket the current commit closes, once it succeeds
        rows = db.execute("SELECT chunk, entries FROM legs WHERE chunk >= ? ORDER BY chunk",
                          (tail,))  # fmt: skip
        for chunk, packed in rows:
            self._tail_bytes += len(packed)
            self._note(TAG.findall(packed), chunk)
        self._ledger_committed()

    def _note(self, tags: list[str], chunk: int) -> None:
        tail = self._tail
        get = tail.get
        for tag in tags:
            got = get(tag)
            if got is None:
                tail[tag] = [chunk]
            elif got[-1] != chunk:  # an account twice in one chunk: one posting
                got.append(chunk)

    def add_transaction(self, tx: Transaction, balances_after: list[Decimal]) -> None:
        """Queue a posted transaction for the command's commit: the hot path of every write,
        so per leg one dict probe, two str(), one join and one posting; a row per CHUNK_LEGS."""
        self._pending_txs.append((tx.txid, tx.time_ms, str(tx.type), tx.ref))
        legs = tx.legs
        tags = self._tags
        try:
            marks = [tags[account] for account, _, _ in legs]
        except KeyError:
            for account, _, _ in legs:
                if account not in tags:
                    self._new_account(account)
            marks = [tags[account] for account, _, _ in legs]
        text = str
        parts = [
            " ".join((mark, asset, text(amount), text(balance)))
            for mark, (_, asset, amount), balance in zip(marks, legs, balances_after, strict=True)
        ]
        txid = tx.txid
        chunk = self._next_chunk
        for i in range(0, len(parts), CHUNK_LEGS):
            packed = " ".join(parts[i : i + CHUNK_LEGS])
            self._pending_legs.append((chunk, txid, packed))
            self._tail_bytes += len(packed)
            self._note(marks[i : i + CHUNK_LEGS], chunk)
            chunk += 1
        self._next_chunk = chunk

    def _new_account(self, account: str) -> None:
        acct_id = self._next_account
        self._next_account += 1
        self._tags[account] = f"#{acct_id}"
        self._pending_accounts.append((acct_id, account))

    def _tail_chunks(self, tag: str) -> list[int]:
        committed = self._committed[1]
        return [c for c in self._tail.get(tag, ()) if c < committed]

    def _flush_ledger(self) -> None:
        """Inside the command's SQLite transaction: its rows, and the index of a full tail."""
        db = self.db
        if self._pending_accounts:
            db.executemany("INSERT INTO accounts VALUES (?, ?)", self._pending_accounts)
        if self._pending_txs:
            db.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?)", self._pending_txs)
            db.executemany("INSERT INTO legs VALUES (?, ?, ?)", self._pending_legs)
        if self._tail_bytes >= BUCKET_BYTES:
            self._close_bucket()

    def _close_bucket(self) -> None:
        """Index the tail: one postings row per account, appended in (bucket, account) order.
        The in-memory tail is kept until the commit succeeds (discard_pending needs it)."""
        bucket, first, last = self._bucket + 1, self._tail_start, self._next_chunk - 1
        self.db.execute("INSERT INTO buckets VALUES (?, ?, ?)", (bucket, first, last))
        space = " ".join
        rows = [
            (bucket, int(tag[1:]), space(map(str, chunks))) for tag, chunks in self._tail.items()
        ]
        rows.sort()
        self.db.executemany("INSERT INTO postings VALUES (?, ?, ?)", rows)
        self._closing = bucket

    def _ledger_committed(self) -> None:
        if self._closing:
            self._bucket, self._tail_start = self._closing, self._next_chunk
            self._tail, self._tail_bytes = {}, 0
        self._committed = (self._next_account, self._next_chunk, self._tail_bytes)
        self._clear_pending()

    def discard_pending(self) -> None:
        """Forget the queued rows (the command raised, or its commit failed): account numbers
        and chunk ids handed out since the last commit are handed out again."""
        for _, account in self._pending_accounts:
            del self._tags[account]
        self._next_account, committed, self._tail_bytes = self._committed
        if self._next_chunk != committed:
            for tag, chunks in list(self._tail.items()):
                while chunks and chunks[-1] >= committed:
                    chunks.pop()
                if not chunks:
                    del self._tail[tag]
            self._next_chunk = committed
        self._clear_pending()

    def _clear_pending(self) -> None:
        self._closing = 0
        self._pending_accounts: list[tuple[int, str]] = []
        self._pending_txs: list[tuple[int, int, str, str]] = []
        self._pending_legs: list[tuple[int, int, str]] = []
