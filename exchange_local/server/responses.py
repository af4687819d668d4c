"""Response bodies as the OpenAPI document declares them (shared/API.md's shapes, as wire.py
spells them), so schemathesis's `response_schema_conformance` checks the 2xx bodies too.

Why declared, not enforced: the routes keep returning wire.py's dicts, and `declared()` puts
the model under `responses=` with `response_model=None`, so FastAPI neither validates nor
re-serializes a body (the bytes and the cost of the hot order path are unchanged); the models
are the document only. Each is closed (`additionalProperties: false`) and every field is
required, so a field renamed, dropped or added in wire.py without its model fails the schema
run (tests/test_server_schema.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Exact plain text as wire.dec writes it: no exponent, any number of digits (a rate or a
# margin fraction may carry more than the 18 decimals a request may send).
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["68000.5"])]
Millis = Annotated[int, Field(description="ms since epoch (UTC)")]
LeverageOut = int | DecimalText  # an int when whole (`"leverage": 10`), else a decimal string
Side = Literal["buy", "sell"]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- market data --------------------------------------------------------------------------------


class Market(Closed):
    symbol: str
    base: str
    quote: str
    tickSize: DecimalText
    lotSize: DecimalText
    minNotional: DecimalText
    maxLeverage: LeverageOut
    maintenanceMarginRate: DecimalText
    fundingIntervalMs: int
    baseImf: DecimalText
    mmfBase: DecimalText
    sizeFactor: DecimalText
    oiCap: DecimalText
    impactNotional: DecimalText
    makerFee: DecimalText
    takerFee: DecimalText
    maxAccountPosition: DecimalText | None


class Markets(Closed):
    markets: list[Market]


class Ticker(Closed):
    symbol: str
    markPx: DecimalText
    indexPx: DecimalText
    midPx: DecimalText | None
    lastPx: DecimalText | None
    fundingRate: DecimalText | None
    predictedFundingRate: DecimalText | None
    nextFundingTime: Millis | None
    nextSettlementTime: Millis | None
    openInterest: DecimalText
    openInterestUsd: DecimalText
    oiCap: DecimalText
    volume24h: DecimalText
    change24h: DecimalText
    high24h: DecimalText | None
    low24h: DecimalText | None
    bestBid: DecimalText | None
    bestAsk: DecimalText | None
    reduceOnly: bool
    underlying: str
    tickSize: DecimalText
    lotSize: DecimalText
    maxLeverage: LeverageOut
    ts: Millis


Level = Annotated[
    list[DecimalText],
    Field(min_length=2, max_length=2, description="[price, size]", examples=[["68000.5", "1.2"]]),
]


class Tickers(Closed):
    tickers: list[Ticker]


class Book(Closed):
    symbol: str
    seq: int
    ts: Millis
    bids: list[Level]
    asks: list[Level]


class Trade(Closed):
    tradeId: str
    px: DecimalText
    sz: DecimalText
    side: Side = Field(description="the aggressor's side")
    ts: Millis


class Trades(Closed):
    trades: list[Trade]


class Candle(Closed):
    t: Millis
    o: DecimalText
    h: DecimalText
    l: DecimalText  # noqa: E741 (the wire's name)
    c: DecimalText
    v: DecimalText


class Candles(Closed):
    candles: list[Candle]


# --- account ------------------------------------------------------------------------------------


class CollateralAsset(Closed):
    asset: str
    amount: DecimalText
    price: DecimalText
    weight: DecimalText
    weightInitial: DecimalText
    value: DecimalText


class CumFunding(Closed):
    sinceOpen: DecimalText
    allTime: DecimalText


class Position(Closed):
    symbol: str
    size: DecimalText = Field(description="signed: negative = short")
    entryPx: DecimalText
    markPx: DecimalText
    notional: DecimalText
    unrealizedPnl: DecimalText
    leverage: LeverageOut | None
    initialMargin: DecimalText
    maintenanceMargin: DecimalText
    liquidationPx: DecimalText | None
    cumFunding: CumFunding
    bankruptcyPx: DecimalText | None
    settlePx: DecimalText
    zeroPx: DecimalText | None
    imf: DecimalText
    mmf: DecimalText
    adlQuintile: int | None
    unsettledPnl: DecimalText
    realizedPnl: DecimalText
    fundingPaid: DecimalText
    liquidationState: str
    distanceToLiquidation: DecimalText | None


class Account(Closed):
    accountId: str
    ts: Millis
    seq: int
    collateral: DecimalText
    equity: DecimalText
    unrealizedPnl: DecimalText
    initialMarginUsed: DecimalText
    maintenanceMarginUsed: DecimalText
    available: DecimalText
    marginRatio: DecimalText | None
    totalNotional: DecimalText
    status: str
    warning: bool
    collateralByAsset: list[CollateralAsset]
    collateralInitial: DecimalText
    initialEquity: DecimalText
    unsettledPnl: DecimalText
    acmr: DecimalText
    marginFraction: DecimalText | None
    leverage: DecimalText | None
    leverageBySymbol: dict[str, LeverageOut]
    positions: list[Position]


# --- orders and fills ---------------------------------------------------------------------------


class Order(Closed):
    orderId: str
    clientOrderId: str | None
    accountId: str
    symbol: str
    side: Side
    type: Literal["limit", "market", "stopMarket", "takeProfit"]
    price: DecimalText | None
    triggerPx: DecimalText | None
    size: DecimalText
    filledSize: DecimalText
    avgFillPx: DecimalText | None
    timeInForce: Literal["GTC", "IOC", "FOK", "ALO"]
    postOnly: bool
    reduceOnly: bool
    status: Literal["open", "partiallyFilled", "filled", "canceled", "untriggered"]
    cancelReason: str | None
    createdAt: Millis
    updatedAt: Millis


class Orders(Closed):
    orders: list[Order]


class Fill(Closed):
    fillId: str
    orderId: str
    clientOrderId: str | None
    symbol: str
    side: Side
    px: DecimalText
    sz: DecimalText
    fee: DecimalText
    liquidity: Literal["maker", "taker"]
    realizedPnl: DecimalText | None
    ts: Millis


class Fills(Closed):
    fills: list[Fill]
    nextCursor: str | None = Field(description="pass as `cursor` for older fills; null: no more")


class PlacedOrder(Closed):
    order: Order
    fills: list[Fill] = Field(description="the order's immediate fills")


class OrderResult(Closed):
    order: Order


class Canceled(Closed):
    canceled: list[str] = Field(description="the ids of the orders canceled")


def declared(model: type[BaseModel], status: int = 200) -> dict[str, Any]:
    """Route keywords that declare `model` as the body of `status` without FastAPI validating
    or re-serializing what the route returns: `@router.get(path, **declared(Model))`."""
    return {"response_model": None, "responses": {status: {"model": model}}}
