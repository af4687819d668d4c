"""Fix A: preview_order agrees with place_order, and its "after" follows the gate.

Why: the preview said yes to orders placing refused (post-only IOC, the 201st open order),
showed free collateral rising for a buy resting below the mark (a gap the gate never
credits), and DESIGN.md's market preview `price=None` raised "a limit order needs a price".
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import InvalidOrder, TooManyOrders
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_preview_refuses_post_only_outside_gtc_as_placing_does(tif: str) -> None:
    ex = exact_exchange()
    funded(ex, "u")
    kw = {"price": D(90000), "type": "limit", "tif": tif, "post_only": True}
    with pytest.raises(InvalidOrder) as placed:
        ex.place_order("u", BTC, "buy", D("0.1"), **kw)
    with pytest.raises(InvalidOrder) as previewed:
        ex.preview_order("u", BTC, "buy", D("0.1"), **kw)
    message = "post_only applies to GTC limit orders only"
    assert str(previewed.value) == str(placed.value) == message


def test_preview_says_the_cap_of_open_orders_as_placing_does() -> None:
    ex = exact_exchange(max_open_orders=3)
    funded(ex, "u")
    for i in range(3):
        ex.place_order("u", BTC, "buy", D("0.1"), price=D(90000 + i))
    before = state_fingerprint(ex)
    preview = ex.preview_order("u", BTC, "buy", D("0.1"), price=D(89000))
    with pytest.raises(TooManyOrders) as placed:
        ex.place_order("u", BTC, "buy", D("0.1"), price=D(89000))
    assert preview.would_reject == str(placed.value)
    assert f"would be rejected: {placed.value}" in preview.warnings
    assert state_fingerprint(ex) == before
    # an order that cannot rest is not capped, by placing or by the preview
    ioc = ex.preview_order("u", BTC, "buy", D("0.1"), price=D(89000), tif="ioc")
    assert ioc.would_reject is None


def test_after_free_collateral_of_a_resting_buy_below_the_mark_follows_the_gate() -> None:
    ex = exact_exchange()
    funded(ex, "u", "20000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D("0.3"), price=D(100000))
    ex.place_order("u", BTC, "buy", D("0.3"), type="market")  # long 0.3 at the mark
    p = ex.preview_order("u", BTC, "buy", D("0.1"), price=D(90000))  # rests below the mark
    assert p.imr_before == D(1500) and p.imr_after == D(2000)
    assert p.free_collateral_after < p.free_collateral_before  # IMR grew, no gap credited
    acct, m = ex._accounts["u"], ex._markets[BTC]
    gate = ex._order_impact(acct, m, True, D("0.1"), D(90000), True)
    assert p.free_collateral_after == gate.initial_equity_after - gate.imr_after
    ex.place_order("u", BTC, "buy", D("0.1"), price=D(90000))
    placed = ex.health("u").free_collateral  # the order rests: what health shows, less the
    assert p.free_collateral_after == placed - p.fee  # maker fee it pays when it fills


def test_a_market_preview_needs_no_type_as_design_shows() -> None:
    ex = exact_exchange()
    funded(ex, "u")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    # DESIGN.md: ex.preview_order(acct, "BTC-PERP", "buy", Decimal("0.2"), price=None)
    p = ex.preview_order("u", BTC, "buy", D("0.2"), price=None)
    assert p.would_reject is None and p.fillable_now == D("0.2")
    assert p.est_fill_price == D(100000) and p.position_after == D("0.2")
    limit = ex.preview_order("u", BTC, "buy", D("0.2"), price=D(90000))  # a price: a limit
    assert limit.fillable_now == 0 and limit.est_fill_price == D(90000)
    with pytest.raises(InvalidOrder, match="a limit order needs a price"):
        ex.preview_order("u", BTC, "buy", D("0.2"), type="limit")
    with pytest.raises(InvalidOrder, match="takes no price"):  # place_order's refusal
        ex.preview_order("u", BTC, "buy", D("0.2"), price=D(90000), type="market")
