"""A price mirror: the paper exchange's index (and optionally the external mid of its mark) from
a live venue, with the market paused rather than drifting when the venue goes quiet.

Why a source object between the venue and the feed: the engine is synchronous and
deterministic, the network is neither. An async edge task (perptui's Hyperliquid stream, or a
test) writes the venue's latest quotes into a `QuoteBoard`; the feed's scheduler job reads the
board on the exchange clock (feeds.py's "real venue mirror"). Nothing here does I/O, so the
mirror is tested without a network and the edge can be any venue.

What the mirror does each period (1 s of exchange time by default), per mirrored underlying:

- fresh quote (younger than `max_age_s` on the source's clock, no error): the index follows it
  (`set_index_price`), and with `use_mids` the venue's perp mid becomes MECHANICS section 0's
  input C of the robust mark (`set_external_mid`);
- stale or failing: the market is paused, i.e. set reduce-only (only risk-reducing orders are
  accepted, the engine's MarketHalted refusal), the external mid is dropped, and a MarketEvent
  "paused" says why. The index stays at the last real price: it never drifts on old data;
- fresh again: the jump from the last price before the pause is a gap. Below `gap_threshold`
  the market resumes at once ("resumed" event, reduce-only lifted if the mirror set it). At or
  above it, with `hold_gaps`, the new price is held as a `PendingGap` and the market stays
  paused until `accept_gaps()`: the terminal shows the gap's effect on the account first.

Why reduce-only and not a frozen clock: funding, settlement and liquidations on the last real
prices keep the books straight, and a trader can still close a position; what must not happen
is new risk priced off a number the world has moved away from. The mirror halts and resumes
through the exchange's `pause_mirrored_market` / `resume_mirrored_market` (which announce
"halted" and "resumed", and remember which halts are the mirror's, so a settled market, one
stopped by a broken invariant or halted by an operator stays closed), and adds its reason and
the price move in events of its own.

Two ways to run it. `attach_mirror(ex, feed)` registers a scheduler job (order 1, the index
first): for an exchange in memory (scenarios, tests). A stored exchange replays only its
journaled top-level commands, and a job's calls happen inside `advance`, unjournaled: replay
would move no price and diverge. So on a stored exchange `attach_mirror(..., job=False)` (the
only way allowed there) registers nothing: the owner of the clock calls `poll()` between
commands, before each `advance`, and every price, mid, pause and resume the mirror makes is a
journaled command of its own (exchange_local/living.py), replayed exactly after a crash. The
mirror writes only what changed, so a quiet venue adds no journal rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from exchange_local.events import MarketEvent
from exchange_local.feeds import ORDER_INDEX, FeedError
from exchange_local.money import round_to_step

MAX_AGE_S = 10.0  # a quote older than this (wall seconds) is stale
GAP_THRESHOLD = Decimal("0.005")  # a resume jump of 0.5 % or more is a gap worth showing
MIRROR_JOB = "index mirror"
STALE_WHAT = "prices stale: paused, reduce-only until they return"
GAP_WHAT = "prices returned with a gap: waiting"
BACK_WHAT = "prices back"


@dataclass(frozen=True, slots=True)
class Quote:
    price: Decimal
    at: float  # the source clock's seconds when it arrived


@dataclass(slots=True)
class QuoteBoard:
    """The latest index and perp-mid quotes per underlying, written by an edge task and read by
    the feed. `clock` is the source's time (monotonic wall seconds; a test passes its own)."""

    clock: Callable[[], float] = time.monotonic
    index: dict[str, Quote] = field(default_factory=dict)
    mids: dict[str, Quote] = field(default_factory=dict)
    problem: str | None = None  # set while the edge knows the venue is failing
    updates: int = 0

    def put_index(self, prices: Mapping[str, Decimal]) -> None:
        now = self.clock()
        for asset, price in prices.items():
            if isinstance(price, Decimal) and price.is_finite() and price > 0:
                self.index[asset] = Quote(price, now)
        self.updates += 1
        self.problem = None

    def put_mids(self, mids: Mapping[str, Decimal]) -> None:
        now = self.clock()
        for asset, price in mids.items():
            if isinstance(price, Decimal) and price.is_finite() and price > 0:
                self.mids[asset] = Quote(price, now)
        self.updates += 1

    def fail(self, problem: str) -> None:
        """The edge lost the venue (an error, a disconnect): stale at once, not after max age."""
        self.problem = problem


class QuoteSource(Protocol):
    """What the feed reads; `QuoteBoard` is the one implementation most callers need."""

    index: dict[str, Quote]
    mids: dict[str, Quote]
    problem: str | None

    def clock(self) -> float: ...


