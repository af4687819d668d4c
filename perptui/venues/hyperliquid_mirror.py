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

The paper market is stored (`db`, perptui's data directory by default) and still there
tomorrow. Why the prices enter through the venue's clock rather than a scheduler job: the
store replays journaled top-level commands, so before each `advance` the clock driver runs the
mirror (`MirrorAttachment.poll`), whose every index, mid, pause and resume is a journaled
command; the bots are the exchange's own living market without its walk
(`start_living_market(seed, feed=False)`), restored with the store. A crash replays to exactly
what was acknowledged. Reopened, the stored market starts paused (reduce-only) at its stored
prices until Hyperliquid's first fresh quotes; a jump from the stored prices is a gap like any
other, and `reset()` replaces the store only once the user chose it.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.bots import paper_config
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
from perptui.venues.local import LocalVenue, reset_command

COINS = ("BTC", "ETH", "SOL")  # the paper exchange's markets that Hyperliquid also lists
FIXED_CLOCK = "prices come from Hyperliquid in real time: the paper clock cannot be changed"
REOPENED = "reopened: the stored market waits for Hyperliquid's prices"
STORE_FILES = ("", "-wal", "-shm", ".perptui.json")  # the store, SQLite's files, the pause file


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


def mirror_exchange(
    prices: dict[str, Decimal],
    seed: int = 1,
    store: str | Path | None = None,
    mark_source: str = "robust",
) -> Exchange:
    """A paper exchange (bots' backstop accounts included) whose assets start at `prices`;
    `store`: its SQLite file (None: in memory)."""
    base = ExchangeConfig(seed=seed, mark_source=mark_source)
    assets = tuple(
        AssetSpec(a.symbol, a.weight_total, a.weight_initial, a.size_factor, a.decimals,
                  prices.get(a.symbol, a.price), a.circulating_supply, a.collateral)
        for a in base.assets
    )  # fmt: skip
    config = paper_config(base.replace(assets=assets))
    return Exchange(config, store=str(store) if store is not None else None)


def remove_store(path: Path) -> None:
    """Delete a paper store and the files beside it (the user chose to start afresh)."""
    for suffix in STORE_FILES:
        Path(str(path) + suffix).unlink(missing_ok=True)


class MirrorVenue(LocalVenue):
    """LocalVenue on mirrored prices. `source` is anything with `board`, `coins`, `start()`,
    `stop()` and `connection()`. `db`: the paper market's store (None: in memory); an existing
    one is reopened paused until fresh prices come (see the module docstring). `mark_source`
    of a new market ("index": mark = index exactly, for tests that check numbers by hand)."""

    def __init__(
        self,
        source: HyperliquidPriceSource,
        *,
        db: str | Path | None = None,
        seed: int = 1,
        clock: str = "real",
        max_age_s: float = MAX_AGE_S,
        hold_gaps: bool = True,
        gap_threshold: Decimal = GAP_THRESHOLD,
        first_prices_s: float = 15.0,
        mark_source: str = "robust",
        name: str = "PAPER · HL prices",
    ) -> None:
        super().__init__(db, clock=clock, seed=seed, living=False, name=name)
        self.source = source
        self.max_age_s = max_age_s
        self.hold_gaps = hold_gaps
        self.gap_threshold = gap_threshold
        self.first_prices_s = first_prices_s
        self.mark_source = mark_source
        self.mirror: MirrorAttachment | None = None
        self.reopened = False  # this session goes on from a stored market
        self._announced: set[str] = set()

    async def start(self) -> None:
        await self.source.start()
        try:
            if self.ex is None:
                self.ex = await self._open()
            if not self.ex.living_market_running:  # the bots, around the mirrored index
                self.ex.start_living_market(self.seed, feed=False)
        except BaseException:
            await self.source.stop()
            if self.ex is not None:
                self.ex.close()
                self.ex = None
            raise
        await super().start()  # the paper account (created and funded once), the clock
        self.mirror = self._attach(self.ex)

    async def _open(self) -> Exchange:
        """The stored market (reopened), or a new one at Hyperliquid's prices now."""
        if self.db is not None:
            self._hold_store()
        if self.db is not None and self.db.exists():
            try:
                ex = Exchange(store=str(self.db))
            except StoreError as problem:
                command = reset_command(self.db, None, " --prices hyperliquid")
                again = f"`{command}` starts a new paper market"
                raise StoreError(f"{problem}; {again} (or --db PATH for another file)") from problem
            if ex.living_index_walk:
                ex.close()
                raise ValueError(
                    f"{self.db} is a paper market on a random walk, not on Hyperliquid's prices "
                    "(open it without --prices hyperliquid, or choose another --db)"
                )
            self.reopened = True
            return ex
        prices = await self._first_prices()
        return self._new_exchange(prices)

    def _new_exchange(self, prices: dict[str, Decimal]) -> Exchange:
        self.reopened = False
        if self.db is not None:
            self.db.parent.mkdir(parents=True, exist_ok=True)
        return mirror_exchange(prices, self.seed, self.db, self.mark_source)

    def _attach(self, ex: Exchange) -> MirrorAttachment:
        """The mirror, driven by this venue's clock (no scheduler job: every price it sets is
        a journaled command); a reopened market starts paused on its stored prices."""
        coins = [c for c in self.source.coins if c in ex.prices]
        feed = MirrorFeed(self.source.board, coins, max_age_s=self.max_age_s)
        return attach_mirror(ex, feed, hold_gaps=self.hold_gaps, gap_threshold=self.gap_threshold,
                             job=False, paused=REOPENED if self.reopened else None)  # fmt: skip

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

    # --- the clock: the latest prices first (journaled), then time --------------------------
    def _mirror_prices(self, every_call: bool = False) -> None:
        """The real-time driver runs the mirror at most once a second of exchange time (so a
        venue's mid changing every block writes a journal row a second, not ten); a manual
        clock's every step runs it."""
        mirror, ex = self.mirror, self.ex
        if mirror is None or ex is None:
            return
        if every_call:
            mirror(ex.now_ms)
        else:
            mirror.poll()

    def _run_clock(self, exchange_seconds: Decimal) -> None:
        self._mirror_prices()
        super()._run_clock(exchange_seconds)

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

    def _gap_since_closed(self) -> bool:
        """The held jump is the one from the stored prices (perptui was closed meanwhile)."""
        mirror = self.mirror
        return mirror is not None and any(
            mirror.paused.get(a, (0, 0, ""))[2] == REOPENED for a in mirror.pending
        )

    def take_notice(self) -> str | None:
        own = super().take_notice()  # the paper store's failure, said first
        if own is not None:
            return own
        mirror = self.mirror
        if mirror is None:
            return None
        new = sorted(set(mirror.pending) - self._announced)
        self._announced = set(mirror.pending)
        if not new:
            return None
        moves = ", ".join(f"{a} {mirror.pending[a].move:+.2%}" for a in new)
        back = ("moved while perptui was closed" if self._gap_since_closed()
                else "are back with a jump")  # fmt: skip
        return (f"Hyperliquid prices {back} ({moves}); the market stays reduce-only until you "
                "apply them or reset")  # fmt: skip

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
        closed = self._gap_since_closed()
        title = "Prices moved while perptui was closed" if closed else "Prices are back with a jump"
        body = describe_gap(impact, closed=closed, stored=self.db)
        return Decision(title, body, "Continue", "Reset the paper account", impact.worse)

    async def decide(self, accept: bool) -> None:
        await (self.accept_gap() if accept else self.reset())

    async def accept_gap(self) -> None:
        """Continue: the held prices apply now and the markets resume."""
        if self.mirror is not None:
            self.mirror.accept_gaps()

    async def reset(self) -> None:
        """Start afresh: a new paper exchange and account at today's prices. The old market is
        closed and its store deleted only once today's prices are here (if they do not come,
        HyperliquidUnavailable and the old market stays as it was)."""
        prices = await self._first_prices()
        await super().stop()  # LocalVenue's: the clock, the subscription, the old exchange
        self.mirror = None
        if self.db is not None:
            remove_store(self.db)
        self._fills.clear()
        self._events.clear()
        self._announced.clear()
        self.ex = self._new_exchange(prices)
        self.ex.start_living_market(self.seed, feed=False)
        await super().start()
        self.mirror = self._attach(self.ex)

    # --- the clock and the prices are Hyperliquid's -------------------------------------------
    async def set_speed(self, speed: Decimal) -> None:
        raise TradingDisabled(FIXED_CLOCK)

    async def set_paused(self, paused: bool) -> None:
        raise TradingDisabled(FIXED_CLOCK)

    async def advance(self, seconds: Decimal) -> None:
        if self.clock_mode != "manual":
            raise TradingDisabled(FIXED_CLOCK)
        self._mirror_prices(every_call=True)
        await super().advance(seconds)

    async def shock(self, asset: str, fraction: Decimal) -> None:
        raise TradingDisabled("prices come from Hyperliquid: they cannot be shocked here")


def describe_gap(impact: GapImpact, *, closed: bool = False, stored: Path | None = None) -> str:
    """The body of the continue / reset question: the moves, and the account now and after.
    `closed`: the jump happened while perptui was closed; `stored`: the store a reset deletes."""

    def line(cell: StressCell) -> str:
        usage = fmt.pct(cell.margin_usage) if cell.margin_usage is not None else "∞"
        return (f"equity {fmt.usd(cell.equity)} USD · MMR {fmt.usd(cell.mmr)} · usage {usage}"
                f" · {STATUS_WORDS[cell.status]}")  # fmt: skip

    moves = ", ".join(f"{u} {fmt.pct(x, 2, sign=True)}" for u, x in impact.moves.items())
    when = "while perptui was closed" if closed else "while the market was paused"
    now = "Now, at the stored prices:" if closed else "Now, at the old prices:"
    return (
        f"Hyperliquid's prices moved {when}: {moves}.\n"
        f"{now:<27}{line(impact.before)}\n"
        f"{'After the jump:':<27}{line(impact.after)}"
        + ("\nThe jump makes the account worse off." if impact.worse else "")
        + "\nContinue applies the new prices and the market resumes; reset starts a fresh "
        "paper account at today's prices"
        + (f" (deleting the paper market stored in {stored})." if stored is not None else ".")
    )
