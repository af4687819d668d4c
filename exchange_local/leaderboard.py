"""The class leaderboard: accounts ranked by trading PnL, one function for every client.

Why one function: the server's `GET /leaderboard` and perptui's in-process venue both rank
with `standings`, so the wall shows the same numbers whichever way perptui is connected.

Why trading PnL and not "equity minus deposits": an account funded with coins (MECHANICS
section 1's paper account holds 0.1 BTC and 1 ETH beside its USD) would show their collateral
value as profit, a conversion would show its haircut and spread as a loss, and a price move
of a coin merely held would count as trading. PnL here is what trading did to the account:

- every ledger leg of a trading transaction (fills, fees, settlement, funding, the
  liquidation stages, an ADL, a reset's takeover at the mark), not DEPOSIT, WITHDRAW (the
  teacher's adjustments and resets are these too) or CONVERT;
- a non-USD leg of such a transaction (a backstop provider taking an account's coins for
  their weighted value) is valued as equity values it today, index times total weight, so
  the coins leaving and the USD they bring cancel instead of the USD counting as profit;
- plus the PnL of open positions not yet settled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange_local.health import AccountHealth

NOT_TRADING = frozenset({"DEPOSIT", "WITHDRAW", "CONVERT"})  # collateral moves, not PnL
MONEY_IN_OUT = frozenset({"DEPOSIT", "WITHDRAW"})  # what netDeposits adds up
NO_EQUITY = "no_equity"  # status of an account a liquidation left flat with nothing


@dataclass(frozen=True, slots=True)
class Standing:
    """One account's line: `net_deposits` is the USD value, at today's index prices, of
    every asset deposited minus withdrawn (resets and adjustments included)."""

    rank: int
    account: str
    equity: Decimal
    pnl: Decimal
    net_deposits: Decimal
    status: str
    positions: int


def board_status(health: AccountHealth) -> str:
    """MECHANICS' status, except that an account a liquidation left flat with nothing is
    `no_equity`, not `ok` (the account panel's "NO EQUITY": students read "ok" as "nothing
    happened")."""
    if health.status == "ok" and not health.positions and health.equity <= 0:
        return NO_EQUITY
    return health.status


def _value(asset: str, amount: Decimal, prices: dict[str, Decimal], weights: Any) -> Decimal:
    if asset == "USD":
        return amount
    return amount * prices.get(asset, Decimal(0)) * weights.get(asset, Decimal(1))


def standing(ex: Any, account: str) -> Standing:
    """`account`'s line, unranked (rank 0)."""
    health = ex.health(account)
    prices: dict[str, Decimal] = ex.prices
    weights = {a.symbol: a.weight_total for a in ex.config.assets}
    pnl = health.unsettled_pnl
    net = Decimal(0)
    for e in ex.ledger(account):
        if e.type in MONEY_IN_OUT:
            net += _value(e.asset, e.amount, prices, {})
        elif e.type not in NOT_TRADING:
            pnl += _value(e.asset, e.amount, prices, weights)
    return Standing(
        0, account, health.equity, pnl, net, board_status(health), len(health.positions)
    )


def standings(ex: Any, accounts: Iterable[str]) -> list[Standing]:
    """`accounts` ranked by trading PnL, best first (ties by name); call it under whatever
    serialises the exchange (the server's engine lock)."""
    rows = sorted((standing(ex, a) for a in accounts), key=lambda s: (-s.pnl, s.account))
    return [
        Standing(i + 1, s.account, s.equity, s.pnl, s.net_deposits, s.status, s.positions)
        for i, s in enumerate(rows)
    ]
