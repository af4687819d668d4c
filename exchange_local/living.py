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

Prices from outside (`start_living_market(seed, feed=False)`: the bots without the walk). A
price mirror (exchange_local/feeds_hyperliquid.py) must not move the index from a scheduler
job on a stored exchange: a job's calls happen inside a journaled `advance`, are not journaled
themselves, and a replayed `advance` would run without them (other prices, other bot orders).
So the mirror calls the facade between commands, each call a journaled command of its own:
`set_index_price` for the index, and the three here for what the engine has no command for:
`set_external_mid` (MECHANICS section 0's input C of the robust mark, part of the state every
mark is computed from), `pause_mirrored_market` and `resume_mirrored_market` (a halt for stale
prices that the exchange remembers, so a reopened store knows which halts the mirror may lift
and never lifts an operator's or a failed liquidation stage's). durable.py journals its own
COMMANDS; these three are journaled the same way by this mixin (`_attach_store` below) and kept
out of snapshots like them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from exchange_local.bots import BOT_PERIOD_MS, BOTS_JOB, BotSet
from exchange_local.clock import ORDER_BOTS
from exchange_local.durable import Durable
from exchange_local.errors import InvalidRequest
from exchange_local.feeds import ORDER_INDEX, RandomWalkFeed, WalkParams
from exchange_local.mark import RobustMark
from exchange_local.money import to_decimal

if TYPE_CHECKING:
    from exchange_local.store import Store

FEED_JOB = "index feed"  # feeds.attach's job name: index first (MECHANICS section 6's order)
FEED_PERIOD_MS = 1000
# journaled by LivingMarkets itself (durable.COMMANDS are Durable's): see the module docstring
MIRROR_COMMANDS = ("set_external_mid", "pause_mirrored_market", "resume_mirrored_market")


@dataclass
class LivingMarket:
    """Everything of the living market that has state; pickles with the exchange's snapshot."""

    seed: int
    feed: RandomWalkFeed | None  # None: bots only, the index is set from outside (a mirror)
    bots: BotSet


def step_feed(ex: Any, t_ms: int) -> None:
    """The feed's scheduler job: move every index the walk knows to its price at `t_ms`."""
    feed = ex._living.feed
    if feed is None:
        return
    for asset, price in feed.step(t_ms).items():
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
    _mirror_halts: frozenset[str] = frozenset()  # replaced, never mutated (a class default)

    @property
    def living_market_running(self) -> bool:
        """True once `start_living_market` has run (also after reopening its store)."""
        return self._living is not None

    @property
    def living_index_walk(self) -> bool:
        """True when the living market's own random walk moves the index (False: bots only,
        `feed=False`, or no living market)."""
        return self._living is not None and self._living.feed is not None

    def start_living_market(self, seed: int | None = None, feed: bool = True) -> bool:
        """Start the paper market: a seeded index random walk (every second) and the bots of
        `exchange_local.bots` (makers quoting from this instant, takers, trend followers, a
        leveraged crowd, backstop providers: their accounts are created and funded here).

        `seed` (default: the config's seed) fixes the walk and every bot's random stream.
        `feed=False`: the bots only, around an index set from outside by journaled
        `set_index_price` calls (a price mirror; see the module docstring). Returns True when
        started, False when a living market is already running (nothing changes). Give the
        exchange `bots.paper_config(config)` so the backstop providers are the exchange's
        backstop accounts.
        """
        if self._living is not None:
            return False
        if seed is None:
            seed = self.config.seed
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidRequest(f"seed must be an int, got {seed!r}")
        if not isinstance(feed, bool):
            raise InvalidRequest(f"feed must be True or False, got {feed!r}")
        ours = {FEED_JOB, BOTS_JOB} if feed else {BOTS_JOB}
        taken = sorted({j.name for j in self.scheduler.jobs()} & ours)
        if taken:
            raise InvalidRequest(
                f"a feed or bots are already attached to this exchange (jobs {taken}); "
                "the living market brings its own"
            )
        walk = walk_from_now(self, seed) if feed else None
        self._living = LivingMarket(seed, walk, BotSet(seed=seed))
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
        walk = self._living.feed if self._living is not None else None
        if walk is not None and spec.symbol in walk.prices:
            price = walk.shock(spec.symbol, value)
        else:
            price = self.prices[spec.symbol] * (1 + value)
        self.set_index_price(spec.symbol, price)
        return self.prices[spec.symbol]

    # --- prices from outside: a price mirror's journaled commands ----------------------------
    @property
    def mirror_paused_markets(self) -> frozenset[str]:
        """The markets `pause_mirrored_market` halted and no resume has lifted yet."""
        return self._mirror_halts

    def set_external_mid(self, market: str, price: Any = None) -> None:
        """Set MECHANICS section 0's input C of `market`'s robust mark: a mid from outside
        (another venue's perp mid, as the price mirror takes Hyperliquid's). None drops it (C
        is the fast EMA of the book again). The mark follows at its next refresh (at most a
        second later) or with the next `set_index_price`. No effect with mark_source "index"."""
        m = self._market(market)
        value = None if price is None else to_decimal(price, "price")
        if value is not None and (not value.is_finite() or value <= 0):
            raise InvalidRequest(f"price must be positive, got {value}")
        state = self._mark_state.get(m.symbol)
        if state is None:
            if value is None:
                return
            state = self._mark_state[m.symbol] = RobustMark.new()
        state.external_mid = value

    def pause_mirrored_market(self, market: str) -> bool:
        """Halt `market` (reduce-only, as `halt_market`) because its mirrored prices are stale,
        and remember that this halt is the mirror's. Returns False when the market was already
        halted (then the halt is not the mirror's, unless it already was)."""
        m = self._market(market)
        if not self.halt_market(m.symbol):
            return False
        self._mirror_halts = self._mirror_halts | {m.symbol}
        return True

    def resume_mirrored_market(self, market: str) -> bool:
        """Lift the mirror's own halt of `market` (its prices are fresh again). Returns False,
        changing nothing else, when the halt is not the mirror's; a settled market, or one
        stopped by a broken invariant, stays closed (the mirror forgets its halt, False)."""
        m = self._market(market)
        if m.symbol not in self._mirror_halts:
            return False
        self._mirror_halts = self._mirror_halts - {m.symbol}
        if m.settled or self.halted_reasons:
            return False
        return self.resume_market(m.symbol)

    # --- jobs, journal, snapshots -------------------------------------------------------------
    def _add_living_jobs(self) -> None:
        add = self.scheduler.add_job
        assert self._living is not None
        if self._living.feed is not None:
            add(FEED_JOB, FEED_PERIOD_MS, ORDER_INDEX, partial(step_feed, self))
        add(BOTS_JOB, BOT_PERIOD_MS, ORDER_BOTS, partial(step_bots, self))

    def _restore_jobs(self) -> None:
        super()._restore_jobs()
        if self._living is not None:
            self._add_living_jobs()

    def _attach_store(self, store: Store) -> None:
        super()._attach_store(store)
        for name in MIRROR_COMMANDS:  # as Durable wraps its COMMANDS (replay calls by name)
            setattr(self, name, self._journaled(name, getattr(type(self), name)))

    def _snapshot_state(self) -> dict[str, Any]:
        state = super()._snapshot_state()
        for name in MIRROR_COMMANDS:  # the journaling wrappers: not state
            state.pop(name, None)
        return state
