"""The dynamic risk formula's pieces (exchange_local/risk_params.py)."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.risk_params import daily_volatility, toward

D = Decimal


def test_daily_volatility_from_minute_closes():
    # +1 %, -1 % alternating every minute: variance per minute 1e-4 -> daily sqrt(1e-4 x 1440)
    closes, price = [], D(100)
    for minute in range(61):
        closes.append((minute * 60_000, price))
        price = price * (D("1.01") if minute % 2 == 0 else D(1) / D("1.01"))
    vol = daily_volatility(closes)
    assert vol is not None and abs(vol - (D("0.0001") * 1440).sqrt()) < D("0.002")
    assert daily_volatility(closes[:1]) is None


def test_steps_are_bounded():
    assert toward(D(100), D(10), D("0.25")) == D(75)
    assert toward(D(100), D(110), D("0.25")) == D(110)
    assert toward(D(100), D(1000), D("0.25")) == D(125)
