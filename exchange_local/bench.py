"""`python -m exchange_local.bench`: throughput figures, measured rather than guessed.

Why the same stream twice: the book-alone figure and the full-engine figure replay one seeded
mix (exchange_local.bench_book.generate_stream), so their difference is exactly what the engine
adds on top of matching: validation, Decimal conversion, fees, positions, ledger and events.
Flags: --quick (100,000 operations), --smoke (a tiny run that only proves the code works).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exchange_local.bench_book import generate_stream, run_book_bench
from exchange_local.bench_check import bench_check_scaling
from exchange_local.bench_reference import REFERENCE_MOPS_ON_ISSUE_MACHINE, compare_with_yardstick
from exchange_local.bench_scale import (
    bench_health,
    bench_ledger_writes,
    bench_liquidation_scan,
    bench_living_market,
    bench_settlement,
    bench_store_growth,
)
from exchange_local.config import AssetSpec, ExchangeConfig, MarketSpec
from exchange_local.errors import ExchangeError
from exchange_local.exchange import Exchange

N_ACCOUNTS = 1_000
BENCH_TICK = Decimal("0.1")
BENCH_LOT = Decimal("0.001")
INDEX_EVERY = 1_000  # the index follows the book's mid every this many operations


def bench_config() -> ExchangeConfig:
    """One BTC-like market whose caps never bind: it measures the engine, not refusals."""
    d = Decimal
    market = MarketSpec("BENCH-PERP", "BENCH", BENCH_TICK, BENCH_LOT, d(20), d("0.002"),
                        d(10) ** 15, d(20_000))  # fmt: skip
    assets = (
        AssetSpec("USD", d(1), d(1), d(0), decimals=6),
        AssetSpec("BENCH", d("0.95"), d("0.9"), d("0.002"), 8, d(100_000)),
    )
    return ExchangeConfig(markets=(market,), assets=assets, mark_source="index")


# (kind, facade method, positional args, keyword args, stream order id or 0)
EngineOp = tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any], int]


def build_engine_ops(
    stream: list[tuple[Any, ...]], ex: Exchange
) -> tuple[list[EngineOp], list[str]]:
    """Translate the integer stream into facade calls with Decimal arguments (not timed)."""
    accounts = [f"acct{i}" for i in range(N_ACCOUNTS)]
    tick, lot = BENCH_TICK, BENCH_LOT
    ops: list[EngineOp] = []
    stream_id = 0
    placed_owner: dict[int, str] = {}
    for op in stream:
        kind = op[0]
        if kind in ("add", "cross"):
            stream_id += 1
            _, owner, is_buy, price, lots = op
            acct = accounts[owner]
            placed_owner[stream_id] = acct
            args = (acct, "BENCH-PERP", "buy" if is_buy else "sell", lots * lot)
            ops.append((kind, ex.place_order, args, {"price": price * tick}, stream_id))
        elif kind == "cancel":
            ops.append(("cancel", ex.cancel_order, (placed_owner[op[1]],), {}, op[1]))
        else:
            _, owner, is_buy, lots = op
            args = (accounts[owner], "BENCH-PERP", "buy" if is_buy else "sell", lots * lot)
            ops.append(("market", ex.place_order, args, {"type": "market"}, 0))
    return ops, accounts


def run_engine_bench(
    n_ops: int, seed: int = 1, risk: bool = True, stream: list[tuple[Any, ...]] | None = None
) -> dict[str, Any]:
    """Replay the stream through the full facade; ops/s overall and per type. `stream`: the
    seeded stream of (n_ops, seed) when the caller has generated it already."""
    if stream is None:
        stream = generate_stream(n_ops, seed)
    ex = Exchange(bench_config())
    events = [0]

    def count(_event: object) -> None:
        events[0] += 1

    ex.subscribe(count)
    ops, accounts = build_engine_ops(stream, ex)
    for i, acct in enumerate(accounts):
        ex.create_account(acct)
        # most accounts can afford their orders; every 20th is short of margin, so some fail
        ex.deposit(acct, "USD", Decimal(200) if i % 20 == 0 else Decimal(10_000_000))
    if not risk:
        _disable_risk(ex)
    engine_id: dict[int, int] = {}
    per_type: dict[str, list[float]] = {}
    refused = 0
    perf = time.perf_counter
    mid_ticks = stream[0][3] if stream and stream[0][0] == "add" else 1_000_000
    ex.set_index_price("BENCH", mid_ticks * BENCH_TICK)
    start = perf()
    book = ex._markets["BENCH-PERP"].book
    for i, (kind, fn, args, kwargs, sid) in enumerate(ops):
        t0 = perf()
        try:
            if kind == "cancel":
                oid = engine_id.get(sid)
                if oid is not None and oid in book:
                    fn(*args, oid)
            else:
                res = fn(*args, **kwargs)
                if sid:
                    engine_id[sid] = res.order_id
        except ExchangeError:
            refused += 1
        t1 = perf()
        bucket = per_type.setdefault(kind, [0.0, 0])
        bucket[0] += t1 - t0
        bucket[1] += 1
        if i % INDEX_EVERY == 0:
            bid, ask = book.best_bid(), book.best_ask()
            if bid is not None and ask is not None:
                ex.set_index_price("BENCH", ((bid + ask) // 2) * BENCH_TICK)
    elapsed = perf() - start
    problems = ex.check_invariants()
    return {
        "ops": len(ops),
        "seconds": elapsed,
        "ops_per_s": len(ops) / elapsed,
        "per_type": {k: v[1] / v[0] for k, v in per_type.items() if v[0] > 0},
        "counts": {k: v[1] for k, v in per_type.items()},
        "events": events[0],
        "refused": refused,
        "transactions": len(ex._ledger.transactions),
        "invariants_ok": not problems,
    }


def best_engine_runs(
    n: int, seed: int, rounds: int, stream: list[tuple[Any, ...]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The engine without and with the risk check, run in turn `rounds` times, fastest of each.

    Why in turn: on a shared machine a neighbour's burst can halve one run; alternating the
    two and keeping the best of each makes their ratio (the issue's 80 % target) mean
    something. Three single runs in a row of the same code gave 57 %, 90 % and 55 %."""
    if stream is None:
        stream = generate_stream(n, seed)
    best: dict[bool, dict[str, Any]] = {}
    for _ in range(rounds):
        for risk in (False, True):
            run = run_engine_bench(n, seed, risk=risk, stream=stream)
            if risk not in best or run["ops_per_s"] > best[risk]["ops_per_s"]:
                best[risk] = run
    return best[False], best[True]


