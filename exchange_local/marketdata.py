"""Public market data: the trade tape, 1-minute OHLCV candles of trades and of the mark, 24 h stats.

Why only 1-minute candles are stored: every longer interval is an exact aggregation of them, so
one series per source is the single truth and intervals up to 1 d are built on demand.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from exchange_local.errors import InvalidRequest
from exchange_local.money import ZERO

MINUTE_MS = 60_000
DAY_MS = 86_400_000
INTERVALS_MS = {
    "1m": MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "1d": DAY_MS,
}


@dataclass(slots=True)
class Trade:
    trade_id: int
    time_ms: int
    price: Decimal
    size: Decimal
    taker_side: str


@dataclass(slots=True)
class Candle:
    start: Decimal  # seconds of exchange time
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int = 0  # trades in the candle (API.md's `n`); 0 for mark and index candles


class CandleSeries:
    """1-minute OHLCV buckets, oldest first; `max_minutes` bounds memory (default 30 days)."""

    def __init__(self, max_minutes: int = 30 * 1440) -> None:
        # [start_ms, o, h, l, c, v, n]; buckets restored from a snapshot taken before the
        # trade count existed have no n (counted as 0)
        self._buckets: deque[list] = deque(maxlen=max_minutes)
        self._closed_summary: tuple | None = None  # see summary(); never pickled

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_closed_summary", None)  # derived, and rebuilt on first use
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._closed_summary = None

    def add(self, time_ms: int, price: Decimal, volume: Decimal = ZERO, count: int = 0) -> None:
        """Record a price (and, for trades, its volume and count 1) in its minute."""
        start = time_ms - time_ms % MINUTE_MS
        buckets = self._buckets
        if buckets and buckets[-1][0] == start:
            b = buckets[-1]
            if price > b[2]:
                b[2] = price
            if price < b[3]:
                b[3] = price
            b[4] = price
            b[5] += volume
            if count:
                if len(b) > 6:
                    b[6] += count
                else:
                    b.append(count)
        else:
            buckets.append([start, price, price, price, price, volume, count])

    def candles(self, interval: str, limit: int | None = None) -> list[Candle]:
        """Candles of `interval`, oldest first; the newest `limit` of them when given.

        Why from the newest bucket back: the screen asks for its 240 candles ten times a
        second, and aggregating every bucket kept (30 days: 43,200) before keeping the last
        240 cost 35 ms a frame after 36 hours and 325 ms after 30 days, so a paper market at
        --speed 100 stopped answering keys within ten simulated hours."""
        if not isinstance(interval, str) or interval not in INTERVALS_MS:  # [] is unhashable
            raise InvalidRequest(
                f"unknown candle interval {interval!r}; use one of {', '.join(INTERVALS_MS)}"
            )
        step = INTERVALS_MS[interval]
        newest_first: list[list] = []
        for start, o, h, low, c, v, *n in reversed(self._buckets):
            bucket = start - start % step
            count = n[0] if n else 0
            if newest_first and newest_first[-1][0] == bucket:
                cur = newest_first[-1]  # an earlier minute of the same candle: its open
                cur[1] = o
                if h > cur[2]:
                    cur[2] = h
                if low < cur[3]:
                    cur[3] = low
                cur[5] += v
                cur[6] += count
            elif limit and len(newest_first) == limit:
                break  # the candle before the newest `limit`: not asked for
            else:
                newest_first.append([bucket, o, h, low, c, v, count])
        return [Candle(Decimal(b[0]) / 1000, b[1], b[2], b[3], b[4], b[5], b[6])
                for b in reversed(newest_first)]  # fmt: skip

    def window(self, since_ms: int) -> list[list]:
        """The buckets from `since_ms`'s minute on, oldest first, read from the newest back
        (the 24 h statistics ask for a day of the 30 kept, every frame)."""
        first = since_ms - since_ms % MINUTE_MS
        newest_first = []
        for b in reversed(self._buckets):
            if b[0] < first:
                break
            newest_first.append(b)
        newest_first.reverse()
        return newest_first

    def summary(
        self, since_ms: int
    ) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal]:
        """(open of the first bucket, highest high, lowest low, volume) of the buckets from
        `since_ms`'s minute on: what `window` would give, folded; Nones and 0 when empty.

        Why a cache: the bots read `market()` (and with it the 24 h statistics) several times
        every exchange second, and folding a day of buckets each time was a third of a paper
        market's CPU at --speed 100 once a day of candles existed. Only the newest bucket
        changes (`add` appends or updates the last), so the fold of the others is kept until
        the window's first minute or the newest bucket moves, about once a minute.
        """
        first = since_ms - since_ms % MINUTE_MS
        buckets = self._buckets
        if not buckets or buckets[-1][0] < first:
            return None, None, None, ZERO
        newest = buckets[-1]
        key = (first, newest[0])
        cached = self._closed_summary
        if cached is None or cached[0] != key:
            open_ = high = low = None
            volume = ZERO
            for i in range(len(buckets) - 2, -1, -1):
                b = buckets[i]
                if b[0] < first:
                    break
                open_ = b[1]
                if high is None or b[2] > high:
                    high = b[2]
                if low is None or b[3] < low:
                    low = b[3]
                volume += b[5]
            cached = self._closed_summary = (key, open_, high, low, volume)
        _, open_, high, low, volume = cached
        if open_ is None:
            return newest[1], newest[2], newest[3], newest[5]
        return (
            open_,
            newest[2] if newest[2] > high else high,
            newest[3] if newest[3] < low else low,
            volume + newest[5],
        )


class MarketData:
    """Per-market tape and candles. Trades are kept up to `max_trades` (newest last)."""

    def __init__(self, max_trades: int = 10_000) -> None:
        self.trades: deque[Trade] = deque(maxlen=max_trades)
        self.trade_candles = CandleSeries()
        self.mark_candles = CandleSeries()
        self.index_candles = CandleSeries()
        self.last_price: Decimal | None = None

    def record_trade(self, trade: Trade) -> None:
        self.trades.append(trade)
        self.trade_candles.add(trade.time_ms, trade.price, trade.size, 1)
        self.last_price = trade.price

    def record_mark(self, time_ms: int, mark: Decimal) -> None:
        self.mark_candles.add(time_ms, mark)

    def record_index(self, time_ms: int, index: Decimal) -> None:
        # setdefault: a market restored from a snapshot taken before index candles existed
        self.__dict__.setdefault("index_candles", CandleSeries()).add(time_ms, index)

    def stats_24h(self, now_ms: int, mark: Decimal) -> dict[str, Decimal | None]:
        """24 h change of the mark, high/low/volume of trades (None when nothing traded)."""
        since = now_ms - DAY_MS
        open_mark = self.mark_candles.summary(since)[0]
        if open_mark is None:
            open_mark = mark
        change = (mark - open_mark) / open_mark if open_mark else ZERO
        _, high, low, volume = self.trade_candles.summary(since)
        return {
            "open": open_mark,
            "change": change,
            "high": high,
            "low": low,
            "volume": volume,
            "quote_volume": None,
        }
