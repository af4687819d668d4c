"""An order that cannot rest (IOC, FOK, market) previews only what the book fills now.

Why: `preview_order` showed an IOC limit below the book as filled at its limit ("est fill
100000", fee charged, position after +0.5) and a FOK short of whole as its partial fill, though
placing either ends canceled with nothing filled. Now: nothing fillable is fillable_now 0, no
estimated fill, no fee, "after" equal to "before" and a warning that it would be canceled
unfilled; a partly fillable IOC previews the part the book fills, as a market order does.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import Exchange
from exchange_local.health import OrderPreview
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"
AFTER_EQUALS_BEFORE = (
    ("imr_before", "imr_after"),
    ("free_collateral_before", "free_collateral_after"),
    ("margin_fraction_before", "margin_fraction_after"),
    ("liquidation_price_before", "liquidation_price_after"),
    ("bankruptcy_price_before", "bankruptcy_price_after"),
    ("position_before", "position_after"),
)


def _with_a_long() -> Exchange:
    """u is long 0.5 BTC (so "before" has a liquidation price); the book offers 0.3 at
    100,100 and 0.3 at 100,200 and bids 0.3 at 99,900."""
    ex = exact_exchange()
    funded(ex, "u", "30000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order("u", BTC, "buy", D("0.5"), type="market")
    ex.place_order("mm", BTC, "sell", D("0.3"), price=D(100100))
    ex.place_order("mm", BTC, "sell", D("0.3"), price=D(100200))
    ex.place_order("mm", BTC, "buy", D("0.3"), price=D(99900))
    return ex


def _nothing_changes(p: OrderPreview) -> None:
    assert p.est_fill_price is None
    assert p.fillable_now == 0 and p.fee == 0
    for before, after in AFTER_EQUALS_BEFORE:
        assert getattr(p, after) == getattr(p, before), after
    assert p.liquidation_price_before is not None  # a real "before" to compare with
    assert any("canceled unfilled" in w for w in p.warnings), p.warnings


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_an_order_that_cannot_fill_at_all_previews_no_fill(tif: str) -> None:
    ex = _with_a_long()
    before = state_fingerprint(ex)
    p = ex.preview_order("u", BTC, "buy", D("0.2"), price=D(100000), tif=tif)
    assert state_fingerprint(ex) == before
    _nothing_changes(p)
    assert p.would_reject is None
    assert any(w.endswith("nothing fillable now at 100000 or better, so the order would be "
                          "canceled unfilled") for w in p.warnings)  # fmt: skip
    placed = ex.place_order("u", BTC, "buy", D("0.2"), price=D(100000), tif=tif)
    assert placed.filled == 0 and placed.status.value == "canceled"  # what the preview said
    assert ex.health("u").imr == p.imr_after


def test_a_fok_short_of_whole_previews_no_fill() -> None:
    ex = _with_a_long()
    p = ex.preview_order("u", BTC, "buy", D("0.4"), price=D(100100), tif="fok")
    _nothing_changes(p)
    assert "fill-or-kill: only 0.3000 fillable now at 100100 or better, so the whole order " \
        "would be canceled unfilled" in p.warnings  # fmt: skip
    placed = ex.place_order("u", BTC, "buy", D("0.4"), price=D(100100), tif="fok")
    assert placed.filled == 0 and placed.status.value == "canceled"


def test_a_partly_fillable_ioc_previews_the_part_the_book_fills() -> None:
    ex = _with_a_long()
    p = ex.preview_order("u", BTC, "buy", D("0.5"), price=D(100100), tif="ioc")
    assert p.fillable_now == D("0.3") and p.est_fill_price == D(100100)
    assert p.position_after == D("0.8")  # 0.5 + the 0.3 the book has, not + 0.5
    assert p.fee == D("0.3") * D(100100) * ex._markets[BTC].spec.taker_fee
    assert ("immediate-or-cancel: only 0.3000 fillable now at 100100 or better; the other "
            "0.2000 would be canceled") in p.warnings  # fmt: skip
    # the walk a market order's preview makes, stopped at the limit instead of the band
    market = ex.preview_order("u", BTC, "buy", D("0.3"), type="market")
    assert (market.est_fill_price, market.fillable_now) == (p.est_fill_price, p.fillable_now)
    placed = ex.place_order("u", BTC, "buy", D("0.5"), price=D(100100), tif="ioc")
    assert placed.filled == D("0.3") and placed.status.value == "canceled"
    h = ex.health("u")
    assert h.positions[0].size == p.position_after and h.imr == p.imr_after
    assert h.positions[0].liquidation_price == p.liquidation_price_after


def test_a_market_order_with_nothing_in_the_band_says_it_would_be_canceled() -> None:
    ex = exact_exchange()
    funded(ex, "u", "30000")
    p = ex.preview_order("u", BTC, "sell", D("0.1"), type="market")  # an empty book
    assert p.est_fill_price is None and p.fillable_now == 0 and p.position_after == 0
    assert p.imr_after == p.imr_before and p.free_collateral_after == p.free_collateral_before
    assert any(w.startswith("market order: nothing fillable now") and "canceled unfilled" in w
               for w in p.warnings)  # fmt: skip


def test_a_gtc_limit_below_the_book_still_previews_resting_at_its_limit() -> None:
    ex = _with_a_long()
    p = ex.preview_order("u", BTC, "buy", D("0.2"), price=D(100000))
    assert p.est_fill_price == D(100000) and p.fillable_now == 0
    assert p.position_after == D("0.7") and not any("canceled" in w for w in p.warnings)


async def test_the_server_preview_of_an_unfillable_ioc_shows_no_fill() -> None:
    from tests.test_server_support import make_class

    c = make_class()  # the book: asks from 100,100, bids from 99,900
    c.ex.place_order("alice", BTC, "buy", D(1), type="market")
    async with c.client() as http:
        r = await http.post("/api/v1/orders/preview", headers=c.auth("alice"), json={
            "symbol": BTC, "side": "buy", "type": "limit", "size": "0.5", "price": "100000",
            "timeInForce": "IOC"})  # fmt: skip
        assert r.status_code == 200, r.text
        body = r.json()
    assert body["estFillPrice"] is None and body["fillableNow"] == "0" and body["fee"] == "0"
    for name in ("imr", "freeCollateral", "marginFraction", "liquidationPrice",
                 "bankruptcyPrice", "position"):  # fmt: skip
        assert body[f"{name}After"] == body[f"{name}Before"], name
    assert body["positionBefore"] == "1"
    assert any("canceled unfilled" in w for w in body["warnings"])
