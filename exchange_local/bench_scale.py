"""Benchmarks at scale: health() across many accounts, a settlement cycle over many positions
with durable writes, ledger write throughput, restart time of a large store.

Why build the population directly: placing 200,000 orders through the facade to set up the
measurement would take longer than the measurement itself; the accounts, positions and legs
created here are the same objects the facade creates, and the invariants are checked after.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from decimal import Decimal
from typing import Any

from exchange_local.config import ExchangeConfig
from exchange_local.exchange import Exchange
from exchange_local.ledger import EXTERNAL, SETTLEMENT_CLEARING, TxType
from exchange_local.state import Account

MARKETS = (("BTC-PERP", Decimal(100000), Decimal("0.0001")),
           ("ETH-PERP", Decimal(3000), Decimal("0.001")),
           ("SOL-PERP", Decimal(150), Decimal("0.01")))  # fmt: skip


def populate(ex: Exchange, n_accounts: int, seed: int = 1, thin_every: int = 0) -> None:
    """n accounts funded with USD, each with a position in every market; pairs of accounts
    hold opposite sizes so long OI equals short OI, the clearing account balances them.
    thin_every: every n-th pair's long gets only 1,000 USD (liquidated by a 10 % fall)."""
    rng = random.Random(seed)
    clearing = Decimal(0)
    for i in range(n_accounts):
        name = f"u{i}"
        ex._accounts[name] = Account(name)
        thin = thin_every and i % (2 * thin_every) == 0
        deposit = Decimal(1_000) if thin else Decimal(50_000)
        funding = [(name, "USD", deposit), (EXTERNAL, "USD", -deposit)]
        ex._ledger.post(0, TxType.DEPOSIT, funding, "bench")
    for i in range(0, n_accounts - 1, 2):
        for symbol, price, lot in MARKETS:
            size = rng.randint(1, 200) * lot * 10
            for name, s in ((f"u{i}", size), (f"u{i + 1}", -size)):
                pos = ex._accounts[name].position(symbol)
                pos.size, pos.settle_price, pos.entry_price = s, price, price
                clearing -= s * price
            ex._markets[symbol].oi_long += size
    assert clearing == 0
    ex._ledger.balances[SETTLEMENT_CLEARING]["USD"] = Decimal(0)


def bench_health(n_accounts: int) -> dict[str, Any]:
    """health() for every account after a 1 % mark move (target: 100,000 accounts <= 1 s)."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    populate(ex, n_accounts)
    ex.set_index_price("BTC", Decimal(101000))
    names = ex.accounts()
    start = time.perf_counter()
    for name in names:
        ex.health(name)
    elapsed = time.perf_counter() - start
    return {
        "accounts": len(names),
        "seconds": elapsed,
        "per_account_us": elapsed / len(names) * 1e6,
    }


def bench_settlement(n_positions: int, cycles: int = 4) -> dict[str, Any]:
    """Durable settlement cycles over n positions (target: 100,000 in <= 1.0 s each).

    Several cycles, each after a mark move, because their costs differ: the store indexes its
    ledger a bucket at a time (exchange_local/store_ledger.py), and the cycle whose commit
    closes a bucket pays for it. With 100,000 positions one of four cycles does; `seconds` is
    the slowest cycle, `median_s` the typical one."""
    with tempfile.TemporaryDirectory() as tmp:
        ex = Exchange(ExchangeConfig(mark_source="index"), store=os.path.join(tmp, "s.sqlite"))
        populate(ex, n_positions // len(MARKETS))
        times = []
        for cycle in range(cycles):
            ex.set_index_price("BTC", Decimal(100500 + 100 * cycle))
            ex.advance(29)
            start = time.perf_counter()
            ex.advance(1)  # the settlement cycle at t = 30 k, committed with the command
            times.append(time.perf_counter() - start)
        problems = ex._cheap_invariants()
        ex.close()
    times.sort()
    return {
        "positions": n_positions, "cycles": cycles, "seconds": times[-1],
        "median_s": times[len(times) // 2], "invariants_ok": not problems,
    }  # fmt: skip


def bench_ledger_writes(n_legs: int) -> dict[str, Any]:
    """Durable ledger throughput in legs per second (target >= 300,000), then restart time.

    Settlement-shaped, through the exchange's own path (Ledger.post -> Store.add_transaction ->
    Store.commit_command): every transaction has 99 legs of 99 different accounts (of 10,000)
    and the clearing leg, 100 transactions per commit, as a settlement cycle writes them.
    Amounts have six decimals and balances five digits before the point, as settlements do:
    the text written per leg is what a real cycle writes, not a short stand-in."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w.sqlite")
        ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
        names = [f"a{i}" for i in range(10_000)]
        rng = random.Random(1)
        for name in names:
            ex._accounts[name] = Account(name)
            deposit = Decimal(rng.randint(1_000, 99_999))
            ex._post_tx(TxType.DEPOSIT, [(name, "USD", deposit), (EXTERNAL, "USD", -deposit)], "")
        per_tx = 100  # a settlement-sized transaction: 99 account legs and the clearing leg
        templates = []
        for start_at in range(0, len(names), per_tx - 1):
            legs = [(names[(start_at + i) % len(names)], "USD",
                     Decimal(rng.randint(-99_999_999, 99_999_999)).scaleb(-6))
                    for i in range(per_tx - 1)]  # fmt: skip
            total = sum((amount for _, _, amount in legs), Decimal(0))
            templates.append([*legs, (SETTLEMENT_CLEARING, "USD", -total)])
        store = ex._store
        assert store is not None
        store.commit_command(ex.now_ms, "bench", {})
        start = time.perf_counter()
        written = 0
        while written < n_legs:
            for k in range(100):
                ex._post_tx(TxType.SETTLE, templates[k % len(templates)], "bench")
                written += per_tx
            store.commit_command(ex.now_ms, "bench", {})
        elapsed = time.perf_counter() - start
        store.db.execute("DELETE FROM journal WHERE command = 'bench'")
        ex.close()
        start = time.perf_counter()
        again = Exchange(store=path)
        restart = time.perf_counter() - start
        again.close()
    return {"legs": written, "legs_per_s": written / elapsed, "restart_s": restart}


