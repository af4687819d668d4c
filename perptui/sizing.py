"""The largest order size the exchange's own gate passes now, for the ticket's max and 25-100 %.

Why ask the venue rather than compute it here: the gate counts the fee, the price the order
would walk the book to, size-scaled margin and a position the order closes or flips, none of
which the free-collateral estimate (`ticket.max_size`) sees. A preview of a size beyond any
that could pass is refused with the largest size that would (MECHANICS section 2), over the
wire as in process, so one call answers it on every venue that gates orders.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from exchange_local.errors import ExchangeError
from perptui.ticket import TicketError, TicketForm
from perptui.venues.base import TradingDisabled, Venue

PROBES = 3  # doublings tried when even the first probe passes (a deep flip, say)


async def largest_size(
    venue: Venue, form: TicketForm, estimate: Decimal, position: Decimal, lot: Decimal
) -> Decimal | None:
    """The exchange's largest passing size for this form's order, or None where it cannot say
    (a price not typed yet, a refusal that names no size such as reduce-only mode, a venue
    that previews without a gate): the caller then keeps its estimate.

    `estimate` (free collateral x leverage / price) and `position` set the first probe: twice
    their sum is beyond what opening at this leverage, closing and flipping can pass.
    """
    size = 2 * (estimate + abs(position)) + lot
    for _ in range(PROBES):
        try:
            request = dataclasses.replace(form, size=str(size)).request()
            preview = await venue.preview_order(request)
        except (TicketError, ExchangeError, TradingDisabled):
            return None
        if preview.would_reject is not None:
            return preview.max_size
        if preview.size < size:  # clipped: reduce-only, or a stop's reduce-only close
            return preview.size
        size *= 2
    return None
