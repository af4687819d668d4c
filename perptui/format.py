"""Numbers as traders read them: fixed decimals per market, thousands separators, explicit signs.

Why one module: every widget and every text test agrees on how 58456.2567 looks, and a
liquidation price is always rounded toward the mark (the conservative side, MECHANICS 0).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

# an amount as typed (0.00000098, never 9.8E-7): the exchange's own refusals write it so
from exchange_local.money import plain as plain

DASH = "—"


def decimals_of(step: Decimal) -> int:
    """Decimals a price or size shows, from its tick or lot (0.5 -> 1, 0.001 -> 3, 1 -> 0)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -int(exponent)) if isinstance(exponent, int) else 0


def num(
    value: Decimal | None, places: int = 2, sign: bool = False, rounding: str = ROUND_HALF_EVEN
) -> str:
    """`12,345.68`; `+12.30` with sign; `—` for None. `rounding`: a decimal rounding mode
    (half-even unless a figure must never look better than it is: see usd_up, usd_down)."""
    if value is None:
        return DASH
    q = Decimal(1).scaleb(-places)
    v = value.quantize(q, rounding=rounding)
    text = f"{v:,.{places}f}"
    if sign and v > 0:
        text = "+" + text
    if text.startswith("-") and v == 0:
        text = text[1:]
    return text


def usd(value: Decimal | None, sign: bool = False) -> str:
    return num(value, 2, sign)


def usd_up(value: Decimal | None, sign: bool = False) -> str:
    """A requirement or a cost to the cent, rounded up (toward +infinity): IMR, MMR, ACMR
    and fees. Why: half-even showed MMR 1,505.1815922 as 1,505.18, less than is required,
    and a preview's IMR → 14,375.08 beside a refusal that "needs 14375.09"; the ledger rounds
    a fee up, so "Fee ~23.73" for 23.732921 was a cent short of what is charged."""
    return num(value, 2, sign, ROUND_CEILING)


def usd_down(value: Decimal | None, sign: bool = False) -> str:
    """What may be used, to the cent, rounded down (toward -infinity): free collateral, a
    margin above a requirement. Never a cent more than there is."""
    return num(value, 2, sign, ROUND_FLOOR)


def price(value: Decimal | None, tick: Decimal) -> str:
    return num(value, decimals_of(tick))


def size(value: Decimal | None, lot: Decimal, sign: bool = False) -> str:
    return num(value, decimals_of(lot), sign)


def pct(
    fraction: Decimal | None, places: int = 2, sign: bool = False, rounding: str = ROUND_HALF_EVEN
) -> str:
    """0.0542 -> `5.42%`."""
    if fraction is None:
        return DASH
    return num(fraction * 100, places, sign, rounding) + "%"


def distance(fraction: Decimal | None, places: int = 1) -> str:
    """A distance to liquidation or bankruptcy, 0.175587 -> `17.5%`: rounded toward zero,
    so it never looks further away than it is (half-even showed 17.6 % for 17.5587 % and
    0.5 % for 0.487 %)."""
    return pct(fraction, places, rounding=ROUND_DOWN)


def weight(value: Decimal, places: int = 4) -> str:
    """A collateral weight, 0.85970512 -> `0.8597`: rounded down, never more generous than it
    is (0.860 made amount x price x weight exceed the value beside it)."""
    return num(value, places, rounding=ROUND_FLOOR)


RATE_PLACES = (4, 6)  # decimals of a percent a funding rate shows: at least, at most


def rate(fraction: Decimal | None) -> str:
    """A funding rate per hour: 0.0000125 -> `+0.00125%`, 0.0001 -> `+0.0100%`.

    Why up to six decimals of a percent: the usual hourly rate (0.00125 %) cut to four read
    0.0012 %, and a payment of 1.25 USD per 100,000 of notional could not be checked against
    it; six keep a 100,000 USD position's payment right to the tenth of a cent."""
    if fraction is None:
        return DASH
    fewest, most = RATE_PLACES
    text = pct(fraction, most, sign=True)[:-1]
    keep = len(text) - (most - fewest)
    while len(text) > keep and text.endswith("0"):
        text = text[:-1]
    return text + "%"


def compact(value: Decimal | None, places: int = 1) -> str:
    """Sizes and notionals only: 410_000_000 -> `410.0M`, 12_345 -> `12.3K`."""
    if value is None:
        return DASH
    magnitude = abs(value)
    for limit, suffix in (
        (Decimal(10) ** 9, "B"),
        (Decimal(10) ** 6, "M"),
        (Decimal(10) ** 3, "K"),
    ):
        if magnitude >= limit:
            return num(value / limit, places) + suffix
    return num(value, places)


def liq_price(value: Decimal | None, mark: Decimal, tick: Decimal) -> str:
    """A liquidation or bankruptcy price on the tick, rounded toward the mark: the side that
    warns early, never late (MECHANICS section 0)."""
    if value is None:
        return DASH
    rounding = ROUND_CEILING if value < mark else ROUND_FLOOR
    on_tick = (value / tick).to_integral_value(rounding=rounding) * tick
    return num(on_tick, decimals_of(tick))


def liq_label(state: str, value: Decimal | None, mark: Decimal, tick: Decimal) -> str:
    """MECHANICS section 3's words: "now" below maintenance, "bankrupt" below zero, else the
    price rounded toward the mark, or — where no price would liquidate."""
    if state in ("bankrupt", "now"):
        return state
    return liq_price(value, mark, tick)


