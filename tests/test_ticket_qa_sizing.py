"""QA defect 1: the "max ≈" of an IOC or FOK order is what passes the margin check AND what
the book fills at its limit, against the teaching venue's desk (0.5 BTC every 100 USD around
100,000 on both sides: asks 100,100, 100,200, ...)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from perptui.sizing import largest_size
from perptui.teaching import teaching_venue
from perptui.ticket import TicketForm, max_size
from perptui.venues.local import LocalVenue

D = Decimal
BTC = "BTC-PERP"


async def paper_venue(short: str = "0") -> LocalVenue:
    """The funded paper account, short `short` BTC (sold at the desk's bids)."""
    venue = teaching_venue()
    await venue.start()
    if D(short):
        venue.ex.place_order(venue.account, BTC, "sell", D(short), type="market")
    return venue


def _estimate(venue: LocalVenue, price: Decimal) -> Decimal:
    """The ticket's free-collateral estimate at 20x (OrderTicket.sizing_estimate)."""
    return max_size(venue.ex.health(venue.account), venue.ex.market(BTC), D(20), price)


# --- 1: max ≈ for IOC and FOK is what passes the margin check and what the book fills ---------


async def test_the_largest_ioc_or_fok_is_what_the_book_fills_at_the_limit():
    """A buy at 100,250 against a 1 BTC short: the book offers 0.5 + 0.5 up to the limit.
    GTC rests the rest, so its max is the margin's; a FOK or IOC fills now or never, so its
    max is the 1.0 the book fills (it fell back to the free-collateral estimate)."""
    venue = await paper_venue(short="1")
    position = D(-1)
    lot = venue.ex.market(BTC).lot
    est = _estimate(venue, D(100250))
    tops = {}
    for tif in ("gtc", "ioc", "fok"):
        form = TicketForm(BTC, side="buy", type="limit", price="100250", tif=tif)
        tops[tif] = await largest_size(venue, form, est, position, lot)
    assert tops["ioc"] == tops["fok"] == D(1), tops
    assert tops["gtc"] is not None and tops["gtc"] > D(1)
    # the FOK of that size fills whole; a lot more would be canceled unfilled
    fok = TicketForm(BTC, side="buy", type="limit", price="100250", tif="fok", size="1")
    assert (await venue.preview_order(fok.request())).fillable_now == D(1)
    more = dataclasses.replace(fok, size=str(D(1) + lot))
    assert (await venue.preview_order(more.request())).fillable_now == 0
    await venue.stop()


async def test_the_largest_ioc_is_the_margins_where_the_book_offers_more():
    """A limit far above the book: 20 BTC on offer, far beyond what 20x opens. The max is the
    gate's largest passing size, and an IOC of it passes."""
    venue = await paper_venue()
    lot = venue.ex.market(BTC).lot
    est = _estimate(venue, D(104000))
    form = TicketForm(BTC, side="buy", type="limit", price="104000", tif="ioc")
    top = await largest_size(venue, form, est, D(0), lot)
    assert top is not None and D(0) < top < D(20)
    fits = await venue.preview_order(dataclasses.replace(form, size=str(top)).request())
    assert fits.would_reject is None and fits.fillable_now == top
    over = await venue.preview_order(dataclasses.replace(form, size=str(top + lot)).request())
    assert over.would_reject is not None
    fok = dataclasses.replace(form, tif="fok")
    assert await largest_size(venue, fok, est, D(0), lot) == top
    await venue.stop()


async def test_an_ioc_below_the_book_has_no_size_to_offer():
    venue = await paper_venue()
    form = TicketForm(BTC, side="buy", type="limit", price="99000", tif="ioc")
    lot = venue.ex.market(BTC).lot
    assert await largest_size(venue, form, _estimate(venue, D(99000)), D(0), lot) == 0
    await venue.stop()


async def test_nothing_passes_on_a_halted_market_but_what_reduces():
    """Class QA: on a halted market the ticket offered max ≈ 33.677 beside the preview's own
    "accepts only risk-reducing orders": a refusal naming no size kept the estimate."""
    venue = await paper_venue()
    venue.ex.halt_market(BTC)
    lot = venue.ex.market(BTC).lot
    for tif in ("gtc", "ioc"):
        form = TicketForm(BTC, side="buy", type="limit", price="100250", tif=tif)
        assert await largest_size(venue, form, _estimate(venue, D(100250)), D(0), lot) == 0
    await venue.stop()
