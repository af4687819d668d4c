"""The wire back into the exchange's own records: what the remote venue returns is the same
dataclasses LocalVenue returns, so the terminal cannot tell which venue it talks to.

Each decoder mirrors one encoder of wire.py; test_server_wire checks the round trips. Clients
ignore unknown fields (API.md: additive changes only within v1). Nothing here imports FastAPI.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from decimal import Decimal
from typing import Any

from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.funding import AccountFunding, FundingRecord
from exchange_local.health import AccountHealth, CollateralLine, PositionRisk
from exchange_local.ledger import LedgerEntry
from exchange_local.marketdata import Candle, Trade
from exchange_local.orders import Fill, OrderInfo, OrderResult, OrderStatus
from exchange_local.server.wire import WIRE_ORDER_TYPES, camel

_SNAKE_STATUS = {camel(s.value): s for s in OrderStatus}


def D(value: Any) -> Decimal:
    return Decimal(str(value))


def OD(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def seconds(ms_value: Any) -> Decimal:
    return Decimal(int(ms_value)) / 1000


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def load(cls: Any, data: Any) -> Any:
    """Generic inverse of wire.dump for a dataclass type (camelCase keys, Decimal strings)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        key = camel(f.name)
        if key not in data:
            continue
        kwargs[f.name] = _load_value(hints[f.name], data[key])
    return cls(**kwargs)


