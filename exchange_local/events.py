"""Typed events: every state change the TUI, the server and the scenarios can observe.

Why slotted dataclasses with a `kind`: subscribers dispatch on the type in Python and on `kind`
on the wire. They are read-only by contract but not `frozen`: a frozen dataclass costs four
times as much to build, and the engine builds several per order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange_local.ledger import Transaction
from exchange_local.orders import Fill, OrderInfo


@dataclass(slots=True)
class Event:
    time_ms: int

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(slots=True)
class OrderAccepted(Event):
    order: OrderInfo


@dataclass(slots=True)
class OrderCanceled(Event):
    order: OrderInfo
    reason: str


@dataclass(slots=True)
class OrderTriggered(Event):
    order: OrderInfo
    mark: Decimal


@dataclass(slots=True)
class OrderAmended(Event):
    order: OrderInfo
    lost_priority: bool


@dataclass(slots=True)
class OrderFilled(Event):
    """A taker or maker order finished filling (status filled)."""

    order: OrderInfo


@dataclass(slots=True)
class FillEvent(Event):
    fill: Fill


@dataclass(slots=True)
class PositionChanged(Event):
    account: str
    market: str
    size: Decimal
    entry_price: Decimal
    settle_price: Decimal
    realized_pnl: Decimal


@dataclass(slots=True)
class LedgerPosted(Event):
    transaction: Transaction


@dataclass(slots=True)
class BookDelta(Event):
    """L2 changes of one market; `seq` increases by one per delta, so gaps are detectable."""

    market: str
    seq: int
    changes: tuple[tuple[str, Decimal, Decimal], ...]  # (side "bid"|"ask", price, new size)


@dataclass(slots=True)
class PriceUpdate(Event):
    market: str
    index: Decimal
    mark: Decimal


@dataclass(slots=True)
class MarginEvent(Event):
    """Margin-call levels: warning, reduce_only, recovered (MECHANICS section 2)."""

    account: str
    level: str
    equity: Decimal
    mmr: Decimal
    imr: Decimal


@dataclass(slots=True)
class MarketEvent(Event):
    """Something about a market as a whole (halted, reduce-only, settled, parameter change)."""

    market: str
    what: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class OrderRefused(Event):
    """An order the exchange refused (nothing was booked), for a log that shows why: e.g.
    code "open_interest_cap". The engine raises the refusal to the caller; the teaching
    scenarios emit this event so a UI watching the lesson sees it too."""

    account: str
    market: str
    side: str
    size: Decimal
    price: Decimal | None
    code: str  # the ExchangeError's code
    message: str


@dataclass(slots=True)
class FundingPaid(Event):
    record: Any  # exchange_local.funding.FundingRecord


@dataclass(slots=True)
class Settled(Event):
    """A 30 s settlement cycle of one market: positions settled and the net USD moved."""

    market: str
    mark: Decimal
    positions: int
    net: Decimal


@dataclass(slots=True)
class InvariantViolated(Event):
    """A MECHANICS section 7 check failed: the markets were set reduce-only."""

    problems: list[str]


@dataclass(slots=True)
class LiquidationEvent(Event):
    """One stage of MECHANICS section 4 for one account (and market, when it has one).

    stage: "cancel" (1), "partial" (2), "backstop" (3), "book_close" (3 without BLPs),
    "insurance" (4), "adl" (5), "over", "recovered", "halted" (6: a check failed, market
    reduce-only).
    An ADL that the fund first pays part of is two events at one time: "insurance" (the
    fund's payment: equity and fund before -> after) then "adl" (the rest, at the zero price).
    "over": every position is closed, the liquidation is over (with or without equity left);
    "recovered": the account keeps positions and is back above maintenance.

    price: the IOC's limit for "partial" and "book_close"; the zero price for "adl".
    fill_price: the account's average price in this stage: the IOC's average fill
    ("partial", "book_close"; None when nothing filled), the price it closed at ("backstop":
    the zero price when solvent, the mark when bankrupt; "adl": the zero price).
    counter_price: what the counterparties paid ("backstop": the BLPs' price, 2/3 ZP + 1/3 M
    rounded to the tick in the fund's favour, or the mark; "adl": the zero price).
    fee: the liquidation fee the account paid the fund in this stage ("partial",
    "book_close"; 0 when none).

    venue: None for this exchange's own stages; else the venue whose liquidation of the
    account this reports (stage "liquidated": Hyperliquid's `userEvents`). Such a venue sends
    only the account value at liquidation (equity_before and equity_after alike: one moment,
    what came after is not known), the position's notional and the liquidator
    (counterparties): its MMR is None (not sent), its fund figures 0 (no fund here moved).
    Why None rather than 0: a watch screen read "MMR 0.00 → 0.00" as the venue's figures.
    notional: the liquidated position's notional in USD, when a venue sends it.
    """

    account: str
    market: str | None
    stage: str
    size: Decimal | None
    price: Decimal | None
    equity_before: Decimal
    equity_after: Decimal
    mmr_before: Decimal | None  # None: not known (a venue's report, see venue)
    mmr_after: Decimal | None
    counterparties: tuple[str, ...]
    fund_before: Decimal
    fund_after: Decimal
    detail: str = ""
    fill_price: Decimal | None = None
    counter_price: Decimal | None = None
    fee: Decimal | None = None
    notional: Decimal | None = None
    venue: str | None = None
