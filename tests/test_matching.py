"""Order entry through the facade: priority, order types and flags, amend, STP, ids, triggers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import InvalidOrder, NotAuthorized, OrderStatus, TooManyOrders
from tests.helpers import Recorder, exact_exchange, funded

D = Decimal
BTC = "BTC-PERP"


@pytest.fixture
def ex():
    return exact_exchange()


def test_price_time_priority_across_and_within_levels(ex):
    a, b, c, t = (funded(ex, n) for n in "abct")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100010))
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(100005))
    ex.place_order(c, BTC, "sell", D("0.1"), price=D(100005))
    res = ex.place_order(t, BTC, "buy", D("0.25"), price=D(100010), tif="ioc")
    assert res.status is OrderStatus.FILLED
    fills = [(tr.price, tr.size) for tr in ex.trades(BTC)]
    assert fills == [(D(100005), D("0.1")), (D(100005), D("0.1")), (D(100010), D("0.05"))]
    assert ex.positions(b)[0].size == D("-0.1")  # b was first at 100,005
    assert ex.positions(c)[0].size == D("-0.1")
    assert ex.positions(a)[0].size == D("-0.05")
    assert res.avg_price == (D(100005) * D("0.2") + D(100010) * D("0.05")) / D("0.25")


def test_partial_fill_rests_the_remainder(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    res = ex.place_order(t, BTC, "buy", D("0.3"), price=D(100000))
    assert res.status is OrderStatus.PARTIALLY_FILLED and res.filled == D("0.1")
    book = ex.book(BTC)
    assert book.bids == [(D(100000), D("0.2"))] and book.asks == []
    assert ex.open_orders(t)[0].filled == D("0.1")


def test_ioc_and_fok(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    fok = ex.place_order(t, BTC, "buy", D("0.2"), price=D(100000), tif="fok")
    assert fok.status is OrderStatus.CANCELED and fok.canceled_reason == "fok_not_fillable"
    assert fok.filled == 0 and ex.book(BTC).asks == [(D(100000), D("0.1"))]
    ioc = ex.place_order(t, BTC, "buy", D("0.2"), price=D(100000), tif="ioc")
    assert ioc.status is OrderStatus.CANCELED and ioc.filled == D("0.1")
    assert ioc.canceled_reason == "ioc_remainder"
    assert ex.book(BTC).bids == []


def test_post_only_is_rejected_not_repriced(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    with pytest.raises(InvalidOrder, match="post-only"):
        ex.place_order(t, BTC, "buy", D("0.1"), price=D(100000), post_only=True)
    res = ex.place_order(t, BTC, "buy", D("0.1"), price=D("99999.5"), post_only=True)
    assert res.status is OrderStatus.OPEN


def test_market_order_protection_band(ex):
    a, b, t = funded(ex, "a"), funded(ex, "b"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(101000))
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(106000))  # beyond mark + 5 %
    res = ex.place_order(t, BTC, "buy", D("0.2"), type="market")
    assert res.filled == D("0.1") and res.status is OrderStatus.CANCELED
    assert res.canceled_reason == "market_protection_band"
    empty = exact_exchange()
    u = funded(empty, "u")
    res = empty.place_order(u, BTC, "buy", D("0.1"), type="market")
    assert res.canceled_reason == "no_liquidity"


def test_reduce_only_clips_and_never_increases(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    with pytest.raises(InvalidOrder, match="would not reduce"):
        ex.place_order(t, BTC, "sell", D("0.1"), price=D(100000), reduce_only=True)
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    ex.place_order(t, BTC, "buy", D("0.1"), type="market")
    res = ex.place_order(t, BTC, "sell", D("0.5"), price=D(101000), reduce_only=True)
    assert ex.order(t, res.order_id).size == D("0.1")  # clipped to the position
    with pytest.raises(InvalidOrder):
        ex.place_order(t, BTC, "buy", D("0.1"), price=D(99000), reduce_only=True)


def test_reduce_only_canceled_when_position_gone(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    ex.place_order(t, BTC, "buy", D("0.1"), type="market")
    ro = ex.place_order(t, BTC, "sell", D("0.1"), price=D(101000), reduce_only=True)
    ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000))
    ex.place_order(t, BTC, "sell", D("0.1"), type="market")  # closes the position elsewhere
    info = ex.order(t, ro.order_id)
    assert info.status is OrderStatus.CANCELED
    assert info.canceled_reason == "reduce_only_position_gone"


def test_stop_and_take_profit_one_cancels_the_other(ex):
    a, t, mm = funded(ex, "a"), funded(ex, "t"), funded(ex, "mm")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    ex.place_order(t, BTC, "buy", D("0.1"), type="market")
    stop = ex.place_order(t, BTC, "sell", D("0.1"), type="stop_market",
                          trigger_price=D(95000), reduce_only=True)  # fmt: skip
    tp = ex.place_order(t, BTC, "sell", D("0.1"), type="take_profit",
                        trigger_price=D(110000), reduce_only=True)  # fmt: skip
    assert ex.order(t, stop.order_id).status is OrderStatus.UNTRIGGERED
    ex.place_order(mm, BTC, "buy", D("1"), price=D(94000))
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(94500))  # mark falls through the stop
    assert "OrderTriggered" in rec.kinds()
    assert ex.order(t, stop.order_id).status is OrderStatus.FILLED
    assert ex.positions(t) == []
    tp_info = ex.order(t, tp.order_id)
    assert tp_info.status is OrderStatus.CANCELED
    assert tp_info.canceled_reason == "reduce_only_position_gone"


def test_trigger_already_reached_is_refused(ex):
    t = funded(ex, "t")
    with pytest.raises(InvalidOrder, match="already reached"):
        ex.place_order(t, BTC, "buy", D("0.1"), type="stop_market", trigger_price=D(99000))


def test_amend_priority_rules(ex):
    a, b, t = funded(ex, "a"), funded(ex, "b"), funded(ex, "t")
    ra = ex.place_order(a, BTC, "sell", D("0.2"), price=D(100000))
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(100000))
    ex.amend_order(a, ra.order_id, size=D("0.1"))  # shrink keeps priority
    ex.place_order(t, BTC, "buy", D("0.1"), price=D(100000), tif="ioc")
    assert ex.positions(a)[0].size == D("-0.1") and ex.positions(b) == []
    rb = ex.open_orders(b)[0]
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    ex.amend_order(b, rb.order_id, size=D("0.2"))  # growing loses priority
    ex.place_order(t, BTC, "buy", D("0.1"), price=D(100000), tif="ioc")
    assert ex.positions(a)[0].size == D("-0.2")
    amended = ex.amend_order(b, rb.order_id, price=D(99000))  # crossing? no bids: rests
    assert amended.status is OrderStatus.OPEN
    assert ex.book(BTC).asks[0] == (D(99000), D("0.2"))


def test_amend_to_a_crossing_price_takes(ex):
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    bid = ex.place_order(t, BTC, "buy", D("0.1"), price=D(99000))
    res = ex.amend_order(t, bid.order_id, price=D(100000))
    assert res.status is OrderStatus.FILLED


def test_self_trade_prevention_cancels_resting(ex):
    a, b = funded(ex, "a"), funded(ex, "b")
    own = ex.place_order(a, BTC, "sell", D("0.1"), price=D(100000))
    ex.place_order(b, BTC, "sell", D("0.1"), price=D(100001))
    rec = Recorder(ex)
    res = ex.place_order(a, BTC, "buy", D("0.1"), price=D(100001))
    assert res.status is OrderStatus.FILLED and res.avg_price == D(100001)
    assert ex.order(a, own.order_id).canceled_reason == "self_trade_prevention"
    assert any(e.kind == "OrderCanceled" and e.reason == "self_trade_prevention"
               for e in rec.events)  # fmt: skip


def test_client_order_id_is_idempotent(ex):
    a = funded(ex, "a")
    first = ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000), client_order_id="x1")
    again = ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000), client_order_id="x1")
    assert again == first and len(ex.open_orders(a)) == 1
    b = funded(ex, "b")  # another account may use the same id
    other = ex.place_order(b, BTC, "buy", D("0.1"), price=D(99000), client_order_id="x1")
    assert other.order_id != first.order_id


def test_cancel_rules(ex):
    a, b = funded(ex, "a"), funded(ex, "b")
    res = ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000))
    with pytest.raises(NotAuthorized):
        ex.cancel_order(b, res.order_id)
    assert ex.order(b, res.order_id) is None
    assert ex.cancel_order(a, res.order_id).status is OrderStatus.CANCELED
    with pytest.raises(InvalidOrder, match="already canceled"):
        ex.cancel_order(a, res.order_id)
    for i in range(3):
        ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000 - i))
    ex.place_order(a, "ETH-PERP", "buy", D("1"), price=D(2900))
    assert len(ex.cancel_all(a, BTC)) == 3
    assert [o.market for o in ex.open_orders(a)] == ["ETH-PERP"]
    assert len(ex.cancel_all(a)) == 1 and ex.book(BTC).bids == []


def test_open_order_cap():
    ex = exact_exchange(max_open_orders=3)
    a = funded(ex, "a")
    for i in range(3):
        ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000 - i))
    with pytest.raises(TooManyOrders):
        ex.place_order(a, BTC, "buy", D("0.1"), price=D(98000))


def test_book_deltas_are_numbered(ex):
    a = funded(ex, "a")
    rec = Recorder(ex)
    ex.place_order(a, BTC, "buy", D("0.1"), price=D(99000))
    ex.place_order(a, BTC, "buy", D("0.2"), price=D(99000))
    deltas = rec.of("BookDelta")
    assert [d.seq for d in deltas] == [1, 2]
    assert deltas[-1].changes == (("bid", D(99000), D("0.3")),)
    assert ex.book(BTC).seq == 2