def _load_value(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _load_value(args[0], value) if len(args) == 1 else value
    if tp is Decimal:
        return D(value)
    if origin in (list, tuple):
        (inner, *_rest) = typing.get_args(tp) or (Any,)
        items = [_load_value(inner, v) for v in value]
        return tuple(items) if origin is tuple else items
    if dataclasses.is_dataclass(tp):
        return load(tp, value)
    return value


# --- market data ----------------------------------------------------------------------------


def market_state(t: dict[str, Any]) -> MarketState:
    def opt_seconds(key: str) -> Decimal | None:
        return seconds(t[key]) if t.get(key) is not None else None

    return MarketState(
        symbol=t["symbol"],
        underlying=t.get("underlying", t["symbol"].split("-")[0]),
        mark=D(t["markPx"]),
        index=D(t["indexPx"]),
        best_bid=OD(t.get("bestBid")),
        best_ask=OD(t.get("bestAsk")),
        last_price=OD(t.get("lastPx")),
        open_interest=D(t.get("openInterest", "0")),
        open_interest_usd=D(t.get("openInterestUsd", "0")),
        oi_cap=D(t.get("oiCap", "0")),
        change_24h=D(t.get("change24h", "0")),
        high_24h=OD(t.get("high24h")),
        low_24h=OD(t.get("low24h")),
        volume_24h=D(t.get("volume24h", "0")),
        reduce_only=bool(t.get("reduceOnly", False)),
        tick=D(t.get("tickSize", "0")),
        lot=D(t.get("lotSize", "0")),
        max_leverage=D(t.get("maxLeverage", "1")),
        funding_rate=OD(t.get("fundingRate")),
        predicted_funding_rate=OD(t.get("predictedFundingRate")),
        next_funding_time=opt_seconds("nextFundingTime"),
        next_settlement_time=opt_seconds("nextSettlementTime"),
    )


def book(b: dict[str, Any]) -> BookSnapshot:
    return BookSnapshot(
        b["symbol"],
        int(b["seq"]),
        [(D(p), D(q)) for p, q in b["bids"]],
        [(D(p), D(q)) for p, q in b["asks"]],
    )


def trade(t: dict[str, Any]) -> Trade:
    return Trade(int(t["tradeId"]), int(t["ts"]), D(t["px"]), D(t["sz"]), t["side"])


def candle(c: dict[str, Any]) -> Candle:
    return Candle(
        seconds(c["t"]), D(c["o"]), D(c["h"]), D(c["l"]), D(c["c"]), D(c["v"]), int(c.get("n", 0))
    )


def funding_record(r: dict[str, Any]) -> FundingRecord:
    return FundingRecord(
        seconds(r["ts"]),
        r.get("symbol", ""),
        D(r["rate"]),
        D(r.get("meanPremium") or 0),
        D(r.get("indexPx") or r.get("markPx") or 0),
        int(r.get("samples") or 0),
        D(r.get("paid") or 0),
        D(r.get("received") or 0),
        D(r.get("residual") or 0),
    )


# --- accounts ----------------------------------------------------------------------------------


def order_status(wire: str) -> OrderStatus:
    return _SNAKE_STATUS.get(wire) or OrderStatus(snake(wire))


def order_info(o: dict[str, Any]) -> OrderInfo:
    tif = o.get("timeInForce", "GTC")
    return OrderInfo(
        order_id=int(o["orderId"]),
        account=o.get("accountId", ""),
        market=o["symbol"],
        side=o["side"],
        type=WIRE_ORDER_TYPES.get(o.get("type", "limit"), snake(o.get("type", "limit"))),
        tif="gtc" if tif == "ALO" else tif.lower(),
        size=D(o["size"]),
        price=OD(o.get("price")),
        trigger_price=OD(o.get("triggerPx")),
        post_only=bool(o.get("postOnly", tif == "ALO")),
        reduce_only=bool(o.get("reduceOnly", False)),
        client_order_id=o.get("clientOrderId"),
        status=order_status(o["status"]),
        filled=D(o.get("filledSize", "0")),
        avg_price=OD(o.get("avgFillPx")),
        canceled_reason=snake(o["cancelReason"]) if o.get("cancelReason") else None,
        created=seconds(o["createdAt"]),
    )


def order_result(o: dict[str, Any]) -> OrderResult:
    info = order_info(o)
    return OrderResult(
        info.order_id, info.status, info.filled, info.avg_price, info.canceled_reason
    )


def fill(f: dict[str, Any], account: str) -> Fill:
    """The account's half of a fill (the counterparty is not disclosed on the wire)."""
    taker = f.get("liquidity") == "taker"
    side = f["side"]
    other = "sell" if side == "buy" else "buy"
    oid = int(f["orderId"])
    fee = D(f.get("fee") or 0)
    return Fill(
        fill_id=int(f["fillId"]),
        time_ms=int(f["ts"]),
        market=f["symbol"],
        price=D(f["px"]),
        size=D(f["sz"]),
        taker_side=side if taker else other,
        taker=account if taker else "",
        maker="" if taker else account,
        taker_order_id=oid if taker else 0,
        maker_order_id=0 if taker else oid,
        taker_fee=fee if taker else Decimal(0),
        maker_fee=Decimal(0) if taker else fee,
    )


def account_funding(p: dict[str, Any]) -> AccountFunding:
    return AccountFunding(
        seconds(p["ts"]), p["symbol"], D(p["size"]), D(p["rate"]), -D(p["amount"])
    )


def ledger_entry(e: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        int(e["txid"]),
        seconds(e["ts"]),
        e["type"],
        e["asset"],
        D(e["amount"]),
        D(e["balance"]),
        e.get("ref", ""),
    )


def position_risk(p: dict[str, Any]) -> PositionRisk:
    return PositionRisk(
        market=p["symbol"],
        size=D(p["size"]),
        entry_price=D(p["entryPx"]),
        settle_price=D(p.get("settlePx") or p["entryPx"]),
        mark_price=D(p["markPx"]),
        notional=D(p["notional"]),
        unsettled_pnl=D(p.get("unsettledPnl") or 0),
        unrealized_pnl=D(p["unrealizedPnl"]),
        realized_pnl=D(p.get("realizedPnl") or 0),
        funding_paid=D(p.get("fundingPaid") or 0),
        imf=D(p.get("imf") or 0),
        mmf=D(p.get("mmf") or 0),
        liquidation_price=OD(p.get("liquidationPx")),
        bankruptcy_price=OD(p.get("bankruptcyPx")),
        zero_price=OD(p.get("zeroPx")),
        liquidation_state=p.get("liquidationState", "ok"),
        distance_to_liquidation=OD(p.get("distanceToLiquidation")),
        adl_quintile=p.get("adlQuintile"),
    )


def account_health(a: dict[str, Any]) -> AccountHealth:
    return AccountHealth(
        account=a["accountId"],
        equity=D(a["equity"]),
        initial_equity=D(a.get("initialEquity") or a["equity"]),
        collateral_total=D(a["collateral"]),
        collateral_initial=D(a.get("collateralInitial") or a["collateral"]),
        collateral=[
            CollateralLine(
                c["asset"],
                D(c["amount"]),
                D(c["price"]),
                D(c["weight"]),
                D(c.get("weightInitial") or c["weight"]),
                D(c["value"]),
            )
            for c in a.get("collateralByAsset", [])
        ],
        unsettled_pnl=D(a.get("unsettledPnl") or 0),
        unrealized_pnl=D(a["unrealizedPnl"]),
        notional=D(a["totalNotional"]),
        imr=D(a["initialMarginUsed"]),
        mmr=D(a["maintenanceMarginUsed"]),
        acmr=D(a.get("acmr") or 0),
        margin_fraction=OD(a.get("marginFraction")),
        margin_usage=OD(a.get("marginRatio")),
        free_collateral=D(a["available"]),
        leverage=OD(a.get("leverage")),
        status=a.get("status", "ok"),
        warning=bool(a.get("warning", False)),
        positions=[position_risk(p) for p in a.get("positions", [])],
    )


def leverage_map(a: dict[str, Any]) -> dict[str, Decimal]:
    return {k: D(v) for k, v in a.get("leverageBySymbol", {}).items()}
