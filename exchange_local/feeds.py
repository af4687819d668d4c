"""Index feeds: where underlying prices come from, moved on the exchange clock.

Three sources share one interface, `PriceFeed.step(t_ms) -> {asset: Decimal}`:

- `RandomWalkFeed`: a seeded simulation (regime-switching volatility, jumps, a common crypto
  factor) so a paper market moves like a market without any network.
- `CsvReplayFeed`: recorded prices or OHLC bars replayed exactly, for scenarios and teaching.
- later, a real venue mirror: an async edge task stores the venue's latest quotes and `step`
  hands them over synchronously (the engine stays single-threaded and deterministic).

`attach(exchange, feed)` registers a scheduler job that calls `exchange.set_index_price` for each
price the feed emits. Why `step(t_ms)` and not a pure `prices_at(t_ms)`: a random walk is path
dependent (random access would mean replaying from the start), and a live venue only knows "now".
`step` promises only that it is called with non-decreasing times, which every source can keep.
Floats live only inside the random process; every emitted price is a Decimal on its tick.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, Protocol, runtime_checkable

from exchange_local.clock import MS_PER_SECOND
from exchange_local.config import ExchangeConfig
from exchange_local.errors import ExchangeError

ORDER_INDEX = 1  # scheduler order of the feed job: index first, then the mark job (order 5)
MS_PER_DAY = 86_400_000
DAYS_PER_YEAR = 365.0  # crypto trades every day; AAPL is simulated round the clock too


class FeedError(ExchangeError, ValueError):
    """A feed cannot produce prices (bad parameters, time going backwards)."""

    code = "feed_error"


class CsvFeedError(FeedError):
    """A malformed CSV: `line` is the 1-based line number in the file (0: the file as a whole)."""

    code = "csv_feed_error"

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@runtime_checkable
class PriceFeed(Protocol):
    """Anything that can say what the index prices are at exchange time `t_ms`.

    Called with non-decreasing `t_ms`; returns the assets it knows (it may omit some, e.g. a
    replay before a symbol's first row). Values are Decimals already on the asset's tick.
    """

    def step(self, t_ms: int) -> dict[str, Decimal]: ...


def _on_tick(value: float | Decimal, tick: Decimal) -> Decimal:
    """Round to a positive multiple of tick (half even); never below one tick."""
    units = (Decimal(value) / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    return max(units, Decimal(1)) * tick


# --- random walk -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDynamics:
    """Assets moving together: one volatility regime, one common factor, common jumps.

    Rates are per day. The regime is a two-state Markov chain (calm <-> turbulent); turbulence
    multiplies volatility and jump rates, which is how real markets cluster their bad days.
    """

    name: str
    to_turbulent_per_day: float
    to_calm_per_day: float
    vol_multiplier: float = 3.0
    jump_multiplier: float = 4.0
    jump_rate: float = 0.0  # common jumps per day (calm regime), hitting every member at once
    jump_mean: float = 0.0  # of the log jump size
    jump_std: float = 0.0


@dataclass(frozen=True)
class AssetDynamics:
    """One asset's walk: calm annualised vol, loading on its group's factor, own jumps.

    loading: correlation of the asset's diffusion with the group factor (two members'
    diffusive returns correlate by the product of their loadings).
    """

    symbol: str
    start: Decimal
    tick: Decimal
    vol: float
    group: str
    loading: float = 0.0
    jump_rate: float = 0.0  # idiosyncratic jumps per day (calm regime)
    jump_mean: float = 0.0
    jump_std: float = 0.0


DEFAULT_GROUPS = (
    GroupDynamics("crypto", 0.5, 4.0, 3.0, 5.0, jump_rate=1.0, jump_mean=-0.002, jump_std=0.015),
    GroupDynamics("fx", 0.1, 2.0, 2.0, 3.0, jump_rate=0.05, jump_std=0.004),
    GroupDynamics("equity", 0.2, 3.0, 2.5, 3.0, jump_rate=0.1, jump_mean=-0.002, jump_std=0.02),
)
DEFAULT_ASSETS = (
    AssetDynamics("BTC", Decimal(100000), Decimal("0.5"), 0.55, "crypto", 0.9, 0.2, 0, 0.01),
    AssetDynamics("ETH", Decimal(3000), Decimal("0.05"), 0.70, "crypto", 0.9, 0.3, 0, 0.015),
    AssetDynamics("SOL", Decimal(150), Decimal("0.001"), 0.95, "crypto", 0.8, 0.4, 0, 0.02),
    AssetDynamics("EUR", Decimal("1.08"), Decimal("0.00001"), 0.07, "fx", 1.0),
    AssetDynamics("AAPL", Decimal(230), Decimal("0.01"), 0.25, "equity", 1.0, 0.1, 0, 0.01),
)


@dataclass(frozen=True)
class WalkParams:
    """The whole process; defaults look like the real thing (annualised vols: BTC 55 %, ETH 70 %,
    SOL 95 %, EUR 7 %, AAPL 25 %, tripled or so in turbulent spells lasting hours)."""

    groups: tuple[GroupDynamics, ...] = field(default_factory=lambda: DEFAULT_GROUPS)
    assets: tuple[AssetDynamics, ...] = field(default_factory=lambda: DEFAULT_ASSETS)

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise FeedError(f"WalkParams.groups has duplicate names: {names}")
        symbols = [a.symbol for a in self.assets]
        if len(set(symbols)) != len(symbols):
            raise FeedError(f"WalkParams.assets has duplicate symbols: {symbols}")
        for g in self.groups:
            if min(g.to_turbulent_per_day, g.to_calm_per_day, g.jump_rate, g.jump_std) < 0:
                raise FeedError(f"GroupDynamics {g.name}: rates and jump_std must be >= 0")
        for a in self.assets:
            if a.symbol in ("USD", "USDC"):
                raise FeedError(f"{a.symbol} is the unit of account; its price is always 1")
            if a.group not in names:
                raise FeedError(f"AssetDynamics {a.symbol}: unknown group {a.group!r}")
            if a.start <= 0 or a.tick <= 0:
                raise FeedError(f"AssetDynamics {a.symbol}: start and tick must be > 0")
            if a.vol < 0 or not 0 <= a.loading <= 1 or min(a.jump_rate, a.jump_std) < 0:
                raise FeedError(f"AssetDynamics {a.symbol}: vol, jumps >= 0, loading in 0..1")

    def replace_starts(
        self, starts: Mapping[str, Decimal], ticks: Mapping[str, Decimal]
    ) -> WalkParams:
        """A copy with other start prices and ticks (e.g. an exchange config's)."""
        assets = tuple(
            AssetDynamics(
                a.symbol, starts.get(a.symbol, a.start), ticks.get(a.symbol, a.tick), a.vol,
                a.group, a.loading, a.jump_rate, a.jump_mean, a.jump_std,
            )
            for a in self.assets
        )  # fmt: skip
        return WalkParams(self.groups, assets)


class RandomWalkFeed:
    """A seeded jump-diffusion with Markov volatility regimes. Same seed, params and step times
    give the same prices everywhere (one `random.Random`, draws in a fixed order).

    The path depends on the step times (a 1 s and a 60 s cadence are different samples of the
    process). All state is plain data plus the RNG, so the object pickles and a restored copy
    continues exactly (the exchange snapshots it). `events` keeps the most recent regime
    switches and jumps, `(t_ms, kind, name)`, for scenarios and the TUI to show why prices moved.
    """

    def __init__(
        self,
        seed: int,
        params: WalkParams | None = None,
        *,
        assets: Iterable[str] | None = None,
        start_ms: int = 0,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FeedError("RandomWalkFeed seed must be an int")
        params = params or WalkParams()
        if assets is not None:
            wanted = list(assets)
            unknown = sorted(set(wanted) - {a.symbol for a in params.assets})
            if unknown:
                raise FeedError(f"RandomWalkFeed has no dynamics for {unknown}")
            params = WalkParams(
                params.groups, tuple(a for a in params.assets if a.symbol in wanted)
            )
        self.params = params
        self._rng = random.Random(seed)
        self.last_ms = start_ms
        self._log = {a.symbol: math.log(a.start) for a in params.assets}
        self.turbulent = {g.name: False for g in params.groups}
        self.switches = 0
        self.jumps = 0
        self.events: deque[tuple[int, str, str]] = deque(maxlen=256)
        self.prices = {a.symbol: _on_tick(a.start, a.tick) for a in params.assets}

    @classmethod
    def from_config(
        cls, config: ExchangeConfig, seed: int | None = None, params: WalkParams | None = None
    ) -> RandomWalkFeed:
        """A walk over the config's non-USD assets, starting at their prices, on their markets'
        ticks (or the asset's quantum when it has no market). Seed defaults to config.seed."""
        params = params or WalkParams()
        ticks = {a.symbol: a.quantum for a in config.assets}
        ticks.update({m.underlying: m.tick for m in config.markets})
        starts = {a.symbol: a.price for a in config.assets}
        known = [a.symbol for a in params.assets if a.symbol in starts]
        return cls(
            config.seed if seed is None else seed,
            params.replace_starts(starts, ticks),
            assets=known,
        )

    def shock(self, asset: str, fraction: Decimal) -> Decimal:
        """Move one asset's walk by `fraction` at once (-0.1: a 10 % fall) and go on from
        there, so a teacher's "price shock" is not undone by the next step. Returns the price."""
        spec = next((a for a in self.params.assets if a.symbol == asset), None)
        if spec is None:
            raise FeedError(f"the walk does not move {asset!r}")
        if fraction <= -1:
            raise FeedError(f"a shock of {fraction} would take {asset} to zero or below")
        self._log[asset] += math.log1p(float(fraction))  # the walk is float inside (feeds only)
        self.prices[asset] = _on_tick(math.exp(self._log[asset]), spec.tick)
        return self.prices[asset]

    def step(self, t_ms: int) -> dict[str, Decimal]:
        """Advance the process to `t_ms` and return every asset's price on its tick."""
        if t_ms < self.last_ms:
            raise FeedError(f"feed time cannot go backwards ({t_ms} ms < {self.last_ms} ms)")
        dt_ms = t_ms - self.last_ms
        if dt_ms:
            self._advance(t_ms, dt_ms)
            self.last_ms = t_ms
            self.prices = {
                a.symbol: _on_tick(math.exp(self._log[a.symbol]), a.tick)
                for a in self.params.assets
            }
        return dict(self.prices)

    def _advance(self, t_ms: int, dt_ms: int) -> None:
        rng = self._rng
        days = dt_ms / MS_PER_DAY
        years = days / DAYS_PER_YEAR
        factor: dict[str, tuple[float, float, float, float]] = {}
        for g in self.params.groups:
            rate = g.to_calm_per_day if self.turbulent[g.name] else g.to_turbulent_per_day
            if rng.random() < -math.expm1(-rate * days):
                self.turbulent[g.name] = not self.turbulent[g.name]
                self.switches += 1
                kind = "turbulent" if self.turbulent[g.name] else "calm"
                self.events.append((t_ms, kind, g.name))
            vol_m, jump_m = (
                (g.vol_multiplier, g.jump_multiplier) if self.turbulent[g.name] else (1.0, 1.0)
            )
            jump = self._jump(t_ms, g.name, g.jump_rate * jump_m * days, g.jump_mean, g.jump_std)
            factor[g.name] = (rng.gauss(0.0, 1.0), jump, vol_m, jump_m)
        for a in self.params.assets:
            z_common, common_jump, vol_m, jump_m = factor[a.group]
            z = a.loading * z_common + math.sqrt(1 - a.loading**2) * rng.gauss(0.0, 1.0)
            sigma = a.vol * vol_m
            own = self._jump(t_ms, a.symbol, a.jump_rate * jump_m * days, a.jump_mean, a.jump_std)
            # -sigma^2/2 keeps the diffusion a martingale in price, so there is no built-in trend
            diffusion = -0.5 * sigma * sigma * years + sigma * math.sqrt(years) * z
            self._log[a.symbol] += diffusion + common_jump + own

    def _jump(self, t_ms: int, name: str, intensity: float, mean: float, std: float) -> float:
        """At most one jump per step (Bernoulli with the Poisson probability of any jump)."""
        if intensity <= 0 or self._rng.random() >= -math.expm1(-intensity):
            return 0.0
        self.jumps += 1
        size = self._rng.gauss(mean, std)
        self.events.append((t_ms, "jump", name))
        return size


# --- CSV replay --------------------------------------------------------------------------------

PRICE_COLUMNS = frozenset({"time", "symbol", "price"})
OHLC_COLUMNS = frozenset({"time", "symbol", "open", "high", "low", "close"})
IGNORED_COLUMNS = frozenset({"volume"})


class CsvReplayFeed:
    """Replay prices from CSV; stateless, so `step` can be called at any time.

    Header (any column order; blank lines and lines starting with `#` are skipped):

    - `time,symbol,price`: exact ticks. `time` is exchange time in seconds (a decimal string,
      whole milliseconds), `price` a decimal string > 0. A symbol's price holds from its row
      until its next row; before its first row the symbol is not emitted.
    - `time,symbol,open,high,low,close[,volume]`: bars starting at `time`, each `bar_seconds`
      long (default: the smallest gap between a symbol's consecutive bars). Within a bar the
      price moves linearly through four points at 0, 1/3, 2/3 and 1 of the bar: open, the two
      extremes, close. Rule: an up bar (close >= open) goes open -> low -> high -> close, a down
      bar open -> high -> low -> close (the extreme nearest the close comes last). At the
      instant the next bar starts its open wins; after a symbol's last bar (or in a gap) the
      close holds. Interpolated values are rounded (half even) to `ticks[symbol]` if given, else
      to the finest decimal places in that bar.

    Time must not decrease from row to row, and a symbol may not repeat a time. Any problem is a
    `CsvFeedError` (a ValueError) that names the line.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        bar_seconds: Decimal | int | str | None = None,
        ticks: Mapping[str, Decimal] | None = None,
    ) -> None:
        if isinstance(source, str) and "\n" in source:
            text = source  # a string with a newline is CSV text; otherwise it names a file
        else:
            with open(source, encoding="utf-8", newline="") as fh:
                text = fh.read()
        self._ticks = dict(ticks or {})
        self._bar_ms = None if bar_seconds is None else _time_ms(str(bar_seconds), 0, "bar_seconds")
        if self._bar_ms is not None and self._bar_ms <= 0:
            raise CsvFeedError(0, "bar_seconds must be > 0")
        # per symbol: knot times, and (price, quantum, interpolate-to-next-knot) per knot
        self._times: dict[str, list[int]] = {}
        self._knots: dict[str, list[tuple[Decimal, Decimal, bool]]] = {}
        self.ohlc = False
        self._parse(text)

    @classmethod
    def from_text(cls, text: str, **kwargs: Any) -> CsvReplayFeed:
        """Explicitly from CSV text (even a single line without a newline)."""
        return cls(text if "\n" in text else text + "\n", **kwargs)

    @property
    def symbols(self) -> list[str]:
        return list(self._times)

    @property
    def end_ms(self) -> int:
        """The last instant at which the data still changes (afterwards every price holds)."""
        return max((t[-1] for t in self._times.values()), default=0)

    def _parse(self, text: str) -> None:
        rows = csv.reader(io.StringIO(text))
        header: list[str] | None = None
        last_ms: int | None = None
        last_of: dict[str, int] = {}
        bars: dict[str, list[tuple[int, int, list[Decimal]]]] = {}
        for row in rows:
            line = rows.line_num
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            cells = [c.strip() for c in row]
            if header is None:
                header = self._header(cells, line)
                continue
            if len(cells) != len(header):
                raise CsvFeedError(line, f"expected {len(header)} fields, got {len(cells)}")
            rec = dict(zip(header, cells, strict=True))
            symbol = rec["symbol"]
            if not symbol:
                raise CsvFeedError(line, "symbol is empty")
            t_ms = _time_ms(rec["time"], line, "time")
            if last_ms is not None and t_ms < last_ms:
                raise CsvFeedError(line, f"time {rec['time']} is before the previous row's")
            if last_of.get(symbol) == t_ms:
                raise CsvFeedError(line, f"{symbol} appears twice at time {rec['time']}")
            last_ms = last_of[symbol] = t_ms
            if self.ohlc:
                values = [_price(rec[k], line, k) for k in ("open", "high", "low", "close")]
                o, h, lo, c = values
                if h < max(o, c) or lo > min(o, c):
                    raise CsvFeedError(line, "need low <= open, close <= high")
                bars.setdefault(symbol, []).append((t_ms, line, values))
            else:
                price = _price(rec["price"], line, "price")
                self._times.setdefault(symbol, []).append(t_ms)
                self._knots.setdefault(symbol, []).append((price, price, False))
        if header is None:
            raise CsvFeedError(0, "no header row (expected time,symbol,price or OHLC columns)")
        for symbol, symbol_bars in bars.items():
            self._add_bars(symbol, symbol_bars)

    def _header(self, cells: list[str], line: int) -> list[str]:
        names = [c.lower() for c in cells]
        if len(set(names)) != len(names):
            raise CsvFeedError(line, f"duplicate columns in header {cells}")
        columns = set(names) - IGNORED_COLUMNS
        if columns == PRICE_COLUMNS and "volume" not in names:
            return names
        if columns == OHLC_COLUMNS:
            self.ohlc = True
            return names
        known = PRICE_COLUMNS | OHLC_COLUMNS | IGNORED_COLUMNS
        unknown = [c for c in cells if c.lower() not in known]
        detail = f"unknown columns {unknown}" if unknown else f"columns {cells}"
        raise CsvFeedError(
            line, f"{detail}; expected time,symbol,price or time,symbol,open,high,low,close"
        )

    def _add_bars(self, symbol: str, bars: list[tuple[int, int, list[Decimal]]]) -> None:
        bar_ms = self._bar_ms
        if bar_ms is None:
            gaps = [b[0] - a[0] for a, b in pairwise(bars)]
            if not gaps:
                raise CsvFeedError(bars[0][1], f"one bar of {symbol}: pass bar_seconds")
            bar_ms = min(gaps)
        times = self._times.setdefault(symbol, [])
        knots = self._knots.setdefault(symbol, [])
        for t0, line, (o, h, lo, c) in bars:
            if times and t0 < times[-1]:
                raise CsvFeedError(line, f"{symbol} bar starts before the previous bar ends")
            finest = max(_places(v) for v in (o, h, lo, c))
            quantum = self._ticks.get(symbol) or Decimal(1).scaleb(-finest)
            first, second = (lo, h) if c >= o else (h, lo)
            times += [t0, t0 + bar_ms // 3, t0 + 2 * bar_ms // 3, t0 + bar_ms]
            knots += [(o, quantum, True), (first, quantum, True), (second, quantum, True)]
            knots.append((c, quantum, False))

    def price_at(self, symbol: str, t_ms: int) -> Decimal | None:
        """The symbol's price at `t_ms` (None before its first row)."""
        times = self._times.get(symbol)
        if not times:
            return None
        i = bisect_right(times, t_ms) - 1
        if i < 0:
            return None
        price, quantum, interpolate = self._knots[symbol][i]
        if not interpolate or i + 1 >= len(times):
            return price
        t0, t1 = times[i], times[i + 1]
        nxt = self._knots[symbol][i + 1][0]
        value = price + (nxt - price) * Decimal(t_ms - t0) / Decimal(t1 - t0)
        return _on_tick(value, quantum)

    def step(self, t_ms: int) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for symbol in self._times:
            price = self.price_at(symbol, t_ms)
            if price is not None:
                out[symbol] = price
        return out


def _time_ms(text: str, line: int, name: str) -> int:
    try:
        value = Decimal(text) * MS_PER_SECOND
    except InvalidOperation:
        raise CsvFeedError(line, f"{name} {text!r} is not a decimal number of seconds") from None
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        raise CsvFeedError(line, f"{name} {text!r} must be >= 0 in whole milliseconds")
    return int(value)


def _places(value: Decimal) -> int:
    """Decimal places as written ("1.30" has two), the precision the data's author meant."""
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _price(text: str, line: int, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CsvFeedError(line, f"{name} {text!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise CsvFeedError(line, f"{name} {text!r} must be a positive number")
    return value


# --- attaching a feed to an exchange ------------------------------------------------------------


class Attachment:
    """A feed's scheduler job on one exchange. Call `detach()` to stop it.

    A class, not a closure, so the job's action pickles with the exchange (snapshots).
    """

    def __init__(self, exchange: Any, feed: PriceFeed, period_ms: int, name: str) -> None:
        self.exchange = exchange
        self.feed = feed
        self.active = True
        self.job = exchange.scheduler.add_job(name, period_ms, ORDER_INDEX, self)

    def __call__(self, t_ms: int) -> None:
        if not self.active:
            return
        for asset, price in self.feed.step(t_ms).items():
            self.exchange.set_index_price(asset, price)

    def detach(self) -> None:
        """Stop moving prices; the job leaves the scheduler (or idles if it cannot be removed)."""
        self.active = False
        scheduler = self.exchange.scheduler
        remove = getattr(scheduler, "remove_job", None)
        if remove is not None:
            remove(self.job)
        elif self.job in getattr(scheduler, "_jobs", []):
            scheduler._jobs.remove(self.job)  # clock.py has no remove_job yet


def attach(
    exchange: Any, feed: PriceFeed, period_ms: int = 1000, *, name: str = "index feed"
) -> Attachment:
    """Drive `exchange`'s index prices from `feed` every `period_ms` of exchange time.

    The job runs at order 1, before the mark job (5), stop triggers (10) and everything else,
    which is MECHANICS section 6's order: index -> mark -> triggers -> funding -> ... The feed is
    stepped once at once (at the exchange's current time) so a bad feed fails here, not in the
    middle of an `advance`.
    """
    if isinstance(period_ms, bool) or not isinstance(period_ms, int) or period_ms <= 0:
        raise FeedError(f"period_ms must be a positive int, got {period_ms!r}")
    if not isinstance(feed, PriceFeed):
        raise FeedError(f"{type(feed).__name__} has no step(t_ms) method")
    attachment = Attachment(exchange, feed, period_ms, name)
    try:
        attachment(exchange.now_ms)
    except Exception:
        attachment.detach()
        raise
    return attachment
