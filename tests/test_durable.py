"""The durable store: exact restore, refusal of bad files, and SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local import Exchange, ExchangeConfig, StoreError
from tests.helpers import state_fingerprint

D = Decimal
BTC = "BTC-PERP"
WORKER = Path(__file__).with_name("crash_worker.py")
N_COMMANDS = 400


def busy(ex: Exchange) -> None:
    for name in ("a", "b"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.place_order("a", BTC, "sell", D(1), price=D(100000))
    ex.place_order("b", BTC, "buy", D("0.4"), price=D(100000))
    ex.place_order("b", BTC, "buy", D("0.3"), price=D(99000), client_order_id="keep")
    ex.set_leverage("b", BTC, 5)
    ex.set_index_price("BTC", D(100500))
    ex.advance(3700)


def test_reopen_restores_the_exact_state(tmp_path):
    path = str(tmp_path / "x.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    busy(ex)
    before = state_fingerprint(ex)
    ledger_b = ex.ledger("b")
    now = ex.now
    del ex  # no close(): as if the process died after the last acknowledgement
    again = Exchange(store=path)
    assert state_fingerprint(again) == before
    assert again.now == now and again.ledger("b") == ledger_b
    assert again.place_order("b", BTC, "buy", D("0.3"), price=D(99000),
                             client_order_id="keep").status.value == "open"  # fmt: skip
    assert again.check_invariants() == []
    again.close()
    third = Exchange(store=path)  # from the final snapshot
    assert state_fingerprint(third) == state_fingerprint(again)
    at_zero = sum((e.amount for e in third.ledger("b", until=0)), D(0))
    assert third.balances_at("b", 0) == {"USD": at_zero}
    assert at_zero == D(1_000_000) - D(20)  # deposit, then the taker fee of 40,000 at t = 0
    assert third.balances_at("b", third.now) == {k: v for k, v in third.balances("b").items() if v}


def test_durable_and_memory_runs_write_the_same_ledger(tmp_path):
    mem = Exchange(ExchangeConfig(mark_source="index"))
    dur = Exchange(ExchangeConfig(mark_source="index"), store=str(tmp_path / "d.sqlite"))
    busy(mem)
    busy(dur)
    for acct in ("a", "b"):
        assert mem.ledger(acct) == dur.ledger(acct)


def test_other_config_is_refused(tmp_path):
    path = str(tmp_path / "c.sqlite")
    Exchange(ExchangeConfig(mark_source="index"), store=path).close()
    with pytest.raises(StoreError, match="different exchange configuration"):
        Exchange(ExchangeConfig(), store=path)


def _bytes(path: str) -> bytes:
    return Path(path).read_bytes()


def test_garbage_and_truncated_files_are_refused_untouched(tmp_path):
    garbage = tmp_path / "g.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not an exchange store"):
        Exchange(store=str(garbage))
    assert garbage.read_bytes() == b"this is not a database" * 100
    path = str(tmp_path / "t.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    busy(ex)
    ex.close()
    data = _bytes(path)
    truncated = tmp_path / "trunc.sqlite"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError):
        Exchange(store=str(truncated))
    assert truncated.read_bytes() == data[: len(data) // 2]


def test_other_schema_version_is_refused_untouched(tmp_path):
    path = str(tmp_path / "v.sqlite")
    Exchange(store=path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    data = _bytes(path)
    with pytest.raises(StoreError, match="schema version 99"):
        Exchange(store=path)
    assert _bytes(path) == data


def _ledger_rows(path: str) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        txs = db.execute("SELECT * FROM transactions ORDER BY txid").fetchall()
        legs = db.execute("SELECT * FROM legs ORDER BY txid, rowid").fetchall()
    finally:
        db.close()
    return [txs, legs]


def _run_worker(path: str, seed: int, kill_after_acks: int | None) -> tuple[int, bool]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), path, str(seed), str(N_COMMANDS)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    acked = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("ACK"):
            acked = int(line.split()[1]) + 1
            if kill_after_acks is not None and acked >= kill_after_acks:
                os.kill(proc.pid, signal.SIGKILL)
                break
        elif line.startswith("DONE"):
            break
    proc.wait(timeout=120)
    return acked, proc.returncode == 0


def _crash_and_recover(tmp_path, kills: int, seed: int) -> None:
    reference = str(tmp_path / "reference.sqlite")
    _, ok = _run_worker(reference, seed, None)
    assert ok
    path = str(tmp_path / "crashed.sqlite")
    rng = random.Random(seed)
    points = sorted(rng.sample(range(5, N_COMMANDS - 5), kills))
    for point in points:
        acked, _ = _run_worker(path, seed, point)
        ex = Exchange(store=path)  # restart
        setup = 8
        assert ex._store.journal_seq - setup >= acked  # every acknowledged command is there
        assert ex.check_invariants() == []
        for acct in ex.accounts():
            rebuilt: dict[str, Decimal] = {}
            for e in ex.ledger(acct):
                rebuilt[e.asset] = rebuilt.get(e.asset, D(0)) + e.amount
            assert {k: v for k, v in rebuilt.items() if v} == {
                k: v for k, v in ex.balances(acct).items() if v
            }
        ex._store.close()
    _, ok = _run_worker(path, seed, None)
    assert ok
    assert _ledger_rows(path) == _ledger_rows(reference)


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    _crash_and_recover(tmp_path, kills=5, seed=7)


@pytest.mark.slow
def test_sigkill_many_times(tmp_path):
    _crash_and_recover(tmp_path, kills=25, seed=11)


def _cooldown_scenario(ex: Exchange, split_at: int | None = None, path: str = "") -> Exchange:
    """Stage 2 of a liquidation, with the store reopened in the middle of its 30 s cooldown."""
    for name, usd in (("mm", "100000000"), ("u", "14500")):
        ex.create_account(name)
        ex.deposit(name, "USD", D(usd))
    ex.place_order("mm", BTC, "sell", D(2), price=D(100000))
    ex.place_order("u", BTC, "buy", D(2), price=D(100000), tif="ioc")
    ex.place_order("mm", BTC, "buy", D(5), price=D(94700))
    ex.set_index_price("BTC", D(95000))
    for second in range(40):
        if split_at == second:
            del ex  # killed mid-cooldown: no close(), no final snapshot
            ex = Exchange(store=path)
        ex.advance(1)
    return ex


def test_liquidation_cooldown_survives_a_restart(tmp_path):
    memory = _cooldown_scenario(Exchange(ExchangeConfig(mark_source="index")))
    path = str(tmp_path / "liq.sqlite")
    durable = _cooldown_scenario(
        Exchange(ExchangeConfig(mark_source="index"), store=path), split_at=10, path=path
    )
    for acct in ("u", "mm", "INSURANCE"):
        assert durable.ledger(acct) == memory.ledger(acct)
    assert durable.positions("u") == memory.positions("u") == []
