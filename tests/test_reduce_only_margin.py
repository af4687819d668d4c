"""Fix A: the pre-trade gate with resting reduce-only orders, and the amend refusal's terms.

Why: a healthy account could not close its position while its take-profits (reduce-only)
added up to more than it, since the gate's after-state counted them as a short once the
position was gone; and an amend refusal spoke of the remaining size while amend_order takes
the total size.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import Exchange, InsufficientMargin
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"


def _long_with_take_profits(take_profits: int = 2) -> Exchange:
    """alice: 3,000 USD, long 0.5 at 100,000, `take_profits` reduce-only sells of 0.5 resting;
    bob bids 1 at 99,900 (the liquidity a close takes)."""
    ex = exact_exchange()
    funded(ex, "alice", "3000")
    funded(ex, "mm", "100000000")
    funded(ex, "bob", "1000000")
    ex.place_order("mm", BTC, "sell", D("0.5"), price=D(100000))
    ex.place_order("alice", BTC, "buy", D("0.5"), type="market")
    for i in range(take_profits):
        ex.place_order("alice", BTC, "sell", D("0.5"), price=D(110000 + 10000 * i),
                       reduce_only=True)  # fmt: skip
    ex.place_order("bob", BTC, "buy", D(1), price=D(99900))
    return ex


@pytest.mark.parametrize("reduce_only", [True, False])
def test_a_position_closes_while_its_take_profits_add_up_to_more(reduce_only: bool) -> None:
    ex = _long_with_take_profits()
    preview = ex.preview_order("alice", BTC, "sell", D("0.5"), type="market",
                               reduce_only=reduce_only)  # fmt: skip
    assert preview.would_reject is None and preview.imr_after == 0
    result = ex.place_order("alice", BTC, "sell", D("0.5"), type="market",
                            reduce_only=reduce_only)  # fmt: skip
    assert result.filled == D("0.5")
    assert ex.positions("alice") == [] and ex.open_orders("alice") == []  # re-clipped away
    assert ex.health("alice").imr == 0


def test_a_partial_close_counts_take_profits_only_up_to_what_is_left() -> None:
    ex = _long_with_take_profits()
    acct, m = ex._accounts["alice"], ex._markets[BTC]
    impact = ex._order_impact(acct, m, False, D("0.2"), None, False)
    # after 0.2 is sold, 0.3 is left: the two take-profits together can only close that
    assert impact.open_size_after == D("0.3") and impact.reducing
    ex.place_order("alice", BTC, "sell", D("0.2"), type="market")
    assert ex.health("alice").imr == D("0.05") * D("0.3") * D(100000)


def test_take_profits_above_the_position_are_not_charged_as_a_short() -> None:
    # a ladder of three take-profits of the whole position: IMR (and IMF's open size) is that
    # of the position, not of the 1.0 short the three would make if the engine let them
    ex = _long_with_take_profits(take_profits=3)
    h = ex.health("alice")
    assert h.imr == D("0.05") * D("0.5") * D(100000)
    assert h.positions[0].imf == D("0.05")


def test_an_amend_refusal_speaks_of_the_total_size() -> None:
    ex = exact_exchange()
    funded(ex, "alice", "100000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D("0.1"), price=D(100000))
    order = ex.place_order("alice", BTC, "buy", D("0.2"), price=D(100000))
    assert order.filled == D("0.1")
    before = state_fingerprint(ex)
    with pytest.raises(InsufficientMargin) as refused:
        ex.amend_order("alice", order.order_id, size=D(100))
    message = str(refused.value)
    assert state_fingerprint(ex) == before
    assert f"amending buy order {order.order_id} to a total size of 100 BTC-PERP" in message
    assert "(0.1000 filled)" in message and "99.9" not in message
    largest = refused.value.max_size
    assert largest is not None and f"the largest total size that would pass is {largest}" in (
        message
    )
    ex.amend_order("alice", order.order_id, size=largest)  # the size it named passes
    assert ex.order("alice", order.order_id).size == largest  # type: ignore[union-attr]
    with pytest.raises(InsufficientMargin):
        ex.amend_order("alice", order.order_id, size=largest + D("0.0001"))
