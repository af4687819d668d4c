"""The ledger's on-disk layout (exchange_local/store_ledger.py): legs in chunks, an account index
written a bucket at a time. Shrunk to chunks of 2 legs and buckets of a few hundred bytes, so
every path (split transactions, closed buckets, the unindexed tail, restart in the middle of a
bucket, a failed commit) runs many times; every read must equal the in-memory ledger."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig, store_ledger
from exchange_local.ledger import SETTLEMENT_CLEARING, Transaction, TxType
from exchange_local.store import LedgerReader, Store

D = Decimal
NAMES = ["ann", "bo", "cy", "di", "ed"]
TABLES = ("transactions", "accounts", "legs", "buckets", "postings")


@pytest.fixture(autouse=True)
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_ledger, "CHUNK_LEGS", 2)
    monkeypatch.setattr(store_ledger, "BUCKET_BYTES", 300)


def first_half(ex: Exchange) -> None:
    for name in NAMES:
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.deposit("ann", "BTC", D("0.5"))
    ex.deposit("bo", "USD", D("1E+2"))
    ex.place_order("ann", "BTC-PERP", "sell", D("0.5"), price=D(100000))
    for name in ("bo", "cy", "di"):
        ex.place_order(name, "BTC-PERP", "buy", D("0.1"), price=D(100000))
    ex.place_order("ed", "ETH-PERP", "sell", D(2), price=D(3000))
    ex.place_order("cy", "ETH-PERP", "buy", D(2), price=D(3000))
    ex.set_index_price("BTC", D("100500.5"))
    ex.advance(D(95))  # settlements at 30, 60, 90: transactions of 4 and 5 legs
    ex.deposit("di", "USD", D("0.000001"))  # a tail too short to close its bucket


def second_half(ex: Exchange) -> None:
    ex.place_order("ed", "BTC-PERP", "buy", D("0.05"), price=D(100000))
    ex.set_index_price("BTC", D(99000))
    ex.set_index_price("ETH", D("3001.25"))
    for _ in range(60):
        ex.advance(D(60))  # 120 settlements and an hour's funding in 60 commands
    ex.withdraw("bo", "USD", D("1234.567891"))


def reads(ex: Exchange) -> dict[str, object]:
    """Every ledger read the facade offers, per account."""
    out: dict[str, object] = {}
    for name in [*NAMES, SETTLEMENT_CLEARING, "INSURANCE", "FEES"]:
        out[name] = ex.ledger(name)
        out[name + " 31..3600"] = ex.ledger(name, since=D(31), until=D(3600))
        out[name + " at 60"] = ex.balances_at(name, D(60))
        out[name + " at 1800.5"] = ex.balances_at(name, D("1800.5"))
    return out


def tables(path: str) -> list[list[tuple]]:
    db = sqlite3.connect(path)
    try:
        return [db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES]
    finally:
        db.close()


@pytest.fixture
def memory() -> dict[str, object]:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    first_half(ex)
    second_half(ex)
    return reads(ex)


def test_every_read_equals_the_in_memory_ledger(tmp_path, memory):
    path = str(tmp_path / "l.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    first_half(ex)
    second_half(ex)
    assert reads(ex) == memory
    assert ex.check_invariants() == []
    store = ex._store
    assert store is not None
    assert store._bucket > 10 and store._tail  # closed buckets and a tail, both read
    db = store.db
    split = db.execute("SELECT COUNT(*) FROM legs GROUP BY txid HAVING COUNT(*) > 2").fetchall()
    assert split  # transactions spread over several chunks
    with LedgerReader(path) as reader:  # the read-only path scans the tail instead
        for name in NAMES:
            assert reader.entries(name, None, None) == memory[name]
            assert reader.balances_at(name, 60_000) == memory[name + " at 60"]
            assert reader.has_account(name)
        assert not reader.has_account("nobody")
    ex.close()
    assert reads(Exchange(store=path)) == memory


def test_a_restart_mid_bucket_writes_the_same_store(tmp_path, memory):
    whole = str(tmp_path / "whole.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=whole)
    first_half(ex)
    second_half(ex)
    ex._store.close()

    path = str(tmp_path / "split.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    first_half(ex)
    assert ex._store._tail  # killed with an unindexed tail
    del ex  # no close(): as if the process died after the last acknowledgement
    again = Exchange(store=path)
    second_half(again)
    assert reads(again) == memory
    again._store.close()
    assert tables(path) == tables(whole)


def test_a_failed_commit_leaves_no_trace(tmp_path, monkeypatch):
    path = str(tmp_path / "f.sqlite")
    store = Store(path)
    tx = Transaction(1, 0, TxType.DEPOSIT, (("x", "USD", D(5)), ("EXTERNAL", "USD", D(-5))), "")
    store.add_transaction(tx, [D(5), D(-5)])
    store.discard_pending()  # the command raised
    assert store._tags == {} and store._tail == {}

    def broken() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    big = tuple((f"acct{i}", "USD", D(i - 10)) for i in range(21))
    for txid in range(1, 4):
        store.add_transaction(Transaction(txid, 0, TxType.SETTLE, big, ""), [D(1)] * 21)
    monkeypatch.setattr(store, "_close_bucket", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.commit_command(0, "advance", {})
    assert store.journal_seq == 0 and store._next_chunk == 1 and store._tags == {}
    monkeypatch.undo()
    store.add_transaction(tx, [D(5), D(-5)])
    store.commit_command(0, "deposit", {})
    assert store.db.execute("SELECT * FROM accounts").fetchall() == [(1, "x"), (2, "EXTERNAL")]
    assert [e.amount for e in store.entries("x", None, None)] == [D(5)]
    store.close()


def test_the_write_ahead_log_shrinks_back_after_a_large_snapshot(tmp_path):
    """A paper market at --speed 100 kept a 16 MB -wal file beside its store for as long as it
    ran: after a checkpoint the log is cut back to store.WAL_KEPT_BYTES."""
    import os

    from exchange_local.store import WAL_KEPT_BYTES, Store

    path = str(tmp_path / "s.sqlite")
    store = Store(path)
    store.write_snapshot(0, os.urandom(3 * WAL_KEPT_BYTES))  # a snapshot larger than the limit
    assert os.path.getsize(path + "-wal") > 2 * WAL_KEPT_BYTES
    for seq in (1, 2):  # the next snapshot frees the big one's pages; the one after is small
        store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # as SQLite does every 1,000 pages
        store.write_snapshot(seq, b"small")
    assert os.path.getsize(path + "-wal") <= WAL_KEPT_BYTES
    store.close()
