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

import heapq
import re
import sqlite3
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
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


class LegIndex:
    """Where one account's legs are, without the legs: leg `i` (oldest first) was posted at
    `times[i]` in the store's chunk `chunks[i]` (0 for the in-memory ledger), and
    `by_type[type]` lists the positions of that type's legs.

    Why: `GET /ledger` pages by position (its cursor is an offset; perptui asks for `total`,
    then for the last page), so a page needs the count of the legs that match and where the
    wanted ones are. Reading every leg for that held the engine lock for as long as the
    ledger was long; with this index (8-24 bytes a leg, for the accounts that asked) a page
    is a few bisections and reads only its own legs. It is extended by what was posted
    since the last page (`add`), never rebuilt.
    """

    def __init__(self) -> None:
        self.times = array("q")
        self.chunks = array("q")
        self.by_type: dict[str, array[int]] = {}
        self.ordered = True  # times never go back (the exchange clock); else select scans

    def __len__(self) -> int:
        return len(self.times)

    def add(self, time_ms: int, type: str, chunk: int = 0, count: int = 1) -> None:
        """`count` legs of one transaction (one store chunk), after every leg before."""
        if self.times and time_ms < self.times[-1]:
            self.ordered = False
        positions = self.by_type.get(type)
        if positions is None:
            positions = self.by_type[type] = array("q")
        start = len(self.times)
        for i in range(count):
            self.times.append(time_ms)
            self.chunks.append(chunk)
            positions.append(start + i)

    def select(
        self,
        since_ms: int | None,
        until_ms: int | None,
        type_prefix: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[int]]:
        """(how many legs match, the positions of matches `offset` .. `offset + limit`):
        posted from `since_ms` to `until_ms` inclusive, of a type starting with
        `type_prefix` in any case (ledger.of_type's rule)."""
        lists = self._lists(type_prefix)
        if not self.ordered:
            return self._scan(since_ms, until_ms, lists, offset, limit)
        lo = 0 if since_ms is None else bisect_left(self.times, since_ms)
        hi = len(self.times) if until_ms is None else bisect_right(self.times, until_ms)
        hi = max(lo, hi)
        if lists is None:
            start = lo + offset
            return hi - lo, list(range(start, min(hi, start + limit)))
        spans = [(p, bisect_left(p, lo), bisect_left(p, hi)) for p in lists]
        total = sum(b - a for _, a, b in spans)
        if offset >= total:
            return total, []
        if len(spans) == 1:
            p, a, b = spans[0]
            return total, list(p[a + offset : min(b, a + offset + limit)])
        first = _nth(spans, lo, hi, offset)
        starts = [(p, bisect_left(p, first, a, b), b) for p, a, b in spans]
        merged = heapq.merge(*(map(p.__getitem__, range(i, b)) for p, i, b in starts))
        return total, list(islice(merged, limit))

    def _lists(self, type_prefix: str | None) -> list[array[int]] | None:
        """The position lists of the matching types; None when every type matches."""
        wanted = (type_prefix or "").strip().upper()
        if not wanted:
            return None
        lists = [p for t, p in self.by_type.items() if t.upper().startswith(wanted)]
        return None if len(lists) == len(self.by_type) and lists else lists

    def _scan(
        self,
        since_ms: int | None,
        until_ms: int | None,
        lists: list[array[int]] | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[int]]:
        """select for times out of order (never seen: the clock only goes forward)."""
        times = self.times
        candidates = range(len(times)) if lists is None else sorted(j for p in lists for j in p)
        hits = [
            j
            for j in candidates
            if (since_ms is None or times[j] >= since_ms)
            and (until_ms is None or times[j] <= until_ms)
        ]
        return len(hits), hits[offset : offset + limit]


def _nth(spans: list[tuple[array[int], int, int]], lo: int, hi: int, n: int) -> int:
    """The position of the n-th (0-based) leg in the union of sorted position lists, each
    cut to its [a, b) span: a bisection on positions, counting with bisections."""

    def before(x: int) -> int:
        return sum(bisect_left(p, x, a, b) - a for p, a, b in spans)

    low, high = lo, hi - 1
    while low < high:
        mid = (low + high) // 2
        if before(mid + 1) > n:
            high = mid
        else:
            low = mid + 1
    return low


