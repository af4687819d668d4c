"""The living market (a seeded index walk and the bots) as part of the exchange's own state, so
it survives a restart: `ex.start_living_market(seed)`, `ex.living_market_running`.

Why not `feeds.attach` + `BotSet.attach` (which still work, for scenarios and tests): their
scheduler jobs hold the exchange, and a snapshot saves the scheduler as due times only (its
callbacks are rebuilt, never pickled). A reopened store then had a dead market, and replaying a
journaled `advance` without the bots gave another state (other order ids, so replay broke).

Here the feed and the bots live in one picklable `LivingMarket` kept in the exchange's
`__dict__`, so every snapshot carries their random state. It holds no reference to the
exchange (that would pull the SQLite connection into the pickle): its two jobs are
`partial(step_feed, exchange)` and `partial(step_bots, exchange)`, which find the market through
the exchange at each call. They are registered when the market starts and again when a snapshot
is restored, before the saved due times are applied. `start_living_market` is a journaled
command: replaying it rebuilds the same market (accounts, funding, first quotes) exactly, and
an `advance` replayed after it runs the same bots, so replay reproduces their activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from exchange_local.bots import BOT_PERIOD_MS, BOTS_JOB, BotSet
from exchange_local.clock import ORDER_BOTS
from exchange_local.durable import Durable
from exchange_local.errors import InvalidRequest
from exchange_local.feeds import ORDER_INDEX, RandomWalkFeed, WalkParams
from exchange_local.money import to_decimal

FEED_JOB = "index feed"  # feeds.attach's job name: index first (MECHANICS section 6's order)
FEED_PERIOD_MS = 1000


@dataclass
class LivingMarket:
    """Everything of the living market that has state; pickles with the exchange's snapshot."""

    seed: int
    feed: RandomWalkFeed
    bots: BotSet


def step_feed(ex: Any, t_ms: int) -> None:
    """The feed's scheduler job: move every index the walk knows to its price at `t_ms`."""
    for asset, price in ex._living.feed.step(t_ms).items():
        ex.set_index_price(asset, price)


def step_bots(ex: Any, t_ms: int) -> None:
    """The bots' scheduler job: every bot in its fixed order."""
    ex._living.bots.step(ex, t_ms)


def walk_from_now(ex: Any, seed: int) -> RandomWalkFeed:
    """`RandomWalkFeed.from_config`, but starting at the exchange's current index prices and
    time: a market started late in an exchange's life goes on from where the prices are (at
    time 0 of a fresh exchange that is the config's walk exactly)."""
    params = WalkParams()
    ticks = {a.symbol: a.quantum for a in ex.config.assets}
    ticks.update({m.underlying: m.tick for m in ex.config.markets})
    starts = dict(ex.prices)
    known = [a.symbol for a in params.assets if a.symbol in starts]
    return RandomWalkFeed(
        seed, params.replace_starts(starts, ticks), assets=known, start_ms=ex.now_ms
    )


class LivingMarkets(Durable):
    """Mixed into Exchange: the living market as a journaled, snapshotted part of the state."""

    _living: LivingMarket | None = None

    @property
    def living_market_running(self) -> bool:
        """True once `start_living_market` has run (also after reopening its store)."""
        return self._living is not None

    def start_living_market(self, seed: int | None = None) -> bool:
        """Start the paper market: a seeded index random walk (every second) and the bots of
        `exchange_local.bots` (makers quoting from this instant, takers, trend followers, a
        leveraged crowd, backstop providers: their accounts are created and funded here).

        `seed` (default: the config's seed) fixes the walk and every bot's random stream.
        Returns True when started, False when a living market is already running (nothing
        changes). Give the exchange `bots.paper_config(config)` so the backstop providers are
        the exchange's backstop accounts.
        """
        if self._living is not None:
            return False
        if seed is None:
            seed = self.config.seed
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidRequest(f"seed must be an int, got {seed!r}")
        taken = sorted({j.name for j in self.scheduler.jobs()} & {FEED_JOB, BOTS_JOB})
        if taken:
            raise InvalidRequest(
                f"a feed or bots are already attached to this exchange (jobs {taken}); "
                "the living market brings its own"
            )
        self._living = LivingMarket(seed, walk_from_now(self, seed), BotSet(seed=seed))
        step_feed(self, self.now_ms)  # as feeds.attach: the index is the walk's from now on
        self._living.bots.start(self)
        self._add_living_jobs()
        return True

    def shock_index(self, asset: str, fraction: Any) -> Decimal:
        """Move an underlying's index by `fraction` at once (-0.1 = a 10 % fall), for teaching
        and for stress-testing a paper account. With the living market running, its walk goes
        on from the new price (the next second does not undo the shock). Returns the index."""
        value = to_decimal(fraction, "fraction")
        if not -1 < value <= 10:
            raise InvalidRequest(f"fraction must be above -1 and at most 10, got {value}")
        if isinstance(asset, str) and asset in self._markets:
            asset = self._markets[asset].spec.underlying
        spec = self._asset(asset)
        if self._living is not None and spec.symbol in self._living.feed.prices:
            price = self._living.feed.shock(spec.symbol, value)
        else:
            price = self.prices[spec.symbol] * (1 + value)
        self.set_index_price(spec.symbol, price)
        return self.prices[spec.symbol]

    def _add_living_jobs(self) -> None:
        add = self.scheduler.add_job
        add(FEED_JOB, FEED_PERIOD_MS, ORDER_INDEX, partial(step_feed, self))
        add(BOTS_JOB, BOT_PERIOD_MS, ORDER_BOTS, partial(step_bots, self))

    def _restore_jobs(self) -> None:
        super()._restore_jobs()
        if self._living is not None:
            self._add_living_jobs()
