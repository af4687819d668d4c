"""The robust mark price of MECHANICS section 0 (Hyperliquid's): M = median(A, B, C).

Why a median of three: a single thin-book print or a spoofed quote cannot drag the mark (and so
everybody's margin) on its own; it has to move two independent inputs. A follows the index with
a slow EMA of the book's premium, B is the book itself, C an external mid or a fast EMA of B.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchange_local.money import ZERO

T_PREMIUM = Decimal(150)  # seconds, EMA of (mid - index) for A
T_BOOK = Decimal(30)  # seconds, EMA of B used as C when no external mid is mirrored
MIN_INTERVAL_MS = 100  # the mark is recomputed at most every 100 ms of exchange time


@dataclass
class TimeEma:
    """Time-weighted EMA: num = num*exp(-t/T) + x*t, den = den*exp(-t/T) + t; ema = num/den.

    The first sample sets ema = x (it enters with a weight of one second).
    """

    period: Decimal
    num: Decimal = ZERO
    den: Decimal = ZERO
    last_ms: int | None = None

    def update(self, x: Decimal, now_ms: int) -> Decimal:
        if self.last_ms is None or self.den == 0:
            self.num, self.den = x, Decimal(1)
        else:
            t = Decimal(now_ms - self.last_ms) / 1000
            if t > 0:
                decay = (-t / self.period).exp()
                self.num = self.num * decay + x * t
                self.den = self.den * decay + t
        self.last_ms = now_ms
        return self.num / self.den

    @property
    def value(self) -> Decimal | None:
        return self.num / self.den if self.den else None


def median(values: list[Decimal]) -> Decimal:
    """Median of 1-3 values; the median of two is their mean."""
    ordered = sorted(values)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2


@dataclass
class RobustMark:
    """Per-market mark state: the two EMAs and when the mark was last computed."""

    premium_ema: TimeEma
    book_ema: TimeEma
    last_ms: int | None = None
    external_mid: Decimal | None = None

    @classmethod
    def new(cls) -> RobustMark:
        return cls(TimeEma(T_PREMIUM), TimeEma(T_BOOK))

    def compute(
        self,
        now_ms: int,
        index: Decimal,
        best_bid: Decimal | None,
        best_ask: Decimal | None,
        last_trade: Decimal | None,
    ) -> Decimal:
        """The unrounded mark from the current inputs, updating the EMA state."""
        self.last_ms = now_ms
        if best_bid is not None and best_ask is not None:
            mid = (best_bid + best_ask) / 2
            a = index + self.premium_ema.update(mid - index, now_ms)
        else:
            a = index
        book_inputs = [p for p in (best_bid, best_ask, last_trade) if p is not None]
        if not book_inputs:
            return a
        b = median(book_inputs)
        c = self.external_mid if self.external_mid is not None else self.book_ema.update(b, now_ms)
        return median([a, b, c])

    def due(self, now_ms: int) -> bool:
        return self.last_ms is None or now_ms - self.last_ms >= MIN_INTERVAL_MS
