"""shock_index: a teacher's instant price move that the living market's walk carries on from."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig, InvalidRequest
from exchange_local.bots import paper_config

D = Decimal


def living(store: str | None = None) -> Exchange:
    ex = Exchange(paper_config(ExchangeConfig(seed=4)), store=store)
    ex.start_living_market(seed=4)
    ex.advance(D(10))
    return ex


def test_a_shock_moves_the_index_at_once_and_the_walk_goes_on_from_there():
    ex = living()
    before = ex.market("BTC-PERP").index
    after = ex.shock_index("BTC", D("-0.10"))
    assert after == ex.market("BTC-PERP").index
    assert abs(after / before - D("0.9")) < D("0.0001")
    ex.advance(D(5))
    assert abs(ex.market("BTC-PERP").index / after - 1) < D("0.01")  # not snapped back


def test_a_shock_without_a_living_market_moves_the_index_exactly():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    assert ex.shock_index("ETH-PERP", D("0.05")) == D("3150")
    assert ex.market("ETH-PERP").mark == D("3150")


@pytest.mark.parametrize("fraction", [D(-1), D(-2), D(11)])
def test_impossible_shocks_are_refused_and_change_nothing(fraction):
    ex = living()
    before = ex.market("BTC-PERP").index
    with pytest.raises(InvalidRequest, match="fraction"):
        ex.shock_index("BTC", fraction)
    assert ex.market("BTC-PERP").index == before


def test_a_shock_is_journaled_and_replayed(tmp_path):
    path = str(tmp_path / "s.sqlite")
    ex = living(path)
    ex.shock_index("BTC", D("-0.2"))
    ex.advance(D(3))
    expected = (ex.market("BTC-PERP").index, ex.now_ms)
    del ex  # no close(): the journal alone must bring the shock back
    again = Exchange(store=path)
    assert (again.market("BTC-PERP").index, again.now_ms) == expected
    again.close()
