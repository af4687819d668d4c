"""The exchange's records spelled for the wire (shared/API.md): decimal strings, ms times,
camelCase names, string ids.

Why here and not in the routes: the WebSocket sends the same objects as REST (an order update
is the `Order` of GET /orders), and the remote venue decodes exactly these shapes back into the
same dataclasses (wire_decode.py), so one spelling serves both. Nothing here imports FastAPI.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from exchange_local.config import AssetSpec, MarketSpec
from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.funding import AccountFunding, FundingRecord
from exchange_local.health import AccountHealth, PositionRisk
from exchange_local.leaderboard import Standing
from exchange_local.ledger import LedgerEntry, readable_ref
from exchange_local.marketdata import Candle, Trade
from exchange_local.money import quantize_usd
from exchange_local.orders import Fill, OrderInfo

API_VERSION = "1.0"
FUNDING_INTERVAL_MS = 3_600_000
ORDER_TYPES = {
    "limit": "limit",
    "market": "market",
    "stop_market": "stopMarket",
    "take_profit": "takeProfit",
}
WIRE_ORDER_TYPES = {v: k for k, v in ORDER_TYPES.items()}
TIFS = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK"}
_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """snake_case -> camelCase ("partially_filled" -> "partiallyFilled")."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def dec(value: Decimal | None) -> str | None:
    """A Decimal as exact plain text (no exponent), None as null."""
    if value is None:
        return None
    return plain(value)


def plain(value: Decimal) -> str:
    """The exact value as plain text without trailing fractional zeros ("100205", not
    "100205.0000000000000000000000000000"; "0", not "0E-8" or "-0").

    Why: the engine's divisions carry 28 significant digits, and their zeros reached the
    wire as noise. Only zeros after the point go, so the value is the same Decimal; not
    `normalize()` alone, whose "1E+2" `format(..., "f")` must then turn back into "100"."""
    if not value.is_finite():
        return format(value, "f")
    if value == 0:
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def usd_display(value: Decimal | None) -> str | None:
    """A USD amount that is a display value (unrealised PnL: mark minus entry, times size)
    at the USD quantum, 0.000001: a division's 1e-31 residue (it read
    "0.12550000000000000000000000000010") is not money. Ledger amounts and balances are
    never rounded here."""
    if value is None:
        return None
    return plain(quantize_usd(value))


def ms(seconds: Decimal | None) -> int | None:
    """Exchange seconds (Decimal) -> integer milliseconds."""
    if seconds is None:
        return None
    return int(seconds * 1000)


def leverage_value(value: Decimal) -> int | str:
    """Leverage as an int when whole (API.md's `"leverage": 10`), else a decimal string."""
    return int(value) if value == value.to_integral_value() else plain(value)


def dump(obj: Any) -> Any:
    """A dataclass (or list/tuple of them) as JSON: camelCase keys, Decimals as strings."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {camel(f.name): dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Decimal):
        return plain(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, list | tuple):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): dump(v) for k, v in obj.items()}
    return obj


# --- markets ---------------------------------------------------------------------------------


def market_json(spec: MarketSpec) -> dict[str, Any]:
    mmf_base = Decimal("0.6") * spec.base_imf
    return {
        "symbol": spec.symbol,
        "base": spec.underlying,
        "quote": "USD",
        "tickSize": dec(spec.tick),
        "lotSize": dec(spec.lot),
        "minNotional": "0",
        "maxLeverage": leverage_value(spec.max_leverage),
        "maintenanceMarginRate": dec(mmf_base),
        "fundingIntervalMs": FUNDING_INTERVAL_MS,
        "baseImf": dec(spec.base_imf),
        "mmfBase": dec(mmf_base),
        "sizeFactor": dec(spec.size_factor),
        "oiCap": dec(spec.oi_cap),
        "impactNotional": dec(spec.impact_notional),
        "makerFee": dec(spec.maker_fee),
        "takerFee": dec(spec.taker_fee),
        "maxAccountPosition": dec(spec.max_account_position),
    }


def asset_json(spec: AssetSpec, index: Decimal) -> dict[str, Any]:
    return {
        "asset": spec.symbol,
        "weightTotal": dec(spec.weight_total),
        "weightInitial": dec(spec.weight_initial),
        "sizeFactor": dec(spec.size_factor),
        "decimals": spec.decimals,
        "collateral": spec.collateral,
        "indexPx": dec(index),
    }


def ticker_json(m: MarketState, ts: int) -> dict[str, Any]:
    """API.md's ticker plus every MarketState field (the remote venue rebuilds MarketState)."""
    mid = (
        (m.best_bid + m.best_ask) / 2 if m.best_bid is not None and m.best_ask is not None else None
    )
    return {
        "symbol": m.symbol,
        "markPx": dec(m.mark),
        "indexPx": dec(m.index),
        "midPx": dec(mid),
        "lastPx": dec(m.last_price),
        "fundingRate": dec(m.funding_rate),
        "predictedFundingRate": dec(m.predicted_funding_rate),
        "nextFundingTime": ms(m.next_funding_time),
        "nextSettlementTime": ms(m.next_settlement_time),
        "openInterest": dec(m.open_interest),
        "openInterestUsd": dec(m.open_interest_usd),
        "oiCap": dec(m.oi_cap),
        "volume24h": dec(m.volume_24h),
        "change24h": dec(m.change_24h),
        "high24h": dec(m.high_24h),
        "low24h": dec(m.low_24h),
        "bestBid": dec(m.best_bid),
        "bestAsk": dec(m.best_ask),
        "reduceOnly": m.reduce_only,
        "underlying": m.underlying,
        "tickSize": dec(m.tick),
        "lotSize": dec(m.lot),
        "maxLeverage": leverage_value(m.max_leverage),
        "ts": ts,
    }


