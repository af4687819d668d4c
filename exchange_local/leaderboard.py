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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange_local.events import Event, LedgerPosted
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


@dataclass(slots=True)
class LedgerSums:
    """What `standing` adds up from one account's ledger, summed as its legs post.

    USD legs are summed here; a coin's legs are kept one by one (few: deposits of coins, a
    backstop taking coins), because each is valued at today's index when the board is read
    and a product rounds at 34 digits, so valuing their sum could differ from the sum of
    their values in the last digit."""

    usd_pnl: Decimal = Decimal(0)
    usd_net: Decimal = Decimal(0)
    coin_pnl: list[tuple[str, Decimal]] = field(default_factory=list)
    coin_net: list[tuple[str, Decimal]] = field(default_factory=list)

    def add(self, type: str, asset: str, amount: Decimal) -> None:
        if type in MONEY_IN_OUT:
            if asset == "USD":
                self.usd_net += amount
            else:
                self.coin_net.append((asset, amount))
        elif type not in NOT_TRADING:
            if asset == "USD":
                self.usd_pnl += amount
            else:
                self.coin_pnl.append((asset, amount))

    def pnl(self, unsettled: Decimal, prices: dict[str, Decimal], weights: Any) -> Decimal:
        total = unsettled + self.usd_pnl
        for asset, amount in self.coin_pnl:
            total += _value(asset, amount, prices, weights)
        return total

    def net_deposits(self, prices: dict[str, Decimal]) -> Decimal:
        total = self.usd_net
        for asset, amount in self.coin_net:
            total += _value(asset, amount, prices, {})
        return total


class Tally:
    """Every ranked account's LedgerSums, kept up to date from the exchange's LedgerPosted
    events, so a board costs O(accounts) and reads no ledger.

    Why: `standing` read the account's whole ledger on every call (a durable exchange: from
    SQLite), under the engine lock, so a class polling the leaderboard held up every order as
    ledgers grew. An account's ledger is read once, the first time it is ranked (`sums`);
    from then on each posted leg of it is added as it posts. Subscribe before any
    transaction the sums should see is posted (the server makes it with its runtime)."""

    def __init__(self, exchange: Any) -> None:
        self.ex = exchange
        self._sums: dict[str, LedgerSums] = {}
        self._unsubscribe: Callable[[], None] = exchange.subscribe(self._observe)

    def close(self) -> None:
        self._unsubscribe()

    def _observe(self, event: Event) -> None:
        if type(event) is not LedgerPosted:
            return
        tx = event.transaction
        kind = str(tx.type)
        sums = self._sums
        for account, asset, amount in tx.legs:
            got = sums.get(account)
            if got is not None:
                got.add(kind, asset, amount)

    def sums(self, account: str) -> LedgerSums:
        """The account's sums (its ledger read once, the first time)."""
        got = self._sums.get(account)
        if got is None:
            got = LedgerSums()
            for e in self.ex.ledger(account):
                got.add(e.type, e.asset, e.amount)
            self._sums[account] = got
        return got


def standing(ex: Any, account: str, tally: Tally | None = None) -> Standing:
    """`account`'s line, unranked (rank 0). Without `tally` its ledger is read here."""
    health = ex.health(account)
    prices: dict[str, Decimal] = ex.prices
    weights = {a.symbol: a.weight_total for a in ex.config.assets}
    if tally is not None:
        sums = tally.sums(account)
        pnl = sums.pnl(health.unsettled_pnl, prices, weights)
        net = sums.net_deposits(prices)
    else:
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


def standings(ex: Any, accounts: Iterable[str], tally: Tally | None = None) -> list[Standing]:
    """`accounts` ranked by trading PnL, best first (ties by name); call it under whatever
    serialises the exchange (the server's engine lock). `tally`: the server's running sums
    (the same numbers, without reading the ledgers)."""
    rows = sorted((standing(ex, a, tally) for a in accounts), key=lambda s: (-s.pnl, s.account))
    return [
        Standing(i + 1, s.account, s.equity, s.pnl, s.net_deposits, s.status, s.positions)
        for i, s in enumerate(rows)
    ]
