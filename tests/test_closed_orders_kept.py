"""Closed orders are bounded per account: the exchange no longer keeps every order ever placed.

Why a test of its own: the living market's bots place and cancel orders every second, and the
exchange kept every one of them, closed ones included, in memory and in every snapshot (4.6 MB
after an hour, 13 MB after three). Each account now keeps its newest closed orders
(engine.CLOSED_ORDERS_KEPT, never fewer than an account may have open); orders placed with a
client order id go the same way but their ids stay taken for the exchange's lifetime
(API.md), open and untriggered orders are never dropped, and the dropping is part of the
deterministic state: a reopened store (snapshot + journal replay) holds exactly the orders
the running exchange held.
"""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import Any

import pytest

import exchange_local.durable as durable
import exchange_local.engine as engine
from exchange_local import Exchange, ExchangeConfig, InvalidOrder, UnknownOrder
from exchange_local.bots import paper_config
from exchange_local.orders import OrderStatus
from exchange_local.state import Account
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"
KEPT = 1_000  # the default: what GET /orders?status=closed can list at most


def mine(ex: Exchange, account: str) -> list[int]:
    """Ids of the orders the exchange holds for `account`, oldest first."""
    return [oid for oid, o in ex._orders.items() if o.account == account]


def place_and_cancel(ex: Exchange, acct: str, n: int, prefix: str | None = None) -> list[int]:
    """n bids far under the market, each canceled at once; client ids `prefix-k` if given."""
    ids = []
    for k in range(n):
        coid = f"{prefix}-{k}" if prefix is not None else None
        oid = ex.place_order(acct, BTC, "buy", D("0.01"), price=D(50_000 + k % 100),
                             client_order_id=coid).order_id  # fmt: skip
        ex.cancel_order(acct, oid)
        ids.append(oid)
    return ids


def test_an_account_keeps_its_newest_closed_orders_and_every_open_one():
    assert engine.CLOSED_ORDERS_KEPT == KEPT
    ex = exact_exchange()
    a, t = funded(ex, "a"), funded(ex, "t")
    resting = [ex.place_order(a, BTC, "buy", D("0.01"), price=D(40_000 + k)).order_id
               for k in range(5)]  # fmt: skip
    stop = ex.place_order(a, BTC, "sell", D("0.01"), type="stop_market",
                          trigger_price=D(30_000)).order_id  # fmt: skip
    ids = place_and_cancel(ex, a, 3_000)
    filled = ex.place_order(a, BTC, "sell", D("0.01"), price=D(100_000)).order_id
    ex.place_order(t, BTC, "buy", D("0.01"), price=D(100_000))  # a's ask fills: closed too
    newest = [*ids[-(KEPT - 1) :], filled]
    assert sorted(mine(ex, a)) == sorted([*resting, stop, *newest])
    assert [o.order_id for o in ex.open_orders(a)] == [*resting, stop]
    closed = ex.orders(a, status="closed", limit=1000)
    assert [o.order_id for o in closed] == sorted(newest, reverse=True)
    assert ex.orders(a, status="filled")[0].order_id == filled
    # an old closed order is unknown, as if never placed: look-ups, cancel and amend say so
    old = ids[0]
    assert ex.order(a, old) is None
    assert ex.order(a, ids[-1]).status is OrderStatus.CANCELED
    with pytest.raises(UnknownOrder, match=f"there is no order {old}"):
        ex.cancel_order(a, old)
    with pytest.raises(UnknownOrder):
        ex.amend_order(a, old, price=D(50_500))
    with pytest.raises(InvalidOrder, match="already canceled"):  # a kept one: as before
        ex.cancel_order(a, ids[-1])
    assert all(ex.order(a, oid) is not None for oid in resting)
    assert ex.check_invariants() == []
    # the other account's own history is its own: t's one filled order is still there
    assert len(ex.orders(t, status="closed")) == 1


def test_a_client_ids_order_is_bounded_too_and_its_id_stays_taken_for_the_exchange_lifetime():
    """Orders with a client id were kept for ever: perptui sets one on every order, and a
    class server grew 63 MB in a 150 s soak. Their orders go the way of the others; the id
    stays taken (API.md): a retry answers the original result and places nothing."""
    ex = exact_exchange()
    a = funded(ex, "a")
    results = {}
    for k in range(1_500):  # client ids and none, interleaved: both kinds are dropped
        coid = f"cid-{k}"
        res = ex.place_order(a, BTC, "buy", D("0.01"), price=D(50_000 + k % 100),
                             client_order_id=coid)  # fmt: skip
        ex.cancel_order(a, res.order_id)
        results[coid] = res
        place_and_cancel(ex, a, 1)
    assert len(mine(ex, a)) == KEPT  # the newest closed orders, whichever kind
    newest = ex.order_by_client_id(a, "cid-1499")
    assert newest is not None and newest.status is OrderStatus.CANCELED
    assert ex.order(a, newest.order_id) == newest
    assert ex.order_by_client_id(a, "cid-0") is None  # closed long ago: as `order` says
    before = state_fingerprint(ex)
    for coid in ("cid-0", "cid-777", "cid-1499"):  # a retry: the original result, no new order
        assert ex.place_order(a, BTC, "buy", D("0.01"), price=D(50_000),
                              client_order_id=coid) == results[coid]  # fmt: skip
    assert state_fingerprint(ex) == before
    assert ex.check_invariants() == []


