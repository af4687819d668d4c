"""Paper trading on real prices: the local paper exchange, its bots providing liquidity, and its
index mirrored from Hyperliquid (`perptui --prices hyperliquid`).

The edge (`HyperliquidPriceSource`) keeps one WebSocket: `allMids` (every block) gives each
coin's perp mid, MECHANICS section 0's input C of the robust mark, and proves the connection
alive; `activeAssetCtx` per mirrored coin gives `oraclePx`, Hyperliquid's spot index, which
becomes our index. Both land in exchange_local's `QuoteBoard`; the exchange reads it on its own
clock through `exchange_local.feeds_hyperliquid` (no network inside the engine).

When the quotes stop (a disconnect, an error, silence) the mirrored markets go reduce-only
and the header says so; when they come back with a jump of 0.5 % or more, the jump is held
(`pending_gap()`): `gap_impact()` says what it would do to the account, and the user chooses
`accept_gap()` (continue: the jump applies) or `reset()` (a fresh paper exchange at today's
prices). Everything else is LocalVenue.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from exchange_local import Exchange, ExchangeConfig
from exchange_local.bots import BotSet, paper_config
from exchange_local.config import AssetSpec
from exchange_local.feeds_hyperliquid import (
    GAP_THRESHOLD,
    MAX_AGE_S,
    MirrorAttachment,
    MirrorFeed,
    QuoteBoard,
    attach_mirror,
    starting_prices,
)
from perptui import format as fmt
from perptui.stress import STATUS_WORDS, StressCell
from perptui.venues import hyperliquid_wire as hw
from perptui.venues.base import (
    ClockInfo,
    Connection,
    Decision,
    TradingDisabled,
    VenueSnapshot,
)
from perptui.venues.hyperliquid_risk import GapImpact, gap_impact
from perptui.venues.hyperliquid_stream import HyperliquidStream
from perptui.venues.local import LocalVenue

COINS = ("BTC", "ETH", "SOL")  # the paper exchange's markets that Hyperliquid also lists
FIXED_CLOCK = "prices come from Hyperliquid in real time: the paper clock cannot be changed"


class HyperliquidPriceSource:
    """Hyperliquid's stream into a QuoteBoard. `index_from`: "oracle" (HL's spot index, the
    default) or "mid" (the perp mid; when a venue has no oracle)."""

    def __init__(
        self,
        coins: tuple[str, ...] = COINS,
        testnet: bool = False,
        base_url: str | None = None,
        ws_url: str | None = None,
        *,
        index_from: str = "oracle",
        board: QuoteBoard | None = None,
        **stream_options: Any,
    ) -> None:
        if index_from not in ("oracle", "mid"):
            raise ValueError(f"index_from must be 'oracle' or 'mid', got {index_from!r}")
        base = (base_url or (hw.TESTNET_API if testnet else hw.MAINNET_API)).rstrip("/")
        self.coins = coins
        self.index_from = index_from
        self.board = board or QuoteBoard()
        self.oracle: dict[str, Decimal] = {}
        self.stream = HyperliquidStream(ws_url or hw.ws_url_for(base), self._on_message,
                                        **stream_options)  # fmt: skip

    async def start(self) -> None:
        self.stream.subscribe({"type": "allMids"})
        if self.index_from == "oracle":
            for coin in self.coins:
                self.stream.subscribe({"type": "activeAssetCtx", "coin": coin})
        self.stream.start()

    async def stop(self) -> None:
        await self.stream.stop()

    def connection(self) -> Connection:
        return self.stream.connection()

    def _on_message(self, channel: str, data: Any) -> None:
        if channel == "allMids" and isinstance(data, dict):
            raw = data.get("mids") or {}
            mids = {c: p for c in self.coins if (p := hw.dec(raw.get(c))) is not None}
            self.board.put_mids(mids)
            if self.index_from == "mid":
                self.board.put_index(mids)
            elif self.oracle:
                self.board.put_index(self.oracle)  # alive: the latest oracle is still current
        elif channel == "activeAssetCtx" and isinstance(data, dict):
            coin, ctx = data.get("coin"), data.get("ctx") or {}
            oracle = hw.dec(ctx.get("oraclePx"))
            if coin in self.coins and oracle is not None:
                self.oracle[str(coin)] = oracle
                self.board.put_index({str(coin): oracle})


def mirror_exchange(prices: dict[str, Decimal], seed: int = 1) -> Exchange:
    """A paper exchange (bots' backstop accounts included) whose assets start at `prices`."""
    base = ExchangeConfig(seed=seed)
    assets = tuple(
        AssetSpec(a.symbol, a.weight_total, a.weight_initial, a.size_factor, a.decimals,
                  prices.get(a.symbol, a.price), a.circulating_supply, a.collateral)
        for a in base.assets
    )  # fmt: skip
    return Exchange(paper_config(base.replace(assets=assets)))


class MirrorVenue(LocalVenue):
    """LocalVenue on mirrored prices (in memory: a stored market would replay without the
    mirror). `source` is anything with `board`, `start()`, `stop()` and `connection()`."""

    def __init__(
        self,
        source: HyperliquidPriceSource,
        *,
        seed: int = 1,
        clock: str = "real",
        max_age_s: float = MAX_AGE_S,
        hold_gaps: bool = True,
        gap_threshold: Decimal = GAP_THRESHOLD,
        first_prices_s: float = 15.0,
        name: str = "PAPER · HL prices",
    ) -> None:
        super().__init__(None, clock=clock, seed=seed, living=False, name=name)
        self.source = source
        self.max_age_s = max_age_s
        self.hold_gaps = hold_gaps
        self.gap_threshold = gap_threshold
        self.first_prices_s = first_prices_s
        self.mirror: MirrorAttachment | None = None
        self._announced: set[str] = set()

    async def start(self) -> None:
        await self.source.start()
        prices = await self._first_prices()
        self.ex = self._build(prices)
        await super().start()

    def _build(self, prices: dict[str, Decimal]) -> Exchange:
        ex = mirror_exchange(prices, self.seed)
        coins = [c for c in self.source.coins if c in ex.prices]
        feed = MirrorFeed(self.source.board, coins, max_age_s=self.max_age_s)
        self.mirror = attach_mirror(ex, feed, hold_gaps=self.hold_gaps,
                                    gap_threshold=self.gap_threshold)  # fmt: skip
        BotSet(seed=self.seed).attach(ex)
        return ex

    async def _first_prices(self) -> dict[str, Decimal]:
        end = time.monotonic() + self.first_prices_s
        while True:
            prices = starting_prices(self.source.board, self.source.coins, self.max_age_s)
            if len(prices) == len(self.source.coins):
                return prices
            if time.monotonic() > end:
                missing = sorted(set(self.source.coins) - set(prices))
                raise hw.HyperliquidUnavailable(
                    f"no Hyperliquid price for {', '.join(missing)} within "
                    f"{self.first_prices_s:.0f} s ({self.source.stream.problem or 'no answer'})"
                )
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        await self.source.stop()
        await super().stop()

    # --- the header, notices ----------------------------------------------------------------
    def connection(self) -> Connection:
        conn = self.source.connection()
        mirror = self.mirror
        if mirror is None or conn.state == "reconnecting":
            return conn
        if mirror.pending:
            return Connection("paused", conn.latency_ms)
        if mirror.paused:
            quotes = self.source.board.index.values()
            newest = max((q.at for q in quotes), default=None)
            age = self.source.board.clock() - newest if newest is not None else 0.0
            return Connection("stale", conn.latency_ms, conn.attempts, age)
        return conn

    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot:
        snap = await super().snapshot(market, candle_interval)
        snap.connection = self.connection()
        clock = snap.clock
        snap.clock = ClockInfo(clock.now_ms, clock.speed, clock.paused, adjustable=False)
        return snap

    def take_notice(self) -> str | None:
        mirror = self.mirror
        if mirror is None:
            return None
        new = sorted(set(mirror.pending) - self._announced)
        self._announced = set(mirror.pending)
        if not new:
            return None
        moves = ", ".join(f"{a} {mirror.pending[a].move:+.2%}" for a in new)
        return (f"Hyperliquid prices are back with a jump ({moves}); the market stays "
                "reduce-only until you apply it or reset")  # fmt: skip

    # --- the gap ------------------------------------------------------------------------------
    def pending_gap(self) -> GapImpact | None:
        """What applying the held prices would do to the paper account (None: no gap held)."""
        mirror, ex = self.mirror, self.ex
        if mirror is None or ex is None or not mirror.pending:
            return None
        old = {a: g.before for a, g in mirror.pending.items()}
        new = {a: g.after for a, g in mirror.pending.items()}
        markets = {m: ex.market(m) for m in ex.markets()}
        return gap_impact(ex.health(self.account), markets, old, new)

    def pending_decision(self) -> Decision | None:
        impact = self.pending_gap()
        if impact is None:
            return None
        return Decision("Prices are back with a jump", describe_gap(impact), "Continue",
                        "Reset the paper account", impact.worse)  # fmt: skip

    async def decide(self, accept: bool) -> None:
        await (self.accept_gap() if accept else self.reset())

    async def accept_gap(self) -> None:
        """Continue: the held prices apply now and the markets resume."""
        if self.mirror is not None:
            self.mirror.accept_gaps()

    async def reset(self) -> None:
        """Start afresh: a new paper exchange and account at today's prices (the old one is
        closed; nothing of it was stored)."""
        prices = await self._first_prices()
        await super().stop()  # LocalVenue's: the clock, the subscription, the old exchange
        self._fills.clear()
        self._events.clear()
        self._announced.clear()
        self.ex = self._build(prices)
        await super().start()

    # --- the clock and the prices are Hyperliquid's -------------------------------------------
    async def set_speed(self, speed: Decimal) -> None:
        raise TradingDisabled(FIXED_CLOCK)

    async def set_paused(self, paused: bool) -> None:
        raise TradingDisabled(FIXED_CLOCK)

    async def advance(self, seconds: Decimal) -> None:
        if self.clock_mode != "manual":
            raise TradingDisabled(FIXED_CLOCK)
        await super().advance(seconds)

    async def shock(self, asset: str, fraction: Decimal) -> None:
        raise TradingDisabled("prices come from Hyperliquid: they cannot be shocked here")


def describe_gap(impact: GapImpact) -> str:
    """The body of the continue / reset question: the moves, and the account now and after."""

    def line(cell: StressCell) -> str:
        usage = fmt.pct(cell.margin_usage) if cell.margin_usage is not None else "∞"
        return (f"equity {fmt.usd(cell.equity)} USD · MMR {fmt.usd(cell.mmr)} · usage {usage}"
                f" · {STATUS_WORDS[cell.status]}")  # fmt: skip

    moves = ", ".join(f"{u} {fmt.pct(x, 2, sign=True)}" for u, x in impact.moves.items())
    return (
        f"Hyperliquid's prices moved while the market was paused: {moves}.\n"
        f"Now, at the old prices: {line(impact.before)}\n"
        f"After the jump:         {line(impact.after)}"
        + ("\nThe jump makes the account worse off." if impact.worse else "")
        + "\nContinue applies the new prices and the market resumes; reset starts a fresh "
        "paper account at today's prices."
    )
