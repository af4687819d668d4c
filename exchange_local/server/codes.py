"""Error codes on the wire: the exchange's refusals as HTTP statuses and stable codes, and back.

Why one table used by both ends: the server turns an ExchangeError into problem+json with a
status and a wire code (shared/API.md's status map), and the remote venue turns that problem
back into the same ExchangeError subclass (by the exchange's own `code`, sent alongside), so a
refusal reads the same in-process and over the network.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from exchange_local import errors
from exchange_local.errors import ExchangeError

# exchange code -> (HTTP status, wire code)
STATUS_BY_CODE: dict[str, tuple[int, str]] = {
    errors.InvalidNumber.code: (400, "INVALID_DECIMAL"),
    errors.InvalidRequest.code: (400, "INVALID_REQUEST"),
    errors.ConfigError.code: (400, "INVALID_REQUEST"),
    errors.InvalidOrder.code: (422, "INVALID_ORDER"),
    errors.UnknownMarket.code: (404, "UNKNOWN_SYMBOL"),
    errors.UnknownAccount.code: (404, "UNKNOWN_ACCOUNT"),
    errors.UnknownAsset.code: (404, "UNKNOWN_ASSET"),
    errors.UnknownOrder.code: (404, "ORDER_NOT_FOUND"),
    errors.DuplicateAccount.code: (409, "DUPLICATE_ACCOUNT"),
    errors.NotAuthorized.code: (403, "NOT_AUTHORIZED"),
    errors.InsufficientBalance.code: (422, "INSUFFICIENT_BALANCE"),
    errors.TooManyOrders.code: (422, "TOO_MANY_ORDERS"),
    errors.MarketHalted.code: (422, "MARKET_HALTED"),
    errors.MarketSettled.code: (409, "MARKET_SETTLED"),
    errors.InsufficientMargin.code: (422, "INSUFFICIENT_MARGIN"),
    errors.ReduceOnlyMode.code: (422, "REDUCE_ONLY_MODE"),
    errors.OpenInterestCap.code: (422, "OPEN_INTEREST_CAP"),
    errors.StoreError.code: (503, "UNAVAILABLE"),
}

# wire code -> the exchange code it stands for (the first in the table above)
EXCHANGE_CODE_BY_WIRE: dict[str, str] = {}
for _code, (_status, _wire) in STATUS_BY_CODE.items():
    EXCHANGE_CODE_BY_WIRE.setdefault(_wire, _code)

# InvalidOrder covers several of API.md's finer codes; the engine's message tells which
_ORDER_DETAIL = (
    ("multiple of the tick", "TICK_SIZE"),
    ("multiple of the lot", "LOT_SIZE"),
    ("would take liquidity", "POST_ONLY_WOULD_CROSS"),
    ("would not reduce", "REDUCE_ONLY_WOULD_INCREASE"),
)

TITLES = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    422: "Refused by the exchange",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


def classify(exc: ExchangeError) -> tuple[int, str]:
    """(HTTP status, wire code) of an exchange refusal; unknown subclasses are 422."""
    status, code = STATUS_BY_CODE.get(exc.code, (422, exc.code.upper()))
    if code == "INVALID_ORDER":
        for needle, finer in _ORDER_DETAIL:
            if needle in exc.message:
                return status, finer
    return status, code


# the engine's Python names (right for Python callers) -> the names a wire client sent
WIRE_NAMES = {
    "trigger_price": "triggerPx",
    "stop_market": "stopMarket",
    "take_profit": "takeProfit",
    "reduce_only": "reduceOnly",
    "client_order_id": "clientOrderId",
    "partially_filled": "partiallyFilled",
    "order_id": "orderId",
    "tif": "timeInForce",
}
_PYTHON_NAME = re.compile(r"\b(" + "|".join(WIRE_NAMES) + r")\b")


# a quoted value (the engine quotes what it refuses with repr) of more than SHOWN characters
SHOWN = 40
_LONG_QUOTE = re.compile(rf"(['\"])((?:(?!\1).){{{SHOWN}}})(?:(?!\1).)+\1", re.DOTALL)


def wire_message(message: str) -> str:
    """An exchange refusal in the wire's words: "a stop_market order needs a trigger_price"
    reads "a stopMarket order needs a triggerPx" to a client that sent `stopMarket` and
    `triggerPx`. Why here and not in the engine: its Python callers pass the Python names.

    A quoted value longer than SHOWN characters is cut there ("'xxx…'"), as the server's own
    messages cut what they echo: "there is no market 'xxx…'" for a 60,000-character symbol
    in a URL was a 60 KB answer, and the client knows what it sent."""
    message = _LONG_QUOTE.sub(lambda m: f"{m.group(1)}{m.group(2)}…{m.group(1)}", message)
    return _PYTHON_NAME.sub(lambda m: WIRE_NAMES[m.group(1)], message)


def _all_subclasses(cls: type[ExchangeError]) -> list[type[ExchangeError]]:
    out: list[type[ExchangeError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_from_problem(problem: dict[str, object], status: int) -> ExchangeError:
    """The ExchangeError a problem+json body stands for: the class whose `code` the server sent
    as `exchangeCode` (falling back to ExchangeError), carrying the server's message."""
    detail = problem.get("detail") or problem.get("title") or f"HTTP {status}"
    message = str(detail)
    wanted = problem.get("exchangeCode")
    if wanted is None and isinstance(problem.get("code"), str):
        wanted = EXCHANGE_CODE_BY_WIRE.get(str(problem["code"]))
    cls: type[ExchangeError] = ExchangeError
    if isinstance(wanted, str):
        for sub in _all_subclasses(ExchangeError):
            if sub.__dict__.get("code") == wanted:
                cls = sub
                break
    if cls is errors.InsufficientMargin:
        return errors.InsufficientMargin(
            message,
            _decimal(problem.get("shortfall")) or Decimal(0),
            _decimal(problem.get("maxSize")),
        )
    try:
        err = cls(message)
    except TypeError:  # a subclass with a richer constructor we do not know
        err = ExchangeError(message)
    if cls is ExchangeError and isinstance(problem.get("code"), str):
        err.code = str(problem["code"]).lower()
    return err


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None
