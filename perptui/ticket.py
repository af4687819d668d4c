"""Order-ticket logic without a screen: parse the form, size from % of max, preview lines.

Why apart from the widget: what the preview says before an order is sent is the product's
promise, so it is tested as text; the widget only lays it out.
"""

from __future__ import annotations

import re
import textwrap
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


def rests(form: TicketForm | None) -> bool:
    """The order may rest on the book (a GTC limit order): what it does not take now waits
    for a fill at its limit, so the preview's "after" figures are what happens if it fills."""
    return form is not None and form.type == "limit" and form.tif == "gtc"


def fills_now_or_never(form: TicketForm | None) -> bool:
    """A market, IOC or FOK order: it fills against the book now or is canceled (the rest of
    an IOC, the whole of a FOK short of whole, all of either with nothing fillable)."""
    return form is not None and (form.type == "market" or
                                 (form.type == "limit" and form.tif in ("ioc", "fok")))  # fmt: skip


def limit_of(form: TicketForm | None) -> Decimal | None:
    """The form's limit price, or None for another type or a price not typed yet."""
    if form is None or form.type != "limit":
        return None
    try:
        return parse_decimal(form.price, "price")
    except TicketError:
        return None


def order_value(
    preview: OrderPreview, mark: Decimal, limit: Decimal | None, immediate: bool = False
) -> Decimal:
    """The order's value at the prices it would trade at: what takes now at the est. fill,
    the rest at the limit. Why not the mark: a FOK at 3100 that fills nothing has no est.
    fill, and its value read the mark's 3,294.10 beside a limit of 3100. A market order
    with nothing fillable has only the mark left to price it. `immediate` (market, IOC,
    FOK): what fills is all that trades, the rest is canceled, so it adds nothing (an IOC
    counted its canceled part at the limit; review)."""
    est = preview.est_fill_price
    taken = preview.fillable_now if est is not None else Decimal(0)
    if immediate and taken:
        assert est is not None
        return taken * est
    if limit is None:
        return preview.size * (est if est is not None else mark)
    return taken * (est or Decimal(0)) + (preview.size - taken) * limit


# the engine's warning when the order would leave the account under liquidation (views.py)
UNDER_LIQUIDATION = "the account would be under liquidation after this order"


def liq_states(preview: OrderPreview, before: str) -> tuple[str, str]:
    """The liquidation state before and after (MECHANICS section 3: "ok", "now", "bankrupt").

    Why: after a liquidation the position's liquidation price is still a number, and the
    ticket showed "Est. liq 97,706.5 → ..." for an account already under liquidation. Before
    is the position's own state (`position_state`); after is the same where nothing would
    fill (the position unchanged), "ok" with no position left, and "now" or "bankrupt"
    (E_mm < 0: a negative margin fraction) where the engine warns the account would be
    under liquidation after the order."""
    if preview.position_after == preview.position_before:
        return before, before
    if preview.position_after == 0 or UNDER_LIQUIDATION not in preview.warnings:
        return before, "ok"
    mf = preview.margin_fraction_after
    return before, "bankrupt" if mf is not None and mf < 0 else "now"


def position_state(health: AccountHealth | None, market: str) -> str:
    """The liquidation state of the account's position in `market`, "ok" without one."""
    if health is None:
        return "ok"
    row = next((p for p in health.positions if p.market == market), None)
    return row.liquidation_state if row is not None else "ok"


def liq_labels(preview: OrderPreview, ms: MarketState, before_state: str = "ok") -> tuple[str, str]:
    """Est. liq before and after as the ticket shows them: the state's word where the
    account is already (or would be) under liquidation, else the price toward the mark."""
    before, after = liq_states(preview, before_state)
    return (fmt.liq_label(before, preview.liquidation_price_before, ms.mark, ms.tick),
            fmt.liq_label(after, preview.liquidation_price_after, ms.mark, ms.tick))  # fmt: skip


# the endings of the engine's warnings for an order canceled with nothing filled (views.py)
UNFILLED_ENDINGS = (", so the order would be canceled unfilled",
                    ", so the whole order would be canceled unfilled")  # fmt: skip


def killed_unfilled(preview: OrderPreview, form: TicketForm | None) -> bool:
    """A market, IOC or FOK order the gate passes that would fill nothing: the book has
    nothing at its limit (or, for a FOK, not all of it). It is canceled on arrival, so the
    ticket must not call it accepted (a FOK said "✓ would be accepted now" above "nothing
    fillable now", and was sent to be canceled)."""
    return (fills_now_or_never(form) and preview.would_reject is None
            and preview.fillable_now == 0)  # fmt: skip


