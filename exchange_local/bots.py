"""Bots that keep a paper market alive, trading only through the public facade.

Why only the facade: bots are the first "users" of the exchange; if they need a back door the
facade is incomplete. Why seeded `random.Random` per bot, derived from one master seed: the
same config + seed gives the same ledger byte for byte, and the exchange can pickle the bots'
random state in its snapshots. Why floats inside decisions: it is a simulation; every number
that crosses the facade is turned into a Decimal on the market's tick or lot grid first.

Every refusal is an `ExchangeError`; a bot catches it and adapts (smaller size, skip a level,
try again later). A bot never brings the exchange's clock down.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from functools import partial
from typing import Any

from exchange_local.clock import ORDER_BOTS
from exchange_local.config import ExchangeConfig
from exchange_local.errors import ExchangeError, InsufficientMargin

BOT_PERIOD_MS = 1000
BOTS_JOB = "bots"  # the scheduler job's name (snapshots save due times by job name)


# --- parameters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MakerParams:
    """A ladder of `levels` per side; level i sits half_spread + i * step (bps) from the centre.

    The centre is the index shifted against inventory by up to `skew_bps` (at a full
    `max_inventory_usd` position): a crowd that is long leaves the maker short, its quotes rise
    above the index and the premium, hence funding, rises, as on a real venue. Defaults give 30
    levels within 0.85 % of the centre (>= 20 within 1 % of the index even at full skew).
    fast_move: an index move (fraction over `fast_window_s`) that counts as a fast market: the
    ladder is pulled and re-laid wider and thinner, by 2x, 3x (up to `max_widen`).
    refill_fraction: a resting level is topped up once less than this fraction of it is left.
    """

    levels: int = 30
    half_spread_bps: float = 2.0
    step_bps: float = 2.8
    level_usd: float = 15_000.0
    depth_growth: float = 0.08
    skew_bps: float = 40.0
    max_inventory_usd: float = 1_000_000.0
    fast_move: float = 0.004
    fast_window_s: int = 5
    max_widen: float = 3.0
    refill_fraction: float = 0.4
    capital_usd: int = 20_000_000


@dataclass(frozen=True)
class TakerParams:
    """Noise takers: market / IOC orders every `mean_interval_s` on average (exponential).

    premium_lean: extra probability of selling per basis point the mid sits above the index
    (the arbitrage that keeps a perp near its index, in its simplest form).
    """

    count: int = 3
    mean_interval_s: float = 3.0
    median_usd: float = 8_000.0
    size_sigma: float = 0.8
    ioc_fraction: float = 0.3
    premium_lean: float = 0.01
    max_position_usd: float = 400_000.0
    capital_usd: int = 2_000_000


@dataclass(frozen=True)
class TrendParams:
    """Trend followers: long when the fast EMA is above the slow EMA by `threshold`, else short."""

    count: int = 2
    fast_s: float = 20.0
    slow_s: float = 120.0
    threshold: float = 0.0005
    target_usd: float = 200_000.0
    chunk_usd: float = 25_000.0
    interval_s: int = 5
    capital_usd: int = 2_000_000


@dataclass(frozen=True)
class CrowdParams:
    """Leveraged retail: each account picks a leverage in [min, max] and a side, then opens.

    long_fraction of them go long. After a liquidation an account waits `reopen_after_s`,
    tops its collateral back up and opens again, so later crashes still find victims.
    """

    count: int = 20
    min_leverage: int = 2
    max_leverage: int = 20
    capital_usd: int = 10_000
    use_fraction: float = 0.9
    long_fraction: float = 0.7
    open_within_s: int = 30
    reopen_after_s: int = 300


@dataclass(frozen=True)
class BackstopParams:
    """Backstop liquidity providers: well-funded accounts named in the exchange config."""

    count: int = 2
    capital_usd: int = 5_000_000
    prefix: str = "bot-blp"


@dataclass(frozen=True)
class BotParams:
    """Everything the bot population needs; `markets` empty means every market of the exchange.

    The crowd, takers and trend followers trade `crowd_market` and each of `markets` alike;
    makers quote every market so each has a book.
    """

    markets: tuple[str, ...] = ()
    maker: MakerParams = field(default_factory=MakerParams)
    taker: TakerParams = field(default_factory=TakerParams)
    trend: TrendParams = field(default_factory=TrendParams)
    crowd: CrowdParams = field(default_factory=CrowdParams)
    backstop: BackstopParams = field(default_factory=BackstopParams)
    crowd_market: str = "BTC-PERP"


def backstop_names(params: BotParams | None = None) -> tuple[str, ...]:
    """The account names to put in `ExchangeConfig.backstop_accounts` (before creating it)."""
    p = (params or BotParams()).backstop
    return tuple(f"{p.prefix}-{i}" for i in range(p.count))


def paper_config(
    config: ExchangeConfig | None = None, params: BotParams | None = None
) -> ExchangeConfig:
    """`config` (default: the default config) with the bots' backstop accounts added."""
    base = config or ExchangeConfig()
    names = tuple(dict.fromkeys(base.backstop_accounts + backstop_names(params)))
    return base.replace(backstop_accounts=names)


