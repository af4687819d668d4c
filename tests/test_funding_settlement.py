"""Funding (MECHANICS 5) and 30 s settlement (MECHANICS 6): the published vectors, exactly."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.config import default_markets
from exchange_local.funding import hourly_rate, payment, premium
from exchange_local.ledger import INSURANCE, SETTLEMENT_CLEARING
from tests.helpers import funded

D = Decimal
BTC = "BTC-PERP"


def no_fee_exchange() -> Exchange:
    markets = tuple(replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets())
    return Exchange(ExchangeConfig(markets=markets, mark_source="index"))


@pytest.mark.parametrize(
    "mean,rate,pays",
    [
        (D("0.0003"), D("0.0000125"), D("2.5")),
        (D("0.002"), D("0.0001875"), D("37.5")),
        (D("0.2"), D("0.015"), D(3000)),
    ],
)
def test_funding_vectors(mean, rate, pays):
    assert hourly_rate(mean, D("0.05")) == rate
    assert payment(D(2), D(100000), rate) == pays


@pytest.mark.parametrize("mean", [D("-6.293529048006489823308129416545853E-9"), D("1E-30"),
                                  D("0.0006"), D("-0.0004"), D("0")])  # fmt: skip
def test_inside_the_clamp_band_the_rate_is_the_interest_rate_exactly(mean):
    """A small premium lost the 34th digit (F1 0.0000124999...): a short received 2.499999
    where the long paid 2.500000. The band's edges included."""
    assert hourly_rate(mean, D("0.05")) == D("0.0000125")
    assert payment(D(-2), D(100000), hourly_rate(mean, D("0.05"))) == D("-2.5")


def test_f8_of_the_extreme_vector():
    p = D("0.2")
    f8 = p + max(D("-0.0005"), min(D("0.0005"), D("0.0001") - p))
    assert f8 == D("0.1995")


def test_premium_uses_impact_prices_and_falls_back_to_mark():
    assert premium(D(100), D(100), D("100.2"), D("100.4")) == D("0.002")
    assert premium(D(100), D(100), D("99.6"), D("99.8")) == D("-0.002")
    assert premium(D(100), D(100), D("99.9"), D("100.1")) == 0
    assert premium(D(100), D("100.5"), None, D("100.1")) == D("0.005")


def test_payments_round_against_the_payer_and_residual_goes_to_the_fund():
    assert payment(D("0.0003"), D(100000), D("0.0000125")) == D("0.000375")
    assert payment(D("0.0001"), D("33333.5"), D("0.0000125")) == D("0.000042")  # 0.0000416..
    assert payment(D("-0.0001"), D("33333.5"), D("0.0000125")) == D("-0.000041")


def test_mechanics_section_6_settlement_vector():
    ex = no_fee_exchange()
    t, mm = funded(ex, "t"), funded(ex, "mm")
    usd0 = ex.balances(t)["USD"]
    ex.place_order(mm, BTC, "sell", D(2), price=D(100000))
    ex.place_order(t, BTC, "buy", D(2), price=D(100000), tif="ioc")
    ex.advance(29)
    ex.set_index_price("BTC", D(100300))
    ex.advance(1)  # t = 30
    assert ex.balances(t)["USD"] - usd0 == 600
    ex.advance(29)
    ex.set_index_price("BTC", D(100150))
    ex.advance(1)  # t = 60
    assert ex.balances(t)["USD"] - usd0 == 300
    ex.place_order(mm, BTC, "buy", D(1), price=D(100200))
    ex.place_order(t, BTC, "sell", D(1), price=D(100200), tif="ioc")
    assert ex.balances(t)["USD"] - usd0 == 350
    ex.advance(29)
    ex.set_index_price("BTC", D(99900))
    ex.advance(1)  # t = 90
    assert ex.balances(t)["USD"] - usd0 == 100
    ex.place_order(mm, BTC, "buy", D(1), price=D(99950))
    ex.place_order(t, BTC, "sell", D(1), price=D(99950), tif="ioc")
    assert ex.balances(t)["USD"] - usd0 == 150
    settle = [e.amount for e in ex.ledger(t) if e.type == "SETTLE"]
    assert settle == [600, -300, -250]
    assert ex._ledger.balance(SETTLEMENT_CLEARING, "USD") == 0
    assert ex.check_invariants() == []


def test_one_day_of_settlement_and_funding_books_and_records():
    ex = no_fee_exchange()
    a, b, c = funded(ex, "a"), funded(ex, "b"), funded(ex, "c")
    ex.place_order(b, BTC, "sell", D(1), price=D(100000))
    ex.place_order(a, BTC, "buy", D(1), price=D(100000), tif="ioc")
    ex.place_order(c, "ETH-PERP", "sell", D(3), price=D(3000))
    ex.place_order(a, "ETH-PERP", "buy", D(3), price=D(3000), tif="ioc")
    for hour in range(24):
        ex.set_index_price("BTC", D(100000) + 50 * hour)
        for _ in range(120):
            ex.advance(30)
            assert ex._ledger.balance(SETTLEMENT_CLEARING, "USD") == 0
    for acct, n_positions in ((a, 2), (b, 1), (c, 1)):
        entries = ex.ledger(acct)
        assert sum(e.type == "SETTLE" for e in entries) == 2880 * n_positions
        assert sum(e.type == "FUNDING" for e in entries) == 24 * n_positions
    assert ex.check_invariants() == []
    assert len(ex.funding_history(BTC)) == 24
    assert len(ex.funding_history(account=a)) == 48


def test_funding_payments_sum_to_zero_with_the_fund():
    ex = no_fee_exchange()
    a, b = funded(ex, "a"), funded(ex, "b")
    ex.place_order(b, BTC, "sell", D("0.3333"), price=D(100000))
    ex.place_order(a, BTC, "buy", D("0.3333"), price=D(100000), tif="ioc")
    ex.place_order(b, BTC, "buy", D(1), price=D(100100))  # a resting bid above the index
    fund0 = ex.insurance_fund()
    ex.advance(3600)
    record = ex.funding_history(BTC)[-1]
    assert record.samples == 720
    assert record.paid - record.received == record.residual >= 0
    assert ex.insurance_fund() - fund0 == record.residual
    m = ex.market(BTC)
    assert m.funding_rate == record.rate and m.next_funding_time == 7200
    assert m.next_settlement_time == 3630
    assert ex._ledger.balance(INSURANCE, "USD") >= fund0


def test_a_broken_invariant_halts_the_markets_at_the_next_settlement():
    ex = no_fee_exchange()
    a, b = funded(ex, "a"), funded(ex, "b")
    ex.place_order(b, BTC, "sell", D(1), price=D(100000))
    ex.place_order(a, BTC, "buy", D(1), price=D(100000), tif="ioc")
    events = []
    ex.subscribe(events.append)
    ex._ledger.balances[a]["USD"] += D("0.01")  # a balance changed outside the ledger
    ex.advance(30)
    halted = [e for e in events if e.kind == "InvariantViolated"]
    assert len(halted) == 1 and "USD" in halted[0].problems[0]
    assert all(ex.market(m).reduce_only for m in ex.markets())
    from exchange_local import MarketHalted

    with pytest.raises(MarketHalted):
        ex.place_order(a, BTC, "buy", D(1), price=D(100000))
    ex.place_order(b, BTC, "buy", D(1), price=D(101000))
    assert ex.place_order(a, BTC, "sell", D(1), price=D(101000), tif="ioc").filled == 1
