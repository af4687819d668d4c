"""Request bodies: strict where money is, so a mistake is a 400 with a message, never a guess.

Why decimals as strings only: `0.1` as a JSON number is already a binary float in most
clients; API.md wants decimal strings, and a number where a decimal is required is refused
(`INVALID_DECIMAL`), as is an exponent, a 40-digit value or an unknown field.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

# Why [0-9] and fullmatch: `\d` is any Unicode digit ("١" or "１" parsed as 1), and `$` also
# matches before a final newline ("0.001\n" passed). The ^...$ stay for the JSON Schema,
# whose ECMA-262 patterns need them; Python matches with fullmatch.
DECIMAL_TEXT = re.compile(r"^-?[0-9]{1,24}(\.[0-9]{1,18})?$")
DECIMAL_PATTERN = DECIMAL_TEXT.pattern
SHOWN_CHARS = 40  # of a refused value in a message
WHOLE_PATTERN = r"^-?[0-9]{1,24}(\.0{1,18})?$"  # leverage as a string: a whole number
CLIENT_ORDER_ID = r"^[A-Za-z0-9._:/-]{1,36}$"
SYMBOL = r"^[A-Za-z0-9-]{1,32}$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$"


def parse_decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "a JSON number" if isinstance(value, int | float) else type(value).__name__
        raise PydanticCustomError(
            "invalid_decimal",
            'must be a decimal string such as "68000.5", not {kind}',
            {"kind": kind},
        )
    if not DECIMAL_TEXT.fullmatch(value):
        raise PydanticCustomError(
            "invalid_decimal",
            "{value} is not a plain decimal (ASCII digits 0-9, one optional point; at most 24 "
            "digits before it and 18 after; no exponent, spaces or newline)",
            {"value": shown(value)},
        )
    return Decimal(value)


def shown(value: str) -> str:
    """A refused value quoted for a message: repr (so a newline or an odd digit is
    visible), cut to SHOWN_CHARS. Why not `{value!r}` in the template: pydantic's error
    templates do not take conversions, and the raw template reached the client."""
    if len(value) > SHOWN_CHARS:
        return repr(value[:SHOWN_CHARS]) + "…"
    return repr(value)


LEVERAGE_TEXT = re.compile(WHOLE_PATTERN)


class LeverageRefused(ValueError):
    """A leverage that is not a whole number from 1 to the market's maximum (the message)."""


def parse_leverage(value: Any, symbol: str, maximum: Decimal) -> Decimal:
    """The leverage of `PUT /leverage/{symbol}` as a whole number from 1 to the market's
    maximum; anything else raises LeverageRefused with the one refusal text. Why a function
    the route calls, not the body's validator: that cannot know the market, so its refusals said
    "between 1 and 1000" (and were INVALID_DECIMAL) while the engine's said "between 1 and
    20", and a float was told to be a decimal string that was then refused as not whole.
    Why a whole number: API.md's leverage is an integer everywhere (the request, a
    position's `leverage`, `leverageBySymbol`, `maxLeverage`); "10" and "10.0" are taken too.
    """
    whole: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value
    elif isinstance(value, str) and LEVERAGE_TEXT.fullmatch(value):
        whole = int(Decimal(value))
    if whole is not None and 1 <= whole <= maximum:
        return Decimal(whole)
    given = shown(value) if isinstance(value, str) else json_text(value)
    raise LeverageRefused(
        f"leverage for {symbol} must be a whole number between 1 and "
        f"{maximum.normalize():f} (the market's maximum), as a JSON integer such as 10 or a "
        f'string of digits such as "10"; got {given}'
    )


def json_text(value: Any) -> str:
    """A refused JSON value as the client wrote it, cut to SHOWN_CHARS."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


Dec = Annotated[
    Decimal,
    PlainValidator(parse_decimal),
    PlainSerializer(lambda d: format(d, "f"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["68000.5"]}),
]
# any JSON value: the route checks it against the market (parse_leverage)
LeverageValue = Annotated[
    Any,
    PlainValidator(lambda value: value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 1000},
                {"type": "string", "pattern": WHOLE_PATTERN},
            ]
        }
    ),
]


def only_dots(value: str) -> str:
    """Refuse a clientOrderId of dots only: `.` and `..` are path segments a URL cannot carry
    (clients resolve them away), so GET/DELETE /orders/by-client-id/{id} could never reach
    the order. A small narrowing of API.md's `[A-Za-z0-9._:/-]{1,36}`."""
    if value.strip(".") == "":
        raise PydanticCustomError(
            "client_order_id",
            "{value} is only dots, which a URL cannot address (GET /orders/by-client-id/...); "
            "use at least one other character",
            {"value": repr(value[:SHOWN_CHARS])},
        )
    return value


