"""The paper venue: exchange_local in this process, with its living market on a real-time clock.

Why the clock is driven from the UI's event loop rather than a thread: the engine is
single-threaded by design (DESIGN.md), so one loop that either advances time or runs a command,
never both at once, needs no locks. A manual clock (tests, screenshots) advances only when told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import time
from collections import deque
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.bots import paper_config
from exchange_local.events import BookDelta, Event, FillEvent, LedgerPosted, PriceUpdate
from exchange_local.explain import Explanation
from exchange_local.funding import AccountFunding
from exchange_local.health import OrderPreview
from exchange_local.leaderboard import standings
from exchange_local.ledger import LedgerEntry
from exchange_local.orders import Fill, OrderInfo, OrderResult
from exchange_local.store import StoreDamaged, store_file_kind
from exchange_local.store_lock import PERPTUI, StoreInUse, store_lock
from perptui import format as fmt
from perptui.settings import data_dir
from perptui.venues.base import (
    ClockInfo,
    Connection,
    LeaderboardRow,
    OrderRequest,
    TradingDisabled,
    Venue,
    VenueSnapshot,
)
from perptui.venues.ledger_tail import LedgerTail, newest
from perptui.venues.tasks import cancel

log = logging.getLogger(__name__)


PAPER_ACCOUNT = "paper"
# MECHANICS section 1: a new paper account, so the discount factors show from the first screen
PAPER_FUNDING = (("USD", Decimal("10000")), ("BTC", Decimal("0.1")), ("ETH", Decimal("1")))
TICK_S = 0.1  # the real-time driver advances the exchange this often (wall seconds)
MAX_STEP_S = Decimal(5)  # a stalled loop catches up at most this much exchange time at once
HEARTBEAT_S = 5.0  # how often the pause file notes that the market is running (wall seconds)
ADVANCE_STEP = Decimal(60)  # advance(): exchange seconds between two turns of the screen
NOISY = (BookDelta, PriceUpdate, LedgerPosted)  # the UI reads these as state, not as a log
EVENTS_KEPT = 20_000
FILLS_KEPT = 5_000
MAX_SPEED = Decimal(10_000)  # the fastest clock (`--speed`): one rule for paper, demo, replay


def speed_problem(speed: Decimal) -> str | None:
    """Why `speed` cannot drive the clock, or None. Why a bound: an infinite speed froze a
    lesson's clock at 00:00 (the driver's step could not be counted) under "Infinityx"."""
    if not speed.is_finite() or speed < 0 or speed > MAX_SPEED:
        return f"speed must be between 0 and {MAX_SPEED}"
    return None


class LocalVenue(Venue):
    """`db`: path of the durable store (None: in memory). `clock`: "real" advances with wall
    time x `speed`; "manual" only through `advance()` (tests, screenshots, demos)."""

    paper = True
    can_trade = True
    paper_funding = True  # the paper account is the user's own: deposit and withdraw freely

    def __init__(
        self,
        db: str | Path | None = None,
        *,
        speed: Decimal = Decimal(1),
        clock: str = "real",
        seed: int = 1,
        living: bool = True,
        exchange: Exchange | None = None,
        account: str = PAPER_ACCOUNT,
        name: str = "PAPER",
    ) -> None:
        if clock not in ("real", "manual"):
            raise ValueError(f"clock must be 'real' or 'manual', got {clock!r}")
        self.db = Path(db).expanduser() if db is not None else None
        self.speed = Decimal(speed)
        self.clock_mode = clock
        self.seed = seed
        self.living = living
        self.account = account
        self.name = name
        self.ex: Exchange | None = exchange
        self.paused = False
        self._events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._fills: deque[Fill] = deque(maxlen=FILLS_KEPT)
        self._ledger = LedgerTail()
        self._driver: asyncio.Task[None] | None = None
        self._unsubscribe: Any = None
        self.events_seen = 0
        self.read_only_reason: str | None = None  # set by a venue that only watches
        self._carry = Decimal(0)  # exchange time owed to the clock, less than a second
        self._notice: str | None = None  # said once on screen (take_notice)
        self.store_failure: str | None = None  # the header's words once the store failed
        self._store_lock = contextlib.ExitStack()  # the paper store's lock while it is open
        self._holding = False  # whether _store_lock holds it now

    # --- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.ex is None:
            self.ex = self._open_exchange()
        ex = self.ex
        self.convert_spread = ex.config.convert_spread  # this exchange's, for the `u` dialog
        # the account panel and the Ledger tab show each asset on its own decimals
        fmt.remember_asset_decimals({a.symbol: a.decimals for a in ex.config.assets})
        if self.living:
            ex.start_living_market(seed=self.seed)
        if self.account not in ex.accounts():
            ex.create_account(self.account)
            for asset, amount in PAPER_FUNDING:
                ex.deposit(self.account, asset, amount)
        self._load_fills()
        self._unsubscribe = ex.subscribe(self._on_event)
        self.paused_for_s = self._read_pause()
        if self.clock_mode == "real":
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    def _load_fills(self) -> None:
        """The Fills tab's rows made before this screen opened: the watched account's fills
        the exchange still keeps, oldest first (events add the later ones). Why one place: a
        reopened paper market, a replay played to `--from` and a lesson's set-up must list
        the same rows; the replay and the demos skipped it and showed a position without the
        fills that made it. Called again when the account or the exchange watched changes."""
        ex = self._exchange()
        self._fills.clear()
        self._fills.extend(
            f for f in getattr(ex, "_fills", ()) if self.account in (f.taker, f.maker)
        )

    def _hold_store(self) -> None:
        """Take the store's single-writer lock for this session (released in stop): a second
        perptui on the same file ran beside the first until one died on a journal entry.
        Held already (`perptui --reset` takes it before it deletes anything): nothing to do.

        Why only the data directory is created: a typo in `--db` (a missing directory) made
        a new paper market somewhere nobody would look; the default place is perptui's own.
        A file perptui did not make is refused here, before any advice to reset it (which
        would delete it), for the paper market on Hyperliquid's prices too."""
        assert self.db is not None
        if self._holding:
            return
        folder = self.db.parent
        if not folder.is_dir():
            if folder.absolute() != data_dir().expanduser().absolute():
                raise StoreError(f"cannot open {self.db}: the directory {folder} does not exist")
            folder.mkdir(parents=True, exist_ok=True)
        if store_file_kind(str(self.db)) in ("directory", "other"):  # no lock file beside it
            raise StoreError(not_a_paper_market(self.db))
        try:
            self._store_lock.enter_context(store_lock(str(self.db), holder=PERPTUI))
        except StoreInUse as held:
            raise StoreError(
                f"{held.base}: close it first, or open another store with --db PATH"
            ) from None
        self._holding = True
        self._store_lock.callback(setattr, self, "_holding", False)

    def hold_store(self) -> None:
        """Take the store's lock now, before the session (perptui --reset, before it deletes
        anything); StoreError if another process has it open."""
        self._hold_store()

    def release_store(self) -> None:
        """Let go of the store's lock taken before the session (a reset the user declined)."""
        self._store_lock.close()

    def _open_exchange(self) -> Exchange:
        if self.db is None:
            return Exchange(paper_config(ExchangeConfig(seed=self.seed)))
        self._hold_store()
        kind = store_file_kind(str(self.db))
        if kind in ("directory", "other"):  # never offered --reset: it would destroy it
            raise StoreError(not_a_paper_market(self.db))
        if kind == "store":
            try:
                return Exchange(store=str(self.db))  # its own stored configuration
            except StoreError as problem:
                again = reset_command(self.db, data_dir() / "paper.sqlite")
                raise StoreError(store_advice(self.db, problem, again)) from problem
        # missing, or an empty file (a new store in its place loses nothing)
        return Exchange(paper_config(ExchangeConfig(seed=self.seed)), store=str(self.db))

    @property
    def where(self) -> str:
        return f"the paper market in {self.db}" if self.db is not None else self.name

    @property
    def lost_on_quit(self) -> str | None:
        """Why `q` asks first with --memory: no store holds this market, so quitting loses
        the account, its positions and orders for good. A demo or a replay (nothing traded
        here, run again as it was) and a stored market quit at once."""
        if self.db is not None or not self.can_trade:
            return None
        return ("this paper market lives in memory only (--memory): its account, positions "
                "and orders are gone for good when perptui closes")  # fmt: skip

    async def stop(self) -> None:
        task, self._driver = self._driver, None
        await cancel(task)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        try:
            if self.ex is not None:
                if getattr(self.ex, "store_failure", None) is None:
                    try:
                        self._write_pause()
                    except OSError as exc:  # a full disk: the close below matters more
                        log.warning("could not record when the market was paused: %s", exc)
                self.ex.close()
        finally:  # whatever the close met, the store is let go
            self._store_lock.close()

    # the wall time the market was closed at, so reopening can say how long it was paused
    def _pause_file(self) -> Path | None:
        return self.db.with_suffix(self.db.suffix + ".perptui.json") if self.db else None

    def _read_pause(self) -> float:
        path = self._pause_file()
        if path is None or not path.exists():
            return 0.0
        try:
            closed_at = float(json.loads(path.read_text())["closed_at"])
        except (ValueError, KeyError, OSError):
            return 0.0
        return max(0.0, time.time() - closed_at)

    def _write_pause(self) -> None:
        path = self._pause_file()
        if path is not None:
            path.write_text(json.dumps({"closed_at": time.time()}))

    async def _drive(self) -> None:
        """Advance exchange time with wall time x speed, in small steps, until the store
        fails. Every HEARTBEAT_S it notes the wall time in the pause file, so a perptui
        killed (kill -9, a closed terminal) is reopened with its real pause: the file was
        written on a clean close only, and a crash read as no pause or the last clean one."""
        last = time.monotonic()
        beat = last
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            elapsed = Decimal(str(round(now - last, 3)))
            last = now
            if now - beat >= HEARTBEAT_S:
                beat = now
                self._write_pause()
            if not self.paused and self.speed > 0:
                try:
                    self._run_clock(elapsed * self.speed)
                except StoreError as failure:
                    self._store_failed(failure)
                    return

    def take_notice(self) -> str | None:
        notice, self._notice = self._notice, None
        return notice

    def _store_failed(self, failure: StoreError) -> None:
        """The store could not be written (a full disk): the engine has stopped taking
        commands (exchange_local/durable.py), so the clock stops, trading is refused with
        the engine's words, and the user is told once. Nothing is written on the way out."""
        self.paused = True
        self.read_only_reason = str(failure)
        self.store_failure = "the store could not be written; nothing after it is saved"
        self._notice = f"{failure}. Quit perptui: nothing after this is saved."

    def _run_clock(self, exchange_seconds: Decimal) -> None:
        """Move the market by whole seconds, carrying the fractions to the next tick.

        Why whole seconds: every job of the living market (index, mark, bots, liquidation
        scan) falls due on whole seconds, so the market looks the same, and the store journals
        one clock command a second instead of ten (40 MB a day instead of 76, measured by
        `python -m exchange_local.bench`). A stalled loop catches up in bounds."""
        self._carry += exchange_seconds
        whole = int(self._carry)
        if whole <= 0:
            return
        self._carry -= whole
        self._exchange().advance(min(Decimal(whole), MAX_STEP_S * max(self.speed, Decimal(1))))

    def _exchange(self) -> Exchange:
        if self.ex is None:
            raise RuntimeError("the venue is not started")
        return self.ex

    def _writable(self) -> None:
        if self.read_only_reason is not None:
            raise TradingDisabled(self.read_only_reason)

    def _on_event(self, event: Event) -> None:
        self.events_seen += 1
        if isinstance(event, NOISY):
            return
        if isinstance(event, FillEvent) and self.account in (
            event.fill.taker,
            event.fill.maker,
        ):
            self._fills.append(event.fill)
        self._events.append(event)

    # --- state ------------------------------------------------------------------------------------
    def markets(self) -> list[str]:
        return self._exchange().markets()

    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot:
        ex = self._exchange()
        markets = {m: ex.market(m) for m in ex.markets()}
        return VenueSnapshot(
            clock=ClockInfo(ex.now_ms, self.speed, self.stopped, adjustable=True),
            connection=(
                Connection("failed", detail=self.store_failure)
                if self.store_failure is not None
                else Connection("paused" if self.stopped else "live", latency_ms=0.0)
            ),
            market=market,
            markets=markets,
            book=ex.book(market, 40),
            trades=ex.trades(market, 60),
            candles=ex.candles(market, candle_interval, source="mark", limit=240),
            health=ex.health(self.account),
            open_orders=ex.open_orders(self.account),
            leverage=ex.leverage(self.account),
            insurance_fund=ex.insurance_fund(),
            funding_history=list(ex.funding_history(market))[-48:],  # type: ignore[arg-type]
            index_candles=ex.candles(market, candle_interval, source="index", limit=240),
        )

    async def fills(self, limit: int = 200) -> list[Fill]:
        return list(self._fills)[-limit:]

    async def funding_payments(self, limit: int = 200) -> list[AccountFunding]:
        rows = self._exchange().funding_history(account=self.account)
        return [r for r in rows if isinstance(r, AccountFunding)][-limit:]

    async def ledger(self, limit: int = 500, type_prefix: str = "") -> list[LedgerEntry]:
        return newest(self._ledger.read(self._exchange(), self.account), limit, type_prefix)

    async def leaderboard(self) -> list[LeaderboardRow]:
        """The people on this exchange (not the bots or backstop providers), ranked by trading
        PnL with the server's own function (exchange_local.leaderboard), so the in-process
        and the class wall cannot disagree: deposits, withdrawals, conversions and the price
        of coins merely held are not trading."""
        ex = self._exchange()
        backstops = set(ex.config.backstop_accounts)
        people = [n for n in ex.accounts() if not n.startswith("bot-") and n not in backstops]
        return [LeaderboardRow(s.rank, s.account, s.equity, s.pnl, s.status, s.positions)
                for s in standings(ex, people)]  # fmt: skip

    # --- what-if --------------------------------------------------------------------------------
    async def preview_order(self, request: OrderRequest) -> OrderPreview:
        r = request
        return self._exchange().preview_order(
            self.account, r.market, r.side, r.size, price=r.price, type=r.type, tif=r.tif,
            reduce_only=r.reduce_only, post_only=r.post_only, trigger_price=r.trigger_price,
        )  # fmt: skip

    async def explain(self, market: str) -> Explanation:
        return self._exchange().explain(self.account, market)

    # --- commands -------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> OrderResult:
        self._writable()
        r = request
        return self._exchange().place_order(
            self.account, r.market, r.side, r.size, price=r.price, type=r.type, tif=r.tif,
            post_only=r.post_only, reduce_only=r.reduce_only, trigger_price=r.trigger_price,
            client_order_id=r.client_order_id,
        )  # fmt: skip

    async def amend_order(
        self,
        order_id: int,
        price: Decimal | None = None,
        size: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> OrderInfo:
        self._writable()
        ex = self._exchange()
        ex.amend_order(self.account, order_id, price=price, size=size, trigger_price=trigger_price)
        info = ex.order(self.account, order_id)
        assert info is not None
        return info

    async def cancel_order(self, order_id: int) -> OrderResult:
        self._writable()
        return self._exchange().cancel_order(self.account, order_id)

    async def cancel_all(self, market: str | None = None) -> list[int]:
        self._writable()
        return self._exchange().cancel_all(self.account, market)

    async def close_position(self, market: str, cancel_orders: bool = True) -> OrderResult:
        self._writable()
        ex = self._exchange()
        if cancel_orders:
            ex.cancel_all(self.account, market)
        size = next((p.size for p in ex.positions(self.account) if p.market == market), None)
        if not size:
            from exchange_local import InvalidOrder

            raise InvalidOrder(f"there is no {market} position to close")
        side = "sell" if size > 0 else "buy"
        return ex.place_order(
            self.account, market, side, abs(size), type="market", reduce_only=True
        )

    async def set_leverage(self, market: str, leverage: Decimal) -> None:
        self._writable()
        self._exchange().set_leverage(self.account, market, leverage)

    async def deposit(self, asset: str, amount: Decimal) -> None:
        self._writable()
        self._exchange().deposit(self.account, asset, amount)

    async def withdraw(self, asset: str, amount: Decimal) -> None:
        self._writable()
        self._exchange().withdraw(self.account, asset, amount)

    def collateral_assets(self) -> list[str]:
        return [a.symbol for a in self._exchange().config.assets if a.collateral]

    async def max_withdrawal(self, asset: str) -> Decimal | None:
        return self._exchange().max_withdrawal(self.account, asset)

    async def convert(self, from_asset: str, to_asset: str, amount: Decimal) -> None:
        self._writable()
        self._exchange().convert(self.account, from_asset, to_asset, amount)

    # --- paper controls -------------------------------------------------------------------------
    async def set_speed(self, speed: Decimal) -> None:
        """`+`/`-` and any other caller: within the command line's range (speed_problem)."""
        problem = speed_problem(Decimal(speed))
        if problem is not None:
            raise ValueError(problem)
        self.speed = Decimal(speed)

    @property
    def stopped(self) -> bool:
        """Paused, or slowed to speed 0 (`-` down to 0x, `--speed 0`): the clock stands still
        either way, and the header must not say live over it."""
        return self.paused or self.speed == 0

    async def set_paused(self, paused: bool) -> None:
        """`p`. Resuming a clock slowed to 0x runs it at 1x again, else `p` could not
        restart it. After a store failure the clock stays stopped (`p` made the header say
        live over a clock that had stopped for good)."""
        if self.store_failure is not None:
            raise TradingDisabled(self.read_only_reason or self.store_failure)
        self.paused = paused
        if not paused and self.speed == 0:
            self.speed = Decimal(1)

    async def advance(self, seconds: Decimal) -> None:
        """Run the clock forward in steps of a minute at most, giving the screen its turn
        between them: an hour of the living market takes a few seconds to compute, and in
        one piece it froze the terminal with no sign of life."""
        ex = self._exchange()
        left = seconds
        while left > 0:
            step = min(left, ADVANCE_STEP)
            ex.advance(step)
            left -= step
            await asyncio.sleep(0)

    async def shock(self, asset: str, fraction: Decimal) -> None:
        """Move an underlying's index by `fraction` (-0.1 = a 10 % fall) at once."""
        self._exchange().shock_index(asset, fraction)


def not_a_paper_market(db: Path) -> str:
    """The refusal for a file perptui did not make (another program's database, a text file,
    a directory): neither opened nor offered --reset, which would delete it."""
    return f"{db} is not a paper market made by perptui/exchange-local; choose another --db path"


def store_advice(db: Path, problem: StoreError, reset: str) -> str:
    """What to do about a paper market that cannot be opened. A damaged one (StoreDamaged)
    may still be saved from a copy, so the advice keeps one before it mentions a reset,
    which starts over; for the others (another version's store, a read-only file) the
    problem says what to do and a reset is the last way out."""
    if isinstance(problem, StoreDamaged):
        return (
            f"{problem}. To start over instead, keep a copy of it first (copy {db} and "
            f"{db}-wal, if it is there, to another folder); then `{reset}` starts a new paper "
            "market in its place"
        )
    return (
        f"{problem}; `{reset}` would start over with a new paper market (this one is lost), "
        "or choose another --db path"
    )


def reset_command(db: Path, default: Path | None, options: str = "") -> str:
    """The command that starts this store afresh, to be typed as it is: `perptui --reset`
    resets the default store, not the file given with --db."""
    where = "" if db == default else f" --db {shlex.quote(str(db))}"
    return f"perptui{options}{where} --reset"