def bench_liquidation_scan(n_accounts: int) -> dict[str, Any]:
    """The 1 s risk tick after a 1 % move that liquidates nobody (target <= 50 ms for
    100,000 accounts), then a 10 % fall that liquidates 1 % of them: the time from the mark
    move to every stage-1 and stage-2 order placed (two ticks)."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    populate(ex, n_accounts, thin_every=50)
    ex._margin_dirty.update(ex.accounts())
    ex.advance(1)  # the first tick sizes every account's safe move (O(accounts), once)
    ex.set_index_price("BTC", Decimal(101000))
    start = time.perf_counter()
    ex.advance(1)
    quiet = time.perf_counter() - start
    for asset in ("BTC", "ETH", "SOL"):
        ex.set_index_price(asset, ex.prices[asset] * Decimal("0.9"))
    start = time.perf_counter()
    ex.advance(2)  # stage 1 (cancel) on the first tick, stage 2 orders on the second
    crash = time.perf_counter() - start
    stages = [s for _, _, s in ex._stage_log]
    return {
        "accounts": n_accounts, "quiet_tick_s": quiet, "crash_s": crash,
        "liquidated": stages.count("cancel"), "stage2_orders": stages.count("partial")
        + stages.count("book_close") + stages.count("backstop") + stages.count("adl"),
        "invariants_ok": not ex._cheap_invariants(),
    }  # fmt: skip


def bench_living_market(seconds: int) -> dict[str, Any]:
    """A paper market with its index feed and every bot, run for `seconds` of exchange time
    (target: an hour in under 36 s, 100x real time)."""
    from exchange_local.bots import BotSet, paper_config
    from exchange_local.feeds import RandomWalkFeed, attach

    config = paper_config(ExchangeConfig())
    ex = Exchange(config)
    attach(ex, RandomWalkFeed.from_config(config))
    BotSet(seed=1).attach(ex)
    start = time.perf_counter()
    ex.advance(seconds)
    elapsed = time.perf_counter() - start
    trades = sum(len(ex.trades(m, limit=0)) for m in ex.markets())
    return {
        "seconds": seconds, "wall_s": elapsed, "speedup": seconds / elapsed, "trades": trades,
        "invariants_ok": not ex._cheap_invariants(),
    }  # fmt: skip


def bench_store_growth(seconds: int, step: str = "1") -> dict[str, Any]:
    """The default living market on a durable store, advanced the way perptui's clock does
    (`step` seconds at a time), for `seconds` of exchange time after a warm-up of a tenth of
    that (account creation and first quotes are a one-off): what the store grows by over the
    window, extrapolated to a day. Every table counts, the snapshot too: the store keeps only
    its latest snapshot, but that one grows with whatever the state keeps (before closed orders
    were bounded it grew 4 MB an hour, and its size at the end was added once, not its growth).
    Also the file itself (the database and its WAL), which holds free pages besides."""
    import sqlite3
    import tempfile
    from pathlib import Path

    from exchange_local.bots import paper_config

    def table_bytes(path: str) -> dict[str, int]:
        with sqlite3.connect(path) as db:
            try:
                return dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
            except sqlite3.OperationalError:  # an SQLite built without dbstat: the file
                return {"file": Path(path).stat().st_size}

    def file_bytes(path: str) -> int:
        return sum(p.stat().st_size for p in (Path(path), Path(path + "-wal")) if p.exists())

    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "growth.sqlite")
        ex = Exchange(paper_config(ExchangeConfig()), store=path)
        ex.start_living_market(seed=1)
        delta = Decimal(step)
        for _ in range(int(Decimal(seconds) / 10 / delta)):
            ex.advance(delta)
        ex._maybe_snapshot(force=True)  # checkpoint the warm-up into the file
        before, file_before, orders_before = table_bytes(path), file_bytes(path), len(ex._orders)
        start = time.perf_counter()
        for _ in range(int(Decimal(seconds) / delta)):
            ex.advance(delta)
        elapsed = time.perf_counter() - start
        ok = not ex._cheap_invariants()
        orders_after = len(ex._orders)
        ex.close()  # a final snapshot: the one the store keeps
        after, file_after = table_bytes(path), file_bytes(path)
    grown = sum(after.get(k, 0) - before.get(k, 0) for k in after)
    snapshot_grown = after.get("snapshots", 0) - before.get("snapshots", 0)
    per_day = 86_400 / seconds
    return {
        "seconds": seconds, "wall_s": elapsed, "tables": after,
        "mb_per_day": grown * per_day / 1e6,
        "snapshot_mb": after.get("snapshots", 0) / 1e6,
        "snapshot_mb_per_day": snapshot_grown * per_day / 1e6,
        "file_mb_per_day": (file_after - file_before) * per_day / 1e6,
        "orders_kept": (orders_before, orders_after),
        "invariants_ok": ok,
    }  # fmt: skip
