"""Throughput of the bare order book on a seeded, realistic operation mix.

Why a separate stream generator: the full-engine benchmark replays the very same mix, so the
two figures differ only by what the engine adds on top of the book. The stream is generated
first (not timed) against a shadow book, which is how every cancel is known to hit a resting
order and every cross is known to reach the intended number of levels.

Run: ``python -m exchange_local.bench_book [n_ops] [seed]``.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any, Protocol

from exchange_local.book import OrderBook

N_OWNERS = 1_000
TARGET_ORDERS = 900  # pressure pivot; the book settles near 1,000 resting orders
START_PRICE = 1_000_000  # ticks; far from 0 so a long random walk cannot reach it
MEAN_DISTANCE = 200  # mean ticks from the opposite touch of a passive add (sets ~700 levels)
MAX_LOTS = 10

Op = tuple[Any, ...]


def owner_name(idx: int) -> str:
    """Owner id for an owner index of the stream; the engine bench maps indices its own way."""
    return f"acct{idx}"


def generate_stream(n_ops: int, seed: int = 1) -> list[Op]:
    """Seeded operation stream, in integers, that holds the book near ~1,000 orders / ~700 levels.

    Tuples (owner_idx in 0..999, prices in ticks, sizes in lots, is_buy a bool):

    * ``("add", owner_idx, is_buy, price, lots)``: passive limit order near the touch (~60 %).
    * ``("cancel", order_id)``: cancel of an order resting at that point of the stream (~25 %).
    * ``("cross", owner_idx, is_buy, limit, lots)``: limit order reaching 1-3 levels into the other
      side; its unfilled remainder rests at ``limit`` (~10 %).
    * ``("market", owner_idx, is_buy, lots)``: market order, remainder dropped (~5 %).

    Order ids are implicit: 1, 2, 3, ... in stream order, one per "add" and per "cross" (markets
    never rest, so they take no id). Makers and takers are drawn from the same owners, so
    self-trade prevention happens at its natural rate. While the book is still empty at the start,
    draws that need resting orders become adds. Taker sizes grow with the book (``pressure``),
    which is what holds the steady state without bending the mix.
    """
    rng = random.Random(seed)
    rand = rng.random
    book = OrderBook()
    book.track_deltas = False
    owners = [owner_name(i) for i in range(N_OWNERS)]
    live: list[int] = []  # ids that may still rest; stale ones are dropped when drawn
    stream: list[Op] = []
    next_id = 0
    mid = START_PRICE
    for _ in range(n_ops):
        r = rand()
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            mid = (bid + ask) // 2
        is_buy = rand() < 0.5
        o = rng.randrange(N_OWNERS)
        pressure = min(4.0, max(0.25, (len(book) / TARGET_ORDERS) ** 4))
        if r < 0.60 or len(book) < 50 or bid is None or ask is None:
            d = 1 + int(rng.expovariate(1.0 / MEAN_DISTANCE))
            if is_buy:
                price = (ask if ask is not None else mid + 1) - d
            else:
                price = (bid if bid is not None else mid - 1) + d
            lots = rng.randint(1, MAX_LOTS)
            next_id += 1
            stream.append(("add", o, is_buy, price, lots))
            book.add(next_id, is_buy, price, lots, owners[o])
            live.append(next_id)
        elif r < 0.85:
            while True:
                i = rng.randrange(len(live))
                oid = live[i]
                live[i] = live[-1]
                live.pop()
                if oid in book:
                    break
            stream.append(("cancel", oid))
            book.cancel(oid)
        elif r < 0.95:
            bids, asks = book.depth(rng.randint(1, 3))
            levels = asks if is_buy else bids
            limit = levels[-1][0]
            reach = sum(n for _, n in levels)
            lots = max(1, int(reach * pressure * (0.5 + rand())))
            next_id += 1
            stream.append(("cross", o, is_buy, limit, lots))
            left = lots - book.match(is_buy, limit, lots, owners[o]).filled
            if left:
                book.add(next_id, is_buy, limit, left, owners[o])
                live.append(next_id)
        else:
            bids, asks = book.depth(3)
            reach = sum(n for _, n in (asks if is_buy else bids))
            lots = max(1, int(reach * pressure * rand()))
            stream.append(("market", o, is_buy, lots))
            book.match(is_buy, None, lots, owners[o])
    return stream


class Replayable(Protocol):
    """What the replay needs of a book: ours, or the yardstick of bench_reference.py."""

    def add(self, order_id: int, is_buy: bool, price: int, lots: int, owner: str) -> None: ...

    def cancel(self, order_id: int) -> Any: ...

    def match(self, is_buy: bool, limit: int | None, lots: int, owner: str) -> Any: ...


def apply_stream(book: Replayable, stream: list[Op]) -> None:
    """Replay a stream onto a book exactly as the generator's shadow book saw it; the timed loop."""
    add = book.add
    cancel = book.cancel
    match = book.match
    owners = [owner_name(i) for i in range(N_OWNERS)]
    oid = 0
    for op in stream:
        kind = op[0]
        if kind == "add":
            oid += 1
            add(oid, op[2], op[3], op[4], owners[op[1]])
        elif kind == "cancel":
            cancel(op[1])
        elif kind == "cross":
            oid += 1
            _, o, is_buy, limit, lots = op
            owner = owners[o]
            left = lots - match(is_buy, limit, lots, owner).filled
            if left:
                add(oid, is_buy, limit, left, owner)
        else:
            match(op[2], None, op[3], owners[op[1]])


