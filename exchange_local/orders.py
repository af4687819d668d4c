"""Orders as the exchange keeps them, and the results the facade returns.

One status enum everywhere (the wire spells it camelCase). A request refused before acceptance
never becomes an Order; an accepted order that cannot proceed ends `canceled` with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

ORDER_TYPES = ("limit", "market", "stop_market", "take_profit")
TRIGGER_TYPES = ("stop_market", "take_profit")
TIFS = ("gtc", "ioc", "fok")
SIDES = ("buy", "sell")


class OrderStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    UNTRIGGERED = "untriggered"


class CancelReason(StrEnum):
    USER = "user"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    MARKET_PROTECTION = "market_protection_band"
    NO_LIQUIDITY = "no_liquidity"
    SELF_TRADE = "self_trade_prevention"
    REDUCE_ONLY_NO_POSITION = "reduce_only_position_gone"
    OPEN_INTEREST_CAP = "open_interest_cap"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    LIQUIDATION = "liquidation"
    ADL = "auto_deleveraging"
    MARKET_SETTLED = "market_settled"
    ACCOUNT_RESET = "account_reset"


@dataclass(slots=True)
class Order:
    """A live or finished order. Sizes and prices are Decimals in the market's units."""

    order_id: int
    account: str
    market: str
    side: str
    type: str
    tif: str
    size: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    post_only: bool
    reduce_only: bool
    client_order_id: str | None
    created_ms: int
    status: OrderStatus = OrderStatus.OPEN
    filled: Decimal = Decimal(0)
    filled_notional: Decimal = Decimal(0)
    canceled_reason: str | None = None
    updated_ms: int = 0
    liquidation: bool = False

    @property
    def is_buy(self) -> bool:
        return self.side == "buy"

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled

    @property
    def avg_price(self) -> Decimal | None:
        return self.filled_notional / self.filled if self.filled else None

    @property
    def is_open(self) -> bool:
        return self.status in (
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.UNTRIGGERED,
        )

    def result(self) -> OrderResult:
        return OrderResult(
            self.order_id, self.status, self.filled, self.avg_price, self.canceled_reason
        )

    def snapshot(self) -> OrderInfo:
        return OrderInfo(
            self.order_id, self.account, self.market, self.side, self.type, self.tif, self.size,
            self.price, self.trigger_price, self.post_only, self.reduce_only,
            self.client_order_id, self.status, self.filled, self.avg_price,
            self.canceled_reason, Decimal(self.created_ms) / 1000,
        )  # fmt: skip


@dataclass(slots=True)
class OrderResult:
    """What place_order returns: enough to know what happened without another look-up."""

    order_id: int
    status: OrderStatus
    filled: Decimal
    avg_price: Decimal | None
    canceled_reason: str | None


@dataclass(slots=True)
class OrderInfo:
    """An immutable copy of an order for callers (they can't change the engine's state)."""

    order_id: int
    account: str
    market: str
    side: str
    type: str
    tif: str
    size: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    post_only: bool
    reduce_only: bool
    client_order_id: str | None
    status: OrderStatus
    filled: Decimal
    avg_price: Decimal | None
    canceled_reason: str | None
    created: Decimal


@dataclass(slots=True)
class Fill:
    """One match between a taker and a maker, at the maker's price."""

    fill_id: int
    time_ms: int
    market: str
    price: Decimal
    size: Decimal
    taker_side: str
    taker: str
    maker: str
    taker_order_id: int
    maker_order_id: int
    taker_fee: Decimal
    maker_fee: Decimal