def unfilled_verdict(preview: OrderPreview) -> tuple[str, str | None]:
    """The verdict line of an order that would be canceled unfilled, with the engine's reason
    in it, and the warning it was taken from (None: no such warning to leave out below)."""
    for warning in preview.warnings:
        for ending in UNFILLED_ENDINGS:
            if warning.endswith(ending):
                return f"✗ would be canceled unfilled: {warning.removesuffix(ending)}", warning
    return "✗ would be canceled unfilled: nothing fillable now", None


def _head_line(preview: OrderPreview, ms: MarketState, form: TicketForm | None,
               narrow: bool) -> str:  # fmt: skip
    """The first line: value, est. fill and fee, or for an order that rests in part or whole
    the "if filled at" its limit that every "after" figure below assumes (a resting limit read
    "Position -10.000 → 0.000" as if done)."""
    p, tick = preview, ms.tick
    limit = limit_of(form)
    value = fmt.usd(order_value(p, ms.mark, limit, fills_now_or_never(form)))
    fill = fmt.price(p.est_fill_price, tick) if p.est_fill_price is not None else fmt.DASH
    fee = fmt.usd_up(p.fee)  # as the ledger rounds a fee: up
    if limit is None or not rests(form) or p.fillable_now >= p.size:
        if narrow:
            return f"Est. fill {fill} · fee {fee}"
        return f"Value {value}  Est. fill {fill}  Fee ~{fee}"
    at = fmt.price(limit, tick)
    cond = f"If filled ({fill} now, rest {at})" if p.fillable_now else f"If filled at {at}"
    if narrow:
        return f"{cond}: fee {fee}"
    return f"{cond}: value {value}  fee ~{fee}"


def preview_lines(
    preview: OrderPreview,
    ms: MarketState,
    narrow: bool = False,
    form: TicketForm | None = None,
    liq_state_before: str = "ok",
) -> list[tuple[str, str]]:
    """(style, text) lines: est. fill, fee, margin before -> after, liq before -> after, warnings.

    Style is "" or one of warn/danger for the widget to colour; the words carry the meaning.
    `form` is the order previewed: its limit prices the value and says what rests, and a
    market, IOC or FOK order that would fill nothing gets its verdict ("✗ would be canceled
    unfilled") here. `liq_state_before`: the position's liquidation state (`position_state`).
    """
    p = preview
    tick = ms.tick
    liq_before, liq_after = liq_labels(p, ms, liq_state_before)
    # in the lot's decimals with a sign: "0 → 0.1000" and "0.0000 → -5" mixed the engine's forms
    pos_before = fmt.size(p.position_before, ms.lot, sign=True)
    pos_after = fmt.size(p.position_after, ms.lot, sign=True)
    head = _head_line(p, ms, form, narrow)
    if narrow:  # the 80-column ticket: the same facts, "after" values only where tight
        lines = [
            ("", head),
            (
                "",
                f"IMR → {fmt.usd_up(p.imr_after)} · free → {fmt.usd_down(p.free_collateral_after)}",
            ),
            ("", f"Est. liq {liq_before} → {liq_after}"),
            ("", f"MF → {fmt.pct(p.margin_fraction_after)} · pos → {pos_after}"),
        ]
    else:
        lines = [
            ("", head),
            ("", f"IMR {fmt.usd_up(p.imr_before)} → {fmt.usd_up(p.imr_after)}   "
                 f"Free {fmt.usd_down(p.free_collateral_before)} → "
                 f"{fmt.usd_down(p.free_collateral_after)}"),
            ("", f"Est. liq {liq_before} → {liq_after}   "
                 f"bkr {fmt.liq_price(p.bankruptcy_price_before, ms.mark, tick)} → "
                 f"{fmt.liq_price(p.bankruptcy_price_after, ms.mark, tick)}"),
            ("", f"Margin frac {fmt.pct(p.margin_fraction_before)} → "
                 f"{fmt.pct(p.margin_fraction_after)}   "
                 f"Position {pos_before} → {pos_after}"),
        ]  # fmt: skip
    said: str | None = None
    if p.would_reject:
        # the largest size that passes first: the line may be cut at its end
        hint = f" (max ≈ {p.max_size})" if p.max_size else ""  # none, or 0: nothing to offer
        lines.append(("danger", f"✗ would be refused{hint}: {p.would_reject}"))
    elif killed_unfilled(p, form):
        verdict, said = unfilled_verdict(p)
        lines.append(("danger", verdict))
    for w in p.warnings:
        if not w.startswith("would be rejected") and w != said:
            lines.append(("warn", f"⚠ {warning_text(w, tick)}"))
    return lines


