"""The exchange core: accounts and custody, prices, the clock, queries, events, invariants.

Why one synchronous, single-threaded core: the same config and the same commands must give the
same ledger byte for byte, which makes replay, crash recovery and teaching scenarios exact.
Async lives at the edges (server, TUI, feeds).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from exchange_local.clock import Scheduler, ms_to_seconds, seconds_to_ms
from exchange_local.config import AssetSpec, ExchangeConfig, MarketSpec
from exchange_local.errors import (
    DuplicateAccount,
    InsufficientBalance,
    InvalidRequest,
    NotAuthorized,
    UnknownAccount,
    UnknownAsset,
    UnknownMarket,
)
from exchange_local.events import Event, InvariantViolated, LedgerPosted, PriceUpdate
from exchange_local.funding import FundingState
from exchange_local.ledger import (
    EXTERNAL,
    INSURANCE,
    SETTLEMENT_CLEARING,
    SYSTEM_ACCOUNTS,
    Ledger,
    LedgerEntry,
    Leg,
    TxType,
)
from exchange_local.liq_watch import LiquidationWatch
from exchange_local.mark import RobustMark
from exchange_local.marketdata import Candle, CandleSeries, Trade
from exchange_local.money import (
    MAX_AMOUNT,
    MAX_PRICE,
    ZERO,
    above_maximum,
    decimals_of,
    plain,
    to_decimal,
)
from exchange_local.orders import Fill, Order
from exchange_local.state import Account, MarketRuntime

MAX_FILLS_KEPT = 20_000  # fills an operator rollback can reach (they ride in every snapshot)
# closed orders (filled or canceled) each account keeps, newest closes first; the API lists at
# most 1,000. Orders placed with a client order id are always kept (API.md: addressable for the
# exchange's lifetime), open and untriggered orders are never dropped.
CLOSED_ORDERS_KEPT = 1_000
MAX_STAGES_KEPT = 10_000
ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


@dataclass(frozen=True, slots=True)
class PositionInfo:
    market: str
    size: Decimal
    entry_price: Decimal
    settle_price: Decimal
    realized_pnl: Decimal
    funding_paid: Decimal


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    market: str
    seq: int
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class MarketState:
    """A market at a glance (the TUI header, the server's ticker)."""

    symbol: str
    underlying: str
    mark: Decimal
    index: Decimal
    best_bid: Decimal | None
    best_ask: Decimal | None
    last_price: Decimal | None
    open_interest: Decimal
    open_interest_usd: Decimal
    oi_cap: Decimal
    change_24h: Decimal
    high_24h: Decimal | None
    low_24h: Decimal | None
    volume_24h: Decimal
    reduce_only: bool
    tick: Decimal
    lot: Decimal
    max_leverage: Decimal
    funding_rate: Decimal | None = None
    predicted_funding_rate: Decimal | None = None
    next_funding_time: Decimal | None = None
    next_settlement_time: Decimal | None = None


class ExchangeCore:
    """State and the non-order half of the facade; `Exchange` adds trading and risk."""

    _store: Any = None  # the durable store (exchange_local.durable), None in memory

    def __init__(self, config: ExchangeConfig | None = None) -> None:
        if config is not None and not isinstance(config, ExchangeConfig):
            raise InvalidRequest("config must be an ExchangeConfig")
        self.config = config or ExchangeConfig()
        self.scheduler = Scheduler(self.config.start_time_seconds * 1000)
        self._ledger = Ledger()
        self._assets: dict[str, AssetSpec] = {a.symbol: a for a in self.config.assets}
        self.prices: dict[str, Decimal] = {a.symbol: a.price for a in self.config.assets}
        self._markets: dict[str, MarketRuntime] = {}
        self._market_by_underlying: dict[str, MarketRuntime] = {}
        for spec in self.config.markets:
            index = self._quantize_to_tick(self.prices[spec.underlying], spec.tick)
            self.prices[spec.underlying] = index
            rt = MarketRuntime(spec, index, index)
            rt.data.record_mark(self.scheduler.now_ms, index)
            rt.data.record_index(self.scheduler.now_ms, index)
            self._markets[spec.symbol] = rt
            self._market_by_underlying[spec.underlying] = rt
        self._accounts: dict[str, Account] = {}
        self._orders: dict[int, Order] = {}
        self._next_order_id = 1
        self._next_fill_id = 1
        self._subscribers: list[Callable[[Event], None]] = []
        self._weight_cache: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
        self._mark_state: dict[str, RobustMark] = {}
        # per asset (spec, limit w_tot, limit w_init) and per market (spec, {leverage: floors})
        self._weight_limits: dict[str, tuple[AssetSpec, Decimal, Decimal]] = {}
        self._fraction_floors: dict[
            str, tuple[MarketSpec, dict[Decimal | int, tuple[Decimal, ...]]]
        ] = {}
        self._margin_dirty: set[str] = set()  # accounts the next risk tick must re-evaluate
        self._liq_watch = LiquidationWatch()
        self._liq_move = ZERO
        self._liquidating: set[str] = set()
        self._halted: set[tuple[str, str]] = set()  # (account, stage) refused by a check
        self._rolled_back: set[int] = set()  # fill ids an operator has reversed
        self._last_attempt: dict[str, str] = {}  # account -> last unfilled liquidation stage
        # dynamic risk parameters: what the config said, and what is announced for next period
        self._configured_markets = {spec.symbol: spec for spec in self.config.markets}
        self._configured_assets = dict(self._assets)
        self._pending_params: dict[str, tuple[MarketSpec, AssetSpec | None]] = {}
        self._adl_cache: dict[tuple[str, bool], tuple[int, list[tuple[Decimal, Decimal, str]]]] = {}
        # (ms, account, stage), newest last: for reports and scenarios
        self._stage_log: deque[tuple[int, str, str]] = deque(maxlen=MAX_STAGES_KEPT)
        self._fills: deque[Fill] = deque(maxlen=MAX_FILLS_KEPT)
        # fill id -> its share of its order's liquidation fee: a rollback refunds it
        self._liquidation_fees: dict[int, Decimal] = {}
        self._funding: dict[str, FundingState] = {}
        self.halted_reasons: list[str] = []
        for name in SYSTEM_ACCOUNTS:
            self._accounts[name] = Account(name, kind="system")
        if self.config.insurance_fund > 0:
            self._post_tx(
                TxType.DEPOSIT,
                [(INSURANCE, "USD", self.config.insurance_fund),
                 (EXTERNAL, "USD", -self.config.insurance_fund)],
                "insurance fund seed",
            )  # fmt: skip

    # --- time ------------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        return self.scheduler.now_ms

    @property
    def now(self) -> Decimal:
        """Exchange time in seconds since the exchange started."""
        return ms_to_seconds(self.scheduler.now_ms)

    def advance(self, seconds: Any) -> None:
        """Move the simulated clock forward, running every job that falls due on the way."""
        ms = seconds_to_ms(seconds)
        if ms < 0:
            raise InvalidRequest(f"advance needs a non-negative number of seconds, got {seconds}")
        self.scheduler.advance_to(self.scheduler.now_ms + ms, self._before_jobs)

    def _before_jobs(self, t_ms: int) -> None:
        """Runs at each due instant before the jobs (feeds and the robust mark hook in here)."""

    # --- events ----------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Deliver every event to callback (synchronously, in order); returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        for callback in self._subscribers:
            callback(event)

    def _forget_adl_rankings(self, accounts: Iterable[str], symbol: str | None = None) -> None:
        """Drop the per-tick ADL rankings a fill or a liquidation stage made stale: both sides
        of the traded market (an account may join, leave or flip a side) and every side on
        which one of these accounts holds a position (its equity, so its score, moved). The
        ranking is cached for the tick only, so this is needed within one tick: a second
        bankrupt account ranked after a backstop takeover or a book close would otherwise be
        ADL'd against a stale order that misses the positions those fills opened."""
        cache = self._adl_cache
        if symbol is not None:
            cache.pop((symbol, True), None)
            cache.pop((symbol, False), None)
        for account in accounts:
            acct = self._accounts.get(account)
            if acct is None:
                continue  # a system account: the fund, the clearing account
            for held, pos in acct.positions.items():
                if pos.size:
                    cache.pop((held, pos.size > 0), None)

    def _post_tx(self, type: TxType, legs: list[Leg], ref: str) -> None:
        tx = self._ledger.post(self.scheduler.now_ms, type, legs, ref)
        if self._subscribers:
            self._emit(LedgerPosted(tx.time_ms, tx))

    # --- look-ups that refuse clearly ------------------------------------------------------

    def _account(self, account: Any) -> Account:
        acct = self._accounts.get(account) if isinstance(account, str) else None
        if acct is None or acct.kind == "system":
            raise UnknownAccount(f"there is no account {account!r}")
        return acct

    def _market(self, market: Any) -> MarketRuntime:
        m = self._markets.get(market) if isinstance(market, str) else None
        if m is None:
            raise UnknownMarket(
                f"there is no market {market!r}; markets: {', '.join(self._markets)}"
            )
        return m

    def _asset(self, asset: Any) -> AssetSpec:
        spec = self._assets.get(asset) if isinstance(asset, str) else None
        if spec is None:
            raise UnknownAsset(f"there is no asset {asset!r}; assets: {', '.join(self._assets)}")
        return spec

    # --- accounts and custody --------------------------------------------------------------

    def create_account(self, name: str) -> str:
        """Open an account; its id is its name. Names in `config.backstop_accounts` are BLPs."""
        if not isinstance(name, str) or not ACCOUNT_NAME.match(name):
            raise InvalidRequest(
                "account name must be 1-64 letters, digits or . _ @ - and start with a letter "
                f"or digit, got {name!r}"
            )
        if name in self._accounts:
            raise DuplicateAccount(f"account {name!r} already exists")
        kind = "backstop" if name in self.config.backstop_accounts else "user"
        self._accounts[name] = Account(name, kind=kind)
        return name

    def accounts(self) -> list[str]:
        """Ids of every user and backstop account, in creation order."""
        return [a.account_id for a in self._accounts.values() if a.kind != "system"]

    def _amount(self, spec: AssetSpec, amount: Any) -> Decimal:
        """A deposit, withdrawal or convert amount: positive, at most MAX_AMOUNT (above it
        the ledger's 34-digit sums stop being exact), within the asset's decimals. The amount
        is shown as typed (money.plain): 0.000000001, not Python's 1E-9."""
        value = to_decimal(amount, "amount")
        if value <= 0:
            raise InvalidRequest(f"amount must be positive, got {plain(value)}")
        refusal = above_maximum(value, "amount", MAX_AMOUNT)
        if refusal is not None:
            raise InvalidRequest(f"{refusal} {spec.symbol}")
        if decimals_of(value) > spec.decimals:
            raise InvalidRequest(
                f"amount {plain(value)} has more decimals than {spec.symbol} allows "
                f"({spec.decimals})"
            )
        return value

    @staticmethod
    def _not_collateral(spec: AssetSpec) -> UnknownAsset:
        """The one refusal of an asset that is not custody here (SOL: an index and a market,
        not collateral), so deposit, withdraw and convert say it in the same words."""
        return UnknownAsset(f"{spec.symbol} is not accepted as collateral")

    def deposit(self, account: str, asset: str, amount: Any) -> None:
        """Credit collateral from outside the exchange (a DEPOSIT transaction)."""
        acct = self._account(account)
        spec = self._asset(asset)
        if not spec.collateral:
            raise self._not_collateral(spec)
        value = self._amount(spec, amount)
        self._post_tx(
            TxType.DEPOSIT,
            [(acct.account_id, spec.symbol, value), (EXTERNAL, spec.symbol, -value)],
            "deposit",
        )
        self._after_collateral_change(acct)

    def withdraw(self, account: str, asset: str, amount: Any) -> None:
        """Send collateral out (a WITHDRAW transaction); never more than the balance.

        An asset that is not collateral is refused as deposit refuses it ("SOL is not accepted
        as collateral", not "the balance is 0", which suggested depositing some first), unless
        the account somehow holds some (a store opened with a config where the asset was
        collateral): that balance may still leave."""
        acct = self._account(account)
        spec = self._asset(asset)
        balance = self._ledger.balance(acct.account_id, spec.symbol)
        if not spec.collateral and balance <= 0:
            raise self._not_collateral(spec)
        value = self._amount(spec, amount)
        if value > balance:
            raise InsufficientBalance(
                f"cannot withdraw {plain(value)} {spec.symbol}: the balance is {plain(balance)}"
            )
        self._check_withdraw(acct, spec.symbol, value)
        self._post_tx(
            TxType.WITHDRAW,
            [(acct.account_id, spec.symbol, -value), (EXTERNAL, spec.symbol, value)],
            "withdraw",
        )
        self._after_collateral_change(acct)

    def _check_withdraw(self, acct: Account, asset: str, amount: Decimal) -> None:
        """Margin rule for withdrawals (risk engine); the core only checks the balance."""

    def balances(self, account: str) -> dict[str, Decimal]:
        acct = self._account(account)
        return {a: v for a, v in self._ledger.balances[acct.account_id].items()}

    def positions(self, account: str) -> list[PositionInfo]:
        acct = self._account(account)
        return [
            PositionInfo(
                p.market, p.size, p.entry_price, p.settle_price, p.realized_pnl, p.funding_paid
            )
            for p in acct.positions.values()
            if p.size != 0
        ]

    def ledger(self, account: str, since: Any = None, until: Any = None) -> list[LedgerEntry]:
        """The account's ledger legs with balances after each, oldest first."""
        acct = self._accounts.get(account) if isinstance(account, str) else None
        if acct is None:
            raise UnknownAccount(f"there is no account {account!r}")
        since_ms = seconds_to_ms(since, "since") if since is not None else None
        until_ms = seconds_to_ms(until, "until") if until is not None else None
        if self._store is not None:
            return self._store.entries(acct.account_id, since_ms, until_ms)
        return self._ledger.entries_for(acct.account_id, since_ms, until_ms)

    def balances_at(self, account: str, time: Any) -> dict[str, Decimal]:
        """An account's balances at a past exchange time, rebuilt from the ledger alone."""
        acct = self._accounts.get(account) if isinstance(account, str) else None
        if acct is None:
            raise UnknownAccount(f"there is no account {account!r}")
        until_ms = seconds_to_ms(time, "time")
        if self._store is not None:
            totals = self._store.balances_at(acct.account_id, until_ms)
        else:
            totals = self._ledger.balances_at(acct.account_id, until_ms)
        return {a: v for a, v in totals.items() if v != 0}

    def insurance_fund(self) -> Decimal:
        """The fund's balance; its history is `ledger("INSURANCE")` and LiquidationEvents."""
        return self._ledger.balance(INSURANCE, "USD")

    # --- prices ----------------------------------------------------------------------------

    @staticmethod
    def _quantize_to_tick(price: Decimal, tick: Decimal) -> Decimal:
        units = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
        return units * tick

    def set_index_price(self, asset: str, price: Any) -> None:
        """Set an underlying's index: its collateral price and its market's index together.

        "BTC" and "BTC-PERP" name the same thing. The price is rounded to the market's tick.
        """
        if isinstance(asset, str) and asset in self._markets:
            asset = self._markets[asset].spec.underlying
        spec = self._asset(asset)
        if spec.symbol in ("USD", "USDC"):
            raise InvalidRequest(f"{spec.symbol} is the unit of account; its price is always 1")
        value = to_decimal(price, "price")
        if value <= 0:
            raise InvalidRequest(f"price must be positive, got {plain(value)}")
        refusal = above_maximum(value, "price", MAX_PRICE)
        if refusal is not None:
            raise InvalidRequest(refusal)
        m = self._market_by_underlying.get(spec.symbol)
        if m is not None:
            given, value = value, self._quantize_to_tick(value, m.tick)
            if value <= 0:
                raise InvalidRequest(
                    f"price {plain(given)} rounds to 0 at the tick {plain(m.tick)}"
                )
        self.prices[spec.symbol] = value
        if m is not None:
            m.index = value
            m.data.record_index(self.now_ms, value)
            self._update_mark(m)

    def _update_mark(self, m: MarketRuntime) -> None:
        """mark_source "index": M = I. The risk engine replaces this with the robust mark."""
        self._set_mark(m, m.index)

    def _set_mark(self, m: MarketRuntime, mark: Decimal) -> None:
        m.mark = mark
        m.data.record_mark(self.now_ms, mark)
        if self._subscribers:
            self._emit(PriceUpdate(self.now_ms, m.symbol, m.index, mark))
        self._run_triggers(m)

    def _run_triggers(self, m: MarketRuntime) -> None:  # provided by Trading
        raise NotImplementedError

    def _after_collateral_change(self, acct: Account) -> None:
        """Hook: a balance changed outside trading (the risk engine re-checks its levels)."""

    def _after_command(self) -> None:
        """Hook run after each order command (the robust mark follows the book here)."""

    # --- market data -----------------------------------------------------------------------

    def market(self, symbol: str) -> MarketState:
        m = self._market(symbol)
        bid, ask = m.book.best_bid(), m.book.best_ask()
        stats = m.data.stats_24h(self.now_ms, m.mark)
        return MarketState(
            m.symbol, m.spec.underlying, m.mark, m.index,
            bid * m.tick if bid is not None else None,
            ask * m.tick if ask is not None else None,
            m.data.last_price, m.oi_long, m.oi_long * m.mark, m.spec.oi_cap,
            stats["change"] or ZERO, stats["high"], stats["low"], stats["volume"] or ZERO,
            m.reduce_only, m.tick, m.lot, m.spec.max_leverage,
            *self._funding_fields(m.symbol),
        )  # fmt: skip

    def _funding_fields(self, symbol: str) -> tuple[Decimal | None, ...]:
        """(last rate, predicted rate, next funding time, next settlement time) in seconds."""
        return (None, None, None, None)

    def markets(self) -> list[str]:
        return list(self._markets)

    def book(self, symbol: str, depth: int = 20) -> BookSnapshot:
        m = self._market(symbol)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise InvalidRequest(f"depth must be a positive integer, got {depth!r}")
        bids, asks = m.book.depth(depth)
        tick, lot = m.tick, m.lot
        return BookSnapshot(
            m.symbol,
            m.seq,
            [(p * tick, q * lot) for p, q in bids],
            [(p * tick, q * lot) for p, q in asks],
        )

    def trades(self, symbol: str, limit: int = 100) -> list[Trade]:
        """The most recent trades, oldest first."""
        m = self._market(symbol)
        _check_limit(limit, zero_means_all=True)
        trades = list(m.data.trades)
        return trades[-limit:] if limit else trades

    def candles(
        self, symbol: str, interval: str = "1m", source: str = "trades", limit: int | None = None
    ) -> list[Candle]:
        """OHLCV candles of trades ("trades"), the mark ("mark") or the index ("index")."""
        m = self._market(symbol)
        _check_limit(limit)
        if source == "trades":
            return m.data.trade_candles.candles(interval, limit)
        if source == "mark":
            return m.data.mark_candles.candles(interval, limit)
        if source == "index":
            return m.data.__dict__.get("index_candles", CandleSeries()).candles(interval, limit)
        raise InvalidRequest(f"source must be 'trades', 'mark' or 'index', got {source!r}")

    # --- closed orders: bounded per account -------------------------------------------------

    def _closed_orders_kept(self) -> int:
        """How many closed orders an account keeps: CLOSED_ORDERS_KEPT,
        never fewer than an account may have open, so one cancel_all or account reset never
        drops an order it closes before the command is over."""
        return max(CLOSED_ORDERS_KEPT, self.config.max_open_orders)

    def _order_closed(self, acct: Account, order: Order) -> None:
        """An order left the account's open orders: remember it among the account's closed
        ones and forget the oldest closed order beyond the limit (O(1)). Deterministic: the same
        commands close the same orders in the same order, so a replay drops the same ids.

        Orders placed with a client order id go the same way: kept for the exchange's
        lifetime, they grew a class server by 4.5 KB an order (+63 MB for 14,000 orders in a
        150 s soak) and every snapshot with it, and perptui sets an id on every order. The id
        itself stays taken for the exchange's lifetime (API.md) in the account's compact
        id -> result map, so a retry still answers the original result."""
        kept = acct.closed_orders
        if kept is None:  # restored from a snapshot of before: index every such account
            kept = self._index_closed_orders(acct, order)
        kept.append(order.order_id)
        limit = self._closed_orders_kept()
        orders = self._orders
        while len(kept) > limit:
            orders.pop(kept.popleft(), None)

    def _index_closed_orders(self, acct: Account, closing: Order) -> deque[int]:
        """Snapshots written before closed orders were bounded kept every order: index the
        closed ones of each account restored from such a snapshot (those placed with a client id
        too, kept for ever before), by
        id, in one pass, and drop all but the newest of each. Returns `acct`'s, without the
        order being closed (the caller appends it: the newest, whatever its id)."""
        legacy = [a for a in self._accounts.values() if a.closed_orders is None]
        by_account: dict[str, deque[int]] = {}
        for a in legacy:
            a.closed_orders = by_account[a.account_id] = deque()
        limit = self._closed_orders_kept()
        for o in list(self._orders.values()):
            kept = by_account.get(o.account)
            if kept is not None and not o.is_open and o is not closing:
                kept.append(o.order_id)
        for kept in by_account.values():
            while len(kept) > limit:
                self._orders.pop(kept.popleft(), None)
        return by_account[acct.account_id]

    # --- invariants (MECHANICS section 7) --------------------------------------------------

    def check_invariants(self) -> list[str]:
        """Every invariant that exists so far; returns violations (empty = all hold)."""
        rebuilt = self._store.all_legs_by_account() if self._store is not None else None
        problems = self._ledger.check(rebuilt)
        clearing = self._ledger.balance(SETTLEMENT_CLEARING, "USD")
        expected = -sum(
            (
                p.size * p.settle_price
                for a in self._accounts.values()
                for p in a.positions.values()
            ),
            ZERO,
        )
        if clearing != expected:
            problems.append(f"SETTLEMENT_CLEARING is {clearing}, -sum(s*S) is {expected}")
        limit = self._closed_orders_kept()
        for a in self._accounts.values():
            if a.resting != a.count_resting():
                problems.append(f"{a.account_id}: kept resting sizes {a.resting} != the open "
                                f"orders' {a.count_resting()}")  # fmt: skip
            if any(self._orders.get(oid) is not o for oid, o in a.open_orders.items()):
                problems.append(f"{a.account_id}: an open order is missing from the orders")
            kept = a.closed_orders
            if kept is not None and (
                len(kept) > limit
                or any((o := self._orders.get(oid)) is None or o.is_open for oid in kept)
            ):
                problems.append(f"{a.account_id}: {len(kept)} closed orders kept (at most "
                                f"{limit}), or one of them is open or forgotten")  # fmt: skip
        for m in self._markets.values():
            sizes = [a.positions[m.symbol].size for a in self._accounts.values()
                     if m.symbol in a.positions]  # fmt: skip
            longs = sum((s for s in sizes if s > 0), ZERO)
            shorts = -sum((s for s in sizes if s < 0), ZERO)
            if longs != shorts:
                problems.append(f"{m.symbol}: long OI {longs} != short OI {shorts}")
            if longs != m.oi_long:
                problems.append(f"{m.symbol}: tracked OI {m.oi_long} != positions {longs}")
            bid, ask = m.book.best_bid(), m.book.best_ask()
            if bid is not None and ask is not None and bid >= ask:
                problems.append(f"{m.symbol}: book crossed (bid {bid} >= ask {ask})")
        return problems

    def _cheap_invariants(self) -> list[str]:
        """Section 7's sums, cheap enough for every settlement cycle (no ledger rebuild)."""
        problems = [
            f"{asset}: all accounts sum to {total}, not 0"
            for asset, total in self._ledger.asset_totals().items()
            if total != 0
        ]
        clearing = self._ledger.balance(SETTLEMENT_CLEARING, "USD")
        expected = ZERO
        longs: dict[str, Decimal] = {}
        shorts: dict[str, Decimal] = {}
        for acct in self._accounts.values():
            for symbol, pos in acct.positions.items():
                s = pos.size
                if s:
                    expected -= s * pos.settle_price
                    if s > 0:
                        longs[symbol] = longs.get(symbol, ZERO) + s
                    else:
                        shorts[symbol] = shorts.get(symbol, ZERO) - s
        if clearing != expected:
            problems.append(f"SETTLEMENT_CLEARING is {clearing}, -sum(s*S) is {expected}")
        for symbol in self._markets:
            if longs.get(symbol, ZERO) != shorts.get(symbol, ZERO):
                problems.append(
                    f"{symbol}: long OI {longs.get(symbol)} != short OI {shorts.get(symbol)}"
                )
        if self._ledger.balance(INSURANCE, "USD") < 0:
            problems.append("the insurance fund is negative")
        return problems

    def _halt_all(self, problems: list[str]) -> None:
        """A broken invariant never passes silently: every market goes reduce-only."""
        for m in self._markets.values():
            m.reduce_only = True
        self.halted_reasons = problems
        if self._subscribers:
            self._emit(InvariantViolated(self.now_ms, problems))

    def _require_user(self, account: str) -> Account:
        acct = self._account(account)
        if acct.kind == "system":
            raise NotAuthorized("system accounts cannot be used directly")
        return acct


def _check_limit(limit: Any, zero_means_all: bool = False) -> None:
    """A row limit is None (or 0 where it means all) or a positive integer: a string or a
    list reached a slice and raised a bare TypeError."""
    if limit is None or (zero_means_all and limit == 0 and type(limit) is int):
        return
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidRequest(f"limit must be a positive integer, got {limit!r}")
