"""The exchange's errors: a stable `code` for programs and a message a person understands.

Every refusal raises before anything is stored, so a caught ExchangeError means no state changed.
"""

from __future__ import annotations

from decimal import Decimal


class ExchangeError(Exception):
    """Base of every refusal. `code` is stable (the server and TUI key on it)."""

    code = "exchange_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ExchangeError):
    """A configuration value is invalid; the message names the field."""

    code = "invalid_config"


class InvalidNumber(ExchangeError):
    """A number is malformed: float, NaN, infinite, not a number."""

    code = "invalid_number"


class InvalidOrder(ExchangeError):
    """An order request is malformed or not allowed (size, price, tick, lot, flags)."""

    code = "invalid_order"


class InvalidRequest(ExchangeError):
    """A non-order request is malformed (amount, asset, leverage, time window)."""

    code = "invalid_request"


class UnknownMarket(ExchangeError):
    code = "unknown_market"


class UnknownAccount(ExchangeError):
    code = "unknown_account"


class UnknownAsset(ExchangeError):
    code = "unknown_asset"


class UnknownOrder(ExchangeError):
    code = "unknown_order"


class DuplicateAccount(ExchangeError):
    code = "duplicate_account"


class NotAuthorized(ExchangeError):
    """The caller may not act on this object (for example another account's order)."""

    code = "not_authorized"


class InsufficientBalance(ExchangeError):
    code = "insufficient_balance"


class TooManyOrders(ExchangeError):
    code = "too_many_orders"


class MarketHalted(ExchangeError):
    """The market accepts only risk-reducing orders (halted, reduce-only or settled)."""

    code = "market_halted"


class MarketSettled(ExchangeError):
    """The market has been settled: it closed every position at one price and stays closed,
    so settling it again (at a new price) is refused."""

    code = "market_settled"


class InsufficientMargin(ExchangeError):
    """The order or withdrawal would leave initial equity below the requirement.

    `shortfall` is the missing USD; `max_size` the largest size that would pass (orders only).
    """

    code = "insufficient_margin"

    def __init__(self, message: str, shortfall: Decimal, max_size: Decimal | None = None) -> None:
        super().__init__(message)
        self.shortfall = shortfall
        self.max_size = max_size


class ReduceOnlyMode(ExchangeError):
    """The account is below its initial requirement: only risk-reducing orders pass."""

    code = "reduce_only_mode"


class OpenInterestCap(ExchangeError):
    """The order would take open interest (market or account) above its cap.

    `max_size`: the largest size of the order that would pass (the cap's room, and the
    margin check's limit where that is lower), as InsufficientMargin's; None where the
    refusal is not about an order's size.
    """

    code = "open_interest_cap"

    def __init__(self, message: str, max_size: Decimal | None = None) -> None:
        super().__init__(message)
        self.max_size = max_size


class StoreError(ExchangeError):
    """The durable store cannot be opened (corrupt, truncated, other schema version)."""

    code = "store_error"
