"""The living market (index walk + bots) survives a restart: close and reopen, kill -9, replay.

Every check compares a durable exchange that was reopened (or killed) against an uninterrupted
in-memory twin that got the same commands: same seed, same commands, same state.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, InvalidRequest
from exchange_local.bots import BotSet, paper_config
from exchange_local.feeds import RandomWalkFeed, attach
from exchange_local.living import LivingMarket

D = Decimal
BTC = "BTC-PERP"
ROOT = Path(__file__).resolve().parent.parent
CONFIG = paper_config(ExchangeConfig())


def state(ex: Exchange) -> tuple[Any, ...]:
    """What a user (and the bots) can observe, plus the market's random state."""
    accounts = ex.accounts()
    living = ex._living
    assert isinstance(living, LivingMarket)
    return (
        ex.now_ms,
        ex._next_order_id,
        tuple((a, tuple(sorted((k, v) for k, v in ex.balances(a).items() if v))) for a in accounts),
        tuple((a, tuple(ex.positions(a))) for a in accounts),
        tuple((a, tuple(ex.open_orders(a))) for a in accounts),
        tuple((m, ex.book(m, 50), ex.market(m)) for m in ex.markets()),
        tuple(sorted(ex.prices.items())),
        ex.insurance_fund(),
        living.feed._rng.getstate(),
        living.feed.prices,
        tuple(bot.rng.getstate() for bot in living.bots.bots),
    )


def ledgers(ex: Exchange) -> dict[str, Any]:
    return {a: ex.ledger(a) for a in ex.accounts()}


def assert_same(a: Exchange, b: Exchange) -> None:
    assert state(a) == state(b)
    assert ledgers(a) == ledgers(b)


def user_session(ex: Exchange) -> list[int]:
    """A user between advances: resting orders far from the mark (they stay open)."""
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(100_000))
    ids = [ex.place_order("alice", BTC, "buy", D("0.01"), price=D(90_000)).order_id]
    ex.advance(D("7.5"))
    ids.append(ex.place_order("alice", BTC, "sell", D("0.02"), price=D(110_000)).order_id)
    ids.append(ex.place_order("alice", BTC, "buy", D("0.001"), type="market").order_id)
    ex.advance(D("0.1"))
    return ids


def twin(seconds: int) -> Exchange:
    ex = Exchange(CONFIG)
    assert ex.start_living_market(seed=1) is True
    ex.advance(seconds)
    return ex


def test_reopened_market_runs_on_exactly_like_an_uninterrupted_twin(tmp_path):
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(CONFIG, store=path)
    assert ex.start_living_market(seed=1) is True
    ex.advance(120)
    ex.close()
    again = Exchange(store=path)
    assert again.living_market_running
    book = again.book(BTC, 50)
    assert len(book.bids) >= 20 and len(book.asks) >= 20
    memory = twin(120)
    assert_same(again, memory)
    again.advance(60)
    memory.advance(60)
    assert_same(again, memory)
    assert len(again.trades(BTC, limit=0)) > 0  # the bots did trade after the restart
    assert again.check_invariants() == []
    again.close()


def test_killed_after_the_latest_snapshot_replays_the_bots_exactly(tmp_path):
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(CONFIG, store=path)
    ex.start_living_market(seed=1)
    ex.advance(30)
    ex.close()  # the latest snapshot: the market is running in it
    ex = Exchange(store=path)
    ids = user_session(ex)
    ex.advance(D("20.3"))
    ex.finish_snapshot()  # one may be being written by a child process (snapshot_fork.py)
    seq = ex._store.journal_seq
    snapshot = ex._store.latest_snapshot()
    assert snapshot is not None and snapshot[0] < seq  # commands landed after the snapshot
    del ex  # killed: no close(), no final snapshot; restart = snapshot + journal replay
    again = Exchange(store=path)
    memory = twin(30)
    assert user_session(memory) == ids
    memory.advance(D("20.3"))
    assert_same(again, memory)
    again.advance(15)
    memory.advance(15)
    assert_same(again, memory)


def test_killed_before_any_snapshot_replays_the_start_too(tmp_path):
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(CONFIG, store=path)
    ex.start_living_market(seed=1)
    ex.advance(25)
    ids = user_session(ex)
    assert ex._store.latest_snapshot() is None
    del ex
    again = Exchange(store=path)
    assert again.living_market_running
    memory = twin(25)
    assert user_session(memory) == ids
    assert_same(again, memory)


def test_snapshots_taken_mid_run_restore_the_market(tmp_path, monkeypatch):
    import exchange_local.durable as durable

    monkeypatch.setattr(durable, "SNAPSHOT_EVERY_COMMANDS", 3)
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(CONFIG, store=path)
    ex.start_living_market(seed=1)
    for step in range(7):
        if step == 6:  # the child at work stored, so one command lands after the latest
            ex.finish_snapshot()
        ex.advance(D("3.7"))
    snapshot = ex._store.latest_snapshot()
    assert snapshot is not None and 0 < snapshot[0] < ex._store.journal_seq
    del ex
    again = Exchange(store=path)
    memory = twin(0)
    for _ in range(7):
        memory.advance(D("3.7"))
    assert_same(again, memory)
    again.advance(10)
    memory.advance(10)
    assert_same(again, memory)