def levels(rows: list[tuple[Decimal, Decimal]]) -> list[list[str]]:
    return [[plain(p), plain(q)] for p, q in rows]


def book_json(b: BookSnapshot, ts: int) -> dict[str, Any]:
    return {
        "symbol": b.market,
        "seq": b.seq,
        "ts": ts,
        "bids": levels(b.bids),
        "asks": levels(b.asks),
    }


def trade_json(t: Trade) -> dict[str, Any]:
    return {
        "tradeId": str(t.trade_id),
        "px": dec(t.price),
        "sz": dec(t.size),
        "side": t.taker_side,
        "ts": t.time_ms,
    }


def candle_json(c: Candle) -> dict[str, Any]:
    return {
        "t": ms(c.start),
        "o": dec(c.open),
        "h": dec(c.high),
        "l": dec(c.low),
        "c": dec(c.close),
        "v": dec(c.volume),
        "n": c.trades,
    }


def standing_json(s: Standing) -> dict[str, Any]:
    """One row of GET /leaderboard."""
    return {
        "accountId": s.account,
        "equity": dec(s.equity),
        "netDeposits": dec(s.net_deposits),
        "pnl": dec(s.pnl),
        "status": s.status,
        "positions": s.positions,
        "rank": s.rank,
    }


def funding_record_json(r: FundingRecord) -> dict[str, Any]:
    """API.md's {ts, rate, markPx}: the engine records the index it paid at, not the mark, so
    markPx is null and indexPx carries the price; the rest is the hour's full record."""
    return {
        "ts": ms(r.time),
        "symbol": r.market,
        "rate": dec(r.rate),
        "markPx": None,
        "indexPx": dec(r.index),
        "meanPremium": dec(r.mean_premium),
        "samples": r.samples,
        "paid": dec(r.paid),
        "received": dec(r.received),
        "residual": dec(r.residual),
    }


# --- accounts ----------------------------------------------------------------------------------


def order_json(o: OrderInfo, updated_ms: int | None = None) -> dict[str, Any]:
    created = ms(o.created)
    return {
        "orderId": str(o.order_id),
        "clientOrderId": o.client_order_id,
        "accountId": o.account,
        "symbol": o.market,
        "side": o.side,
        "type": ORDER_TYPES.get(o.type, o.type),
        "price": dec(o.price),
        "triggerPx": dec(o.trigger_price),
        "size": dec(o.size),
        "filledSize": dec(o.filled),
        "avgFillPx": dec(o.avg_price),
        "timeInForce": "ALO" if o.post_only else TIFS.get(o.tif, o.tif.upper()),
        "postOnly": o.post_only,
        "reduceOnly": o.reduce_only,
        "status": camel(str(o.status.value if isinstance(o.status, Enum) else o.status)),
        "cancelReason": camel(o.canceled_reason) if o.canceled_reason else None,
        "createdAt": created,
        "updatedAt": updated_ms if updated_ms is not None else created,
    }


def fill_json(f: Fill, account: str, client_order_id: str | None = None) -> dict[str, Any]:
    """One fill as `account` sees it (its side, order, fee, maker or taker)."""
    taker = f.taker == account
    side = f.taker_side if taker else ("sell" if f.taker_side == "buy" else "buy")
    return {
        "fillId": str(f.fill_id),
        "orderId": str(f.taker_order_id if taker else f.maker_order_id),
        "clientOrderId": client_order_id,
        "symbol": f.market,
        "side": side,
        "px": dec(f.price),
        "sz": dec(f.size),
        "fee": dec(f.taker_fee if taker else f.maker_fee),
        "liquidity": "taker" if taker else "maker",
        "realizedPnl": None,
        "ts": f.time_ms,
    }


def account_funding_json(f: AccountFunding) -> dict[str, Any]:
    """Amounts from the account's point of view, as API.md says: negative = paid."""
    return {
        "ts": ms(f.time),
        "symbol": f.market,
        "size": dec(f.size),
        "rate": dec(f.rate),
        "amount": dec(-f.amount),
    }


def ledger_json(e: LedgerEntry) -> dict[str, Any]:
    return {
        "txid": e.txid,
        "ts": ms(e.time),
        "type": e.type,
        "asset": e.asset,
        "amount": dec(e.amount),
        "balance": dec(e.balance),
        "ref": readable_ref(e.ref),
    }


