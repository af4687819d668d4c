"""How the pre-trade check scales with the account's open orders (issue 3: O(positions)).

Why a benchmark of its own: the engine figures mix the check into everything else, and their
accounts hold a few orders each; a market maker holds up to the 200-order cap. The check reads
the resting sizes the engine keeps per account, so its cost should not grow with the orders:
this times it for accounts holding 1, 50 and 199 resting orders (and one position).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from exchange_local.config import ExchangeConfig
from exchange_local.exchange import Exchange

MARKET = "BTC-PERP"


def _account_with_orders(ex: Exchange, name: str, n_orders: int) -> None:
    """A funded account with a 0.5 BTC long and n_orders bids far under the market."""
    ex.create_account(name)
    ex.deposit(name, "USD", Decimal(10**8))
    ex.place_order("mm", MARKET, "sell", Decimal("0.5"), price=Decimal(100000))
    ex.place_order(name, MARKET, "buy", Decimal("0.5"), price=Decimal(100000), tif="ioc")
    for k in range(n_orders):
        ex.place_order(name, MARKET, "buy", Decimal("0.01"), price=Decimal(90000 - k))


def bench_check_scaling(counts: tuple[int, ...] = (1, 50, 199), repeats: int = 2000
                        ) -> dict[str, Any]:  # fmt: skip
    """µs per pre-trade check of a passive 0.01 BTC bid, best of five rounds, per order count."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("mm")
    ex.deposit("mm", "USD", Decimal(10**9))
    m = ex._markets[MARKET]
    per_count: dict[int, float] = {}
    for n in counts:
        name = f"holder{n}"
        _account_with_orders(ex, name, n)
        acct = ex._accounts[name]
        order = ex._validate_new_order(acct, m, "buy", Decimal("0.01"), Decimal(95000), "limit",
                                       "gtc", False, False, None, None)  # fmt: skip
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(repeats):
                ex._check_new_order(acct, m, order)
            best = min(best, (time.perf_counter() - start) / repeats)
        per_count[n] = best * 1e6
    return {"us_by_open_orders": per_count, "invariants_ok": not ex.check_invariants()}
