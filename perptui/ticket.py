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
from exchange_local.orders import TRIGGER_TYPES, OrderInfo, OrderResult
from perptui import format as fmt
from perptui.eventtext import reason_words
from perptui.venues.base import OrderRequest

ORDER_TYPES = ("limit", "market", "stop_market", "take_profit")
TYPE_LABELS = {
    "limit": "Limit",
    "market": "Market",
    "stop_market": "Stop",
    "take_profit": "Take-profit",
}
TIFS = ("gtc", "ioc", "fok")


def post_only_allowed(order_type: str, tif: str) -> bool:
    """Post-only is for a resting GTC limit order alone: the exchange refuses it with IOC or
    FOK ("post_only applies to GTC limit orders only"), and a market or trigger order never
    rests, so the ticket neither offers nor sends it there."""
    return order_type == "limit" and tif == "gtc"


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
            self.post_only and post_only_allowed(self.type, self.tif),
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


# how a result reads: "ok" (done as asked), "partial" (some filled, some not), "warn" (nothing
# filled: a canceled IOC, FOK or market order is no success, though nothing was refused)
ResultLevel = str


def _status(value: object) -> str:
    return str(getattr(value, "value", value))


def _fill_text(size: Decimal, avg: Decimal | None, ms: MarketState | None) -> str:
    """`0.3000 @ 100,100.0`: the lot's decimals and the tick's (an average between ticks
    with format.average_price's), as the book and the orders tab show them."""
    amount = fmt.size(size, ms.lot) if ms is not None else str(size)
    if avg is None:
        return amount
    at = fmt.fill_price(avg, ms.tick) if ms is not None else fmt.average_price(avg)
    return f"{amount} @ {at}"


def result_words(
    result: OrderResult, size: Decimal, ms: MarketState | None
) -> tuple[str, ResultLevel]:
    """What became of a sent order, in words, and how it reads: filled, partly filled (the
    rest resting or canceled), or canceled with nothing filled, which is a warning and not a
    success tick (a FOK that could not fill read "✓ order 81 canceled")."""
    status = _status(result.status)
    oid = result.order_id
    why = f" ({reason_words(result.canceled_reason)})" if result.canceled_reason else ""
    filled = result.filled
    rest = size - filled
    if status == "canceled" and not filled:
        return f"⚠ order {oid} canceled, nothing filled{why}", "warn"
    if filled and status == "filled":
        return f"✓ order {oid} filled: {_fill_text(filled, result.avg_price, ms)}", "ok"
    if filled:
        what = "canceled" + why if status == "canceled" else "resting"
        rest_text = fmt.size(rest, ms.lot) if ms is not None else str(rest)
        return (f"◐ order {oid} partly filled: {_fill_text(filled, result.avg_price, ms)}; "
                f"the rest {rest_text} {what}"), "partial"  # fmt: skip
    return f"✓ order {oid} {status.replace('_', ' ')}{why}", "ok"


def _new_fill_average(before: OrderInfo, after: OrderInfo) -> Decimal | None:
    """The average price of the fills an amend made: the order's average covers its earlier
    fills too, so theirs is taken out."""
    new = after.filled - before.filled
    if new <= 0 or after.avg_price is None:
        return None
    earlier = (before.avg_price or Decimal(0)) * before.filled
    return (after.avg_price * after.filled - earlier) / new


QUEUE_LOST = "back of the queue: a price move or size increase loses time priority"
QUEUE_KEPT = "keeps its place in the queue: only the size shrank"


def amend_words(
    before: OrderInfo, after: OrderInfo, ms: MarketState | None
) -> tuple[str, ResultLevel]:
    """What an amend did. A new price that crosses takes liquidity: "order 7 amended" hid
    that it filled, so the fill is said (in full, or in part with the rest resting), and a
    resting order says whether it kept its place in the queue."""
    oid = after.order_id

    def px(value: Decimal | None) -> str:
        if value is None:
            return fmt.DASH
        return fmt.price(value, ms.tick) if ms is not None else fmt.tick_price(value)

    def sz(value: Decimal) -> str:
        return fmt.size(value, ms.lot) if ms is not None else str(value)

    changes = []
    if after.trigger_price != before.trigger_price:
        changes.append(f"trigger {px(before.trigger_price)} → {px(after.trigger_price)}")
    if after.price != before.price:
        changes.append(f"price {px(before.price)} → {px(after.price)}")
    if after.size != before.size:
        changes.append(f"size {sz(before.size)} → {sz(after.size)}")
    head = f"order {oid} amended" + (f" ({', '.join(changes)})" if changes else "")
    status = _status(after.status)
    new = after.filled - before.filled
    fills = _fill_text(new, _new_fill_average(before, after), ms) if new > 0 else ""
    why = f" ({reason_words(after.canceled_reason)})" if after.canceled_reason else ""
    if status == "filled" and new > 0:
        return f"✓ {head}: it crossed and filled {fills}", "ok"
    if status == "canceled":
        done = f"filled {fills}, the rest canceled" if new > 0 else "canceled, nothing filled"
        return f"⚠ {head}: {done}{why}", "warn"
    if status == "untriggered":
        return f"✓ {head}", "ok"
    lost = after.price != before.price or after.size > before.size
    queue = QUEUE_LOST if lost else QUEUE_KEPT
    rest = sz(after.size - after.filled)
    if new > 0:
        return (f"◐ {head}: it crossed, partly filled {fills}; the rest {rest} rests at "
                f"{px(after.price)} ({queue})"), "partial"  # fmt: skip
    return f"✓ {head}; {queue}", "ok"
