"""Exchange time and the scheduler that later capabilities hang their periodic jobs on.

Why integer milliseconds: exact, cheap to compare, and enough resolution for the 100 ms mark
rate limit. Time only moves through `advance`, so runs are deterministic and tests never sleep.
Jobs due at the same instant run in MECHANICS section 6's order, given by their `order` key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exchange_local.errors import InvalidRequest
from exchange_local.money import to_decimal

MS_PER_SECOND = 1000


def seconds_to_ms(seconds: object, field: str = "seconds") -> int:
    """Convert a Decimal/int/str number of seconds to whole milliseconds (refusing floats)."""
    value = to_decimal(seconds, field) * MS_PER_SECOND
    if value != value.to_integral_value():
        raise InvalidRequest(f"{field} must be a whole number of milliseconds, got {seconds}")
    return int(value)


def ms_to_seconds(ms: int) -> Decimal:
    return Decimal(ms) / MS_PER_SECOND


# Job order at one timestamp (MECHANICS section 6): stops trigger on the mark before anything
# else; then funding samples, hourly funding, settlement, the liquidation scan, and bots last.
ORDER_TRIGGERS = 10
ORDER_FUNDING_SAMPLE = 20
ORDER_FUNDING_PAYMENT = 30
ORDER_SETTLEMENT = 40
ORDER_LIQUIDATION = 50
ORDER_BOTS = 60


@dataclass
class Job:
    """A periodic job: runs at every multiple of `period_ms` (plus `offset_ms`)."""

    name: str
    period_ms: int
    order: int
    action: Callable[[int], None]
    offset_ms: int = 0
    next_ms: int = 0


class Scheduler:
    """Simulated exchange clock with periodic jobs.

    `advance_to` visits every instant at which some job is due, in time order, and at each
    instant runs the due jobs by their `order`. Nothing runs between due instants, so an hour
    of exchange time costs only the jobs' work.
    """

    def __init__(self, now_ms: int = 0) -> None:
        self.now_ms = now_ms
        self._jobs: list[Job] = []

    def add_job(
        self,
        name: str,
        period_ms: int,
        order: int,
        action: Callable[[int], None],
        offset_ms: int = 0,
    ) -> Job:
        if period_ms <= 0:
            raise ValueError("period must be positive")
        job = Job(name, period_ms, order, action, offset_ms)
        job.next_ms = self._first_due(job, self.now_ms)
        self._jobs.append(job)
        self._jobs.sort(key=lambda j: (j.order, j.name))
        return job

    @staticmethod
    def _first_due(job: Job, after_ms: int) -> int:
        """The first due instant strictly after `after_ms`."""
        k = (after_ms - job.offset_ms) // job.period_ms + 1
        return k * job.period_ms + job.offset_ms

    def next_due(self) -> int | None:
        return min((j.next_ms for j in self._jobs), default=None)

    def advance_to(self, target_ms: int, before_jobs: Callable[[int], None] | None = None) -> None:
        """Move time to `target_ms`, running every job that falls due on the way.

        `before_jobs(t)` runs at each due instant before the jobs (the engine moves index feeds
        and the mark there, keeping MECHANICS' order index -> mark -> jobs).
        """
        if target_ms < self.now_ms:
            raise InvalidRequest("the exchange clock cannot go backwards")
        while True:
            due = self.next_due()
            if due is None or due > target_ms:
                break
            self.now_ms = due
            if before_jobs is not None:
                before_jobs(due)
            for job in self._jobs:
                if job.next_ms == due:
                    job.next_ms = due + job.period_ms
                    job.action(due)
        self.now_ms = target_ms

    def jobs(self) -> list[Job]:
        return list(self._jobs)
