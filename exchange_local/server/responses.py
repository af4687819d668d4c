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

from pydantic import BaseModel, ConfigDict, Field, RootModel

# Exact plain text as wire.dec writes it: no exponent, any number of digits (a rate or a
# margin fraction may carry more than the 18 decimals a request may send).
DecimalText = Annotated[str, Field(pattern=r"^-?[0-9]+(\.[0-9]+)?$", examples=["68000.5"])]
Millis = Annotated[int, Field(description="ms since epoch (UTC)")]
# an int (`"leverage": 10`); the wire takes whole leverage only, so a decimal string appears
# only for a fractional leverage chosen in process on a store before it was served
LeverageOut = int | DecimalText
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
    n: int = Field(ge=0, description="number of trades (0 for mark and index candles)")


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
    # GET /account only (not the WS summary, which would pay a withdraw check per asset)
    withdrawableByAsset: dict[str, DecimalText] | None = Field(
        default=None,
        description="the most of each collateral asset a withdrawal passes now: every asset "
        'of the exchange, "0" where margin leaves nothing or the account holds none, so a '
        "missing key is never a silent zero",
    )


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


# --- time, assets, funding, the fund --------------------------------------------------------


class ServerTime(Closed):
    serverTime: Millis = Field(description="exchange time: simulated, may run fast or pause")
    apiVersion: str
    speed: DecimalText = Field(description="exchange seconds per wall second")
    paused: bool
    wallTime: Millis
    behindMs: int = Field(description="how far the exchange clock lags its schedule")


class PausedOrResumed(ServerTime):
    changed: bool = Field(description="false when the clock was already so (nothing logged)")


class AssetInfo(Closed):
    asset: str
    weightTotal: DecimalText
    weightInitial: DecimalText
    sizeFactor: DecimalText
    decimals: int
    collateral: bool
    indexPx: DecimalText


class Assets(Closed):
    assets: list[AssetInfo]


class FundingRecord(Closed):
    ts: Millis
    symbol: str
    rate: DecimalText = Field(description="the hour's rate: positive = longs pay shorts")
    markPx: None = Field(description="always null: the payment is made at the index")
    indexPx: DecimalText
    meanPremium: DecimalText
    samples: int
    paid: DecimalText
    received: DecimalText
    residual: DecimalText = Field(description="paid - received, to the insurance fund")


class FundingHistory(Closed):
    funding: list[FundingRecord]


class PublicEvent(BaseModel):
    """One market-wide event: id, kind and time, then the fields of its kind (open: a new
    kind of event may bring new fields)."""

    model_config = ConfigDict(extra="allow")
    id: int = Field(
        description="increasing, also across restarts of the server (which may skip up to "
        "1,000 ids)"
    )
    kind: str = Field(examples=["LiquidationStage", "MarketEvent", "AdminAction"])
    ts: Millis


class EventsPage(Closed):
    events: list[PublicEvent] = Field(description="oldest first")
    lastId: int = Field(
        description="pass as `since` next time: the last event's id on a full page (more may "
        "follow), else the newest id (also across server restarts, ids only grow)"
    )


class InsuranceFund(Closed):
    balance: DecimalText
    ts: Millis
    history: list[LedgerEntry] = Field(description="the fund's newest ledger legs, newest first")


# --- account: funding, ledger, money movements, preview, explain -----------------------------


class WhoAmI(Closed):
    keyId: str
    name: str
    accountId: str | None = Field(description="null for a market-only read key or an admin")
    scopes: list[Literal["read", "trade", "admin"]]


class FundingPayment(Closed):
    ts: Millis
    symbol: str
    size: DecimalText
    rate: DecimalText
    amount: DecimalText = Field(description="from the account's side: negative = paid")


class FundingPayments(Closed):
    payments: list[FundingPayment]


class LedgerEntry(Closed):
    txid: int
    ts: Millis
    type: str = Field(examples=["TRADE", "FEE", "SETTLE", "FUNDING", "LIQ_FILL"])
    asset: str
    amount: DecimalText
    balance: DecimalText = Field(description="the account's balance of the asset after this")
    ref: str


class LedgerPage(Closed):
    entries: list[LedgerEntry]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null: end")
    total: int


class LeverageSet(Closed):
    symbol: str
    leverage: int


class AssetAmount(Closed):
    asset: str
    amount: DecimalText


class Converted(Closed):
    from_: str = Field(alias="from")
    to: str
    amount: DecimalText
    received: DecimalText


class Preview(Closed):
    """What the order would do (MECHANICS section 2's check, run without placing it)."""

    market: str
    side: Side
    size: DecimalText
    estFillPrice: DecimalText | None
    fillableNow: DecimalText
    fee: DecimalText
    imrBefore: DecimalText
    imrAfter: DecimalText
    freeCollateralBefore: DecimalText
    freeCollateralAfter: DecimalText
    marginFractionBefore: DecimalText | None
    marginFractionAfter: DecimalText | None
    liquidationPriceBefore: DecimalText | None
    liquidationPriceAfter: DecimalText | None
    bankruptcyPriceBefore: DecimalText | None
    bankruptcyPriceAfter: DecimalText | None
    positionBefore: DecimalText
    positionAfter: DecimalText
    wouldReject: str | None = Field(description="why the order would be refused; null: it passes")
    maxSize: DecimalText | None
    warnings: list[str]


