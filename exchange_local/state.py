"""The engine's mutable state per account and per market (not part of the facade).

Why separate from engine.py: matching, risk, funding and liquidation all read these records;
keeping them in one small module makes the shape of the state easy to see and to persist.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from sortedcontainers import SortedList

from exchange_local.book import OrderBook
from exchange_local.config import MarketSpec
from exchange_local.marketdata import MarketData
from exchange_local.money import ZERO
from exchange_local.orders import Order, OrderResult
from exchange_local.positions import Position


@dataclass
class Account:
    account_id: str
    kind: str = "user"  # "user" | "backstop" | "system"
    positions: dict[str, Position] = field(default_factory=dict)
    open_orders: dict[int, Order] = field(default_factory=dict)
    leverage: dict[str, Decimal] = field(default_factory=dict)
    client_orders: dict[str, OrderResult] = field(default_factory=dict)
    reduce_only_orders: int = 0
    liquidation_status: str | None = None  # "liquidating" | "backstop" | "bankrupt" | None
    liquidation_started_ms: int = 0
    liquidation_cooldown_until_ms: int = 0
    liquidation_full_next: bool = False  # after a partial order and its cooldown: whole size
    backstop_takeovers: list[tuple[int, Decimal]] = field(default_factory=list)  # (ms, USD)
    backstop_baseline: Decimal | None = None  # a BLP's equity before its first takeover
    adl_quintiles: dict[str, int] = field(default_factory=dict)
    funding_history: list = field(default_factory=list)  # AccountFunding rows
    margin_level: str = "ok"  # "ok" | "warning" | "reduce_only" (margin-call events)
    # market -> [buys, sells]: unfilled size of the open limit orders (untriggered stops carry
    # no margin). Kept as orders are accepted, fill, shrink, grow and close, so the pre-trade
    # check and health() read it in O(1) instead of walking up to 200 orders each time.
    resting: dict[str, list[Decimal]] = field(default_factory=dict)
    # ids of the account's closed orders, oldest close first:
    # the engine keeps only the newest of them (engine.CLOSED_ORDERS_KEPT), so the orders of a
    # busy account (a bot) stop growing memory and every snapshot. None: restored from a
    # snapshot written before they were bounded (the engine indexes them on the next close).
    closed_orders: deque[int] | None = field(default_factory=deque)

    def rest(self, order: Order, change: Decimal) -> None:
        """Add `change` (negative: remove) to the resting size of `order`'s market and side."""
        if order.type != "limit" or not change:
            return
        sides = self.resting.get(order.market)
        if sides is None:
            sides = self.resting[order.market] = [ZERO, ZERO]
        sides[0 if order.side == "buy" else 1] += change
        if not sides[0] and not sides[1]:
            del self.resting[order.market]  # an open limit order always has size left

    def count_resting(self) -> dict[str, list[Decimal]]:
        """`resting` recounted from the open orders: the invariant check, and restores."""
        counted: dict[str, list[Decimal]] = {}
        for o in self.open_orders.values():
            if o.type == "limit":
                sides = counted.setdefault(o.market, [ZERO, ZERO])
                sides[0 if o.side == "buy" else 1] += o.size - o.filled
        return counted

    def __setstate__(self, state: dict[str, object]) -> None:
        """Snapshots written before `resting` existed: recount it from the open orders;
        before `closed_orders` existed: None, the engine indexes them from its orders."""
        self.__dict__.update(state)
        if "resting" not in state:
            self.resting = self.count_resting()
        if "closed_orders" not in state:
            self.closed_orders = None

    def position(self, market: str) -> Position:
        pos = self.positions.get(market)
        if pos is None:
            pos = self.positions[market] = Position(market)
        return pos


@dataclass
class MarketRuntime:
    """A market's live state: book, prices, open interest, pending triggers, market data."""

    spec: MarketSpec
    index: Decimal
    mark: Decimal
    book: OrderBook = field(default_factory=OrderBook)
    data: MarketData = field(default_factory=MarketData)
    seq: int = 0
    oi_long: Decimal = ZERO  # sum of long position sizes, coins
    # untriggered orders as (trigger_ticks, order_id): `down` fire when mark <= trigger,
    # `up` fire when mark >= trigger
    triggers_down: SortedList = field(default_factory=SortedList)
    triggers_up: SortedList = field(default_factory=SortedList)
    reduce_only: bool = False  # halted: only risk-reducing orders
    settled: bool = False  # closed by an operator at a price (settle_market)

    @property
    def symbol(self) -> str:
        return self.spec.symbol

    @property
    def tick(self) -> Decimal:
        return self.spec.tick

    @property
    def lot(self) -> Decimal:
        return self.spec.lot
