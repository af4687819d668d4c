"""Small builders shared by the engine tests."""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from exchange_local.events import Event

D = Decimal


def exact_exchange(**config: object) -> Exchange:
    """An exchange with exact marks (mark = index) at BTC 100,000, ETH 3,000, SOL 150."""
    return Exchange(ExchangeConfig(mark_source="index", **config))  # type: ignore[arg-type]


def funded(ex: Exchange, name: str, usd: str = "1000000") -> str:
    acct = ex.create_account(name)
    ex.deposit(acct, "USD", D(usd))
    return acct


def state_fingerprint(ex: Exchange) -> tuple:
    """Everything a refused request must leave untouched."""
    accounts = ex.accounts()
    return (
        len(ex._ledger.transactions),
        tuple((a, tuple(sorted(ex.balances(a).items()))) for a in accounts),
        tuple((a, tuple(ex.positions(a))) for a in accounts),
        tuple((a, tuple(ex.open_orders(a))) for a in accounts),
        tuple((m, ex.book(m, 50)) for m in ex.markets()),
        ex._next_order_id,
    )


class Recorder:
    def __init__(self, ex: Exchange) -> None:
        self.events: list[Event] = []
        ex.subscribe(self.events.append)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]

    def of(self, kind: str) -> list:
        return [e for e in self.events if e.kind == kind]
