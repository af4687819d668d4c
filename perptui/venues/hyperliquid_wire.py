"""Hyperliquid's documented shapes (shared/VENUES.md section 1) decoded into exchange_local's
records: pure functions, no I/O, Decimal from the strings and never through float.

Why tolerant: the same `/info` answer has changed shape over the years (the SDK's 2023 cassette
has no `crossMaintenanceMarginUsed`, `cumFunding`, `maxLeverage` or `time`, but a per-position
`maxTradeSzs`), any price may be `null` (`liquidationPx`, `midPx`, `premium`, `impactPxs`), and
an error can arrive with HTTP 200 as `{"status": "err", "response": "..."}`. So every reader
here takes what is there, ignores unknown keys, and says clearly what was missing where it
matters. Markets are named `COIN-PERP` (`BTC-PERP`) so the terminal, the stress grid and the
price mirror see the same names as on the paper exchange; `coin_of` goes back.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.errors import ExchangeError
from exchange_local.funding import AccountFunding, FundingRecord
from exchange_local.marketdata import Candle, Trade
from exchange_local.orders import Fill, OrderInfo, OrderStatus

MAINNET_API = "https://api.hyperliquid.xyz"
TESTNET_API = "https://api.hyperliquid-testnet.xyz"
ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
SUFFIX = "-PERP"
ZERO = Decimal(0)
HOUR_MS = 3_600_000


class HyperliquidError(ExchangeError):
    """Hyperliquid refused or answered something this client cannot read (the venue's words)."""

    code = "hyperliquid_error"


class HyperliquidUnavailable(ExchangeError):
    """Hyperliquid could not be reached, timed out, or rate-limited us."""

    code = "unavailable"


class HyperliquidRateLimited(HyperliquidUnavailable):
    """HTTP 429: this IP is over its weight budget (VENUES.md 1.4, 1200 a minute). A class of
    its own because the cure differs from an outage's: ask less often until an answer passes.
    `retry_after`: the seconds the answer's Retry-After asked for (None: it gave none)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


RETRY_AFTER_MAX = 300.0  # a Retry-After beyond five minutes is taken as five minutes


def retry_after_seconds(header: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now (RFC 9110: delta-seconds or an HTTP date; `now` is the
    wall clock's epoch seconds, for the date form), clipped to 0..RETRY_AFTER_MAX; None when
    absent or unreadable, so the caller's own backoff decides alone."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(RETRY_AFTER_MAX, max(0.0, seconds))


def validate_address(address: str) -> str:
    """`0x` + 40 hex digits, returned lower-case; anything else is a ValueError that says why."""
    if not isinstance(address, str) or not ADDRESS.match(address.strip()):
        raise ValueError(
            f"a Hyperliquid address is 0x followed by 40 hex digits (the master or sub-account "
            f"address that holds the positions, not an API wallet), got {address!r}"
        )
    return address.strip().lower()


def ws_url_for(base_url: str) -> str:
    """The SDK's rule: `"ws" + base_url[len("http"):] + "/ws"` (https -> wss)."""
    base = base_url.rstrip("/")
    if not base.startswith("http"):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return "ws" + base[len("http") :] + "/ws"


def market_of(coin: str) -> str:
    return coin + SUFFIX


def coin_of(market: str) -> str:
    return market[: -len(SUFFIX)] if market.endswith(SUFFIX) else market


def dec(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A decimal string (or an int) as a Decimal; None/absent/garbage -> `default`. Floats are
    read through `str`, which is exact for what JSON gave us (the wire sends strings anyway)."""
    if value is None or isinstance(value, bool):
        return default
    try:
        out = Decimal(value if isinstance(value, str | int) else str(value))
    except (InvalidOperation, ValueError, TypeError):
        return default
    return out if out.is_finite() else default


def req(value: Any, what: str) -> Decimal:
    """A decimal that must be there: a HyperliquidError naming the field otherwise."""
    out = dec(value)
    if out is None:
        raise HyperliquidError(f"Hyperliquid sent no usable {what} ({value!r})")
    return out


def check(body: Any) -> Any:
    """HTTP 200 with `{"status": "err", "response": "..."}` is a refusal: raise it."""
    if isinstance(body, dict) and body.get("status") == "err":
        raise HyperliquidError(f"Hyperliquid: {body.get('response') or 'error'}")
    return body


def side_word(side: Any) -> str:
    """`"B"` (bid/buy) -> "buy", `"A"` (ask/sell) -> "sell"."""
    if side == "B":
        return "buy"
    if side == "A":
        return "sell"
    raise HyperliquidError(f"unknown side {side!r} (expected 'B' or 'A')")


# --- markets ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarginTier:
    lower_bound: Decimal  # notional (USDC) from which this tier applies
    max_leverage: Decimal


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One `meta.universe` entry with what its context adds that MarketState has no field for."""

    coin: str
    index: int  # asset id for orders (position in the universe; never hard-coded)
    sz_decimals: int
    max_leverage: Decimal
    tiers: tuple[MarginTier, ...]
    delisted: bool = False
    only_isolated: bool = False
    premium: Decimal | None = None
    mid: Decimal | None = None
    impact_bid: Decimal | None = None
    impact_ask: Decimal | None = None
    prev_day_price: Decimal | None = None


def parse_tiers(meta: dict[str, Any]) -> dict[int, tuple[MarginTier, ...]]:
    """`marginTables: [[id, {"marginTiers": [{"lowerBound", "maxLeverage"}]}]]` by id."""
    tables: dict[int, tuple[MarginTier, ...]] = {}
    for entry in meta.get("marginTables") or ():
        try:
            table_id, table = entry
            tiers = tuple(
                MarginTier(req(t.get("lowerBound"), "lowerBound"),
                           req(t.get("maxLeverage"), "maxLeverage"))
                for t in table.get("marginTiers") or ()
            )  # fmt: skip
        except (TypeError, ValueError, AttributeError):
            continue
        if tiers:
            tables[int(table_id)] = tuple(sorted(tiers, key=lambda t: t.lower_bound))
    return tables


def tiers_for(
    entry: dict[str, Any], tables: dict[int, tuple[MarginTier, ...]]
) -> tuple[MarginTier, ...]:
    """The asset's tiers: its margin table when the meta has it; "for IDs less than 50 there
    is a single tier with max leverage equal to the ID" [DOC]; else its maxLeverage alone."""
    table_id = entry.get("marginTableId")
    if isinstance(table_id, int) and table_id in tables:
        return tables[table_id]
    if isinstance(table_id, int) and 0 < table_id < 50:
        return (MarginTier(ZERO, Decimal(table_id)),)
    return (MarginTier(ZERO, req(entry.get("maxLeverage"), "maxLeverage")),)


def price_tick(sz_decimals: int, price: Decimal | None) -> Decimal:
    """Display tick: at most 6 - szDecimals decimals and 5 significant figures [DOC]."""
    decimals = max(0, 6 - sz_decimals)
    if price is not None and price > 0:
        sig = 5 - (price.adjusted() + 1)  # decimals that 5 significant figures allow
        decimals = max(0, min(decimals, sig))
    return Decimal(1).scaleb(-decimals)


def parse_markets(body: Any, now_ms: int) -> tuple[dict[str, MarketState], dict[str, AssetInfo]]:
    """`metaAndAssetCtxs` -> ({market: MarketState}, {market: AssetInfo}); `ctxs[i]` belongs to
    `universe[i]`. Null mids, premiums and impact prices stay None; an entry without a mark is
    skipped (it cannot be shown or margined)."""
    check(body)
    if not isinstance(body, list) or len(body) != 2:
        raise HyperliquidError("metaAndAssetCtxs: expected [meta, assetCtxs]")
    meta, ctxs = body
    universe = meta.get("universe") or []
    tables = parse_tiers(meta)
    states: dict[str, MarketState] = {}
    infos: dict[str, AssetInfo] = {}
    next_funding_s = Decimal((now_ms // HOUR_MS + 1) * HOUR_MS) / 1000  # hourly, on the hour
    for i, (entry, ctx) in enumerate(zip(universe, ctxs, strict=False)):
        coin = entry.get("name")
        mark = dec(ctx.get("markPx"))
        if not isinstance(coin, str) or mark is None:
            continue
        sz_dec = int(entry.get("szDecimals") or 0)
        max_lev = dec(entry.get("maxLeverage"), Decimal(1)) or Decimal(1)
        oracle = dec(ctx.get("oraclePx"), mark) or mark
        prev = dec(ctx.get("prevDayPx"))
        oi = dec(ctx.get("openInterest"), ZERO) or ZERO
        impact = ctx.get("impactPxs") if isinstance(ctx.get("impactPxs"), list) else None
        market = market_of(coin)
        delisted = bool(entry.get("isDelisted"))
        states[market] = MarketState(
            symbol=market, underlying=coin, mark=mark, index=oracle,
            best_bid=None, best_ask=None, last_price=None,
            open_interest=oi, open_interest_usd=oi * mark, oi_cap=ZERO,
            change_24h=(mark - prev) / prev if prev else ZERO, high_24h=None, low_24h=None,
            volume_24h=dec(ctx.get("dayNtlVlm"), ZERO) or ZERO, reduce_only=delisted,
            tick=price_tick(sz_dec, mark), lot=Decimal(1).scaleb(-sz_dec), max_leverage=max_lev,
            funding_rate=dec(ctx.get("funding")), predicted_funding_rate=None,
            next_funding_time=next_funding_s, next_settlement_time=None,
        )  # fmt: skip
        infos[market] = AssetInfo(
            coin, i, sz_dec, max_lev, tiers_for(entry, tables), delisted,
            bool(entry.get("onlyIsolated")), dec(ctx.get("premium")), dec(ctx.get("midPx")),
            dec(impact[0]) if impact and len(impact) == 2 else None,
            dec(impact[1]) if impact and len(impact) == 2 else None, prev,
        )  # fmt: skip
    return states, infos


def apply_asset_ctx(state: MarketState, ctx: dict[str, Any]) -> MarketState:
    """A WS `activeAssetCtx` update on top of the polled state (same fields, fresher)."""
    mark = dec(ctx.get("markPx"), state.mark) or state.mark
    prev = dec(ctx.get("prevDayPx"))
    oi = dec(ctx.get("openInterest"), state.open_interest) or state.open_interest
    return replace(
        state, mark=mark, index=dec(ctx.get("oraclePx"), state.index) or state.index,
        open_interest=oi, open_interest_usd=oi * mark,
        change_24h=(mark - prev) / prev if prev else state.change_24h,
        funding_rate=dec(ctx.get("funding"), state.funding_rate),
        volume_24h=dec(ctx.get("dayNtlVlm"), state.volume_24h) or state.volume_24h,
    )  # fmt: skip


# --- the account --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HLPosition:
    """One `assetPositions[].position`, as sent (signed size; optional fields None)."""

    market: str
    size: Decimal
    entry_price: Decimal
    position_value: Decimal
    unrealized_pnl: Decimal
    margin_used: Decimal
    liquidation_price: Decimal | None
    leverage_type: str  # "cross" | "isolated"
    leverage: Decimal | None
    raw_usd: Decimal | None  # isolated only
    max_leverage: Decimal | None
    funding_since_open: Decimal | None
    funding_all_time: Decimal | None

    @property
    def mark(self) -> Decimal:
        """The mark the venue valued this position at: positionValue / |szi| (VENUES 1.2)."""
        return self.position_value / abs(self.size) if self.size else ZERO


@dataclass(frozen=True, slots=True)
class HLAccount:
    """`clearinghouseState`: the cross summary, the venue's maintenance (None when absent, as
    in 2023-era answers), withdrawable, positions, and the server time (None when absent)."""

    account_value: Decimal  # crossMarginSummary.accountValue: cross only
    total_account_value: Decimal  # marginSummary.accountValue: cross + isolated
    total_raw_usd: Decimal
    total_notional: Decimal
    margin_used: Decimal
    maintenance_used: Decimal | None
    withdrawable: Decimal | None
    positions: tuple[HLPosition, ...]
    time_ms: int | None
    missing: tuple[str, ...] = field(default=())  # documented fields this answer lacked


def parse_account(body: Any) -> HLAccount:
    check(body)
    if not isinstance(body, dict):
        raise HyperliquidError("clearinghouseState: expected an object")
    missing: list[str] = []
    total = body.get("marginSummary") or {}
    cross = body.get("crossMarginSummary")
    if cross is None:
        missing.append("crossMarginSummary")
        cross = total
    positions = []
    for row in body.get("assetPositions") or ():
        p = row.get("position") if isinstance(row, dict) else None
        if not isinstance(p, dict) or not isinstance(p.get("coin"), str):
            continue
        size = req(p.get("szi"), "szi")
        if size == 0:
            continue
        lev: dict[str, Any] = p["leverage"] if isinstance(p.get("leverage"), dict) else {}
        cum: dict[str, Any] = p["cumFunding"] if isinstance(p.get("cumFunding"), dict) else {}
        mark_value = dec(p.get("positionValue"))
        positions.append(HLPosition(
            market_of(p["coin"]), size, req(p.get("entryPx"), "entryPx"),
            mark_value if mark_value is not None else ZERO,
            dec(p.get("unrealizedPnl"), ZERO) or ZERO, dec(p.get("marginUsed"), ZERO) or ZERO,
            dec(p.get("liquidationPx")), str(lev.get("type") or "cross"), dec(lev.get("value")),
            dec(lev.get("rawUsd")), dec(p.get("maxLeverage")), dec(cum.get("sinceOpen")),
            dec(cum.get("allTime")),
        ))  # fmt: skip
        if mark_value is None:
            missing.append(f"{p['coin']}.positionValue")
    if "crossMaintenanceMarginUsed" not in body:
        missing.append("crossMaintenanceMarginUsed")
    raw_time = body.get("time")
    return HLAccount(
        req(cross.get("accountValue"), "crossMarginSummary.accountValue"),
        dec(total.get("accountValue"), ZERO) or ZERO,
        dec(cross.get("totalRawUsd"), ZERO) or ZERO,
        dec(cross.get("totalNtlPos"), ZERO) or ZERO,
        dec(cross.get("totalMarginUsed"), ZERO) or ZERO,
        dec(body.get("crossMaintenanceMarginUsed")),
        dec(body.get("withdrawable")),
        tuple(positions),
        int(raw_time) if isinstance(raw_time, int) else None,
        tuple(missing),
    )


# --- book, trades, candles ----------------------------------------------------------------------


def parse_book(body: Any, seq: int = 0) -> BookSnapshot:
    """`l2Book` (REST or WS): levels[0] bids best-first, levels[1] asks ascending. HL has no
    sequence numbers; `seq` is the block time so a newer snapshot is recognisable."""
    check(body)
    levels = body.get("levels") or [[], []]
    bids = [(req(lv["px"], "px"), req(lv["sz"], "sz")) for lv in levels[0]]
    asks = [(req(lv["px"], "px"), req(lv["sz"], "sz")) for lv in levels[1]]
    t = body.get("time")
    return BookSnapshot(market_of(str(body.get("coin"))), int(t) if isinstance(t, int) else seq,
                        bids, asks)  # fmt: skip


def parse_trade(row: dict[str, Any]) -> Trade:
    """WS `trades` row; `side` is the aggressor's."""
    return Trade(int(row.get("tid") or 0), int(row.get("time") or 0), req(row.get("px"), "px"),
                 req(row.get("sz"), "sz"), side_word(row.get("side")))  # fmt: skip


def parse_candle(row: dict[str, Any]) -> Candle:
    """`candleSnapshot` row or WS `candle`: t in ms -> start in seconds; OHLCV strings (the WS
    doc's TypeScript says numbers; either reads the same)."""
    return Candle(
        Decimal(int(row["t"])) / 1000, req(row.get("o"), "o"), req(row.get("h"), "h"),
        req(row.get("l"), "l"), req(row.get("c"), "c"), dec(row.get("v"), ZERO) or ZERO,
    )  # fmt: skip


# --- orders, fills, funding ---------------------------------------------------------------------

ORDER_TYPES = {
    "limit": "limit", "market": "market", "stop market": "stop_market",
    "stop limit": "stop_market", "take profit market": "take_profit",
    "take profit limit": "take_profit",
}  # fmt: skip


def parse_order(row: dict[str, Any], account: str) -> OrderInfo:
    """`openOrders` / `frontendOpenOrders` row (or the `order` of a WS `orderUpdates` item).
    `sz` is what remains; `origSz` (frontend only) the original size."""
    remaining = req(row.get("sz"), "sz")
    original = dec(row.get("origSz"), remaining) or remaining
    trigger = bool(row.get("isTrigger"))
    tif = str(row.get("tif") or "Gtc").lower()
    kind = ORDER_TYPES.get(str(row.get("orderType") or "limit").lower(), "limit")
    filled = max(ZERO, original - remaining)
    status = (OrderStatus.UNTRIGGERED if trigger
              else OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.OPEN)  # fmt: skip
    return OrderInfo(
        order_id=int(row["oid"]), account=account, market=market_of(str(row.get("coin"))),
        side=side_word(row.get("side")), type=kind, tif="ioc" if tif == "ioc" else "gtc",
        size=original, price=dec(row.get("limitPx")),
        trigger_price=dec(row.get("triggerPx")) if trigger else None,
        post_only=tif == "alo", reduce_only=bool(row.get("reduceOnly")),
        client_order_id=row.get("cloid") if isinstance(row.get("cloid"), str) else None,
        status=status, filled=filled, avg_price=None, canceled_reason=None,
        created=Decimal(int(row.get("timestamp") or 0)) / 1000,
    )  # fmt: skip


def parse_fill(row: dict[str, Any], account: str) -> Fill:
    """`userFills` row: `crossed` means we took; `side` is ours. The other party is not
    published (""), so the fee sits on our side of the record."""
    ours = side_word(row.get("side"))
    taker = bool(row.get("crossed"))
    fee = dec(row.get("fee"), ZERO) or ZERO
    oid = int(row.get("oid") or 0)
    return Fill(
        fill_id=int(row.get("tid") or 0), time_ms=int(row.get("time") or 0),
        market=market_of(str(row.get("coin"))), price=req(row.get("px"), "px"),
        size=req(row.get("sz"), "sz"),
        taker_side=ours if taker else ("sell" if ours == "buy" else "buy"),
        taker=account if taker else "", maker="" if taker else account,
        taker_order_id=oid if taker else 0, maker_order_id=0 if taker else oid,
        taker_fee=fee if taker else ZERO, maker_fee=ZERO if taker else fee,
    )  # fmt: skip


def parse_funding(row: dict[str, Any]) -> AccountFunding:
    """`userFunding` row (`delta` holds the payment) or a WS `userFundings` / `userEvents`
    funding item (flat). HL's `usdc` < 0 means the user paid; exchange_local's amount > 0
    means paid, so the sign flips."""
    data: dict[str, Any] = row["delta"] if isinstance(row.get("delta"), dict) else row
    return AccountFunding(
        Decimal(int(row.get("time") or data.get("time") or 0)) / 1000,
        market_of(str(data.get("coin"))), dec(data.get("szi"), ZERO) or ZERO,
        dec(data.get("fundingRate"), ZERO) or ZERO, -(req(data.get("usdc"), "usdc")),
    )  # fmt: skip


def parse_funding_history(row: dict[str, Any]) -> FundingRecord:
    """`fundingHistory` row: the rate and premium; HL does not publish the totals paid."""
    return FundingRecord(
        Decimal(int(row.get("time") or 0)) / 1000, market_of(str(row.get("coin"))),
        req(row.get("fundingRate"), "fundingRate"), dec(row.get("premium"), ZERO) or ZERO,
        ZERO, 0, ZERO, ZERO, ZERO,
    )  # fmt: skip