def _per_type(stream: list[Op], total_s: float) -> dict[str, float]:
    """Mean ns per op by kind, from a second replay that reads the clock around every op.

    Reading the clock costs about as much as a cheap op, so the raw figures are scaled so that
    they add up to the clean replay's time: the split is measured, the total is not inflated.
    """
    book = OrderBook()
    book.track_deltas = False
    owners = [owner_name(i) for i in range(N_OWNERS)]
    clock = time.perf_counter_ns
    spent: dict[str, int] = {"add": 0, "cancel": 0, "cross": 0, "market": 0}
    count = dict.fromkeys(spent, 0)
    oid = 0
    for op in stream:
        kind = op[0]
        if kind == "add":
            oid += 1
            t0 = clock()
            book.add(oid, op[2], op[3], op[4], owners[op[1]])
        elif kind == "cancel":
            t0 = clock()
            book.cancel(op[1])
        elif kind == "cross":
            oid += 1
            t0 = clock()
            left = op[4] - book.match(op[2], op[3], op[4], owners[op[1]]).filled
            if left:
                book.add(oid, op[2], op[3], left, owners[op[1]])
        else:
            t0 = clock()
            book.match(op[2], None, op[3], owners[op[1]])
        spent[kind] += clock() - t0
        count[kind] += 1
    scale = total_s * 1e9 / max(sum(spent.values()), 1)
    return {k: spent[k] * scale / count[k] for k in spent if count[k]}


def run_book_bench(
    n_ops: int = 1_000_000, seed: int = 1, stream: list[Op] | None = None
) -> dict[str, Any]:
    """Book-only ops/s on the seeded stream: best of three replays, and the split by op type.

    Only the replay is timed; generating the stream (and its shadow book) is not. `stream`:
    the one of (n_ops, seed) when the caller has generated it already.
    """
    if stream is None:
        stream = generate_stream(n_ops, seed)
    best = float("inf")
    book = OrderBook()
    for _ in range(3):
        book = OrderBook()
        book.track_deltas = False
        t0 = time.perf_counter()
        apply_stream(book, stream)
        best = min(best, time.perf_counter() - t0)
    ns = _per_type(stream, best)
    mix = {k: sum(1 for op in stream if op[0] == k) for k in ns}
    bids, asks = book.depth(len(stream))
    return {
        "n_ops": n_ops,
        "seed": seed,
        "seconds": best,
        "ops_per_s": n_ops / best,
        "per_type_ops_per_s": {k: 1e9 / v for k, v in ns.items()},
        "per_type_ns": ns,
        "mix": mix,
        "final_orders": len(book),
        "final_levels": len(bids) + len(asks),
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    n_ops = int(args[0]) if args else 1_000_000
    seed = int(args[1]) if len(args) > 1 else 1
    res = run_book_bench(n_ops, seed)
    print(f"book: {res['ops_per_s'] / 1e6:.3f} M ops/s over {n_ops} ops ({res['seconds']:.3f} s)")
    for kind, rate in res["per_type_ops_per_s"].items():
        print(
            f"  {kind:7s} {res['mix'][kind]:8d} ops  {res['per_type_ns'][kind]:7.0f} ns/op"
            f"  {rate / 1e6:6.2f} M/s"
        )
    print(f"  final book: {res['final_orders']} orders on {res['final_levels']} levels")


if __name__ == "__main__":
    main()