def clock(seconds: int) -> str:
    """A countdown: 2467 -> `41:07`, 3725 -> `1:02:05`."""
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def duration(seconds: float) -> str:
    """How long, in words a header has room for: `3 d 4 h`, `2 h 5 min`, `40 s`."""
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400} d {s % 86400 // 3600} h"
    if s >= 3600:
        minutes = s % 3600 // 60
        return f"{s // 3600} h {minutes} min" if minutes else f"{s // 3600} h"
    if s >= 60:
        return f"{s // 60} min"
    return f"{s} s"


def exchange_time(ms: int) -> str:
    """Exchange time of day, `HH:MM:SS` (the paper clock starts at 0)."""
    total = ms // 1000
    return f"{total // 3600 % 24:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def health_word(status: str, warning: bool) -> str:
    """MECHANICS section 2's status as the one word the account panel shows beside the gauge."""
    if status in ("liquidating", "backstop", "bankrupt"):
        return "LIQUIDATING"
    if status == "reduce_only":
        return "DANGER"
    if warning:
        return "WATCH"
    return "HEALTHY"


PRICE_PLACES = 8  # enough for the thinnest tick here (JELLY's 0.00001) with room to spare


def tick_price(value: Decimal) -> str:
    """A price with every digit its tick has and at least cents: events carry no tick, and
    a JELLY price of 0.29973 shown as 0.30 is 270 USD off across a million coins."""
    exponent = value.normalize().as_tuple().exponent
    places = max(2, min(PRICE_PLACES, -exponent if isinstance(exponent, int) else 2))
    return num(value, places)


def aligned(values: list[Decimal], most: int = 8) -> list[str]:
    """Sizes of one column with the decimals of the finest among them, so the points line up
    where the lot is not at hand (orders and fills of several markets): 0.5, 0.01, 0.125 ->
    0.500, 0.010, 0.125."""
    places = 0
    for value in values:
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, min(most, -exponent))
    return [num(value, places) for value in values]


def average_price(value: Decimal) -> str:
    """An average of fills (off every tick): cents above 1, six significant digits below, so
    94,776.78173741 reads 94,776.78 and a JELLY average 0.2997312 reads 0.299731."""
    if abs(value) >= 1:
        return num(value, 2)
    return f"{value:.6g}"


def fill_price(value: Decimal, tick: Decimal) -> str:
    """The price of a fill or an order's average fill: on the market's tick with its decimals
    when it is on the tick (as the book shows it: 100,100.0 at a 0.5 tick, not 100,100.000),
    else an average between ticks with format.average_price's digits."""
    if tick > 0 and value % tick == 0:
        return price(value, tick)
    return average_price(value)


def trimmed(value: Decimal, most: int, least: int = 2) -> str:
    """`value` with the digits it has, at most `most` decimals and at least `least`:
    0.00999 -> 0.00999, 0.1 -> 0.10, 0.951234567 -> 0.951234567. Why: a collateral line
    reads amount x price x weight = value, and a rounded amount or price made that sum not
    add up (0.00999 BTC shown as 0.0100)."""
    least = min(least, most)
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) else least
    return num(value, max(least, min(most, places)))


def _default_asset_decimals() -> dict[str, int]:
    from exchange_local.config import default_assets

    return {a.symbol: a.decimals for a in default_assets()}


# the decimals an asset is counted in (AssetSpec.decimals) where a venue does not say: the
# exchange's own defaults, and 8 for an asset it does not know
ASSET_DECIMALS: dict[str, int] = _default_asset_decimals()
UNKNOWN_ASSET_DECIMALS = 8


def remember_asset_decimals(decimals: dict[str, int]) -> None:
    """Note the decimals a venue's exchange counts its assets in (LocalVenue.start). Why a
    note here and not a field of the records: a collateral line and a ledger leg are the
    exchange's own records, the same from every venue (a remote one decodes them from the
    wire), and they carry none; a venue that does not know keeps the defaults."""
    ASSET_DECIMALS.update(decimals)


def asset_decimals(asset: str) -> int:
    """The decimals `asset` is counted in (AssetSpec.decimals), as the venue noted them or
    by the exchange's defaults; UNKNOWN_ASSET_DECIMALS for an asset nobody described."""
    return ASSET_DECIMALS.get(asset, UNKNOWN_ASSET_DECIMALS)


def _default_market_steps() -> dict[str, tuple[Decimal, Decimal]]:
    from exchange_local.config import default_markets

    return {m.symbol: (m.tick, m.lot) for m in default_markets()}


# (tick, lot) of each market where a caller has no MarketState at hand: the exchange's defaults
MARKET_STEPS: dict[str, tuple[Decimal, Decimal]] = _default_market_steps()


def market_price(market: str, value: Decimal) -> str:
    """A price of `market` where no MarketState is at hand (an event's line): on the market's
    tick when the exchange's default market has one and the price lies on it (100,184.0 at a
    0.5 tick, as the book shows it), else every digit it has (tick_price)."""
    steps = MARKET_STEPS.get(market)
    if steps is not None and value % steps[0] == 0:
        return price(value, steps[0])
    return tick_price(value)


def market_size(market: str, value: Decimal, sign: bool = False) -> str:
    """A size of `market` on its lot's decimals where the lot is known and the size lies on
    it (0.1000 BTC, as the book and the orders tab show it), else as given; `sign`: a
    position's, +1.5000 as the positions tab shows it."""
    steps = MARKET_STEPS.get(market)
    if steps is not None and value % steps[1] == 0:
        return size(value, steps[1], sign)
    return ("+" if sign and value > 0 else "") + str(value)
