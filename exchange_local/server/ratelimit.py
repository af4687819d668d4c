"""Token buckets per API key (and per client address for calls without a key).

Why a token bucket: a class of students clicking, or a script, gets a steady `rate` per second
with bursts up to `burst`, and a runaway loop is told how long to wait (Retry-After) instead of
starving everyone else. Headers follow draft-ietf-httpapi-ratelimit-headers in the form of its
revisions 08 and later: `RateLimit-Policy: "burst";q=<burst>;w=<window>` and
`RateLimit: "burst";r=<left>;t=<reset>`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

MAX_BUCKETS = 50_000  # beyond this many callers the idle buckets are dropped


@dataclass(slots=True)
class Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int  # whole seconds (0 when allowed)
    reset: int  # seconds until the bucket is full again


class RateLimiter:
    def __init__(self, rate: float = 50.0, burst: int = 100) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, Bucket] = {}

    @property
    def window(self) -> int:
        """Seconds an empty bucket takes to fill (the policy's window)."""
        return max(1, math.ceil(self.burst / self.rate))

    def take(self, who: str, cost: float = 1.0, now: float | None = None) -> Verdict:
        t = time.monotonic() if now is None else now
        bucket = self._buckets.get(who)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._evict(t)
            bucket = self._buckets[who] = Bucket(float(self.burst), t)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (t - bucket.stamp) * self.rate)
            bucket.stamp = t
        reset = math.ceil((self.burst - bucket.tokens) / self.rate)
        if bucket.tokens >= cost:
            bucket.tokens -= cost
            return Verdict(True, int(bucket.tokens), 0, reset)
        wait = max(1, math.ceil((cost - bucket.tokens) / self.rate))
        return Verdict(False, 0, wait, reset)

    def headers(self, verdict: Verdict) -> dict[str, str]:
        h = {
            "RateLimit-Policy": f'"burst";q={self.burst};w={self.window}',
            "RateLimit": f'"burst";r={verdict.remaining};t={verdict.reset}',
        }
        if not verdict.allowed:
            h["Retry-After"] = str(verdict.retry_after)
        return h

    def _evict(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [k for k, b in self._buckets.items() if now - b.stamp > full_after]
        for k in idle:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS:
            self._buckets.clear()