class LedgerQueries:
    """The ledger's read side, shared by the writing Store and the read-only LedgerReader."""

    db: sqlite3.Connection
    _leg_indexes: dict[str, tuple[str, LegIndex]] | None = None  # account -> (tag, index)

    def _account_chunks(self, account: str) -> tuple[str, list[int]]:
        """The account's tag and the chunks holding its legs, oldest first (chunks count
        from 1: all of them are "after 0")."""
        row = self.db.execute("SELECT id FROM accounts WHERE name = ?", (account,)).fetchone()
        if row is None:
            return "", []
        tag = f"#{row[0]}"
        return tag + " ", self._chunks_after(tag, 0)

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

    # --- pages: the paged read of GET /ledger (see LegIndex) ------------------------------

    def ledger_page(
        self,
        account: str,
        since_ms: int | None,
        until_ms: int | None,
        type_prefix: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[LedgerEntry]]:
        """(how many legs match, the matching legs `offset` .. `offset + limit`), oldest
        first, as `entries` filtered by ledger.of_type would give them: reads the chunks
        posted since the account's last page (their time, type and leg count) and the
        chunks of the page's own legs, never the rest of the ledger."""
        tag, index = self._leg_index(account)
        total, positions = index.select(since_ms, until_ms, type_prefix, offset, limit)
        return total, self._legs_at(tag, index, positions)

    def newest_legs(self, account: str, count: int) -> list[LedgerEntry]:
        """The account's last `count` legs, oldest first (GET /insurance-fund's history)."""
        tag, index = self._leg_index(account)
        total = len(index)
        return self._legs_at(tag, index, list(range(max(0, total - count), total)))

    def _leg_index(self, account: str) -> tuple[str, LegIndex]:
        """The account's tag ("#ID ") and its index, brought up to the last commit."""
        if self._leg_indexes is None:
            self._leg_indexes = {}
        known = self._leg_indexes.get(account)
        if known is None:
            row = self.db.execute("SELECT id FROM accounts WHERE name = ?", (account,)).fetchone()
            if row is None:
                return "", LegIndex()  # no legs yet: nothing to keep
            known = self._leg_indexes[account] = (f"#{row[0]}", LegIndex())
        tag, index = known
        self._index_chunks(tag, index, self._chunks_after(tag, index.chunks[-1] if index else 0))
        return tag + " ", index

    def _chunks_after(self, tag: str, after: int) -> list[int]:
        """The committed chunks after `after` that hold legs of `tag` ("#ID"), oldest first:
        from the buckets that end after it, and the tail, read in one snapshot (chunks never
        change once written)."""
        db = self.db
        chunks: list[int] = []
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")
        try:
            rows = db.execute(
                "SELECT p.chunks FROM buckets b JOIN postings p "
                "ON p.bucket = b.id AND p.account = ? WHERE b.last_chunk > ? ORDER BY b.id",
                (int(tag[1:]), after),
            )
            for (text,) in rows:
                chunks += [c for c in map(int, text.split(" ")) if c > after]
            chunks += self._tail_chunks_after(tag, after)
        finally:
            if own:
                db.execute("COMMIT")
        return chunks

    def _tail_chunks_after(self, tag: str, after: int) -> list[int]:
        return [c for c in self._tail_chunks(tag) if c > after]

    def _index_chunks(self, tag: str, index: LegIndex, chunks: list[int]) -> None:
        """Add `chunks` to the index: per chunk its transaction's time and type and how many
        of the account's legs it holds, counted by SQLite (no leg is parsed here)."""
        mark = tag + " "
        for start in range(0, len(chunks), BATCH):
            batch = chunks[start : start + BATCH]
            sql = (
                "SELECT l.chunk, t.time_ms, t.type, "
                "(length(l.entries) - length(replace(l.entries, ?, ''))) / ? "
                "FROM legs l JOIN transactions t ON t.txid = l.txid "
                f"WHERE l.chunk IN ({','.join('?' * len(batch))}) ORDER BY l.chunk"
            )
            for chunk, time_ms, typ, count in self.db.execute(sql, [mark, len(mark), *batch]):
                index.add(time_ms, typ, chunk, count)

    def _legs_at(self, tag: str, index: LegIndex, positions: list[int]) -> list[LedgerEntry]:
        """The legs at `positions`, read from their chunks only."""
        chunks = index.chunks
        wanted: dict[int, list[tuple[int, int]]] = {}  # chunk -> (leg in the chunk, slot)
        for slot, pos in enumerate(positions):
            chunk = chunks[pos]
            wanted.setdefault(chunk, []).append((pos - bisect_left(chunks, chunk), slot))
        out: list[LedgerEntry | None] = [None] * len(positions)
        ids = list(wanted)
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            sql = (
                "SELECT l.chunk, t.txid, t.time_ms, t.type, t.ref, l.entries "
                "FROM legs l JOIN transactions t ON t.txid = l.txid "
                f"WHERE l.chunk IN ({','.join('?' * len(batch))})"
            )
            for chunk, txid, t, typ, ref, packed in self.db.execute(sql, batch).fetchall():
                legs = list(legs_of(packed, tag))
                for k, slot in wanted[chunk]:
                    asset, amount, balance = legs[k]
                    out[slot] = LedgerEntry(
                        txid, Decimal(t) / 1000, typ, asset, Decimal(amount), Decimal(balance), ref
                    )
        return [e for e in out if e is not None]

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

    def _tail_chunks_after(self, tag: str, after: int) -> list[int]:
        """The committed tail chunks of `tag` after `after`: a bisection into the writer's
        list, so a page does not walk the account's whole tail (up to a bucket of legs)."""
        chunks = self._tail.get(tag, [])
        committed = self._committed[1]
        return [c for c in chunks[bisect_right(chunks, after) :] if c < committed]

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