# --- helpers ---------------------------------------------------------------------------------


def _lots(ex: Any, market: str, usd: float) -> Decimal:
    """A USD notional as a whole number of lots at the mark (at least zero)."""
    ms = ex.market(market)
    units = math.floor(usd / float(ms.mark) / float(ms.lot))
    return Decimal(max(units, 0)) * ms.lot


def _position(ex: Any, account: str, market: str) -> Decimal:
    for p in ex.positions(account):
        if p.market == market:
            return p.size
    return Decimal(0)


class Bot:
    """One account and one seeded random stream; `step(ex, t_ms)` runs once per bot tick."""

    def __init__(self, name: str, rng: random.Random, capital_usd: int) -> None:
        self.name = name
        self.rng = rng
        self.capital_usd = capital_usd
        self.errors = 0  # refusals seen (for reports; never fatal)

    def setup(self, ex: Any) -> None:
        """Create and fund the account (idempotent: a restored exchange already has it)."""
        if self.name not in ex.accounts():
            ex.create_account(self.name)
            ex.deposit(self.name, "USD", Decimal(self.capital_usd))

    def step(self, ex: Any, t_ms: int) -> None:
        raise NotImplementedError

    def _try(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the facade; a refusal is counted and returns None (the bot adapts next tick)."""
        try:
            return fn(*args, **kwargs)
        except ExchangeError:
            self.errors += 1
            return None


class MarketMaker(Bot):
    """Quotes a ladder around the index with inventory skew; widens and thins in fast markets.

    Why a price grid: the ladder's prices are multiples of one step, so when the centre moves
    by k steps only k levels per side change (cancel at one end, place at the other) and the
    rest keep their queue place. A re-sent 60-order ladder every second would dominate the
    simulation's cost; a quiet market costs a handful of calls per tick.
    """

    def __init__(self, name: str, rng: random.Random, market: str, params: MakerParams) -> None:
        super().__init__(name, rng, params.capital_usd)
        self.market = market
        self.p = params
        self.marks: deque[float] = deque(maxlen=params.fast_window_s + 1)
        self.quotes: dict[str, dict[int, int]] = {"buy": {}, "sell": {}}  # price ticks -> id
        self.grid = 0  # the grid step in ticks the live quotes were placed on

    def step(self, ex: Any, t_ms: int) -> None:
        ms = ex.market(self.market)
        # anchor on the index, not the mark: with the robust mark following the book, quoting
        # around the mark would let inventory skew walk the mark away from the index
        index, tick, lot = float(ms.index), float(ms.tick), ms.lot
        self.marks.append(index)
        move = abs(index / self.marks[0] - 1.0)
        # widen in coarse buckets so the grid stays put unless the market really is fast
        widen = min(self.p.max_widen, float(math.floor(1.0 + move / self.p.fast_move)))
        pos_usd = float(_position(ex, self.name, self.market)) * index
        inv = max(-1.0, min(1.0, pos_usd / self.p.max_inventory_usd))
        centre = index * (1.0 - inv * self.p.skew_bps / 10_000.0) / tick  # in ticks
        half = max(1.0, index * self.p.half_spread_bps / 10_000.0 * widen / tick)
        grid = max(1, round(index * self.p.step_bps / 10_000.0 * widen / tick))
        live = {o.order_id: o for o in ex.open_orders(self.name, self.market)}
        if grid != self.grid:  # a new grid (fast market or a big index change): start over
            if live:
                self._try(ex.cancel_all, self.name, self.market)
            live, self.quotes, self.grid = {}, {"buy": {}, "sell": {}}, grid
        top_bid = math.floor((centre - half) / grid) * grid
        top_ask = math.ceil((centre + half) / grid) * grid
        wanted: dict[str, dict[int, float]] = {}
        for side, sign, top in (("buy", -1, top_bid), ("sell", 1, top_ask)):
            # long inventory: bigger asks, smaller bids (and the reverse); none past the limit
            mult = max(0.1, 1.0 + sign * inv) / widen
            if abs(inv) >= 1.0 and (inv > 0) == (sign < 0):
                mult = 0.0
            wanted[side] = {
                top + sign * level * grid: self.p.level_usd
                * (1.0 + level * self.p.depth_growth)
                * mult
                for level in range(self.p.levels)
                if mult > 0 and top + sign * level * grid > 0
            }
        # cancels first (both sides), so a new bid never meets our own stale ask
        for side in ("buy", "sell"):
            book = self.quotes[side]
            for ticks, oid in list(book.items()):
                order = live.get(oid)
                if order is None:
                    del book[ticks]  # filled or canceled by the exchange
                elif ticks not in wanted[side]:
                    self._try(ex.cancel_order, self.name, oid)
                    del book[ticks]
        for side in ("buy", "sell"):
            book = self.quotes[side]
            for ticks, usd in wanted[side].items():
                price = Decimal(ticks) * ms.tick
                current = book.get(ticks)
                if current is not None:
                    order = live[current]
                    if (
                        float(order.size - order.filled) * ticks * tick
                        >= self.p.refill_fraction * usd
                    ):
                        continue  # close enough: keep its place in the queue
                    self._try(ex.cancel_order, self.name, current)
                    del book[ticks]
                jitter = 0.8 + 0.4 * self.rng.random()
                size = Decimal(max(1, math.floor(usd * jitter / (ticks * tick) / float(lot))))
                result = self._try(
                    ex.place_order, self.name, self.market, side, size * lot, price,
                    post_only=True,
                )  # fmt: skip
                if result is not None and result.status.value in ("open", "partially_filled"):
                    book[ticks] = result.order_id


class NoiseTaker(Bot):
    """Random market or IOC orders of lognormal size at exponential intervals.

    Leans against its own position beyond `max_position_usd` so it does not drift to a limit.
    """

    def __init__(
        self, name: str, rng: random.Random, markets: tuple[str, ...], params: TakerParams
    ) -> None:
        super().__init__(name, rng, params.capital_usd)
        self.markets = markets
        self.p = params
        self.next_ms = 0

    def step(self, ex: Any, t_ms: int) -> None:
        if t_ms < self.next_ms:
            return
        self.next_ms = t_ms + int(1000 * self.rng.expovariate(1.0 / self.p.mean_interval_s))
        market = self.rng.choice(self.markets)
        ms = ex.market(market)
        pos_usd = float(_position(ex, self.name, market)) * float(ms.mark)
        lean = pos_usd / self.p.max_position_usd * 0.4
        if ms.best_bid is not None and ms.best_ask is not None:
            premium_bps = float((ms.best_bid + ms.best_ask) / 2 / ms.index - 1) * 10_000.0
            lean += premium_bps * self.p.premium_lean
        lean = max(-0.4, min(0.4, lean))
        side = "sell" if self.rng.random() < 0.5 + lean else "buy"
        usd = self.p.median_usd * math.exp(self.rng.gauss(0.0, self.p.size_sigma))
        size = _lots(ex, market, usd)
        if size <= 0:
            return
        if self.rng.random() < self.p.ioc_fraction:
            best = ms.best_ask if side == "buy" else ms.best_bid
            if best is None:
                return
            self._try(ex.place_order, self.name, market, side, size, best, tif="ioc")
        else:
            self._try(ex.place_order, self.name, market, side, size, type="market")


class TrendFollower(Bot):
    """Trades toward a long (short) target while a fast EMA of the mark is above (below) a slow
    one: the momentum that turns a dip into a move, and a crash into a cascade."""

    def __init__(self, name: str, rng: random.Random, market: str, params: TrendParams) -> None:
        super().__init__(name, rng, params.capital_usd)
        self.market = market
        self.p = params
        self.fast: float | None = None
        self.slow: float | None = None
        self.phase = rng.randrange(params.interval_s)

    def step(self, ex: Any, t_ms: int) -> None:
        mark = float(ex.market(self.market).mark)
        if self.fast is None or self.slow is None:
            self.fast = self.slow = mark
        self.fast += (mark - self.fast) / self.p.fast_s
        self.slow += (mark - self.slow) / self.p.slow_s
        if (t_ms // 1000) % self.p.interval_s != self.phase:
            return
        signal = self.fast / self.slow - 1.0
        target = 0.0
        if signal > self.p.threshold:
            target = self.p.target_usd
        elif signal < -self.p.threshold:
            target = -self.p.target_usd
        pos_usd = float(_position(ex, self.name, self.market)) * mark
        gap = target - pos_usd
        if abs(gap) < self.p.chunk_usd / 2:
            return
        usd = min(abs(gap), self.p.chunk_usd * (0.5 + self.rng.random()))
        size = _lots(ex, self.market, usd)
        if size > 0:
            side = "buy" if gap > 0 else "sell"
            self._try(ex.place_order, self.name, self.market, side, size, type="market")


class LeveragedCrowd(Bot):
    """N retail accounts at leverage 2x..20x; a crash liquidates the most leveraged first.

    One Bot object drives all N accounts (they share one random stream) because they are one
    behaviour with varied parameters, and one object keeps the step loop cheap.
    """

    def __init__(self, name: str, rng: random.Random, market: str, params: CrowdParams) -> None:
        super().__init__(name, rng, params.capital_usd)
        self.market = market
        self.p = params
        self.members: list[dict[str, Any]] = []
        for i in range(params.count):
            self.members.append({
                "account": f"{name}-{i}",
                "leverage": rng.randint(params.min_leverage, params.max_leverage),
                "long": rng.random() < params.long_fraction,
                "open_at": 1000 * rng.randrange(1, params.open_within_s + 1),
                "had_position": False,
            })  # fmt: skip

    def setup(self, ex: Any) -> None:
        existing = set(ex.accounts())
        for m in self.members:
            acct = m["account"]
            if acct in existing:
                continue
            ex.create_account(acct)
            ex.deposit(acct, "USD", Decimal(self.p.capital_usd))
            self._try(ex.set_leverage, acct, self.market, Decimal(m["leverage"]))

    def step(self, ex: Any, t_ms: int) -> None:
        for m in self.members:
            if t_ms < m["open_at"]:
                continue
            acct = m["account"]
            if _position(ex, acct, self.market) != 0:
                m["had_position"] = True
                continue
            if m["had_position"]:  # liquidated (or closed): come back later, topped up
                m["had_position"] = False
                m["open_at"] = t_ms + 1000 * self.p.reopen_after_s
                continue
            self._open(ex, m)
            m["open_at"] = t_ms + 1000 * self.rng.randrange(5, 30)  # retry if it did not fill

    def _open(self, ex: Any, m: dict[str, Any]) -> None:
        acct = m["account"]
        balance = ex.balances(acct).get("USD", Decimal(0))
        if balance < self.p.capital_usd // 2:
            self._try(ex.deposit, acct, "USD", Decimal(self.p.capital_usd) - max(balance, 0))
            balance = ex.balances(acct).get("USD", Decimal(0))
        usd = float(balance) * m["leverage"] * self.p.use_fraction
        size = _lots(ex, self.market, usd)
        side = "buy" if m["long"] else "sell"
        for _ in range(3):
            if size <= 0:
                return
            try:
                ex.place_order(acct, self.market, side, size, type="market")
                return
            except InsufficientMargin as exc:
                self.errors += 1
                best = getattr(exc, "max_size", None)
                lot = ex.market(self.market).lot
                size = best if isinstance(best, Decimal) and best < size else size / 2
                size = (size / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
            except ExchangeError:
                self.errors += 1
                return


class BackstopProvider(Bot):
    """A well-funded account named in `backstop_accounts`: the exchange hands it liquidations
    automatically, so its step does nothing."""

    def step(self, ex: Any, t_ms: int) -> None:
        return None


# --- the population --------------------------------------------------------------------------


class BotSet:
    """Builds every bot from params + one master seed; `attach(ex)` runs them once a second.

    Bots step in a fixed order (makers, takers, trend, crowd) so a run is reproducible; makers
    go first so takers meet a fresh book.
    """

    def __init__(self, params: BotParams | None = None, seed: int = 1) -> None:
        self.params = params or BotParams()
        self.seed = seed
        self.bots: list[Bot] = []
        self.markets: tuple[str, ...] = self.params.markets
        self.attached = False

    def _rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")  # str seeds hash with sha512: stable

    def _build(self, markets: tuple[str, ...]) -> None:
        p = self.params
        bots: list[Bot] = []
        for mk in markets:
            bots.append(MarketMaker(f"bot-mm-{mk}", self._rng(f"mm-{mk}"), mk, p.maker))
        for i in range(p.taker.count):
            name = f"bot-taker-{i}"
            bots.append(NoiseTaker(name, self._rng(name), markets, p.taker))
        for i in range(p.trend.count):
            name = f"bot-trend-{i}"
            mk = markets[i % len(markets)]
            bots.append(TrendFollower(name, self._rng(name), mk, p.trend))
        if p.crowd.count and p.crowd_market in markets:
            bots.append(LeveragedCrowd("bot-crowd", self._rng("crowd"), p.crowd_market, p.crowd))
        for name in backstop_names(p):
            bots.append(BackstopProvider(name, self._rng(name), p.backstop.capital_usd))
        self.bots = bots

    def attach(self, ex: Any) -> None:
        """Create and fund the accounts, quote once, and register the one bot job."""
        if self.attached:
            return
        self.start(ex)
        # the job holds the exchange, the BotSet does not: the BotSet stays picklable on its own
        ex.scheduler.add_job(BOTS_JOB, BOT_PERIOD_MS, ORDER_BOTS, partial(self.step, ex))

    def start(self, ex: Any) -> None:
        """Everything `attach` does but register the job: for an owner that registers the job
        itself and re-registers it after a restore (exchange_local/living.py)."""
        if self.attached:
            return
        self.markets = self.params.markets or tuple(ex.markets())
        self._build(self.markets)
        for bot in self.bots:
            bot.setup(ex)
        for bot in self.bots:  # a book from the first instant, not from the first tick
            if isinstance(bot, MarketMaker):
                bot._try(bot.step, ex, ex.now_ms)
        self.attached = True

    def step(self, ex: Any, t_ms: int) -> None:
        """The scheduler job: every bot in order; a refusal never escapes a bot."""
        for bot in self.bots:
            try:
                bot.step(ex, t_ms)
            except ExchangeError:
                bot.errors += 1

    def accounts(self) -> list[str]:
        names: list[str] = []
        for bot in self.bots:
            if isinstance(bot, LeveragedCrowd):
                names.extend(m["account"] for m in bot.members)
            else:
                names.append(bot.name)
        return names
