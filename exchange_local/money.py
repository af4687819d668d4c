"""Exact money: one Decimal context, parsing that refuses floats, rounding to tick, lot and quantum.

Why one module: MECHANICS section 0 demands a single rounding rule everywhere so that runs are
reproducible byte for byte. Every price, size and balance enters through `to_decimal` and is
rounded only by the helpers here.
"""

from __future__ import annotations

import decimal
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from exchange_local.errors import InvalidNumber

CONTEXT = decimal.Context(prec=34, rounding=ROUND_HALF_EVEN, Emax=999999, Emin=-999999)
decimal.setcontext(CONTEXT)
decimal.DefaultContext.prec = 34
decimal.DefaultContext.rounding = ROUND_HALF_EVEN

USD_QUANTUM = Decimal("0.000001")
ZERO = Decimal(0)
ONE = Decimal(1)

Number = Decimal | int | str

# Upper bounds of what the facade accepts. Why: the one Decimal context keeps 34 significant
# digits, and a value past it is rounded or raises decimal.InvalidOperation deep in the margin
# math (a quantize to the USD quantum of a 1e40 notional), so a huge order was a 500 and a
# deposit of 1e30 made a later 0.000001 vanish from the sum. Below these bounds every price x
# size, fee and ledger sum (at most 1e15 * many accounts, with 6 to 8 decimals) stays well
# inside 34 digits and therefore exact. They are far beyond any real market (a price of a
# trillion USD, a trillion contracts, a quadrillion USD of notional or collateral).
MAX_PRICE = Decimal(10) ** 12  # USD per unit: prices, trigger prices, index prices
MAX_SIZE = Decimal(10) ** 12  # units of the underlying in one order
MAX_NOTIONAL = Decimal(10) ** 15  # USD of one order (size x price, or x mark for a market)
MAX_AMOUNT = Decimal(10) ** 15  # one deposit, withdrawal or convert, in the asset's units


PLAIN_DIGITS = 40  # past this many digits before or after the point, plain() keeps E-notation


def plain(value: Decimal) -> str:
    """A user's number as a refusal's message shows it: plain decimal notation, as typed
    ("0.000000001", "98000.0"), never Python's scientific str ("1E-9", which reads like a
    typo and is not what anybody entered). Why a limit: a value such as 1E+999999 or
    1E-999999 written out would be a million characters, so beyond PLAIN_DIGITS digits on
    either side of the point the compact form is kept (no real amount is that long)."""
    if not value.is_finite():
        return str(value)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if value.adjusted() >= PLAIN_DIGITS or exponent < -PLAIN_DIGITS:
        return str(value)
    return format(value, "f")


def shortest(value: Decimal) -> str:
    """A value's shortest plain text: no exponent, no trailing zeros ("98000.0", "98000" and
    "98000.000" are all "98000"; -0 is "0"). One form for what is compared by value (a
    retried request's numbers) and what a ledger reference names (a price, a spread)."""
    return "0" if value == 0 else format(value.normalize(), "f")


def above_maximum(value: Decimal, field: str, maximum: Decimal) -> str | None:
    """The refusal text when `value` exceeds `maximum` (None when it does not), naming the
    field and the maximum in plain digits, for the caller's own error class."""
    if value <= maximum:
        return None
    return f"{field} {plain(value)} is above the maximum of {plain(maximum)}"


def to_decimal(value: object, field: str = "value") -> Decimal:
    """Parse a money value from Decimal, int or str; refuse float, bool, NaN and infinities.

    Floats are refused because `0.1` is not 0.1: money must arrive exactly as the user meant it.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise InvalidNumber(f"{field} must be a number, not a boolean")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InvalidNumber(f"{field} is empty")
        try:
            result = Decimal(text)
        except decimal.InvalidOperation:
            raise InvalidNumber(f"{field} {value!r} is not a decimal number") from None
    elif isinstance(value, float):
        raise InvalidNumber(
            f"{field} was given as a float ({value!r}); pass a Decimal, int or str so it is exact"
        )
    else:
        raise InvalidNumber(f"{field} must be a Decimal, int or str, not {type(value).__name__}")
    if not result.is_finite():
        raise InvalidNumber(f"{field} must be finite, not {value}")
    return result


def decimals_of(step: Decimal) -> int:
    """Number of decimal places a step such as 0.0001 allows."""
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when value is an exact integer multiple of step."""
    return (value % step) == 0


def round_to_step(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round value to a multiple of step (tick or lot) with the given rounding mode."""
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step) if step.as_tuple().exponent != 0 else units * step


def quantize_usd(value: Decimal) -> Decimal:
    """Round a USD amount to the ledger quantum (half even)."""
    return value.quantize(USD_QUANTUM, rounding=ROUND_HALF_EVEN)


def quantize_usd_up(value: Decimal) -> Decimal:
    """Round a USD amount up (towards +infinity): used for what a payer owes (fees, funding)."""
    return value.quantize(USD_QUANTUM, rounding=ROUND_CEILING)


def quantize_usd_down(value: Decimal) -> Decimal:
    """Round a USD amount down (towards -infinity): used for what a receiver gets."""
    return value.quantize(USD_QUANTUM, rounding=ROUND_FLOOR)


CENT = Decimal("0.01")


def cents_against(have: Decimal, need: Decimal) -> tuple[Decimal, Decimal]:
    """`have` rounded down and `need` up to the cent, for a refusal's message: a refused
    1,999.9994 against 2,000 must not read as 2000.00 against 2000.00."""
    return have.quantize(CENT, rounding=ROUND_FLOOR), need.quantize(CENT, rounding=ROUND_CEILING)