def ledger_page(page: list[Any], total: int, start: int, limit: int) -> dict[str, Any]:
    """A page of ledger legs (those from position `start` of `total`), the cursor that
    continues (None at the end) and how many legs there are in all."""
    more = start + limit < total
    return {
        "entries": [ledger_json(e) for e in page],
        "nextCursor": str(start + limit) if more else None,
        "total": total,
    }


def position_json(p: PositionRisk, leverage: Decimal | None) -> dict[str, Any]:
    return {
        "symbol": p.market,
        "size": dec(p.size),
        "entryPx": dec(p.entry_price),
        "markPx": dec(p.mark_price),
        "notional": dec(p.notional),
        "unrealizedPnl": usd_display(p.unrealized_pnl),
        "leverage": leverage_value(leverage) if leverage is not None else None,
        "initialMargin": dec(p.imf * p.notional),
        "maintenanceMargin": dec(p.mmf * p.notional),
        "liquidationPx": dec(p.liquidation_price),
        "cumFunding": {"sinceOpen": dec(-p.funding_paid), "allTime": dec(-p.funding_paid)},
        "bankruptcyPx": dec(p.bankruptcy_price),
        "settlePx": dec(p.settle_price),
        "zeroPx": dec(p.zero_price),
        "imf": dec(p.imf),
        "mmf": dec(p.mmf),
        "adlQuintile": p.adl_quintile,
        "unsettledPnl": dec(p.unsettled_pnl),
        "realizedPnl": dec(p.realized_pnl),
        "fundingPaid": dec(p.funding_paid),
        "liquidationState": p.liquidation_state,
        "distanceToLiquidation": dec(p.distance_to_liquidation),
    }


def withdrawable_by_asset(ex: Any, account: str, h: AccountHealth) -> dict[str, Decimal]:
    """Per collateral asset of the exchange, the most the account can withdraw now
    (Exchange.max_withdrawal): what account_json's `withdrawableByAsset` shows. Apart from
    health() on purpose, so the health() every mark move recomputes for every account does
    not pay for it.

    Every collateral asset, held or not, in the exchange's order (then any other the account holds):
    one the account holds whose withdrawal margin blocks is 0, and one it holds none of is
    0 too, since nothing can be withdrawn of it. A key left out read as "unknown" to a
    client, who could not tell it from "0"; a fixed set of keys means an absent one is no
    asset of this exchange. An asset held none of costs no withdraw check (max_withdrawal
    answers 0 from the balance)."""
    held = [c.asset for c in h.collateral]
    names = dict.fromkeys([*(a.symbol for a in ex.config.assets if a.collateral), *held])
    return {name: ex.max_withdrawal(account, name) for name in names}


def account_json(
    h: AccountHealth,
    seq: int,
    ts: int,
    leverage: dict[str, Decimal],
    withdrawable: Mapping[str, Decimal] | None = None,
) -> dict[str, Any]:
    """GET /account: API.md's cross summary with our model's fields, and the chosen leverage
    per market (`leverageBySymbol`, which the order ticket shows).

    `withdrawable` (from `withdrawable_by_asset()`): `withdrawableByAsset`, the most of each
    collateral asset a withdrawal passes now ("0" when none, held or not). `available` (free
    collateral, E_im - IMR) overstates it: the withdraw rule is E_im' >= max(IMR, 10 % of
    notional) and E_mm' >= MMR, and a coin counts at its weight. Only present when given, as
    the caller pays for it."""
    body = {
        "accountId": h.account,
        "ts": ts,
        "seq": seq,
        "collateral": dec(h.collateral_total),
        "equity": dec(h.equity),
        "unrealizedPnl": usd_display(h.unrealized_pnl),
        "initialMarginUsed": dec(h.imr),
        "maintenanceMarginUsed": dec(h.mmr),
        "available": dec(h.free_collateral),
        "marginRatio": dec(h.margin_usage),
        "totalNotional": dec(h.notional),
        "status": h.status,
        "warning": h.warning,
        "collateralByAsset": [
            {
                "asset": c.asset,
                "amount": dec(c.amount),
                "price": dec(c.price),
                "weight": dec(c.weight),
                "weightInitial": dec(c.weight_initial),
                "value": dec(c.value),
            }
            for c in h.collateral
        ],
        "collateralInitial": dec(h.collateral_initial),
        "initialEquity": dec(h.initial_equity),
        "unsettledPnl": dec(h.unsettled_pnl),
        "acmr": dec(h.acmr),
        "marginFraction": dec(h.margin_fraction),
        "leverage": dec(h.leverage),
        "leverageBySymbol": {k: leverage_value(v) for k, v in leverage.items()},
        "positions": [position_json(p, leverage.get(p.market)) for p in h.positions],
    }
    if withdrawable is not None:
        body["withdrawableByAsset"] = {k: plain(v) for k, v in withdrawable.items()}
    return body
