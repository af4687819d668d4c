"""GET /ledger pages without reading the whole ledger (QA: `/ledger?limit=1` loaded the
caller's whole ledger under the engine lock, 4 ms at 1,725 legs and 19 ms at 7,725, holding
up every other client meanwhile).

A page must be what the whole read gave (`of_type(ex.ledger(...))[cursor:cursor + limit]` and
its length as `total`) for every filter, in memory and on a durable store, and its cost must
follow the page and the legs posted since the account's last page, not the ledger's length:
counted here as rows fetched from SQLite, and as legs built in memory."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_local import Exchange, ExchangeConfig, store_ledger
from exchange_local.ledger import INSURANCE, of_type
from exchange_local.server import create_app
from exchange_local.server import ledger_pages as pages_module
from exchange_local.server.keys import KeyStore
from exchange_local.store_ledger import LegIndex

D = Decimal
TYPES = (None, "", "  ", "fund", "FEE", "f", "trade", "s", "x", "DEPOSIT", "liq")


class CountingCursor:
    """A cursor that counts the rows it hands out."""

    def __init__(self, cursor: sqlite3.Cursor, counter: CountingDb) -> None:
        self.cursor = cursor
        self.counter = counter

    def __iter__(self) -> Iterator[Any]:
        for row in self.cursor:
            self.counter.rows += 1
            yield row

    def fetchall(self) -> list[Any]:
        rows = self.cursor.fetchall()
        self.counter.rows += len(rows)
        return rows

    def fetchone(self) -> Any:
        row = self.cursor.fetchone()
        self.counter.rows += row is not None
        return row


class CountingDb:
    """The store's connection, counting every row its queries return."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.rows = 0

    def execute(self, sql: str, params: Any = ()) -> CountingCursor:
        return CountingCursor(self.db.execute(sql, params), self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def busy(store: str | None, trades: int = 60) -> Exchange:
    """Two traders and a maker: trades, fees, hourly funding and settlement legs."""
    ex = Exchange(ExchangeConfig(mark_source="index"), store=store)
    for name in ("alice", "bob", "mm"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.deposit("alice", "BTC", D("0.5"))
    trade(ex, trades)
    return ex


def trade(ex: Exchange, n: int) -> None:
    for i in range(n):
        ex.place_order("mm", "BTC-PERP", "sell", D("0.01"), price=D(100_000 + i % 7))
        ex.place_order("alice" if i % 3 else "bob", "BTC-PERP", "buy", D("0.01"), type="market")
        if i % 10 == 9:
            ex.advance(D(1800))  # funding every hour, settlement: legs of other types


def cases(ex: Exchange, account: str) -> Iterator[tuple[Any, ...]]:
    """(since_ms, until_ms, type, offset, limit) across the ledger's times and lengths."""
    legs = ex.ledger(account)
    times = sorted({int(e.time * 1000) for e in legs})
    bounds = [None, times[0], times[len(times) // 2], times[-1], times[-1] + 1, 0]
    rng = random.Random(7)
    for _ in range(150):
        since, until = rng.choice(bounds), rng.choice(bounds)
        yield (
            since,
            until,
            rng.choice(TYPES),
            rng.choice([0, 1, 5, 40, 10_000]),
            rng.choice([1, 3, 50, 5000]),
        )


def whole_read(ex: Exchange, account: str, case: tuple[Any, ...]) -> tuple[int, list[Any]]:
    since, until, kind, offset, limit = case
    rows = ex.ledger(
        account,
        None if since is None else D(since) / 1000,
        None if until is None else D(until) / 1000,
    )
    if kind:
        rows = of_type(rows, kind)
    return len(rows), rows[offset : offset + limit]


def check_pages(ex: Exchange, pages: pages_module.LedgerPages) -> None:
    for account in ("alice", "bob", "mm", INSURANCE):
        for case in cases(ex, account):
            assert pages.page(account, *case) == whole_read(ex, account, case), case
        assert pages.newest(account, 7) == ex.ledger(account)[-7:]


@pytest.mark.parametrize("store", ["memory", "durable", "small-buckets"])
def test_every_page_is_what_the_whole_read_gave(
    tmp_path: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also with buckets of 4 KB (8 MB in use), so that the store's account index closes
    buckets between pages, and after reopening the store (the index built anew)."""
    if store == "small-buckets":
        monkeypatch.setattr(store_ledger, "BUCKET_BYTES", 4096)
    path = None if store == "memory" else str(tmp_path / "x.sqlite")
    ex = busy(path)
    try:
        pages = pages_module.LedgerPages(ex)
        for _ in range(2):  # the second time after more legs: the index is extended
            check_pages(ex, pages)
            trade(ex, 25)
        if path is not None:
            ex.close()
            ex = Exchange(store=path)
            check_pages(ex, pages_module.LedgerPages(ex))
            if store == "small-buckets":
                assert ex._store.db.execute("SELECT COUNT(*) FROM buckets").fetchone()[0] > 3  # type: ignore[union-attr]
    finally:
        ex.close()


def test_the_index_agrees_with_a_scan_for_any_order_of_types_and_times() -> None:
    """LegIndex alone, on random legs: the bisections over several types' positions, and
    the scan it falls back to if times ever went back, give what filtering a list gives."""
    rng = random.Random(3)
    for ordered in (True, False):
        index = LegIndex()
        legs: list[tuple[int, str]] = []
        t = 0
        for _ in range(400):
            t = t + rng.randint(0, 3) if ordered else rng.randint(0, 600)
            kind = rng.choice(["TRADE", "FEE", "FUNDING", "LIQ_FILL", "LIQ_FEE", "SETTLE"])
            count = rng.randint(1, 3)
            index.add(t, kind, count=count)
            legs += [(t, kind)] * count
        assert index.ordered is ordered
        for _ in range(300):
            since = rng.choice([None, rng.randint(0, 650)])
            until = rng.choice([None, rng.randint(0, 650)])
            kind = rng.choice([None, "LIQ", "f", "trade", "zz", ""])
            offset, limit = rng.randint(0, 700), rng.randint(1, 60)
            wanted = [
                i
                for i, (time_ms, k) in enumerate(legs)
                if (since is None or time_ms >= since)
                and (until is None or time_ms <= until)
                and k.upper().startswith((kind or "").strip().upper())
            ]
            got = index.select(since, until, kind, offset, limit)
            assert got == (len(wanted), wanted[offset : offset + limit])


async def test_a_durable_page_reads_its_own_rows_not_the_ledger(tmp_path: Path) -> None:
    """Over the wire, on a store: `?limit=1` fetches a few rows however long the ledger is
    (it fetched a row per chunk of the account's ledger, and parsed every leg), and after
    more legs it fetches only those new chunks' summaries and the page's own."""
    ex = busy(str(tmp_path / "x.sqlite"), trades=300)
    keys = KeyStore()
    secret, _ = keys.create("alice", "alice", ["read"])
    app = create_app(ex, keys, speed=0)
    auth = {"Authorization": f"Bearer {secret}"}
    counting = CountingDb(ex._store.db)  # type: ignore[union-attr]
    ex._store.db = counting  # type: ignore[union-attr, assignment]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:

            async def rows_for(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                counting.rows = 0
                r = await http.get("/api/v1/ledger", params=params, headers=auth)
                assert r.status_code == 200, r.text
                return counting.rows, r.json()

            legs = len(ex.ledger("alice"))
            assert legs > 250
            await rows_for({"limit": 1})  # the first page of this account indexes it
            fetched, head = await rows_for({"limit": 1})
            assert head["total"] == legs and len(head["entries"]) == 1
            assert fetched <= 3, fetched  # the account's id and the one leg's chunk
            fetched, last = await rows_for({"cursor": legs - 5, "limit": 5})
            assert [e["txid"] for e in last["entries"]] == [e.txid for e in ex.ledger("alice")[-5:]]
            assert fetched <= 7, fetched
            fetched, funding = await rows_for({"type": "fund", "limit": 2})
            assert funding["total"] == len(of_type(ex.ledger("alice"), "fund"))
            assert fetched <= 4, fetched
            trade(ex, 20)  # new legs: their chunks are indexed by the next page
            new = len(ex.ledger("alice")) - legs
            fetched, head = await rows_for({"limit": 1})
            assert head["total"] == legs + new
            assert fetched <= new + 3, (fetched, new)
            counting.rows = 0
            ex.ledger("alice")  # the whole read, for scale: a row per leg at least
            assert counting.rows >= legs
    finally:
        ex._store.db = counting.db  # type: ignore[union-attr]
        ex.close()


async def test_an_in_memory_page_builds_only_its_own_legs(monkeypatch: pytest.MonkeyPatch) -> None:
    """In memory: the engine's list of legs is indexed into, never copied; a page builds
    its own LedgerEntry rows only and never calls the whole `ex.ledger`."""
    ex = busy(None, trades=300)
    keys = KeyStore()
    secret, _ = keys.create("alice", "alice", ["read"])
    app = create_app(ex, keys, speed=0)
    auth = {"Authorization": f"Bearer {secret}"}
    legs = ex.ledger("alice")
    fund = ex.ledger(INSURANCE)[-2:]
    built = 0
    real = pages_module.LedgerEntry

    def counted(*args: Any) -> Any:
        nonlocal built
        built += 1
        return real(*args)

    def whole(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole ledger was read")

    monkeypatch.setattr(pages_module, "LedgerEntry", counted)
    monkeypatch.setattr(ex, "ledger", whole)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        for params, size in (({"limit": 1}, 1), ({"cursor": len(legs) - 3, "limit": 10}, 3)):
            built = 0
            r = await http.get("/api/v1/ledger", params=params, headers=auth)
            assert r.status_code == 200, r.text
            assert r.json()["total"] == len(legs) and len(r.json()["entries"]) == size
            assert built == size
        built = 0
        r = await http.get("/api/v1/insurance-fund", params={"history": 2})
        assert r.status_code == 200, r.text
        assert [h["txid"] for h in r.json()["history"]] == [e.txid for e in reversed(fund)]
        assert built == len(fund)
