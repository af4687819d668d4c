"""QA D6: after HTTP 429 the watched account is polled less often, and the screen says why.

Before, `_poll()` asked for `clearinghouseState` every 2 s all through the 429s (VENUES.md 1.4:
1200 weight a minute per IP; a client told it is over that budget must ask less). Now the wait
doubles up to a cap, is never shorter than Retry-After, and is back to 2 s after the first
good answer; the header says "rate limited, retry in Ns" all along. The poll's wait is
`HyperliquidVenue._nap`, stood in for here by `Naps`: it records each wait the poll asks for
and returns when the test lets it, so no test waits the seconds it checks."""

from __future__ import annotations

import asyncio

import pytest

from perptui.venues.hyperliquid import HyperliquidVenue, backoff_delay
from perptui.venues.hyperliquid_wire import RETRY_AFTER_MAX, retry_after_seconds
from perptui.widgets.header import connection_chip
from tests.test_hyperliquid_fake import ADDRESS, FakeHyperliquid, wait_for


class Naps:
    """The poll's clock in a test: each wait asked for is recorded as (seconds, wakeable) and
    ends when `step()` lets it, at once; no real time passes."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, bool]] = []
        self._go = asyncio.Semaphore(0)

    async def __call__(self, seconds: float, wakeable: bool) -> None:
        self.asked.append((seconds, wakeable))
        await self._go.acquire()

    async def step(self) -> tuple[float, bool]:
        """Let one poll run; the wait it asks for next."""
        before = len(self.asked)
        self._go.release()
        await wait_for(lambda: len(self.asked) > before)
        return self.asked[-1]


def polls(fake: FakeHyperliquid) -> int:
    return sum(1 for r in fake.requests if r.get("type") == "clearinghouseState")


async def test_a_429_slows_the_poll_honours_retry_after_and_recovers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeHyperliquid() as fake:
        venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, stream=False)  # 2 s polls
        naps = Naps()
        monkeypatch.setattr(venue, "_nap", naps)
        await venue.start()
        try:
            await wait_for(lambda: naps.asked == [(2.0, True)])
            while venue.take_notice() is not None:  # the fixture's BTC mismatch, said at start
                pass
            fake.refuse = (429, {})
            asked_before = polls(fake)
            waits = [await naps.step() for _ in range(7)]
            assert [s for s, _ in waits] == [4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
            assert not any(wakeable for _, wakeable in waits)  # a fill does not cut it short
            assert polls(fake) - asked_before == 7  # one request a wait, none in between
            conn = venue.connection()
            assert (conn.state, conn.cause) == ("limited", "rate limited")
            assert conn.detail.startswith("retry in ")
            assert "rate limited, retry in" in connection_chip(conn, venue.name, False)
            assert venue.problem is not None and "HTTP 429" in venue.problem
            notices = [n for n in iter(venue.take_notice, None)]
            assert notices == ["Hyperliquid rate-limited this address (HTTP 429)"]  # said once
            # the account is old by now: STALE, and still the reason, not a bare age
            venue._account_at -= 100
            conn = venue.connection()
            assert (conn.state, conn.cause) == ("stale", "rate limited") and conn.age_s > 99
            assert conn.says_why_old
            # the venue's own Retry-After is kept to, beyond the cap too
            fake.refuse = (429, {"Retry-After": "90"})
            assert await naps.step() == (90.0, False)
            fake.refuse = (429, {"Retry-After": "3"})  # shorter than the backoff: the longer
            assert await naps.step() == (60.0, False)
            fake.refuse = (500, {})  # another failure: not "rate limited", still not hurried
            assert await naps.step() == (60.0, True)
            assert venue.connection().cause == "" and "500" in (venue.problem or "")
            fake.refuse = None
            assert await naps.step() == (2.0, True)  # the first good answer: back to normal
            assert venue.problem is None and venue.connection().state == "live"
        finally:
            await venue.stop()


async def test_the_shown_markets_fetches_wait_out_a_rate_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeHyperliquid() as fake:
        venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, stream=False)
        naps = Naps()
        monkeypatch.setattr(venue, "_nap", naps)
        await venue.start()
        try:
            await wait_for(lambda: len(naps.asked) == 1)
            fake.refuse = (429, {"Retry-After": "30"})
            await naps.step()
            before = len(fake.requests)
            for _ in range(3):  # frames of a newly shown market: no request while limited
                await venue.snapshot("BTC-PERP")
            assert len(fake.requests) == before
        finally:
            await venue.stop()


def test_the_backoff_doubles_to_its_cap_and_keeps_to_retry_after() -> None:
    assert backoff_delay(2.0, 60.0, None) == 4.0
    assert backoff_delay(40.0, 60.0, None) == 60.0
    assert backoff_delay(2.0, 60.0, 10.0) == 10.0
    assert backoff_delay(2.0, 60.0, 1.0) == 4.0
    assert backoff_delay(60.0, 60.0, 120.0) == 120.0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds(None) is None and retry_after_seconds(" ") is None
    assert retry_after_seconds("5") == 5.0 and retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("1e9") == RETRY_AFTER_MAX
    assert retry_after_seconds("nan") is None and retry_after_seconds("soon") is None
    date = "Wed, 21 Oct 2015 07:28:00 GMT"  # RFC 9110's example: 1445412480 epoch seconds
    assert retry_after_seconds(date, now=1445412480 - 42) == 42.0
    assert retry_after_seconds(date, now=1445412480 + 42) == 0.0