WORKER = """
import os, signal, sys
from decimal import Decimal as D
sys.path.insert(0, {root!r})
from exchange_local import Exchange, ExchangeConfig
from exchange_local.bots import paper_config
ex = Exchange(paper_config(ExchangeConfig()), store={path!r})
ex.start_living_market(seed=1)
ex.advance(30)
ex.close()
ex = Exchange(store={path!r})
ex.create_account("alice")
ex.deposit("alice", "USD", D(100000))
oid = ex.place_order("alice", "BTC-PERP", "buy", D("0.01"), price=D(90000)).order_id
ex.advance(D("12.5"))
print("ACK", oid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_run_restores_what_was_acknowledged(tmp_path):
    path = str(tmp_path / "killed.sqlite")
    script = textwrap.dedent(WORKER.format(root=str(ROOT), path=path))
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    oid = int(proc.stdout.split()[1])
    again = Exchange(store=path)
    assert again.living_market_running
    memory = twin(30)
    memory.create_account("alice")
    memory.deposit("alice", "USD", D(100_000))
    assert memory.place_order("alice", BTC, "buy", D("0.01"), price=D(90_000)).order_id == oid
    memory.advance(D("12.5"))
    assert_same(again, memory)
    assert [o.order_id for o in again.open_orders("alice")] == [oid]


def test_user_orders_survive_the_reopen_with_their_ids(tmp_path):
    path = str(tmp_path / "paper.sqlite")
    ex = Exchange(CONFIG, store=path)
    ex.start_living_market(seed=1)
    ex.advance(10)
    ids = user_session(ex)
    resting = [o.order_id for o in ex.open_orders("alice")]
    assert resting == ids[:2]
    ex.close()
    again = Exchange(store=path)
    assert [o.order_id for o in again.open_orders("alice")] == resting
    assert again.order("alice", ids[2]) == ex.order("alice", ids[2])
    again.advance(5)
    # placed after the restart: the same id the uninterrupted twin gives
    memory = twin(10)
    user_session(memory)
    memory.advance(5)
    late = again.place_order("alice", BTC, "buy", D("0.01"), price=D(91_000)).order_id
    assert late == memory.place_order("alice", BTC, "buy", D("0.01"), price=D(91_000)).order_id
    assert_same(again, memory)


def test_start_twice_is_a_no_op_in_memory_and_on_disk(tmp_path):
    memory = Exchange(CONFIG)
    assert not memory.living_market_running
    assert memory.start_living_market(seed=1) is True
    assert memory.living_market_running
    before = state(memory)
    assert memory.start_living_market(seed=2) is False
    assert state(memory) == before
    assert [j.name for j in memory.scheduler.jobs()].count("bots") == 1
    path = str(tmp_path / "paper.sqlite")
    durable = Exchange(CONFIG, store=path)
    assert durable.start_living_market() is True  # the config's seed (1)
    assert durable.start_living_market(seed=1) is False
    durable.advance(5)
    durable.close()
    again = Exchange(store=path)
    assert again.start_living_market(seed=1) is False
    memory.advance(5)
    assert_same(again, memory)


def test_the_living_market_is_the_old_attach_api_at_time_zero():
    old = Exchange(CONFIG)
    attach(old, RandomWalkFeed.from_config(CONFIG, seed=3))
    BotSet(seed=3).attach(old)
    new = Exchange(CONFIG)
    new.start_living_market(seed=3)
    old.advance(40)
    new.advance(40)
    assert ledgers(old) == ledgers(new)
    assert [(m, old.book(m, 50)) for m in old.markets()] == [
        (m, new.book(m, 50)) for m in new.markets()
    ]
    assert [(j.name, j.order) for j in old.scheduler.jobs()] == [
        (j.name, j.order) for j in new.scheduler.jobs()
    ]


def test_started_late_the_walk_goes_on_from_the_current_prices(tmp_path):
    path = str(tmp_path / "late.sqlite")
    ex = Exchange(CONFIG, store=path)
    ex.set_index_price("BTC", D(80_000))
    ex.advance(3)
    ex.start_living_market(seed=1)
    assert ex.market(BTC).index == D(80_000)
    ex.advance(5)
    assert abs(ex.market(BTC).index / D(80_000) - 1) < D("0.01")
    ex.close()
    assert Exchange(store=path).market(BTC).index == ex.market(BTC).index


def test_refused_when_a_feed_or_bots_are_already_attached(tmp_path):
    ex = Exchange(CONFIG, store=str(tmp_path / "x.sqlite"))
    BotSet(seed=1).attach(ex)
    seq = ex._store.journal_seq
    with pytest.raises(InvalidRequest, match="already attached"):
        ex.start_living_market(seed=1)
    assert not ex.living_market_running and ex._store.journal_seq == seq
    with pytest.raises(InvalidRequest, match="seed must be an int"):
        Exchange(CONFIG).start_living_market(seed="1")  # type: ignore[arg-type]
