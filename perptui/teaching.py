"""A small, exact paper market for screenshots, tests and classroom demos of one account.

Why not the living market: its robust mark lags the index on purpose, so "the price falls to
just above your liquidation price" is only exact with mark = index and a book that does not
move by itself (MECHANICS section 0's `mark_source="index"`).
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from perptui.venues.local import LocalVenue

D = Decimal


DESK = "desk"
LEVELS = 40


def teaching_venue() -> LocalVenue:
    """Mark = index, and a desk quoting 0.5 BTC every 100 USD around 100,000 on both sides."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account(DESK)
    ex.deposit(DESK, "USD", D(100_000_000))
    requote(ex, D(100_000))
    return LocalVenue(exchange=ex, living=False, clock="manual")


def requote(ex: Exchange, centre: Decimal) -> None:
    """The desk's ladder, moved to `centre`, as a market maker would after a price move."""
    ex.cancel_all(DESK, "BTC-PERP")
    step = D(100)
    base = (centre / step).to_integral_value() * step
    for i in range(1, LEVELS + 1):
        ex.place_order(DESK, "BTC-PERP", "buy", D("0.5"), price=base - step * i)
        ex.place_order(DESK, "BTC-PERP", "sell", D("0.5"), price=base + step * i)


def move_index_near_liquidation(venue: LocalVenue, market: str, factor: Decimal) -> Decimal:
    """Put the underlying at `factor` times the position's liquidation price; returns it."""
    ex = venue._exchange()
    pos = next(p for p in ex.health(venue.account).positions if p.market == market)
    assert pos.liquidation_price is not None, "the position has no liquidation price"
    price = (pos.liquidation_price * factor).quantize(ex.market(market).tick)
    ex.set_index_price(ex.market(market).underlying, price)
    requote(ex, price)
    return price
