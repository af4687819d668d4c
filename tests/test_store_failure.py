"""A store write that fails (a full disk) stops the exchange instead of serving what the store
never saw (exchange_local/durable.py, `_commit_failed`).

What it did before: the failed order's fill stayed in memory, the server answered 500 and
then served the fill as if it were saved; a clean stop wrote it into the final snapshot,
whose balances no longer matched the ledger, for good. The failure is made by the SQLite
connection itself refusing one COMMIT, as a full disk does, so the store's own rollback runs.
"""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.server import create_app
from exchange_local.server.keys import KeyStore
from tests.test_server_support import Class

D = Decimal
BTC = "BTC-PERP"


class FullDisk:
    """The store's connection, refusing COMMIT while `full` (SQLITE_FULL's words)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.full = False

    def execute(self, sql: str, *args: Any) -> Any:
        if self.full and sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def trading_exchange(db: str) -> tuple[Exchange, FullDisk]:
    ex = Exchange(ExchangeConfig(mark_source="index"), store=db)
    for name in ("a", "b"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(100_000))
    ex.place_order("b", BTC, "sell", D(2), price=D(100_000))
    assert ex._store is not None
    disk = FullDisk(ex._store.db)
    ex._store.db = disk  # type: ignore[assignment]
    return ex, disk


def saved(ex: Exchange) -> tuple[Any, ...]:
    return (ex.balances("a"), ex.balances("b"), [p.size for p in ex.health("a").positions])


def test_a_failed_commit_stops_the_exchange_and_saves_nothing_of_it(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex, disk = trading_exchange(db)
    before = saved(ex)
    disk.full = True
    with pytest.raises(StoreError, match="could not be written \\(database or disk is full\\)"):
        ex.place_order("a", BTC, "buy", D(1), type="market", client_order_id="x1")
    disk.full = False  # room again: still stopped, its memory holds the unsaved fill
    with pytest.raises(StoreError, match="stopped taking commands"):
        ex.place_order("a", BTC, "buy", D("0.1"), type="market")
    with pytest.raises(StoreError, match="its last command \\(place_order\\) is not saved"):
        ex.advance(1)
    ex.close()  # no final snapshot of the unsaved state

    again = Exchange(store=db)
    assert saved(again) == before
    assert again.order_by_client_id("a", "x1") is None
    assert again.check_invariants() == []
    again.place_order("a", BTC, "buy", D(1), type="market", client_order_id="x1")  # a retry
    assert [p.size for p in again.health("a").positions] == [D(1)]
    again.close()


@pytest.mark.parametrize("forked", [False, True], ids=["inline", "forked"])
def test_a_failed_snapshot_is_not_a_failed_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """The journal row is written; a snapshot is only a faster restart, tried again later.
    Forked (snapshot_fork.py), the failing write is the parent's insert of the child's bytes,
    on the command after the child ended."""
    monkeypatch.setattr(Exchange, "fork_snapshots", forked)
    db = str(tmp_path / "s.sqlite")
    ex, _ = trading_exchange(db)
    store = ex._store
    assert store is not None
    tried: list[int] = []

    def full(*args: Any) -> None:
        tried.append(1)
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store, "write_snapshot_blob", full)
    ex.advance(3_700)  # an hour: a snapshot is due
    if forked:
        child = ex._forked_snapshot
        assert child is not None and child.pid is not None
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # ended, not yet collected
        ex.place_order("a", BTC, "buy", D("0.1"), type="market")  # collects: the write fails
    assert tried and ex.store_failure is None
    monkeypatch.undo()
    ex.place_order("a", BTC, "buy", D("0.1"), type="market")
    ex.close()  # the final snapshot, written now that the disk has room
    again = Exchange(store=db)
    assert again._store is not None and again._store.latest_snapshot() is not None
    again.close()


async def test_the_server_answers_503_after_a_failed_write_and_restarts_whole(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "s.sqlite")
    ex, disk = trading_exchange(db)
    before = saved(ex)
    keys = KeyStore()
    c = Class(ex, keys, create_app(ex, keys, speed=0))
    c.key["a"], _ = keys.create("a", "a", ["trade"])
    order = {"symbol": BTC, "side": "buy", "type": "market", "size": "1", "clientOrderId": "f1"}
    async with c.client() as http:
        disk.full = True
        r = await http.post("/api/v1/orders", json=order, headers=c.auth("a"))
        assert r.status_code == 503, r.text
        assert r.json()["code"] == "UNAVAILABLE" and "disk is full" in r.json()["detail"]
        disk.full = False
        for method, path in (("GET", "/api/v1/account"), ("GET", "/api/v1/orders/by-client-id/f1")):
            r = await http.request(method, path, headers=c.auth("a"))
            assert r.status_code == 503, (path, r.text)  # never the unsaved fill
        r = await http.post("/api/v1/orders", json=order, headers=c.auth("a"))
        assert r.status_code == 503
    ex.close()
    again = Exchange(store=db)
    assert saved(again) == before and again.check_invariants() == []
    again.close()