class MirrorFeed:
    """A PriceFeed over a quote source: `step(t_ms)` returns the fresh index prices only.
    `assets`: the underlyings mirrored (None: whatever the source has)."""

    def __init__(
        self,
        source: QuoteSource,
        assets: Iterable[str] | None = None,
        *,
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        if max_age_s <= 0:
            raise FeedError("max_age_s must be > 0")
        self.source = source
        self.assets = tuple(assets) if assets is not None else None
        self.max_age_s = max_age_s

    def wanted(self) -> tuple[str, ...]:
        return self.assets if self.assets is not None else tuple(self.source.index)

    def why_stale(self, asset: str) -> str | None:
        """None when `asset` has a fresh quote; otherwise the reason, in words."""
        if self.source.problem:
            return self.source.problem
        quote = self.source.index.get(asset)
        if quote is None:
            return f"no {asset} price from the venue yet"
        age = self.source.clock() - quote.at
        if age > self.max_age_s:
            return f"no {asset} price for {age:.0f} s"
        return None

    def step(self, t_ms: int) -> dict[str, Decimal]:
        return {a: self.source.index[a].price for a in self.wanted() if self.why_stale(a) is None}

    def mid(self, asset: str) -> Decimal | None:
        quote = self.source.mids.get(asset)
        if quote is None or self.source.problem:
            return None
        return quote.price if self.source.clock() - quote.at <= self.max_age_s else None


@dataclass(frozen=True, slots=True)
class PendingGap:
    """A market paused on `before` whose venue now says `after`, waiting for `accept_gaps()`."""

    asset: str
    market: str
    before: Decimal
    after: Decimal
    paused_ms: int  # exchange time the pause began

    @property
    def move(self) -> Decimal:
        return self.after / self.before - 1


class MirrorAttachment:
    """The mirror's scheduler job on one exchange (see the module docstring)."""

    def __init__(
        self,
        exchange: Any,
        feed: MirrorFeed,
        period_ms: int,
        *,
        use_mids: bool,
        hold_gaps: bool,
        gap_threshold: Decimal,
        job: bool = True,
    ) -> None:
        self.exchange = exchange
        self.feed = feed
        self.period_ms = period_ms
        self.use_mids = use_mids and exchange.config.mark_source == "robust"
        self.hold_gaps = hold_gaps
        self.gap_threshold = gap_threshold
        self.markets = {exchange.market(m).underlying: m for m in exchange.markets()}
        self.paused: dict[str, tuple[Decimal, int, str]] = {}  # asset -> (last price, ms, why)
        self.pending: dict[str, PendingGap] = {}
        self.gaps: list[PendingGap] = []  # every resume, applied (newest last)
        self.active = True
        self.last_ms: int | None = None  # exchange time of the latest run
        self.job = (exchange.scheduler.add_job(MIRROR_JOB, period_ms, ORDER_INDEX, self)
                    if job else None)  # fmt: skip

    def poll(self) -> bool:
        """Run now if a period of exchange time has passed since the latest run (the caller
        drives the mirror between commands: `job=False`). Returns True when it ran."""
        now = self.exchange.now_ms
        if self.last_ms is not None and now - self.last_ms < self.period_ms:
            return False
        self(now)
        return True

    def pause_all(self, why: str) -> None:
        """Pause every mirrored underlying now, at its current index, for `why` (a reopened
        store waits for the venue's first fresh quotes: their jump from the stored prices is
        then a gap like any other)."""
        for asset in self.feed.wanted():
            self._pause(asset, self.markets.get(asset), self.exchange.now_ms, why)

    def __call__(self, t_ms: int) -> None:
        if not self.active:
            return
        self.last_ms = t_ms
        fresh = self.feed.step(t_ms)
        for asset in self.feed.wanted():
            market = self.markets.get(asset)
            price = fresh.get(asset)
            if price is None:
                self._pause(asset, market, t_ms)
            elif asset in self.paused:
                self._maybe_resume(asset, market, price)
            else:
                self._apply(asset, market, price)

    @property
    def is_paused(self) -> bool:
        return bool(self.paused)

    @property
    def halted_by_us(self) -> frozenset[str]:
        """The markets whose halt is the mirror's (the exchange keeps the record)."""
        return frozenset(self.exchange.mirror_paused_markets)

    def _apply(self, asset: str, market: str | None, price: Decimal) -> None:
        """The index and the external mid, each written only when it changes."""
        ex = self.exchange
        if market is not None and self.use_mids:
            self._set_mid(market, self.feed.mid(asset))
        if asset in ex.prices:
            target = price if market is None else round_to_step(price, ex.market(market).tick)
            if ex.prices[asset] != target:
                ex.set_index_price(asset, price)

    def _set_mid(self, market: str, mid: Decimal | None) -> None:
        state = self.exchange._mark_state.get(market)
        if (state.external_mid if state is not None else None) != mid:
            self.exchange.set_external_mid(market, mid)

    def _pause(self, asset: str, market: str | None, t_ms: int, why: str | None = None) -> None:
        if asset in self.paused:
            return
        ex = self.exchange
        why = why or self.feed.why_stale(asset) or "stale"
        self.paused[asset] = (ex.prices.get(asset, Decimal(0)), t_ms, why)
        if market is None:
            return
        ex.pause_mirrored_market(market)
        self._set_mid(market, None)
        ex._emit(MarketEvent(t_ms, market, STALE_WHAT,
                             {"reason": why, "index": ex.prices.get(asset)}))  # fmt: skip

    def _maybe_resume(self, asset: str, market: str | None, price: Decimal) -> None:
        before, paused_ms, _ = self.paused[asset]
        if market is not None:  # the price that will apply: on the market's tick
            price = round_to_step(price, self.exchange.market(market).tick)
        gap = PendingGap(asset, market or asset, before, price, paused_ms)
        if self.hold_gaps and before > 0 and abs(gap.move) >= self.gap_threshold:
            announce = asset not in self.pending
            self.pending[asset] = gap  # the newest price wins until accepted
            if announce and market is not None:
                self.exchange._emit(MarketEvent(
                    self.exchange.now_ms, market, GAP_WHAT,
                    {"before": before, "after": price, "move": f"{gap.move:.2%}"}))  # fmt: skip
            return
        self._resume(gap)

    def _resume(self, gap: PendingGap) -> None:
        self.paused.pop(gap.asset, None)
        self.pending.pop(gap.asset, None)
        self.gaps.append(gap)
        market = self.markets.get(gap.asset)
        self._apply(gap.asset, market, gap.after)
        if market is None:
            return
        self.exchange.resume_mirrored_market(market)  # only the mirror's own halt is lifted
        self.exchange._emit(MarketEvent(
            self.exchange.now_ms, market, BACK_WHAT,
            {"before": gap.before, "after": gap.after, "move": f"{gap.move:.2%}"}))  # fmt: skip

    def accept_gaps(self) -> list[PendingGap]:
        """Apply every held gap now (the user saw what it does and chose to continue)."""
        applied = list(self.pending.values())
        for gap in applied:
            self._resume(gap)
        return applied

    def detach(self) -> None:
        self.active = False
        if self.job is None:
            return
        scheduler = self.exchange.scheduler
        remove = getattr(scheduler, "remove_job", None)
        if remove is not None:
            remove(self.job)
        elif self.job in getattr(scheduler, "_jobs", []):
            scheduler._jobs.remove(self.job)


def attach_mirror(
    exchange: Any,
    feed: MirrorFeed,
    period_ms: int = 1000,
    *,
    use_mids: bool = True,
    hold_gaps: bool = False,
    gap_threshold: Decimal = GAP_THRESHOLD,
    job: bool = True,
    paused: str | None = None,
) -> MirrorAttachment:
    """Drive `exchange`'s index from `feed` every `period_ms` of exchange time (order 1: the
    index first, as feeds.attach), pausing markets whose quotes go stale. Runs once at once.

    `job=False`: no scheduler job; the caller runs `poll()` between commands (required for a
    stored exchange, see the module docstring). `paused`: start with every mirrored market
    paused for this reason (a reopened store), so the first fresh quotes are a possible gap."""
    if isinstance(period_ms, bool) or not isinstance(period_ms, int) or period_ms <= 0:
        raise FeedError(f"period_ms must be a positive int, got {period_ms!r}")
    if job and getattr(exchange, "_store", None) is not None:
        raise FeedError(
            "a stored exchange replays only journaled commands, and a scheduler job's prices "
            "are not: use attach_mirror(..., job=False) and call poll() before each advance"
        )
    mirror = MirrorAttachment(exchange, feed, period_ms, use_mids=use_mids, hold_gaps=hold_gaps,
                              gap_threshold=gap_threshold, job=job)  # fmt: skip
    if paused is not None:
        mirror.pause_all(paused)
    mirror(exchange.now_ms)
    return mirror


def starting_prices(
    source: QuoteSource, assets: Iterable[str], max_age_s: float = MAX_AGE_S
) -> dict[str, Decimal]:
    """The fresh index quotes for `assets` (a paper market starts at the venue's prices, so the
    bots' first quotes are not a jump away from the first mirrored index)."""
    feed = MirrorFeed(source, assets, max_age_s=max_age_s)
    return feed.step(0)
