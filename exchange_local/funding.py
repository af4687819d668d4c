"""Hourly funding (MECHANICS section 5: Hyperliquid/Binance form with dYdX's cap).

Why samples every 5 s and payment on the hour: the premium of a single instant is easy to push
around; the mean of 720 samples over an hour is not. Payments are rounded against the payer and
the rounding residual (never negative) goes to the insurance fund, so they sum to exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from exchange_local.money import ZERO, quantize_usd_down, quantize_usd_up

SAMPLE_MS = 5_000
HOUR_MS = 3_600_000
INTEREST_8H = Decimal("0.0001")  # 0.01 % per 8 hours
CLAMP_8H = Decimal("0.0005")


def clamp(x: Decimal, lo: Decimal, hi: Decimal) -> Decimal:
    return max(lo, min(hi, x))


def premium(
    index: Decimal, mark: Decimal, impact_bid: Decimal | None, impact_ask: Decimal | None
) -> Decimal:
    """One premium sample: impact prices against the index; (M - I)/I on a book too thin."""
    if impact_bid is None or impact_ask is None:
        return (mark - index) / index
    return (max(ZERO, impact_bid - index) - max(ZERO, index - impact_ask)) / index


def hourly_rate(mean_premium: Decimal, base_imf: Decimal) -> Decimal:
    """F1 from the hour's mean premium P: F8 = P + clamp(0.01 % - P, +-0.05 %), F1 = F8/8
    clamped to +-cap, cap = 6 * (baseIMF - MMF_base) / 8 with MMF_base = 0.6 * baseIMF.

    Inside the clamp's band F8 is the interest rate itself, taken as such: P + (0.01 % - P)
    at 34 digits lost the last digit for a small P (F1 0.0000124999...9, and a 2 BTC short
    at 100,000 received 2.499999 where the long paid 2.500000)."""
    gap = INTEREST_8H - mean_premium
    if -CLAMP_8H <= gap <= CLAMP_8H:
        f8 = INTEREST_8H
    else:
        f8 = mean_premium + clamp(gap, -CLAMP_8H, CLAMP_8H)
    cap = 6 * (base_imf - Decimal("0.6") * base_imf) / 8
    return clamp(f8 / 8, -cap, cap)


def payment(size: Decimal, index: Decimal, rate: Decimal) -> Decimal:
    """What a position pays (positive) or receives (negative), rounded against the payer."""
    owed = size * index * rate
    return quantize_usd_up(owed) if owed > 0 else -quantize_usd_down(-owed)


@dataclass(slots=True)
class FundingRecord:
    """One hourly funding event of a market."""

    time: Decimal
    market: str
    rate: Decimal
    mean_premium: Decimal
    index: Decimal
    samples: int
    paid: Decimal  # total paid by payers
    received: Decimal  # total received by receivers
    residual: Decimal  # to the insurance fund


@dataclass(slots=True)
class AccountFunding:
    """One position's funding payment (negative amount = received)."""

    time: Decimal
    market: str
    size: Decimal
    rate: Decimal
    amount: Decimal


@dataclass
class FundingState:
    """Per market: the premium samples of the running hour and the history."""

    samples: list[Decimal] = field(default_factory=list)
    history: list[FundingRecord] = field(default_factory=list)
    last_rate: Decimal | None = None