class Term(Closed):
    name: str
    formula: str = Field(description="how the term is formed, in words")
    value: DecimalText


class Explanation(Closed):
    """The terms behind p_liq, p_bk and the zero price: each list sums exactly to what the
    division (or the sum) uses, so the result can be recomputed by hand."""

    market: str
    underlying: str
    size: DecimalText
    mark: DecimalText
    mmf: DecimalText
    liqState: Literal["ok", "now", "bankrupt"]
    collateralTerms: list[Term]
    unsettledTerms: list[Term]
    equityTerms: list[Term]
    mmrTerms: list[Term]
    kTerms: list[Term]
    liquidationNumerator: list[Term]
    liquidationDenominator: list[Term]
    liquidationPrice: DecimalText | None
    bankruptcyNumerator: list[Term]
    bankruptcyDenominator: list[Term]
    bankruptcyPrice: DecimalText | None
    pmpd: DecimalText | None
    zeroPriceTerms: list[Term]
    zeroPrice: DecimalText | None


class LeaderboardRow(Closed):
    accountId: str
    equity: DecimalText
    netDeposits: DecimalText
    pnl: DecimalText
    status: str
    positions: int
    rank: int


class Leaderboard(Closed):
    leaderboard: list[LeaderboardRow]
    ts: Millis


# --- the instructor's routes (admin scope) -----------------------------------------------------

Scope = Literal["read", "trade", "admin"]


class CreatedKey(Closed):
    accountId: str
    apiKey: str = Field(description="the secret: shown in this response only")
    keyId: str
    scopes: list[Scope]


class AccountRow(Closed):
    accountId: str
    hasKey: bool
    equity: DecimalText
    status: str
    positions: int


class AccountList(Closed):
    accounts: list[AccountRow]


class AdminDeposit(Closed):
    accountId: str
    asset: str
    amount: DecimalText


class KeyRow(Closed):
    keyId: str
    name: str
    accountId: str | None
    scopes: list[Scope]
    createdAt: Millis
    revokedAt: Millis | None


class KeyList(Closed):
    keys: list[KeyRow]


class Revoked(Closed):
    revoked: str = Field(description="the key id")


class IndexSet(Closed):
    asset: str
    indexPx: DecimalText


class Settled(Closed):
    symbol: str
    price: DecimalText
    positionsClosed: int


class RolledBack(Closed):
    symbol: str
    fillsReversed: int


class Halted(Closed):
    symbol: str
    reduceOnly: bool
    changed: bool = Field(description="false when the market already was in that state")


class AuditRow(Closed):
    ts: Millis
    keyName: str
    action: str
    detail: dict[str, Any]


class AuditLog(Closed):
    audit: list[AuditRow] = Field(description="newest first")


class ResetClosed(Closed):
    symbol: str
    size: DecimalText
    px: DecimalText
    takenBy: list[str]


class ResetDone(Closed):
    accountId: str
    canceled: list[str]
    closed: list[ResetClosed]
    moved: dict[str, DecimalText]


class Adjusted(Closed):
    accountId: str
    asset: str
    amount: DecimalText
    balance: DecimalText


class LiveScenario(Closed):
    name: str
    startedAt: Millis
    startedBy: str
    params: dict[str, Any]
    running: bool
    stoppedAt: Millis | None = Field(description="when the teacher stopped it; null if not")
    nextStepAt: Millis | None
    remainingSteps: list[str]
    remainingStepsAt: list[Millis] = Field(description="when each remaining step is due")
    done: list[dict[str, Any]] = Field(description="each step run: ts, step, and its outcome")


class ScenarioList(Closed):
    available: dict[str, str]
    current: LiveScenario | None = Field(
        description="the running or last live scenario since this server started; null when "
        "none has run since (steps run before a restart stay in effect)"
    )


class CalmStarted(Closed):
    scenario: Literal["calm"]
    started: bool = Field(description="false when the living market already ran")


class LiveStarted(LiveScenario):
    scenario: str
    started: Literal[True]


class ScenarioStarted(RootModel[CalmStarted | LiveStarted]):
    pass


class ScenarioStopped(Closed):
    scenario: str
    droppedSteps: list[str]
    undone: dict[str, Any] | None


def declared(model: type[BaseModel], status: int = 200) -> dict[str, Any]:
    """Route keywords that declare `model` as the body of `status` without FastAPI validating
    or re-serializing what the route returns: `@router.get(path, **declared(Model))`."""
    return {"response_model": None, "responses": {status: {"model": model}}}
