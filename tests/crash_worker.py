"""A seeded workload against a durable exchange, for the crash tests.

Usage: python tests/crash_worker.py STORE SEED N_COMMANDS
Every command of the workload is accepted (so the journal's length is the cursor): a restarted
worker resumes where the store says it stopped. It prints "ACK k" after command k returns.
"""

from __future__ import annotations

import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exchange_local import Exchange, ExchangeConfig

ACCOUNTS = ["a", "b", "c", "d"]
SETUP = len(ACCOUNTS) * 2  # create + deposit per account


def command(ex: Exchange, rng: random.Random) -> None:
    r = rng.random()
    acct = rng.choice(ACCOUNTS)
    market, base, tick, lot = rng.choice(
        [("BTC-PERP", 100000, Decimal("0.5"), Decimal("0.0001")),
         ("ETH-PERP", 3000, Decimal("0.05"), Decimal("0.001"))]
    )  # fmt: skip
    side = rng.choice(["buy", "sell"])
    if r < 0.45:
        price = Decimal(base) + rng.randint(-20, 20) * tick
        ex.place_order(acct, market, side, rng.randint(1, 30) * lot * 10, price=price)
    elif r < 0.55:
        ex.place_order(acct, market, side, rng.randint(1, 30) * lot * 10, type="market")
    elif r < 0.70:
        orders = ex.open_orders(acct)
        if orders:
            ex.cancel_order(acct, orders[rng.randrange(len(orders))].order_id)
        else:
            ex.cancel_all(acct)
    elif r < 0.85:
        ex.set_index_price(market, Decimal(base) + rng.randint(-30, 30) * tick)
    else:
        ex.advance(rng.randint(1, 45))


def run(store: str, seed: int, n: int) -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"), store=store)
    done = ex._store.journal_seq
    if done == 0:
        for name in ACCOUNTS:
            ex.create_account(name)
            ex.deposit(name, "USD", Decimal(10_000_000))
        done = SETUP
    rng = random.Random(seed)
    for k in range(n):
        # each command draws from its own generator so a restart can skip to any k
        step_rng = random.Random(rng.random())
        if k < done - SETUP:
            continue
        command(ex, step_rng)
        print(f"ACK {k}", flush=True)
    ex.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
