"""exchange_local: a vertically integrated perpetual-futures paper exchange in one process.

The stable facade (DESIGN.md): Exchange, ExchangeConfig, MarketSpec, AssetSpec and the errors.
"""

from exchange_local.config import AssetSpec, ExchangeConfig, MarketSpec
from exchange_local.errors import (
    ConfigError,
    DuplicateAccount,
    ExchangeError,
    InsufficientBalance,
    InsufficientMargin,
    InvalidNumber,
    InvalidOrder,
    InvalidRequest,
    MarketHalted,
    MarketSettled,
    NotAuthorized,
    OpenInterestCap,
    ReduceOnlyMode,
    StoreError,
    TooManyOrders,
    UnknownAccount,
    UnknownAsset,
    UnknownMarket,
    UnknownOrder,
)
from exchange_local.exchange import Exchange
from exchange_local.orders import OrderInfo, OrderResult, OrderStatus

__all__ = [
    "AssetSpec",
    "ConfigError",
    "DuplicateAccount",
    "Exchange",
    "ExchangeConfig",
    "ExchangeError",
    "InsufficientBalance",
    "InsufficientMargin",
    "InvalidNumber",
    "InvalidOrder",
    "InvalidRequest",
    "MarketHalted",
    "MarketSettled",
    "MarketSpec",
    "NotAuthorized",
    "OpenInterestCap",
    "OrderInfo",
    "OrderResult",
    "OrderStatus",
    "ReduceOnlyMode",
    "StoreError",
    "TooManyOrders",
    "UnknownAccount",
    "UnknownAsset",
    "UnknownMarket",
    "UnknownOrder",
]
