"""The largest order size the exchange's gate passes now, for the ticket's max and 25-100 %.

Why ask the venue rather than compute it here: the gate counts the fee, the price the order
would walk the book to, size-scaled margin and a position the order closes or flips, none of
which the free-collateral estimate (`ticket.max_size`) sees. A preview of a size beyond any
that could pass is refused with the largest size that would (MECHANICS section 2), over the
wire as in process, so one call answers it on every venue that gates orders.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_FLOOR, Decimal

from exchange_local.errors import ExchangeError
from perptui.ticket import TicketError, TicketForm
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
    """
    reduces = _reduces(position, form.side)
    if form.sent_reduce_only:
        return abs(position) if reduces else Decimal(0)
    size = 2 * (estimate + abs(position)) + lot
    for _ in range(PROBES):
        try:
            request = dataclasses.replace(form, size=str(size)).request()
            preview = await venue.preview_order(request)
        except (TicketError, ExchangeError, TradingDisabled):
            return None
        if preview.would_reject is not None:
            if preview.max_size is not None:
                return preview.max_size
            return abs(position) if reduces else None
        size *= 2
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
