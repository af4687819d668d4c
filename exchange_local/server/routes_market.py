"""Public market data: time, markets, assets, ticker, book, trades, candles, funding, the
insurance fund and market-wide events. No key needed (the rate limit is per address)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from exchange_local.ledger import INSURANCE
from exchange_local.marketdata import INTERVALS_MS
from exchange_local.server import wire
from exchange_local.server.deps import context
from exchange_local.server.json_body import UniqueKeysRoute
from exchange_local.server.query import MAX_WHOLE, WHOLE
from exchange_local.server.responses import (
    Assets,
    Book,
    Candles,
    EventsPage,
    FundingHistory,
    InsuranceFund,
    Markets,
    ServerTime,
    Ticker,
    Tickers,
    Trades,
    declared,
)

router = APIRouter(tags=["market data"], route_class=UniqueKeysRoute)
Limit = Annotated[int, Query(ge=1, le=1000), WHOLE]
Millis = Annotated[int | None, Query(ge=0, le=2**62), WHOLE]
# Declared as the intervals there are (an enum); validated by the looser pattern, so that an
# interval of the right shape that does not exist ("7m") gets the engine's refusal, which
# names the ones there are.
Interval = Annotated[
    str, Query(pattern=r"^[0-9]{1,3}[mhd]$", json_schema_extra={"enum": list(INTERVALS_MS)})
]


@router.get("/time", **declared(ServerTime))
async def server_time(request: Request) -> dict[str, Any]:
    """Exchange time (ms), the API version, and the clock's speed and pause state."""
    return context(request).runtime.clock_json()


@router.get("/markets", **declared(Markets))
async def markets(request: Request) -> dict[str, Any]:
    ex = context(request).ex
    specs = [ex.config.market(s) for s in ex.markets()]
    return {"markets": [wire.market_json(spec) for spec in specs if spec is not None]}


@router.get("/assets", **declared(Assets))
async def assets(request: Request) -> dict[str, Any]:
    ex = context(request).ex
    return {"assets": [wire.asset_json(a, ex.prices[a.symbol]) for a in ex.config.assets]}


@router.get("/markets/{symbol}/ticker", **declared(Ticker))
async def ticker(request: Request, symbol: str) -> dict[str, Any]:
    rt = context(request).runtime
    return await rt.run(lambda: wire.ticker_json(rt.ex.market(symbol), rt.ex.now_ms))


@router.get("/tickers", **declared(Tickers))
async def tickers(request: Request) -> dict[str, Any]:
    """Every market's ticker in one call (the remote venue's snapshot uses it)."""
    rt = context(request).runtime
    ex = rt.ex
    return await rt.run(
        lambda: {"tickers": [wire.ticker_json(ex.market(s), ex.now_ms) for s in ex.markets()]}
    )


@router.get("/markets/{symbol}/book", **declared(Book))
async def book(
    request: Request, symbol: str, depth: Annotated[int, Query(ge=1, le=500), WHOLE] = 50
) -> dict[str, Any]:
    rt = context(request).runtime
    return await rt.run(lambda: wire.book_json(rt.ex.book(symbol, depth), rt.ex.now_ms))


@router.get("/markets/{symbol}/trades", **declared(Trades))
async def trades(request: Request, symbol: str, limit: Limit = 100) -> dict[str, Any]:
    rt = context(request).runtime
    rows = await rt.run(rt.ex.trades, symbol, limit)
    return {"trades": [wire.trade_json(t) for t in rows]}


@router.get("/markets/{symbol}/candles", **declared(Candles))
async def candles(
    request: Request,
    symbol: str,
    interval: Interval = "1m",
    start: Millis = None,
    end: Millis = None,
    source: Annotated[str, Query(pattern=r"^(trades|mark|index)$")] = "trades",
    limit: Annotated[int, Query(ge=1, le=5000), WHOLE] = 1000,
) -> dict[str, Any]:
    rt = context(request).runtime
    rows = await rt.run(rt.ex.candles, symbol, interval, source)
    out = [wire.candle_json(c) for c in rows]
    out = [c for c in out if (start is None or c["t"] >= start) and (end is None or c["t"] <= end)]
    return {"candles": out[-limit:]}


@router.get("/markets/{symbol}/funding", **declared(FundingHistory))
async def funding(
    request: Request, symbol: str, start: Millis = None, end: Millis = None
) -> dict[str, Any]:
    rt = context(request).runtime
    rows = await rt.run(rt.ex.funding_history, symbol)
    out = [wire.funding_record_json(r) for r in rows]
    out = [
        r for r in out if (start is None or r["ts"] >= start) and (end is None or r["ts"] <= end)
    ]
    return {"funding": out}


@router.get("/insurance-fund", **declared(InsuranceFund))
async def insurance_fund(
    request: Request, history: Annotated[int, Query(ge=0, le=1000), WHOLE] = 50
) -> dict[str, Any]:
    """The fund's balance and its `history` newest legs, newest first (0 for the balance
    alone): every liquidation fee and takeover share it received, every deficit it paid, with
    the balance after each, as the ledger has them (the INSURANCE account's USD legs)."""
    rt = context(request).runtime

    def read() -> dict[str, Any]:
        ex = rt.ex
        legs = rt.pages.newest(INSURANCE, history) if history else []
        return {
            "balance": wire.dec(ex.insurance_fund()),
            "ts": ex.now_ms,
            "history": [wire.ledger_json(e) for e in reversed(legs)],
        }

    return await rt.run(read)


@router.get("/events", **declared(EventsPage))
async def events(
    request: Request,
    since: Annotated[int, Query(ge=0, le=MAX_WHOLE), WHOLE] = 0,
    limit: Limit = 200,
) -> dict[str, Any]:
    """Market-wide events (liquidation stages, market halts and settlements, funding, admin
    actions), oldest first: the last 500 since the server started (they are kept in memory;
    the ledger and the audit log keep everything). `since` is an event id: pass the answer's
    `lastId` (the last event returned, or the newest id when all were returned) to get only
    what came after.

    Ids increase, also across a restart of the server on its store (kill -9 included): the
    key file beside the store keeps a mark reserved ahead of the ids given, and a restarted
    server's ids start above it (a jump of up to 1,000), so a client polling with
    `since=lastId` misses nothing after a restart and its lastId never goes back. Events from
    before a restart are not served again."""
    hub = context(request).runtime.hub
    rows = [e for e in hub.recent if e["id"] > since][:limit]
    # a full page may have more after it: its last id, so the next call starts there
    last = rows[-1]["id"] if len(rows) == limit else hub.last_event_id
    return {"events": rows, "lastId": last}
