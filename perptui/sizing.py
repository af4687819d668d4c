"""The largest order size the exchange's gate passes now, for the ticket's max and 25-100 %.

Why ask the venue rather than compute it here: the gate counts the fee, the price the order
would walk the book to, size-scaled margin and a position the order closes or flips, none of
which the free-collateral estimate (`ticket.max_size`) sees. A preview of a size beyond any
that could pass is refused with the largest size that would (MECHANICS section 2), over the
wire as in process, so one call answers it on every venue that gates orders: a margin refusal
and an open-interest cap refusal (the market's or the account's) both carry it, the cap's
room and the margin's limit in one (an OI refusal named none, and the max read 0 near the
cap while a buy of 39,000 SOL passed). A market, IOC or FOK order is also bounded by what the
book fills now: the gate never refuses its part the book cannot take (that part is
canceled), so there the max is the smaller of the two.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_FLOOR, Decimal

from exchange_local.errors import ExchangeError
from exchange_local.health import OrderPreview
from perptui.ticket import TicketError, TicketForm, fills_now_or_never
from perptui.venues.base import TradingDisabled, Venue

PROBES = 3  # doublings tried when even the first probe passes (a deep flip, say)
# 100 % sits this far under the gate's edge for an order that adds risk: the mark and the
# book move between the click and the send, and at the very edge one tick refused the order
EDGE_MARGIN = Decimal("0.005")


async def largest_size(
    venue: Venue, form: TicketForm, estimate: Decimal, position: Decimal, lot: Decimal
) -> Decimal | None:
    """The exchange's largest passing size for this form's order, or None where it cannot say
    (a price not typed yet, a venue that previews without a gate): the caller then keeps its
    estimate.

    A reduce-only order (stops and take-profits are sent so) is at most the position it
    reduces, and nothing without one. Otherwise `estimate` (free collateral x leverage /
    price) and `position` set the first probe: twice their sum is beyond what opening at this
    leverage, closing and flipping can pass. A refusal that names no size (reduce-only mode,
    a halted market) still lets an order that only reduces through: the position then.

    A market, IOC or FOK order fills now or never, so its max is `_largest_immediate`: what
    passes the margin check AND what the book can fill at its limit.
    """
    if fills_now_or_never(form):
        return await _largest_immediate(venue, form, estimate, position, lot)
    reduces = _reduces(position, form.side)
    if form.sent_reduce_only:
        return abs(position) if reduces else Decimal(0)
    size = 2 * (estimate + abs(position)) + lot
    for _ in range(PROBES):
        preview = await _preview(venue, form, size)
        if preview is None:
            return None
        if preview.would_reject is not None:
            if preview.max_size is not None:
                return preview.max_size
            # refused for no size (a halted market, reduce-only mode): nothing passes but
            # what reduces; None kept the estimate and a halted market offered max 33.677
            return abs(position) if reduces else Decimal(0)
        size *= 2
    return None


async def _largest_immediate(
    venue: Venue, form: TicketForm, estimate: Decimal, position: Decimal, lot: Decimal
) -> Decimal | None:
    """The largest market, IOC or FOK order that passes the gate and that the book fills now.

    Why apart: the gate only judges the part that fills (the rest of such an order is
    canceled, never rests), so a size beyond the book is never refused and the probes of
    `largest_size` found no edge: a FOK buy at 3005 fell back to the free-collateral
    estimate (max ≈ 13.934 beside 33.686 for the same GTC order), though what it can do is
    bounded by the book. So the order is asked as an IOC (a FOK walks the book and meets
    the gate the same way, but previews nothing fillable when short of whole) at a size
    beyond the estimate: a margin refusal gives the largest size that passes (never more
    than the book fills, as every larger size takes the same levels); a pass gives what the
    book fills at the limit or the market's protection band (`fillable_now`), doubled while
    the book took all of it. A reduce-only order is at most its position too.
    """
    probe = form if form.type == "market" else dataclasses.replace(form, tif="ioc")
    reduces = _reduces(position, form.side)
    if form.sent_reduce_only:
        if not reduces:
            return Decimal(0)
        preview = await _preview(venue, probe, abs(position))
        return None if preview is None else min(abs(position), preview.fillable_now)
    size = 2 * (estimate + abs(position)) + lot
    for _ in range(PROBES):
        preview = await _preview(venue, probe, size)
        if preview is None:
            return None
        if preview.would_reject is not None:
            if preview.max_size is not None:
                return min(preview.max_size, preview.fillable_now)
            return min(abs(position), preview.fillable_now) if reduces else Decimal(0)
        if preview.fillable_now < size:
            return preview.fillable_now
        size *= 2
    return None


async def _preview(venue: Venue, form: TicketForm, size: Decimal) -> OrderPreview | None:
    """The venue's preview of `form` at `size`, None where it cannot be asked or refuses
    the form itself (a price not typed yet, no trading here)."""
    try:
        return await venue.preview_order(dataclasses.replace(form, size=str(size)).request())
    except (TicketError, ExchangeError, TradingDisabled):
        return None


def percent_of(top: Decimal, pct: Decimal, position: Decimal, side: str, lot: Decimal) -> Decimal:
    """pct % of the largest size, in lots, rounded down. What adds risk keeps EDGE_MARGIN from
    the edge; an order that only reduces (up to the position) may take all of it."""
    only_reduces = _reduces(position, side) and top <= abs(position)
    raw = top * pct / 100
    if not only_reduces:
        raw = min(raw, top * (1 - EDGE_MARGIN))
    return (raw / lot).to_integral_value(rounding=ROUND_FLOOR) * lot


def _reduces(position: Decimal, side: str) -> bool:
    """An order of `side` goes against the position (it reduces it, up to its size)."""
    return position != 0 and (position > 0) != (side == "buy")
