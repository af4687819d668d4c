"""A store whose journal tail replays to other transactions than it stored is refused at open.

Why (review of this stop's engine changes): a store not closed cleanly keeps the commands after
its last snapshot, replayed at the next open. An engine that books them otherwise (this stop's
ADL rule, FEE legs only for fees paid) gave transaction ids the store already held, and the
first command then stopped the exchange with a bare "UNIQUE constraint failed". Now the open
says what happened and what to do, and leaves the file as it was.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path

import pytest

import exchange_local.trading as trading
from exchange_local import Exchange, ExchangeConfig
from exchange_local.errors import StoreError
from exchange_local.money import ZERO

D = Decimal
BTC = "BTC-PERP"


def crashed_store(path: str) -> None:
    """Two fills with fees after the store's start, then no close(): no final snapshot."""
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    for name in ("a", "b"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(100_000))
    ex.place_order("b", BTC, "sell", D(2), price=D(100_000))
    ex.place_order("a", BTC, "buy", D(1), type="market")
    ex.place_order("a", BTC, "buy", D(1), type="market")
    del ex
    gc.collect()


def test_the_same_engine_replays_the_tail(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sqlite")
    crashed_store(path)
    again = Exchange(store=path)
    assert [p.size for p in again.positions("a")] == [D(2)]
    again.place_order("a", BTC, "sell", D(1), type="market")  # no clash of transaction ids
    again.close()


def test_a_tail_another_engine_books_otherwise_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "s.sqlite")
    crashed_store(path)
    before = Path(path).read_bytes()
    monkeypatch.setattr(trading, "quantize_usd_up", lambda value: ZERO)  # no fees: no FEE txs
    with pytest.raises(StoreError, match="written by another version of exchange_local"):
        Exchange(store=path)
    monkeypatch.undo()
    assert Path(path).read_bytes() == before  # left as it was
    again = Exchange(store=path)  # the version that wrote it opens it
    assert [p.size for p in again.positions("a")] == [D(2)]
    again.close()