def wrap_line(text: str, width: int, rows: int = 2) -> list[str]:
    """A verdict or warning in at most `rows` rows of `width`, the next ones indented under
    its words, the last cut with "…" only if it still does not fit. Why: cut to one row, the
    refusal's reason ("post-only order at 3005 would take liquid…") was in a mouse tooltip
    alone, out of reach of a keyboard trader. Words are never split: a number is whole or
    left out for the "…", never cut in two."""
    if width < 8 or len(text) <= width:
        return [text]
    return textwrap.wrap(text, width, subsequent_indent="  ", max_lines=rows, placeholder=" …",
                         break_on_hyphens=False, break_long_words=False)  # fmt: skip


# what separates the figures of one preview line, from the widest gap to the narrowest: the
# wide form's "IMR … → …   Free … → …", the narrow form's "IMR → … · free → …", the first
# line's "Value …  Est. fill …  Fee ~…"
FIGURE_GAPS = ("   ", " · ", "  ")


def fit_line(text: str, width: int) -> list[str]:
    """A line of figures in rows of `width`: whole where it fits, else split between its
    figures (the next figure on a row of its own, as many as fit together), and a figure
    still too long wrapped between words. Why: cut with "…" at the column's end, the ticket
    read "Est. liq 4,140,010.5 → 301,687.0 · MF → 112…" at 80 columns and "Free 5,179,970.65
    → 4,935,9…" at 160: a number cut is a wrong number."""
    if width < 8 or len(text) <= width:
        return [text]
    for gap in FIGURE_GAPS:
        if gap not in text:
            continue
        rows: list[str] = []
        for piece in text.split(gap):
            if rows and len(rows[-1]) + len(gap) + len(piece) <= width:
                rows[-1] += gap + piece
            else:
                rows.append(piece)
        return [row for piece in rows for row in fit_line(piece, width)]
    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False,
                         break_long_words=False)  # fmt: skip


SHOWN_LIQ_NEAR_MARK = re.compile(
    r"⚠ liquidation price (?P<liq>\S+) would be within (?P<gap>.+?) of the mark (?P<mark>\S+)"
)


def short_warning(text: str) -> str:
    """The ticket's "⚠ liquidation price … would be within … of the mark …" in its short form
    ("⚠ liq 97,688.0 within 10 % of mark 100,325.0": one row at 80 columns), for a column
    too narrow for the long one; any other line as it is."""
    found = SHOWN_LIQ_NEAR_MARK.fullmatch(text)
    if found is None:
        return text
    return f"⚠ liq {found['liq']} within {found['gap']} of mark {found['mark']}"


# how a result reads: "ok" (done as asked), "partial" (some filled, some not), "warn" (nothing
# filled: a canceled IOC, FOK or market order is no success, though nothing was refused)
ResultLevel = str


def request_words(request: OrderRequest, ms: MarketState | None) -> str:
    """The order the confirmation asks about, in the market's own digits as the book and the
    orders tab show them ("BUY 0.0100 BTC-PERP Limit @ 99,000.0"), not as typed: "0.010 @
    99000.000" read like another order than the one the orders tab then listed."""

    def price(value: Decimal) -> str:
        return fmt.price(value, ms.tick) if ms is not None and value % ms.tick == 0 else str(value)

    size = fmt.size(request.size, ms.lot) if ms is not None and request.size % ms.lot == 0 else (
        str(request.size))  # fmt: skip
    limit = request.type == "limit"
    return (f"{request.side.upper()} {size} {request.market} {TYPE_LABELS[request.type]}"
            + (f" {request.tif.upper()}" if limit and request.tif != "gtc" else "")
            + (f" @ {price(request.price)}" if request.price else "")
            + (f" trigger {price(request.trigger_price)}" if request.trigger_price else "")
            + (" reduce-only" if request.reduce_only else "")
            + (" post-only" if request.post_only else ""))  # fmt: skip


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
