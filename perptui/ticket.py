"""Order-ticket logic without a screen: parse the form, size from % of max, preview lines.

Why apart from the widget: what the preview says before an order is sent is the product's
promise, so it is tested as text; the widget only lays it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from exchange_local.engine import MarketState
from exchange_local.health import AccountHealth, OrderPreview
from exchange_local.orders import TRIGGER_TYPES
from perptui import format as fmt
from perptui.venues.base import OrderRequest

ORDER_TYPES = ("limit", "market", "stop_market", "take_profit")
TYPE_LABELS = {
    "limit": "Limit",
    "market": "Market",
    "stop_market": "Stop",
    "take_profit": "Take-profit",
}
TIFS = ("gtc", "ioc", "fok")


class TicketError(ValueError):
    """The form cannot become an order yet; the message says which field and why."""


MAX_INPUT = Decimal("1e12")  # no market's price or size comes near a trillion
MAX_INPUT_PLACES = 18  # the finest tick or lot has far fewer decimals


def parse_decimal(text: str, field: str) -> Decimal:
    """The form's text as a positive Decimal, or a TicketError naming the field.

    Why a bound: a price of 1e40 is a valid Decimal, but margin and fee arithmetic on it
    overflows the decimal context (InvalidOperation) and took the whole terminal down; no
    market can hold it, so the ticket refuses it before anything is computed."""
    cleaned = text.replace(",", "").replace("_", "").strip()
    if not cleaned:
        raise TicketError(f"{field} is empty")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise TicketError(f"{field} {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise TicketError(f"{field} must be a positive number")
    if value > MAX_INPUT:
        raise TicketError(f"{field} {text.strip()} is larger than any market takes "
                          f"(at most {MAX_INPUT:,.0f})")  # fmt: skip
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_INPUT_PLACES:
        raise TicketError(f"{field} {text.strip()} has more decimals than any market takes "
                          f"(at most {MAX_INPUT_PLACES})")  # fmt: skip
    return value


def describe_arithmetic(problem: ArithmeticError) -> str:
    """An overflow or invalid operation in words: Decimal's own message is a list of signal
    classes (`[<class 'decimal.InvalidOperation'>]`), which tells a trader nothing."""
    return f"a number too large or too precise to compute ({type(problem).__name__})"


@dataclass(slots=True)
class TicketForm:
    market: str
    side: str = "buy"
    type: str = "limit"
    price: str = ""
    size: str = ""
    tif: str = "gtc"
    reduce_only: bool = False
    post_only: bool = False

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGER_TYPES

    @property
    def sent_reduce_only(self) -> bool:
        """What the order goes out as: stops and take-profits always reduce-only, here a
        protection for a position, whatever the box said for a limit or market order."""
        return self.reduce_only or self.is_trigger

    def request(self, client_order_id: str | None = None) -> OrderRequest:
        size = parse_decimal(self.size, "size")
        price = trigger = None
        if self.type == "limit":
            price = parse_decimal(self.price, "price")
        elif self.is_trigger:
            trigger = parse_decimal(self.price, "trigger price")
        return OrderRequest(
            self.market, self.side, size, self.type, price, trigger,
            # a market order is immediate by nature and the exchange takes a time in force for
            # limit orders only: anything else there is refused ("ioc" was, for every market order)
            self.tif if self.type == "limit" else "gtc",
            self.post_only and self.type == "limit",
            self.sent_reduce_only,
            client_order_id,
        )  # fmt: skip


def max_size(
    health: AccountHealth, ms: MarketState, leverage: Decimal, price: Decimal | None
) -> Decimal:
    """About the largest size free collateral opens at this leverage, rounded down to the lot.

    An estimate for the 25/50/75/100 % buttons (size-scaled IMF and fees make the real limit a
    little lower); the preview asks the exchange's own gate, which has the last word.
    """
    p = price or ms.mark
    if p <= 0 or health.free_collateral <= 0:
        return Decimal(0)
    raw = health.free_collateral * min(leverage, ms.max_leverage) / p
    return (raw / ms.lot).to_integral_value(rounding=ROUND_FLOOR) * ms.lot


# the engine's warning (exchange_local/views.py preview_order), numbers as str(Decimal) gives
LIQ_NEAR_MARK = re.compile(
    r"liquidation price (?P<liq>\S+) would be within (?P<gap>.+?) of the mark (?P<mark>\S+)"
)


def warning_text(warning: str, tick: Decimal) -> str:
    """An engine warning as the ticket shows it: the prices of the "liquidation price ...
    within 10 % of the mark ..." warning on the tick with separators, like every other price
    on screen (it read 108325.5 beside 108,325.5); any other warning as the engine wrote it."""
    found = LIQ_NEAR_MARK.fullmatch(warning)
    if found is None:
        return warning
    try:
        liq, mark = Decimal(found["liq"]), Decimal(found["mark"])
    except InvalidOperation:
        return warning
    if not (liq.is_finite() and mark.is_finite()):
        return warning
    return (f"liquidation price {fmt.price(liq, tick)} would be within {found['gap']} of the "
            f"mark {fmt.price(mark, tick)}")  # fmt: skip


def preview_lines(
    preview: OrderPreview, ms: MarketState, narrow: bool = False
) -> list[tuple[str, str]]:
    """(style, text) lines: est. fill, fee, margin before -> after, liq before -> after, warnings.

    Style is "" or one of warn/danger for the widget to colour; the words carry the meaning.
    """
    p = preview
    tick = ms.tick
    fill = fmt.price(p.est_fill_price, tick) if p.est_fill_price is not None else fmt.DASH
    value = p.size * (p.est_fill_price or ms.mark)
    liq_before = fmt.liq_price(p.liquidation_price_before, ms.mark, tick)
    liq_after = fmt.liq_price(p.liquidation_price_after, ms.mark, tick)
    # in the lot's decimals with a sign: "0 → 0.1000" and "0.0000 → -5" mixed the engine's forms
    pos_before = fmt.size(p.position_before, ms.lot, sign=True)
    pos_after = fmt.size(p.position_after, ms.lot, sign=True)
    if narrow:  # the 80-column ticket: the same facts, "after" values only where tight
        lines = [
            ("", f"Est. fill {fill} · fee {fmt.usd(p.fee)}"),
            ("", f"IMR → {fmt.usd(p.imr_after)} · free → {fmt.usd(p.free_collateral_after)}"),
            ("", f"Est. liq {liq_before} → {liq_after}"),
            ("", f"MF → {fmt.pct(p.margin_fraction_after)} · pos → {pos_after}"),
        ]
    else:
        lines = [
            ("", f"Value {fmt.usd(value)}  Est. fill {fill}  Fee ~{fmt.usd(p.fee)}"),
            ("", f"IMR {fmt.usd(p.imr_before)} → {fmt.usd(p.imr_after)}   "
                 f"Free {fmt.usd(p.free_collateral_before)} → {fmt.usd(p.free_collateral_after)}"),
            ("", f"Est. liq {liq_before} → {liq_after}   "
                 f"bkr {fmt.liq_price(p.bankruptcy_price_before, ms.mark, tick)} → "
                 f"{fmt.liq_price(p.bankruptcy_price_after, ms.mark, tick)}"),
            ("", f"Margin frac {fmt.pct(p.margin_fraction_before)} → "
                 f"{fmt.pct(p.margin_fraction_after)}   "
                 f"Position {pos_before} → {pos_after}"),
        ]  # fmt: skip
    if p.would_reject:
        # the largest size that passes first: the line is one row, cut at its end
        hint = f" (max ≈ {p.max_size})" if p.max_size else ""  # none, or 0: nothing to offer
        lines.append(("danger", f"✗ would be refused{hint}: {p.would_reject}"))
    for w in p.warnings:
        if not w.startswith("would be rejected"):
            lines.append(("warn", f"⚠ {warning_text(w, tick)}"))
    return lines
