"""The preview (and the pre-trade check) know which of the account's own resting orders a
taker's walk cancels by self-trade prevention.

Why (audit): an account bidding 10 ETH at 3,001 sells 1 IOC at 3,000. The walk meets its own
bid first, and STP cancels it before the sell fills against another account's bid, but the
preview still counted the 10-ETH bid as resting: IMR after 1,350 where health() then read
150. The book's sweep now returns the own lots it passes over, as match() cancels them.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig

D = Decimal
ETH = "ETH-PERP"


def two_accounts() -> Exchange:
    """`a`, who trades, and `mm`, the other side; 100,000 USD each, exact marks."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name in ("a", "mm"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(100_000))
    return ex


def test_the_preview_drops_the_own_bid_the_sell_cancels() -> None:
    ex = two_accounts()
    ex.place_order("a", ETH, "buy", D(10), price=D(3001))
    ex.place_order("mm", ETH, "buy", D(1), price=D(3000))
    ex.place_order("mm", ETH, "buy", D(5), price=D(2990))  # the walk stops before it
    preview = ex.preview_order("a", ETH, "sell", D(1), price=D(3000), tif="ioc")
    assert preview.fillable_now == 1 and preview.est_fill_price == D(3000)
    result = ex.place_order("a", ETH, "sell", D(1), price=D(3000), tif="ioc")
    assert result.filled == 1 and ex.open_orders("a") == []  # its bid went by STP
    after = ex.health("a")
    assert preview.imr_after == after.imr == D(150)
    assert preview.free_collateral_after == after.free_collateral
    assert preview.margin_fraction_after == after.margin_fraction


def test_own_orders_past_the_fill_are_not_counted_as_canceled() -> None:
    ex = two_accounts()
    ex.place_order("mm", ETH, "buy", D(1), price=D(3000))
    ex.place_order("a", ETH, "buy", D(10), price=D(2999))  # below the fill: it stays
    preview = ex.preview_order("a", ETH, "sell", D(1), price=D(2990), tif="ioc")
    ex.place_order("a", ETH, "sell", D(1), price=D(2990), tif="ioc")
    assert len(ex.open_orders("a")) == 1
    assert preview.imr_after == ex.health("a").imr
