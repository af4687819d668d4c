"""The 24 h statistics folded once a minute (CandleSeries.summary): the same figures as folding
the day's buckets on every call, whatever the order of trades and queries, and the fold is not
redone between two minutes."""

from __future__ import annotations

import pickle
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_local.marketdata import MINUTE_MS, CandleSeries, MarketData, Trade
from exchange_local.money import ZERO


def folded(series: CandleSeries, since: int) -> tuple:
    """The reference: every bucket of the window, folded on the spot."""
    window = series.window(since)
    if not window:
        return None, None, None, ZERO
    return (
        window[0][1],
        max(b[2] for b in window),
        min(b[3] for b in window),
        sum((b[5] for b in window), ZERO),
    )


prices = st.integers(1, 10_000).map(lambda i: Decimal(i) / 4)
# each step: minutes forward, ms within the minute, price, lots (0: a mark tick), and the age
# of the window's start to ask about after the step (about a day, or a few minutes)
steps = st.lists(
    st.tuples(
        st.integers(0, 400), st.integers(0, 59_999), prices, st.integers(0, 5),
        st.one_of(st.just(1440 * MINUTE_MS), st.integers(0, 30 * MINUTE_MS)),
    ),
    max_size=120,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(steps)
def test_the_summary_equals_folding_the_window_every_time(steps) -> None:
    series = CandleSeries(max_minutes=2000)
    minute = 0
    for forward, ms, price, lots, age in steps:
        minute += forward
        now = minute * MINUTE_MS + ms
        series.add(now, price, Decimal(lots), 1 if lots else 0)
        assert series.summary(now - age) == folded(series, now - age)
        series.add(now, price + 1)  # the newest bucket moves after the fold was kept
        assert series.summary(now - age) == folded(series, now - age)
    assert series.summary(0) == folded(series, 0)


def test_within_a_minute_the_day_is_folded_once() -> None:
    """Counted, not timed: a second summary in the same minute reads no closed bucket."""
    data = MarketData()
    for minute in range(1440):
        data.record_trade(
            Trade(minute, minute * MINUTE_MS, Decimal(100 + minute % 9), Decimal(1), "buy")
        )
        data.record_mark(minute * MINUTE_MS, Decimal(100))
    now = 1440 * MINUTE_MS - 1
    first = data.stats_24h(now, Decimal(101))
    data.trade_candles._buckets = Refusing(data.trade_candles._buckets)  # type: ignore[assignment]
    data.record_trade(Trade(9999, now, Decimal(200), Decimal(2), "sell"))
    again = data.stats_24h(now, Decimal(101))
    assert again["high"] == Decimal(200) and first["high"] == Decimal(108)
    assert again["volume"] == first["volume"] + 2 == Decimal(1440) + 2


class Refusing(list):
    """Buckets that allow the newest to be read and updated, and nothing older."""

    def __getitem__(self, i):  # type: ignore[no-untyped-def]
        if i not in (-1, len(self) - 1):
            raise AssertionError(f"bucket {i} read again within the minute")
        return super().__getitem__(i)

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the buckets walked again within the minute")

    __reversed__ = __iter__


def test_the_kept_fold_is_not_in_a_snapshot() -> None:
    series = CandleSeries()
    series.add(0, Decimal(1), Decimal(1), 1)
    series.add(MINUTE_MS, Decimal(2), Decimal(1), 1)
    assert series.summary(0) == (Decimal(1), Decimal(2), Decimal(1), Decimal(2))
    restored = pickle.loads(pickle.dumps(series))
    assert "_closed_summary" not in series.__getstate__()
    assert restored.summary(0) == series.summary(0)