def _disable_risk(ex: Exchange) -> None:
    """Measure the engine without pre-trade risk gates (the comparison the issue asks for)."""
    ex.__dict__["_check_new_order"] = lambda acct, m, order: None


def _fmt_rate(rate: float) -> str:
    return f"{rate / 1e6:.2f} M/s" if rate >= 1e6 else f"{rate / 1e3:.0f} k/s"


def machine() -> str:
    import os

    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exchange_local.bench")
    parser.add_argument("--quick", action="store_true", help="100,000 operations")
    parser.add_argument("--smoke", action="store_true", help="a tiny run: proves it works")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n = 2_000 if args.smoke else 100_000 if args.quick else 1_000_000
    print(f"exchange_local benchmark: {n:,} operations, seed {args.seed}; {machine()}")
    stream = generate_stream(n, args.seed)  # once: every run below replays the same stream
    book = run_book_bench(n, args.seed, stream=stream)
    print(f"  order book alone        {_fmt_rate(book['ops_per_s']):>10}  (target >= 1.5 M/s)")
    for kind, rate in book["per_type_ops_per_s"].items():
        print(f"    {kind:<20} {_fmt_rate(rate):>10}")
    yard = compare_with_yardstick(stream)
    print(
        f"  yardstick: the issue's plain SortedDict + deque book, {REFERENCE_MOPS_ON_ISSUE_MACHINE}"
        f" M/s on the issue's machine, runs {_fmt_rate(yard['yardstick_ops_per_s'])} here"
        f" ({yard['machine_factor']:.0%} of that machine);\n"
        f"    our book {yard['ratio']:.2f}x the yardstick (both best of 5, interleaved), i.e."
        f" {_fmt_rate(yard['ours_on_issue_machine'])} on the issue's machine  (target >= 1.5 M/s)"
    )
    engine, risky = best_engine_runs(n, args.seed, rounds=1 if args.smoke else 2, stream=stream)
    print(
        f"  full engine, no risk    {_fmt_rate(engine['ops_per_s']):>10}  (target >= 250 k/s;"
        f" this and the next: best of {2 if not args.smoke else 1}, run in turn)"
        f"  events {engine['events']:,}, ledger transactions {engine['transactions']:,}"
    )
    for kind, rate in engine["per_type"].items():
        print(f"    {kind:<20} {_fmt_rate(rate):>10}")
    share = risky["ops_per_s"] / engine["ops_per_s"]
    print(
        f"  full engine + risk      {_fmt_rate(risky['ops_per_s']):>10}  (target >= 200 k/s and "
        f">= 80 % of no-risk: {share:.0%})  refused {risky['refused']:,}"
    )
    for kind, rate in risky["per_type"].items():
        print(f"    {kind:<20} {_fmt_rate(rate):>10}")
    check = bench_check_scaling(repeats=100 if args.smoke else 2000)
    cost = ", ".join(f"{n} open orders {us:.1f} us" for n, us in check["us_by_open_orders"].items())
    print(f"  pre-trade check of one passive order, by the account's open orders: {cost}"
          "  (O(positions): flat)")  # fmt: skip
    scale = 0.01 if args.smoke else 0.1 if args.quick else 1.0
    n_health = int(100_000 * scale)
    health = bench_health(n_health)
    print(
        f"  health() x {health['accounts']:,} accounts (3 positions, after a 1 % move)"
        f"  {health['seconds']:.2f} s, {health['per_account_us']:.0f} us each"
        f"  (target: 100,000 in <= 1 s)"
    )
    settle = bench_settlement(int(100_000 * scale))
    print(
        f"  settlement cycle, {settle['positions']:,} positions, durable"
        f"  {settle['seconds']:.2f} s the slowest of {settle['cycles']},"
        f" {settle['median_s']:.2f} s the median  (target: 100,000 in <= 1.0 s)"
    )
    writes = bench_ledger_writes(int(1_000_000 * scale))
    print(
        f"  durable ledger writes   {_fmt_rate(writes['legs_per_s']):>10} legs"
        f"  (target >= 300 k/s); restart with {writes['legs']:,} legs"
        f" {writes['restart_s']:.2f} s  (target: 1 M in <= 5 s)"
    )
    liq = bench_liquidation_scan(int(100_000 * scale))
    print(
        f"  liquidation scan, {liq['accounts']:,} accounts: quiet 1 % move"
        f" {liq['quiet_tick_s'] * 1000:.1f} ms (target <= 50 ms); 10 % fall liquidating"
        f" {liq['liquidated']:,}: {liq['crash_s']:.2f} s to all stage-1/2 orders"
    )
    living = bench_living_market(int(3600 * scale))
    print(
        f"  living market (feed and every bot), {living['seconds']:,} s of exchange time:"
        f" {living['wall_s']:.1f} s, {living['speedup']:.0f}x real time (target >= 100x);"
        f" {living['trades']:,} trades kept"
    )
    growth = bench_store_growth(int(3600 * scale))
    print(
        f"  durable living market, {growth['seconds']:,} s in 1 s steps as perptui runs it:"
        f" store grows {growth['mb_per_day']:.1f} MB a day (target <= 100 MB), of which"
        f" the snapshot {growth['snapshot_mb_per_day']:.1f} MB (it is"
        f" {growth['snapshot_mb']:.1f} MB); the file {growth['file_mb_per_day']:.1f} MB a day;"
        f" orders kept {growth['orders_kept'][0]:,} -> {growth['orders_kept'][1]:,}"
    )
    for name, run in (("no risk", engine), ("risk", risky), ("check", check),
                      ("settlement", settle), ("liquidation", liq), ("living market", living),
                      ("store growth", growth)):  # fmt: skip
        if not run["invariants_ok"]:
            print(f"  INVARIANTS FAILED after the {name} run")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
