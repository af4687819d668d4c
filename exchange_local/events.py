"""Typed events: every state change the TUI, the server and the scenarios can observe.

Why plain frozen dataclasses with a `kind`: subscribers dispatch on the type in Python and on
`kind` on the wire, and an event can never be changed after it is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange_local.ledger import Transaction
from exchange_local.orders import Fill, OrderInfo


@dataclass(frozen=True, slots=True)
class Event:
    time_ms: int

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class OrderAccepted(Event):
    order: OrderInfo


@dataclass(frozen=True, slots=True)
class OrderCanceled(Event):
    order: OrderInfo
    reason: str


@dataclass(frozen=True, slots=True)
class OrderTriggered(Event):
    order: OrderInfo
    mark: Decimal


@dataclass(frozen=True, slots=True)
class OrderAmended(Event):
    order: OrderInfo
    lost_priority: bool


@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    """A taker or maker order finished filling (status filled)."""

    order: OrderInfo


@dataclass(frozen=True, slots=True)
class FillEvent(Event):
    fill: Fill


@dataclass(frozen=True, slots=True)
class PositionChanged(Event):
    account: str
    market: str
    size: Decimal
    entry_price: Decimal
    settle_price: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class LedgerPosted(Event):
    transaction: Transaction


@dataclass(frozen=True, slots=True)
class BookDelta(Event):
    """L2 changes of one market; `seq` increases by one per delta, so gaps are detectable."""

    market: str
    seq: int
    changes: tuple[tuple[str, Decimal, Decimal], ...]  # (side "bid"|"ask", price, new size)


@dataclass(frozen=True, slots=True)
class PriceUpdate(Event):
    market: str
    index: Decimal
    mark: Decimal


@dataclass(frozen=True, slots=True)
class MarginEvent(Event):
    """Margin-call levels: warning, reduce_only, recovered (MECHANICS section 2)."""

    account: str
    level: str
    equity: Decimal
    mmr: Decimal
    imr: Decimal


@dataclass(frozen=True, slots=True)
class MarketEvent(Event):
    """Something about a market as a whole (halted, reduce-only, settled, parameter change)."""

    market: str
    what: str
    detail: dict[str, Any] = field(default_factory=dict)
