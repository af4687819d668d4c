"""Candles and the 24 h window read from the newest minute back: the same candles as every
bucket aggregated (the old way), without walking 30 days to draw the last 240."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_local.marketdata import INTERVALS_MS, MINUTE_MS, Candle, CandleSeries


def every_bucket(series: CandleSeries, interval: str, limit: int | None) -> list[Candle]:
    """The reference: aggregate every bucket kept, then keep the newest `limit`."""
    step = INTERVALS_MS[interval]
    out: list[list] = []
    for start, o, h, low, c, v, *n in series._buckets:
        bucket = start - start % step
        count = n[0] if n else 0
        if out and out[-1][0] == bucket:
            cur = out[-1]
            cur[2], cur[3], cur[4] = max(cur[2], h), min(cur[3], low), c
            cur[5] += v
            cur[6] += count
        else:
            out.append([bucket, o, h, low, c, v, count])
    rows = [Candle(Decimal(b[0]) / 1000, *b[1:]) for b in out]
    return rows[-limit:] if limit else rows


prices = st.integers(1, 10_000).map(lambda i: Decimal(i) / 4)
ticks = st.lists(
    st.tuples(st.integers(0, 3 * 1440), st.integers(0, 59_999), prices, st.integers(0, 5)),
    max_size=200,
)


@settings(max_examples=150, deadline=None)
@given(ticks, st.sampled_from(sorted(INTERVALS_MS)), st.one_of(st.none(), st.integers(1, 30)))
def test_the_same_candles_as_every_bucket_aggregated(ticks, interval, limit) -> None:
    series = CandleSeries(max_minutes=2000)  # also once the oldest minutes have fallen off
    for minute, ms, price, lots in sorted(ticks):
        series.add(minute * MINUTE_MS + ms, price, Decimal(lots), 1 if lots else 0)
    assert series.candles(interval, limit) == every_bucket(series, interval, limit)
    since = max((m for m, *_ in ticks), default=0) * MINUTE_MS - 1440 * MINUTE_MS + 12_345
    first = since - since % MINUTE_MS
    assert series.window(since) == [b for b in series._buckets if b[0] >= first]


def test_a_month_of_minutes_gives_the_newest_candles_without_reading_them_all() -> None:
    """Counted, not timed: reading 240 one-minute candles visits 241 buckets, not 43,200."""
    series = CandleSeries()
    for minute in range(30 * 1440):
        series.add(minute * MINUTE_MS, Decimal(100 + minute % 7))
    visited = [0]

    class Counting(list):  # the buckets, counting how many the reverse walk takes
        def __reversed__(self):
            for b in super().__reversed__():
                visited[0] += 1
                yield b

    series._buckets = Counting(series._buckets)  # type: ignore[assignment]
    assert len(series.candles("1m", 240)) == 240
    assert visited[0] == 241
    visited[0] = 0
    assert len(series.candles("1h", 240)) == 240
    assert visited[0] == 240 * 60 + 1
