"""The one interface the terminal talks to, whatever the venue behind it.

Why exchange_local's own records (AccountHealth, MarketState, OrderInfo, ...) cross this
boundary instead of a second set of classes: they are already plain dataclasses of Decimals,
the server's wire format is a spelling of them, and a remote venue that decodes JSON into them
keeps the UI unable to tell which venue it talks to. Nothing here imports Textual.
"""

from __future__ import annotations

import abc
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.errors import ExchangeError
from exchange_local.events import Event
from exchange_local.explain import Explanation
from exchange_local.funding import AccountFunding, FundingRecord
from exchange_local.health import AccountHealth, OrderPreview
from exchange_local.ledger import LedgerEntry
from exchange_local.marketdata import Candle, Trade
from exchange_local.orders import Fill, OrderInfo, OrderResult


class NotAsked(ExchangeError):
    """The venue could not be asked (not reachable, not answering, rate limited): nothing was
    decided, so it is not the exchange's refusal and is not worded as one ("would be refused,
    not sent: cannot reach …" read as if the order were wrong)."""

    code = "not_asked"


class TradingDisabled(Exception):
    """The venue is read-only (a watched account): the message says why."""


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the order ticket sends; the same record feeds the preview."""

    market: str
    side: str  # "buy" | "sell"
    size: Decimal
    type: str = "limit"  # "limit" | "market" | "stop_market" | "take_profit"
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    tif: str = "gtc"  # "gtc" | "ioc" | "fok"
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """The header chip: "live" with latency, "reconnecting" with attempts, "stale" with age.

    `cause` and `detail` say why it is not live, so the header can say it: a rate limit is
    not an outage and a refused key is not a network problem (a bare "STALE 12s" read as a
    hang). "stale" is kept for every state whose numbers are old (the book and positions mark
    themselves on it); "limited" is a rate limit whose numbers are still fresh."""

    state: str  # "live" | "reconnecting" | "stale" | "paused" | "limited" | "replay" | "failed"
    latency_ms: float | None = None
    attempts: int = 0
    age_s: float = 0.0
    cause: str = ""  # "" | "rate limited" | "refused" | "reconnecting" | "no answer"
    detail: str = ""  # the server's own words where it gave any ("server stopping; …")

    @property
    def says_why_old(self) -> bool:
        """The venue's numbers are old or rationed and it says why (not answering, rate
        limited, key refused): asking it more only repeats the header's reason as toasts.
        A stream that is reconnecting while REST still answers is not such a state, nor a
        quiet stream with no cause (a watched real venue may still answer REST)."""
        return self.state in ("stale", "limited") and bool(self.cause)


@dataclass(frozen=True, slots=True)
class ClockInfo:
    """Exchange time and, for a paper venue, how fast it runs and whether it is paused."""

    now_ms: int
    speed: Decimal
    paused: bool
    adjustable: bool  # a paper venue's clock can be sped up, slowed and paused


@dataclass(slots=True)
class VenueSnapshot:
    """Everything one frame of the main screen shows, taken at one instant."""

    clock: ClockInfo
    connection: Connection
    market: str
    markets: dict[str, MarketState]
    book: BookSnapshot
    trades: list[Trade]
    candles: list[Candle]  # of the mark
    health: AccountHealth
    open_orders: list[OrderInfo]
    leverage: dict[str, Decimal]  # the account's chosen leverage per market (default: max)
    insurance_fund: Decimal
    funding_history: list[FundingRecord] = field(default_factory=list)
    index_candles: list[Candle] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Decision:
    """A question only the user can answer before the venue goes on (prices came back with a
    jump: apply them, or start afresh)."""

    title: str
    body: str
    accept: str  # the button that goes on
    refuse: str  # the button that does the other thing
    danger: bool  # accepting makes the account worse off


@dataclass(frozen=True, slots=True)
class VenueLiquidation:
    """A real venue's own liquidation price beside ours, and how far apart they are."""

    price: Decimal | None
    difference: Decimal | None  # |ours - venue| / venue
    mismatch: bool  # more than 0.5 % apart, or only one of the two has a price


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One account of a class, ranked by trading PnL (exchange_local.leaderboard)."""

    rank: int
    account: str
    equity: Decimal
    pnl: Decimal
    status: str
    positions: int


# what a student whose key was refused does next: where a key is asked for next (the connect
# screen, the shell after `perptui --connect`) only the first; inside the terminal both
NEW_KEY_HINT = "ask the teacher for a new key"
REFUSED_HINT = f"{NEW_KEY_HINT}, then quit (q) and run: perptui connect"


class Venue(abc.ABC):
    """A venue as the UI sees it. Commands raise exchange_local.ExchangeError (with the
    exchange's own message) when refused, TradingDisabled on a read-only venue."""

    name: str = "venue"  # shown in the header: "PAPER", a server's host, "Hyperliquid"
    paper: bool = True
    can_trade: bool = True
    # where can_trade is False and the venue gives no read_only_reason: the watch panel's why
    watch_words: str = "this venue only watches: no order is sent from here"
    account: str = ""
    paused_for_s: float = 0.0  # how long the market was paused before this session
    default_market: str | None = None  # the market a venue wants shown first (a demo's lesson)
    # what `convert` keeps of the converted value (0.001: 0.1 %), for the `u` dialog's words
    # and the amount it offers; a venue that knows its exchange's own sets it (LocalVenue)
    convert_spread: Decimal = Decimal("0.001")
    # money can be paid in and out from the terminal: only a paper market of one's own (a
    # liquidated student starts again); on a class server deposits are the teacher's
    paper_funding: bool = False
    _events: deque[Event]  # set by each venue: what arrived since the last drain_events()

    @property
    def lost_on_quit(self) -> str | None:
        """What quitting loses for good, in words for the question asked first (an
        in-memory paper market); None: nothing, quit at once (a store keeps it, a server
        keeps it)."""
        return None

    def collateral_assets(self) -> list[str]:
        """The assets this venue takes as collateral, for the deposit and withdraw dialog
        (a venue without paper funding has none to offer)."""
        return []

    async def max_withdrawal(self, asset: str) -> Decimal | None:
        """The most of `asset` the margin rule lets leave now (None: the venue does not say)."""
        return None

    @property
    def where(self) -> str:
        """What "cannot open …" names: the venue, or a paper market's file."""
        return self.name

    def take_notice(self) -> str | None:
        """A one-time message for the user (a scenario ended, a server said something)."""
        return None

    # --- life cycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Connect or open; afterwards `markets()` and `snapshot()` answer."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect or close (a paper venue pauses its market and saves it)."""

    # --- state ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def markets(self) -> list[str]: ...

    @abc.abstractmethod
    async def snapshot(self, market: str, candle_interval: str = "1m") -> VenueSnapshot: ...

    def drain_events(self) -> list[Event]:
        """Events since the last call, oldest first (the whole market's, not only ours).

        Every venue buffers what arrives in `_events` (a bounded deque) between frames."""
        events = list(self._events)
        self._events.clear()
        return events

    @abc.abstractmethod
    async def fills(self, limit: int = 200) -> list[Fill]: ...

    @abc.abstractmethod
    async def funding_payments(self, limit: int = 200) -> list[AccountFunding]: ...

    @abc.abstractmethod
    async def ledger(self, limit: int = 500, type_prefix: str = "") -> list[LedgerEntry]:
        """The newest `limit` legs whose type starts with `type_prefix` (any case), oldest
        first: the filter applies before the limit, so an old payment is still found."""

    # --- what-if --------------------------------------------------------------------------------
    @abc.abstractmethod
    async def preview_order(self, request: OrderRequest) -> OrderPreview: ...

    @abc.abstractmethod
    async def explain(self, market: str) -> Explanation: ...

    # --- commands -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def place_order(self, request: OrderRequest) -> OrderResult: ...

    @abc.abstractmethod
    async def amend_order(
        self,
        order_id: int,
        price: Decimal | None = None,
        size: Decimal | None = None,
        trigger_price: Decimal | None = None,
    ) -> OrderInfo: ...

    @abc.abstractmethod
    async def cancel_order(self, order_id: int) -> OrderResult: ...

    @abc.abstractmethod
    async def cancel_all(self, market: str | None = None) -> list[int]: ...

    @abc.abstractmethod
    async def close_position(self, market: str, cancel_orders: bool = True) -> OrderResult: ...

    @abc.abstractmethod
    async def set_leverage(self, market: str, leverage: Decimal) -> None: ...

    @abc.abstractmethod
    async def deposit(self, asset: str, amount: Decimal) -> None: ...

    @abc.abstractmethod
    async def withdraw(self, asset: str, amount: Decimal) -> None: ...

    @abc.abstractmethod
    async def convert(self, from_asset: str, to_asset: str, amount: Decimal) -> None: ...

    def pending_decision(self) -> Decision | None:
        """A question the terminal must put to the user now (None: nothing to ask)."""
        return None

    async def decide(self, accept: bool) -> None:
        """The user's answer to `pending_decision()` (a venue that never asks gets none)."""
        raise TradingDisabled(f"{self.name} asked nothing")

    def venue_liquidations(self) -> dict[str, VenueLiquidation]:
        """Per market, the venue's own liquidation price (a watched real account only)."""
        return {}

    async def leaderboard(self) -> list[LeaderboardRow]:
        """The class ranked by PnL, for the projector; a venue without a class has none."""
        return []

    # --- paper-only controls (a remote or real venue raises TradingDisabled) -------------------
    async def set_speed(self, speed: Decimal) -> None:
        raise TradingDisabled(f"{self.name}: the clock is the venue's, not ours")

    async def set_paused(self, paused: bool) -> None:
        raise TradingDisabled(f"{self.name}: the clock is the venue's, not ours")

    async def advance(self, seconds: Decimal) -> None:
        raise TradingDisabled(f"{self.name}: the clock is the venue's, not ours")

    async def shock(self, asset: str, fraction: Decimal) -> None:
        raise TradingDisabled(f"{self.name}: only a paper market can be shocked")


def unknown_market(market: str, venue: Venue) -> str:
    """--market with a market the venue does not have: one line, with the ones it has."""
    return (f"perptui: {venue.name} has no market {market!r}; "
            f"its markets: {', '.join(venue.markets())}")  # fmt: skip


def describe(problem: BaseException) -> str:
    """A refusal as a person reads it: the exchange's own message, not a traceback."""
    return str(problem) or type(problem).__name__
