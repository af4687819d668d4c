"""The resting sizes each account keeps (Account.resting) against a recount of its orders.

Why a test of its own: the pre-trade check and health() read the kept totals instead of
walking the open orders, so every way an order's unfilled size changes must update them:
acceptance, fills on either side, amend up and down (with and without losing priority), the
reduce-only clip, stops (which carry no margin until they trigger), cancels and liquidation.
"""

from __future__ import annotations

import pickle
from decimal import Decimal

from exchange_local import Exchange
from exchange_local.state import Account
from tests.helpers import exact_exchange, funded

D = Decimal
BTC, ETH = "BTC-PERP", "ETH-PERP"


def kept(ex: Exchange, account: str) -> dict[str, list[Decimal]]:
    acct = ex._accounts[account]
    assert acct.resting == acct.count_resting()
    return acct.resting


def test_every_change_of_unfilled_size_is_kept():
    ex = exact_exchange()
    a, t = funded(ex, "a"), funded(ex, "t")
    bid = ex.place_order(a, BTC, "buy", D("0.3"), price=D(99000))
    ex.place_order(a, ETH, "sell", D(2), price=D(3100))
    assert kept(ex, a) == {BTC: [D("0.3"), 0], ETH: [0, D(2)]}
    ex.place_order(t, BTC, "sell", D("0.1"), price=D(99000), tif="ioc")  # a's bid: 0.2 left
    assert kept(ex, a)[BTC] == [D("0.2"), 0] and kept(ex, t) == {}
    ex.amend_order(a, bid.order_id, size=D("0.15"))  # shrink, keeps priority
    assert kept(ex, a)[BTC] == [D("0.05"), 0]  # 0.15 - 0.1 filled
    ex.amend_order(a, bid.order_id, size=D("0.4"), price=D(98000))  # grow and move
    assert kept(ex, a)[BTC] == [D("0.3"), 0]
    ex.place_order(a, BTC, "sell", D("0.5"), type="stop_market", trigger_price=D(90000))
    assert kept(ex, a)[BTC] == [D("0.3"), 0]  # an untriggered stop rests nowhere
    ex.cancel_order(a, bid.order_id)
    assert kept(ex, a) == {ETH: [0, D(2)]}
    ex.cancel_all(a)
    assert kept(ex, a) == {}
    assert ex.check_invariants() == []


def test_a_taker_remainder_self_trade_prevention_and_the_reduce_only_clip_are_kept():
    ex = exact_exchange()
    a, t = funded(ex, "a"), funded(ex, "t")
    ex.place_order(a, BTC, "sell", D("0.2"), price=D(100000))
    ex.place_order(t, BTC, "buy", D("0.5"), price=D(100000))  # takes 0.2, rests 0.3
    assert kept(ex, t) == {BTC: [D("0.3"), 0]} and kept(ex, a) == {}
    ro = ex.place_order(t, BTC, "sell", D("0.2"), price=D(101000), reduce_only=True)
    assert kept(ex, t)[BTC] == [D("0.3"), D("0.2")]
    ex.place_order(a, BTC, "buy", D("0.15"), price=D(99000))
    # the market sell meets t's own bid first: self-trade prevention cancels it, then it
    # fills at a's 99,000 and leaves a position of 0.05, to which the reduce-only order shrinks
    ex.place_order(t, BTC, "sell", D("0.15"), type="market")
    assert ex.order(t, ro.order_id).size == D("0.05")
    assert kept(ex, t)[BTC] == [0, D("0.05")]
    assert ex.check_invariants() == []


def test_a_refused_amend_leaves_the_kept_sizes_as_they_were():
    ex = exact_exchange()
    u = funded(ex, "u", "2000")
    res = ex.place_order(u, BTC, "buy", D("0.1"), price=D(90000))
    before = {k: list(v) for k, v in kept(ex, u).items()}
    try:
        ex.amend_order(u, res.order_id, size=D(5))  # far beyond 2,000 USD of margin
    except Exception as refusal:
        assert "insufficient margin" in str(refusal)
    else:
        raise AssertionError("the amend should have been refused")
    assert kept(ex, u) == before
    assert ex.check_invariants() == []


def test_liquidation_cancels_leave_nothing_resting():
    ex = exact_exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.place_order(u, BTC, "buy", D("0.01"), price=D(90000))
    ex.place_order("mm", BTC, "buy", D(5), price=D(95900))
    ex.set_index_price("BTC", D(96000))
    ex.advance(3)  # stage 1 cancels the bid, then the position goes
    assert kept(ex, u) == {}
    assert ex.check_invariants() == []


def test_a_drifted_total_is_reported_by_the_invariant_check():
    ex = exact_exchange()
    a = funded(ex, "a")
    ex.place_order(a, BTC, "buy", D("0.3"), price=D(99000))
    ex._accounts[a].resting[BTC][0] += D("0.1")
    assert any("kept resting sizes" in p for p in ex.check_invariants())


def test_accounts_pickled_before_the_totals_existed_recount_them():
    ex = exact_exchange()
    a = funded(ex, "a")
    ex.place_order(a, BTC, "buy", D("0.3"), price=D(99000))
    ex.place_order(a, BTC, "sell", D("0.2"), price=D(101000))
    old = ex._accounts[a]
    state = dict(old.__dict__)
    del state["resting"]  # what a snapshot of an earlier version holds
    restored = Account.__new__(Account)
    restored.__setstate__(state)
    assert restored.resting == {BTC: [D("0.3"), D("0.2")]}
    assert pickle.loads(pickle.dumps(old)).resting == old.resting