def fingerprint(ex: Exchange) -> tuple[Any, ...]:
    """state_fingerprint (but the in-memory ledger's length: a store keeps it on disk) plus
    which orders are kept, as what, each account's closed ids and the ledgers."""
    return (
        state_fingerprint(ex)[1:],
        tuple((oid, o.snapshot()) for oid, o in ex._orders.items()),
        tuple((name, tuple(a.closed_orders or ())) for name, a in ex._accounts.items()),
        tuple(tuple(ex.ledger(a)) for a in ex.accounts()),
    )


def test_the_living_market_keeps_a_bounded_number_of_orders_and_reopens_the_same(
    tmp_path, monkeypatch
):
    # the smallest setup that shows it: every account keeps 200 closed orders (the most an
    # account may have open, ExchangeConfig.max_open_orders), which the bots reach in minutes
    monkeypatch.setattr(engine, "CLOSED_ORDERS_KEPT", 50)
    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 300)  # snapshots along the way
    config = paper_config(ExchangeConfig())
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(config, store=path)
    memory = Exchange(config)
    for x in (ex, memory):
        x.start_living_market(seed=1)
    limit = ex._closed_orders_kept()
    assert limit == config.max_open_orders == 200
    held, placed = [], []
    for minute in range(16):
        for second in range(60):  # a second at a time, as perptui runs it
            if (minute, second) == (15, 59):  # the child at work stored: one command after it
                ex.finish_snapshot()
            ex.advance(1)
            memory.advance(1)
        held.append(len(ex._orders))
        placed.append(ex._next_order_id)
    # the orders held stop growing while the bots go on placing (about 230 a minute): the
    # market makers reach their 200 closed orders in 12 minutes, the takers later
    assert placed[-1] - placed[-5] > 800
    assert held[-1] - held[-5] < (placed[-1] - placed[-5]) / 10
    users = [a for a in ex._accounts.values() if a.kind != "system"]
    assert all(len(a.closed_orders or ()) <= limit for a in users)
    assert held[-1] <= sum(limit + len(a.open_orders) for a in users)
    assert ex.check_invariants() == []
    # killed after the latest snapshot: restart = snapshot + replay of the journal after it
    snapshot = ex._store.latest_snapshot()
    assert snapshot is not None and 0 < snapshot[0] < ex._store.journal_seq
    expected = fingerprint(ex)
    assert fingerprint(memory) == expected
    del ex
    again = Exchange(store=path)
    assert fingerprint(again) == expected
    again.advance(30)
    memory.advance(30)
    assert fingerprint(again) == fingerprint(memory)
    again.close()
    assert fingerprint(Exchange(store=path)) == fingerprint(memory)  # the final snapshot


def test_a_snapshot_from_before_the_bound_is_indexed_on_the_next_close(monkeypatch):
    monkeypatch.setattr(engine, "CLOSED_ORDERS_KEPT", 10**9)  # as before: nothing dropped
    ex = exact_exchange()
    a = funded(ex, "a")
    resting = ex.place_order(a, BTC, "buy", D("0.01"), price=D(40_000)).order_id
    ids = place_and_cancel(ex, a, 1_500)
    kept_coid = place_and_cancel(ex, a, 3, prefix="c")
    # an account as a snapshot written before `closed_orders` existed restores it
    state = ex._accounts[a].__dict__.copy()
    del state["closed_orders"]
    old = pickle.loads(pickle.dumps(state))
    restored = Account.__new__(Account)
    restored.__setstate__(old)
    assert restored.closed_orders is None
    restored.open_orders = ex._accounts[a].open_orders  # the engine's own Order objects
    ex._accounts[a] = restored
    monkeypatch.setattr(engine, "CLOSED_ORDERS_KEPT", KEPT)
    assert len(mine(ex, a)) == 1_504
    # the first close indexes them: the newest are kept, and the order being closed (the
    # oldest id here, as in a reset of an account with an old resting order) is the newest
    ex.cancel_order(a, resting)
    # (those with a client id too: such snapshots kept them for ever)
    assert mine(ex, a) == [resting, *ids[-(KEPT - 4) :], *kept_coid]
    assert list(restored.closed_orders or ()) == [*ids[-(KEPT - 4) :], *kept_coid, resting]
    last = place_and_cancel(ex, a, 1)  # and on as usual
    assert list(restored.closed_orders or ()) == [*ids[-(KEPT - 5) :], *kept_coid, resting, *last]
    assert ex.check_invariants() == []
