"""Hyperliquid watch mode: a real account, read-only, with our own risk numbers beside the venue's.

`HyperliquidVenue(address)` shows any Hyperliquid account (everything on HL is public; no key,
no signature) through the same Venue interface as the paper exchange, so every screen works on
it: the account panel, positions, book, trades, chart, fills, funding, explain and stress.
Every trading action raises TradingDisabled.

Where the data comes from (shared/VENUES.md 5(b)): REST `POST /info` polls
`clearinghouseState` every 2 s (weight 2), `frontendOpenOrders` every 10 s and
`metaAndAssetCtxs` every 30 s (weight 20 each); the WebSocket streams `allMids`, and for the
market on screen `l2Book`, `trades`, `candle` and `activeAssetCtx`, and for the account
`userFills`, `orderUpdates`, `userFundings` and `userEvents` (the events tab, live). A fill
wakes the account poll at once. Snapshots read only this cached state, so a frame costs no
request (the terminal draws ten a second). After an HTTP 429 the poll backs off (doubling to
a minute, never sooner than Retry-After) and the header says "rate limited" until an answer
passes.

Our numbers (perptui/venues/hyperliquid_risk.py): the liquidation price recomputed with
exchange_local's pure function and HL's maintenance convention, the bankruptcy price HL does
not publish, `checks[market]` comparing ours with the venue's `liquidationPx` (flagged
beyond 0.5 %), and `maintenance_check` comparing our cross maintenance with the venue's
`crossMaintenanceMarginUsed` by the same tolerance (a notice, and HL's figure in the watch
panel while they differ).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from dataclasses import replace
from decimal import Decimal
from typing import Any

import httpx

from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.events import Event
from exchange_local.explain import Explanation
from exchange_local.funding import AccountFunding, FundingRecord
from exchange_local.health import AccountHealth, OrderPreview
from exchange_local.ledger import LedgerEntry
from exchange_local.marketdata import Candle, Trade
from exchange_local.orders import Fill, OrderInfo, OrderResult
from perptui.venues import hyperliquid_wire as hw
from perptui.venues.base import (
    ClockInfo,
    Connection,
    OrderRequest,
    TradingDisabled,
    Venue,
    VenueLiquidation,
)
from perptui.venues.base import VenueSnapshot as Snapshot
from perptui.venues.hyperliquid_live import CANDLES, KEPT, LiveUpdates, now_ms
from perptui.venues.hyperliquid_risk import (
    READ_ONLY,
    LiquidationCheck,
    MaintenanceCheck,
    WatchedRisk,
    explain_watched,
    preview_watched,
    watched_risk,
)
from perptui.venues.hyperliquid_stream import HyperliquidStream, InfoClient
from perptui.venues.tasks import cancel

ZERO = Decimal(0)
CANDLE_MS = {"1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
             "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "8h": 28_800_000,
             "12h": 43_200_000, "1d": 86_400_000}  # fmt: skip
FUNDING_DAYS = 7
RETRY_SECONDS = 5.0  # a failed fetch of the shown market's book/candles waits this long
POLL_MAX_SECONDS = 60.0  # the slowest the account poll gets while HL answers 429
# what a poll or a fetch may raise: the venue's refusals, the network, and an answer whose
# shape is not the documented one (the frame keeps the last good state and says why)
UNREADABLE = (hw.HyperliquidError, hw.HyperliquidUnavailable, KeyError, TypeError, ValueError)


class HyperliquidVenue(LiveUpdates, Venue):
    """`address`: the account to watch (0x + 40 hex). `base_url`/`ws_url` override the network
    (tests point them at a loopback fake); `http_client` lets a test pass an httpx client with
    a MockTransport. The timing knobs are seconds; tests make them short."""

    paper = False
    can_trade = False
    watch_words = "Hyperliquid watch mode: this account is read, perptui never signs an order"

    def __init__(
        self,
        address: str,
        testnet: bool = False,
        base_url: str | None = None,
        ws_url: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        poll_seconds: float = 2.0,
        orders_seconds: float = 10.0,
        meta_seconds: float = 30.0,
        stale_seconds: float = 10.0,
        ping_seconds: float = 20.0,
        dead_seconds: float = 45.0,
        backoff_start: float = 1.0,
        timeout: float = 10.0,
        stream: bool = True,
    ) -> None:
        self.account = hw.validate_address(address)
        self.testnet = testnet
        self.base_url = (base_url or (hw.TESTNET_API if testnet else hw.MAINNET_API)).rstrip("/")
        self.ws_url = ws_url or hw.ws_url_for(self.base_url)
        self.name = "Hyperliquid testnet" if testnet else "Hyperliquid"
        self.poll_seconds, self.orders_seconds = poll_seconds, orders_seconds
        self.meta_seconds, self.stale_seconds = meta_seconds, stale_seconds
        self.rest = InfoClient(self.base_url, timeout=timeout, client=http_client)
        self.stream: HyperliquidStream | None = None
        if stream:
            self.stream = HyperliquidStream(
                self.ws_url, self._on_message, ping_seconds=ping_seconds,
                stale_seconds=stale_seconds, dead_seconds=dead_seconds,
                backoff_start=backoff_start,
            )  # fmt: skip
        self._markets: dict[str, MarketState] = {}
        self._infos: dict[str, hw.AssetInfo] = {}
        self._names: list[str] = []
        self.hl_account: hw.HLAccount | None = None
        self.risk: WatchedRisk | None = None
        self._account_at = 0.0
        self._orders: dict[int, OrderInfo] = {}
        self._fills: dict[int, Fill] = {}
        self._funding: dict[tuple[Decimal, str], AccountFunding] = {}
        self._books: dict[str, BookSnapshot] = {}
        self._trades: dict[str, deque[Trade]] = {}
        self._candles: dict[tuple[str, str], list[Candle]] = {}
        self._funding_history: dict[str, list[FundingRecord]] = {}
        self._events: deque[Event] = deque(maxlen=KEPT)
        self._notices: deque[str] = deque(maxlen=20)
        self._flagged: set[str] = set()
        self.mids: dict[str, Decimal] = {}
        self.watching: tuple[str, str] | None = None
        self._retry_at: dict[tuple[str, str], float] = {}
        self._wake = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self.problem: str | None = None
        self.poll_max_seconds = max(poll_seconds, POLL_MAX_SECONDS)
        self.poll_delay = poll_seconds  # the wait before the next poll: longer after a 429
        self._limited_until = 0.0  # monotonic time the rate-limited poll asks again
        self._maintenance_flagged = False

    # --- life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.rest.start()
        now = now_ms()
        meta, state, orders, fills, funding = await asyncio.gather(
            self.rest.info({"type": "metaAndAssetCtxs"}),
            self.rest.info({"type": "clearinghouseState", "user": self.account}),
            self.rest.info({"type": "frontendOpenOrders", "user": self.account}),
            self.rest.info({"type": "userFills", "user": self.account}),
            self.rest.info({"type": "userFunding", "user": self.account,
                            "startTime": now - FUNDING_DAYS * 86_400_000}),
        )  # fmt: skip
        self._apply_meta(meta)
        self._apply_account(state)
        self._apply_orders(orders)
        self._add_fills(fills, live=False)
        for row in funding or ():
            self._add_funding(hw.parse_funding(row))
        positions = self.hl_account.positions if self.hl_account else ()
        self.default_market = positions[0].market if positions else None
        if self.stream is not None:
            for sub in ("allMids",):
                self.stream.subscribe({"type": sub})
            for sub in ("userFills", "orderUpdates", "userFundings", "userEvents"):
                self.stream.subscribe({"type": sub, "user": self.account})
            self.stream.start()
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        task, self._poller = self._poller, None
        await cancel(task)
        if self.stream is not None:
            await self.stream.stop()
        await self.rest.close()

    async def _poll(self) -> None:
        """The account every `poll_seconds` (sooner after a fill), orders and markets slower.

        After a 429 the wait doubles up to `poll_max_seconds` and is never shorter than the
        answer's Retry-After (a client told it is over the 1200-a-minute budget that asks at
        the same rate only stays over it); a fill does not cut that wait short. The first
        good answer brings back `poll_seconds`."""
        last_orders = last_meta = time.monotonic()
        while True:
            await self._nap(self.poll_delay, wakeable=self._limited_until == 0.0)
            now = time.monotonic()
            try:
                self._apply_account(await self.rest.info(
                    {"type": "clearinghouseState", "user": self.account}))  # fmt: skip
                if now - last_orders >= self.orders_seconds:
                    last_orders = now
                    self._apply_orders(await self.rest.info(
                        {"type": "frontendOpenOrders", "user": self.account}))  # fmt: skip
                if now - last_meta >= self.meta_seconds:
                    last_meta = now
                    self._apply_meta(await self.rest.info({"type": "metaAndAssetCtxs"}))
                self.problem = None
                self.poll_delay, self._limited_until = self.poll_seconds, 0.0
            except hw.HyperliquidRateLimited as exc:
                self.poll_delay = backoff_delay(self.poll_delay, self.poll_max_seconds,
                                                exc.retry_after)  # fmt: skip
                self._limited_until = time.monotonic() + self.poll_delay
                self._problem(str(exc))
            except UNREADABLE as exc:  # not a rate limit (any backoff stays until a success)
                self._limited_until = 0.0
                self._problem(str(exc))

    async def _nap(self, seconds: float, wakeable: bool) -> None:
        """The poll's wait: `seconds`, or until a fill wakes it when `wakeable`. A method of
        its own so a test can stand in for the clock (it records the waits, sleeps none)."""
        if wakeable:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), seconds)
        else:
            await asyncio.sleep(seconds)
        self._wake.clear()

    def _problem(self, text: str) -> None:
        if text != self.problem:
            self._notices.append(text)
        self.problem = text

    # --- applying REST answers ----------------------------------------------------------------
    def _apply_meta(self, body: Any) -> None:
        states, infos = hw.parse_markets(body, now_ms())
        self._markets, self._infos = states, infos
        self._names = [m for m, info in infos.items() if not info.delisted]
        if self.hl_account is not None:
            self.risk = watched_risk(self.hl_account, self._infos, self.account)

    def _apply_account(self, body: Any) -> None:
        first = self.hl_account is None
        self.hl_account = hw.parse_account(body)
        self.risk = watched_risk(self.hl_account, self._infos, self.account)
        self._account_at = time.monotonic()
        if first and self.hl_account.missing:
            self._notices.append(
                "Hyperliquid's answer lacks "
                + ", ".join(self.hl_account.missing)
                + ": maintenance is computed by HL's convention"
            )
        for check in self.risk.checks.values():
            if check.mismatch and check.market not in self._flagged:
                self._notices.append(_mismatch_text(check))
        self._flagged = {c.market for c in self.risk.checks.values() if c.mismatch}
        held = self.risk.maintenance
        if held.mismatch and not self._maintenance_flagged:
            self._notices.append(_maintenance_text(held))
        self._maintenance_flagged = held.mismatch

    def _apply_orders(self, rows: Any) -> None:
        self._orders = {}
        for row in rows or ():
            info = hw.parse_order(row, self.account)
            self._orders[info.order_id] = info

    # --- what the screen asks -------------------------------------------------------------------
    def markets(self) -> list[str]:
        return list(self._names)

    def take_notice(self) -> str | None:
        return self._notices.popleft() if self._notices else None

    @property
    def checks(self) -> dict[str, LiquidationCheck]:
        """Per position: ours vs the venue's liquidation price, and the 0.5 % flag."""
        return dict(self.risk.checks) if self.risk else {}

    def venue_liquidations(self) -> dict[str, VenueLiquidation]:
        return {m: VenueLiquidation(c.venue, c.difference, c.mismatch)
                for m, c in self.checks.items()}  # fmt: skip

    @property
    def maintenance_check(self) -> MaintenanceCheck | None:
        """Our cross maintenance against HL's `crossMaintenanceMarginUsed`, and the flag."""
        return self.risk.maintenance if self.risk else None

    @property
    def read_only_reason(self) -> str | None:
        """The watch panel's line (the app shows it where the ticket would be; None: the
        usual `watch_words`). While our cross maintenance and HL's differ beyond the
        tolerance it also gives HL's figure: the account panel's MMR and gauge are ours, and
        the notice saying so is gone after 30 s, while the difference may last."""
        held = self.maintenance_check
        if held is None or not held.mismatch or held.venue is None:
            return None
        return (f"{self.watch_words}. Hyperliquid's cross maintenance is "
                f"{held.venue:,.2f}, ours {held.ours:,.2f}: the MMR and gauge are "
                "ours")  # fmt: skip

    @property
    def venue_liquidation_price(self) -> dict[str, Decimal | None]:
        return {m: c.venue for m, c in self.checks.items()}

    @property
    def mismatch(self) -> dict[str, bool]:
        return {m: c.mismatch for m, c in self.checks.items()}

    def connection(self) -> Connection:
        """The WebSocket's state, or STALE when the account poll has not succeeded lately;
        while HL rate-limits the poll, "rate limited, retry in Ns" (limited while the
        account is still fresh, STALE once it is old), as long as the backoff lasts."""
        now = time.monotonic()
        age = now - self._account_at if self._account_at else 0.0
        conn = self.stream.connection() if self.stream else Connection("live", self.rest.latency_ms)
        old = age > max(self.stale_seconds, 3 * self.poll_seconds)
        if conn.state == "live" and self._limited_until:
            wait = self._limited_until - now
            detail = f"retry in {math.ceil(wait)}s" if wait > 0 else "retrying"
            state = "stale" if old else "limited"
            return Connection(state, conn.latency_ms, 0, age, "rate limited", detail)
        if conn.state == "live" and old:
            return Connection("stale", conn.latency_ms, 0, age)
        return conn

    def watch(self, market: str, interval: str) -> None:
        """Stream the market on screen (book, trades, its candles, its context) and only it."""
        if self.watching == (market, interval) or self.stream is None:
            self.watching = (market, interval)
            return
        old = self.watching
        self.watching = (market, interval)
        coin = hw.coin_of(market)
        if old is not None:
            old_coin = hw.coin_of(old[0])
            if old[0] != market:
                for sub in ("l2Book", "trades", "activeAssetCtx"):
                    self.stream.unsubscribe({"type": sub, "coin": old_coin})
            self.stream.unsubscribe({"type": "candle", "coin": old_coin, "interval": old[1]})
        for sub in ("l2Book", "trades", "activeAssetCtx"):
            self.stream.subscribe({"type": sub, "coin": coin})
        self.stream.subscribe({"type": "candle", "coin": coin, "interval": interval})

    async def _fetch_shown(self, market: str, interval: str) -> None:
        """What the stream cannot give on its own: the first book, candles, funding history."""
        wait = time.monotonic()
        if wait < max(self._retry_at.get((market, interval), 0.0), self._limited_until):
            return  # asked moments ago (or asking now, or told 429): never hammer the API
        self._retry_at[(market, interval)] = wait + RETRY_SECONDS
        coin = hw.coin_of(market)
        now = now_ms()
        try:
            if market not in self._books:
                body = {"type": "l2Book", "coin": coin, "nSigFigs": None, "mantissa": None}
                book = hw.parse_book(await self.rest.info(body))
                self._set_book(BookSnapshot(market, book.seq, book.bids, book.asks))  # asked for
            if (market, interval) not in self._candles:
                step = CANDLE_MS.get(interval, 60_000)
                rows = await self.rest.info({"type": "candleSnapshot", "req": {
                    "coin": coin, "interval": interval, "startTime": now - step * CANDLES,
                    "endTime": now}})  # fmt: skip
                self._candles[(market, interval)] = [hw.parse_candle(r) for r in rows or ()]
            if market not in self._funding_history:
                rows = await self.rest.info({"type": "fundingHistory", "coin": coin,
                                             "startTime": now - 48 * 3_600_000})  # fmt: skip
                self._funding_history[market] = [hw.parse_funding_history(r) for r in rows or ()]
        except UNREADABLE as exc:
            self._problem(f"{market}: {exc}")

    async def snapshot(self, market: str, candle_interval: str = "1m") -> Snapshot:
        self.watch(market, candle_interval)
        await self._fetch_shown(market, candle_interval)
        book = self._books.get(market) or BookSnapshot(market, 0, [], [])
        trades = list(self._trades.get(market, ()))
        markets = dict(self._markets)
        state = markets.get(market)
        if state is not None:
            markets[market] = replace(
                state, best_bid=book.bids[0][0] if book.bids else None,
                best_ask=book.asks[0][0] if book.asks else None,
                last_price=trades[-1].price if trades else None,
            )  # fmt: skip
        risk = self.risk
        return Snapshot(
            clock=ClockInfo(now_ms(), Decimal(1), False, adjustable=False),
            connection=self.connection(), market=market, markets=markets, book=book,
            trades=trades[-60:], candles=list(self._candles.get((market, candle_interval), ())),
            health=risk.health if risk else _empty_health(self.account),
            open_orders=sorted(self._orders.values(), key=lambda o: o.order_id),
            leverage=dict(risk.leverage) if risk else {}, insurance_fund=ZERO,
            funding_history=self._funding_history.get(market, [])[-48:],
        )  # fmt: skip

    async def fills(self, limit: int = 200) -> list[Fill]:
        rows = sorted(self._fills.values(), key=lambda f: (f.time_ms, f.fill_id))
        return rows[-limit:]

    async def funding_payments(self, limit: int = 200) -> list[AccountFunding]:
        return sorted(self._funding.values(), key=lambda p: (p.time, p.market))[-limit:]

    async def ledger(self, limit: int = 500, type_prefix: str = "") -> list[LedgerEntry]:
        return []  # HL's userNonFundingLedgerUpdates is not mapped yet (issue 9, what remains)

    async def preview_order(self, request: OrderRequest) -> OrderPreview:
        risk, state = self.risk, self._markets.get(request.market)
        info = self._infos.get(request.market)
        if risk is None or state is None or info is None:
            raise hw.HyperliquidError(f"no data for {request.market} yet")
        price = request.price if request.type == "limit" else request.trigger_price
        if price is None:
            book = self._books.get(request.market)
            side = (book.asks if request.side == "buy" else book.bids) if book else []
            price = side[0][0] if side else state.mark
        return preview_watched(risk, request.market, request.side, request.size, price,
                               state.mark, info.max_leverage,
                               risk.leverage.get(request.market))  # fmt: skip

    async def explain(self, market: str) -> Explanation:
        if self.risk is None:
            raise hw.HyperliquidError("the watched account has not loaded yet")
        return explain_watched(self.risk, market)

    # --- commands: none in watch mode ------------------------------------------------------
    def _refuse(self, what: str) -> TradingDisabled:
        return TradingDisabled(
            f"{READ_ONLY}{what} would need a signature from an API wallet of "
            f"{self.account[:6]}…{self.account[-4:]}, and watch mode holds no key"
        )

    async def place_order(self, request: OrderRequest) -> OrderResult:
        raise self._refuse("placing an order")

    async def amend_order(
        self,
        order_id: int,
        price: Decimal | None = None,
        size: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> OrderInfo:
        raise self._refuse("amending an order")

    async def cancel_order(self, order_id: int) -> OrderResult:
        raise self._refuse("canceling an order")

    async def cancel_all(self, market: str | None = None) -> list[int]:
        raise self._refuse("canceling orders")

    async def close_position(self, market: str, cancel_orders: bool = True) -> OrderResult:
        raise self._refuse("closing a position")

    async def set_leverage(self, market: str, leverage: Decimal) -> None:
        raise self._refuse("changing leverage")

    async def deposit(self, asset: str, amount: Decimal) -> None:
        raise self._refuse("a deposit")

    async def withdraw(self, asset: str, amount: Decimal) -> None:
        raise self._refuse("a withdrawal")

    async def convert(self, from_asset: str, to_asset: str, amount: Decimal) -> None:
        raise self._refuse("a transfer")


def _mismatch_text(check: LiquidationCheck) -> str:
    ours = f"{check.ours:,.2f}" if check.ours is not None else "none"
    venue = f"{check.venue:,.2f}" if check.venue is not None else "none"
    gap = f" ({check.difference:.2%} apart)" if check.difference is not None else ""
    return (f"{check.market}: our liquidation price {ours} and Hyperliquid's {venue} differ by "
            f"more than 0.5 %{gap}")  # fmt: skip


def _maintenance_text(check: MaintenanceCheck) -> str:
    venue = f"{check.venue:,.2f}" if check.venue is not None else "none"
    gap = f" ({check.difference:.2%} apart)" if check.difference is not None else ""
    return (f"cross maintenance: ours {check.ours:,.2f} and Hyperliquid's "
            f"crossMaintenanceMarginUsed {venue} differ by more than 0.5 %{gap}; "
            "the MMR and gauge shown are ours")  # fmt: skip


def backoff_delay(delay: float, cap: float, retry_after: float | None) -> float:
    """The wait after one more 429: twice the last one, at most `cap`, and never shorter
    than the answer's Retry-After (which may exceed `cap`: the venue's word wins)."""
    doubled = min(cap, 2 * delay)
    return doubled if retry_after is None else max(doubled, retry_after)


def _empty_health(account: str) -> AccountHealth:
    return AccountHealth(account, ZERO, ZERO, ZERO, ZERO, [], ZERO, ZERO, ZERO, ZERO, ZERO, ZERO,
                         None, None, ZERO, None, "ok", False)  # fmt: skip


def cli_venue(
    watch: bool, prices: bool, address: str | None, testnet: bool, seed: int = 1
) -> Venue:
    """The venue `perptui --venue hyperliquid --address 0x… [--testnet]` (watch a real account)
    or `perptui --prices hyperliquid [--testnet]` (paper trade on real prices) asks for; a
    ValueError says what is wrong with the combination."""
    if watch and prices:
        raise ValueError("--venue hyperliquid watches a real account; --prices hyperliquid paper "
                         "trades on real prices: choose one")  # fmt: skip
    if watch:
        if not address:
            raise ValueError("--venue hyperliquid needs --address 0x… (the account to watch)")
        return HyperliquidVenue(address, testnet=testnet)
    if address:
        raise ValueError("--address is for --venue hyperliquid")
    from perptui.venues.hyperliquid_mirror import HyperliquidPriceSource, MirrorVenue

    # a jump in the prices after a pause is held until the terminal asks: continue or reset
    return MirrorVenue(HyperliquidPriceSource(testnet=testnet), seed=seed, hold_gaps=True)