ClientOrderId = Annotated[
    str,
    Field(pattern=CLIENT_ORDER_ID, json_schema_extra={"not": {"pattern": r"^\.+$"}}),
    AfterValidator(only_dots),
]
Symbol = Annotated[str, Field(pattern=SYMBOL)]
Asset = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,16}$")]
# asset -> amount. Why `additionalProperties: false` by hand: pydantic declares the key pattern
# as `patternProperties` only, which lets any other key through with any value, while the
# model refuses such a key (400); the document must say what the server accepts.
Deposits = Annotated[
    dict[Asset, Dec], Field(max_length=16, json_schema_extra={"additionalProperties": False})
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OrderBody(Strict):
    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["limit", "market", "stopMarket", "takeProfit"] = "limit"
    size: Dec
    price: Dec | None = None
    triggerPx: Dec | None = None
    timeInForce: Literal["GTC", "IOC", "FOK", "ALO"] = "GTC"
    reduceOnly: bool = False
    clientOrderId: ClientOrderId | None = None


class PreviewBody(Strict):
    symbol: Symbol
    side: Literal["buy", "sell"]
    type: Literal["limit", "market", "stopMarket", "takeProfit"] = "limit"
    size: Dec
    price: Dec | None = None
    triggerPx: Dec | None = None
    timeInForce: Literal["GTC", "IOC", "FOK", "ALO"] = "GTC"
    reduceOnly: bool = False


class AmendBody(Strict):
    price: Dec | None = None
    size: Dec | None = None
    triggerPx: Dec | None = None


class LeverageBody(Strict):
    leverage: LeverageValue


class AssetAmountBody(Strict):
    asset: Asset
    amount: Dec


class ConvertBody(Strict):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    from_asset: Asset = Field(alias="from")
    to_asset: Asset = Field(alias="to")
    amount: Dec


Scope = Literal["read", "trade"]


def _trade_scope() -> list[Scope]:
    return ["trade"]


class CreateAccountBody(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    initialBalance: Dec | None = None
    deposits: Deposits = Field(default_factory=dict)
    scopes: list[Scope] = Field(default_factory=_trade_scope, min_length=1, max_length=2)


class CreateKeyBody(Strict):
    name: Annotated[str, Field(pattern=NAME)]
    scopes: list[Literal["read", "trade", "admin"]] = Field(min_length=1, max_length=3)


class PriceBody(Strict):
    price: Dec


class RollbackBody(Strict):
    start: Annotated[int, Field(ge=0, le=2**62)]
    end: Annotated[int, Field(ge=0, le=2**62)]


class SpeedBody(Strict):
    speed: Dec


class AdvanceBody(Strict):
    seconds: Dec


class ResetBody(Strict):
    """The account's balances after the reset: `deposits` (asset -> amount; every other
    asset goes to 0), `initialBalance` adds USD. One of them is required (an empty body is
    refused, not taken as "empty the account"; `{"USD": "0"}` does that on purpose)."""

    deposits: Deposits = Field(default_factory=dict)
    initialBalance: Dec | None = None


class AdjustBody(Strict):
    """A signed change of one balance: positive adds, negative removes."""

    asset: Asset
    amount: Dec


class ScenarioBody(Strict):
    """Optional settings of a live scenario (defaults in brackets). crash: `asset` (BTC),
    `first` (-0.05), `total` (-0.15), `afterSeconds` (120). funding: `symbol` (BTC-PERP),
    `premium` (0.003), `everySeconds` (30), `minutes` (15). gap: `asset` (BTC), `fraction`
    (-0.10). volatility: `asset` (BTC), `swing` (0.002), `maxSwing` (0.03), `everySeconds`
    (5), `minutes` (15)."""

    asset: Asset | None = None
    first: Dec | None = None
    total: Dec | None = None
    afterSeconds: Annotated[int, Field(ge=1, le=3600)] | None = None
    symbol: Symbol | None = None
    premium: Dec | None = None
    everySeconds: Annotated[int, Field(ge=1, le=600)] | None = None
    minutes: Annotated[int, Field(ge=1, le=180)] | None = None
    fraction: Dec | None = None
    swing: Dec | None = None
    maxSwing: Dec | None = None
