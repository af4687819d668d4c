"""The caller's own account: summary and positions, fills, funding, ledger, leverage, what-if
(preview, explain), withdrawals and converts; and the class leaderboard.

Every route here acts on the key's own account only; there is no parameter that names another.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from exchange_local.leaderboard import standings
from exchange_local.server import wire
from exchange_local.server.deps import account_of, context, read_key, trade_key
from exchange_local.server.idempotency import once
from exchange_local.server.json_body import UniqueKeysRoute
from exchange_local.server.keys import ApiKey
from exchange_local.server.problems import ApiError
from exchange_local.server.query import MAX_WHOLE, WHOLE
from exchange_local.server.responses import (
    Account,
    AssetAmount,
    Converted,
    Explanation,
    Fills,
    FundingPayments,
    Leaderboard,
    LedgerPage,
    LeverageSet,
    Preview,
    WhoAmI,
    declared,
)
from exchange_local.server.schemas import (
    AssetAmountBody,
    ConvertBody,
    LeverageBody,
    LeverageRefused,
    PreviewBody,
    parse_leverage,
)

router = APIRouter(tags=["account"], route_class=UniqueKeysRoute)
Read = Annotated[ApiKey, Depends(read_key)]
Trade = Annotated[ApiKey, Depends(trade_key)]
Millis = Annotated[int | None, Query(ge=0, le=2**62), WHOLE]


def _seconds(ms_value: int | None) -> Decimal | None:
    return None if ms_value is None else Decimal(ms_value) / 1000


@router.get("/whoami", **declared(WhoAmI))
async def whoami(request: Request, key: Read) -> dict[str, Any]:
    """The calling key: its id, name, account and scopes (clients adapt, e.g. read-only)."""
    return {
        "keyId": key.key_id,
        "name": key.name,
        "accountId": key.account,
        "scopes": sorted(key.scopes),
    }


@router.get("/account", **declared(Account))
async def account(request: Request, key: Read) -> dict[str, Any]:
    rt = context(request).runtime
    return await rt.run(rt.account_json, account_of(key), True)


@router.get("/fills", **declared(Fills))
async def fills(
    request: Request,
    key: Read,
    symbol: str | None = None,
    since: Millis = None,
    limit: Annotated[int, Query(ge=1, le=1000), WHOLE] = 200,
    cursor: Annotated[int | None, Query(ge=1, le=2**62), WHOLE] = None,
) -> dict[str, Any]:
    """Newest first; `nextCursor` pages to older fills. The exchange keeps its last 20,000
    fills (all accounts together); older ones are in the ledger (`fill:<id>` refs)."""
    rt = context(request).runtime
    acct = account_of(key)

    def page() -> dict[str, Any]:
        ex = rt.ex
        rows = ex.fills(acct, symbol, _seconds(since), cursor, limit + 1)
        chosen = rows[:limit]
        out = []
        for f in chosen:
            info = ex.order(acct, f.taker_order_id if f.taker == acct else f.maker_order_id)
            out.append(wire.fill_json(f, acct, info.client_order_id if info else None))
        more = len(rows) > limit
        return {"fills": out, "nextCursor": str(chosen[-1].fill_id) if more else None}

    return await rt.run(page)


@router.get("/funding-payments", **declared(FundingPayments))
async def funding_payments(request: Request, key: Read, since: Millis = None) -> dict[str, Any]:
    rt = context(request).runtime
    rows = await rt.run(rt.ex.funding_history, None, account_of(key))
    out = [wire.account_funding_json(r) for r in rows]
    return {"payments": [p for p in out if since is None or p["ts"] >= since]}


@router.get("/ledger", **declared(LedgerPage))
async def ledger(
    request: Request,
    key: Read,
    since: Millis = None,
    until: Millis = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_WHOLE), WHOLE] = None,
    limit: Annotated[int, Query(ge=1, le=5000), WHOLE] = 500,
    type: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, Any]:
    """The account's ledger legs, oldest first, `limit` at a time; `nextCursor` continues.
    `type`: only legs whose type starts with it, in any case ("fund" finds FUNDING), so a
    terminal's filter pages through every payment rather than the newest legs of all kinds."""
    rt = context(request).runtime
    start = cursor or 0
    total, rows = await rt.run(rt.pages.page, account_of(key), since, until, type, start, limit)
    return wire.ledger_page(rows, total, start, limit)


@router.put("/leverage/{symbol}", **declared(LeverageSet))
async def set_leverage(
    request: Request, response: Response, symbol: str, body: LeverageBody, key: Trade
) -> dict[str, Any]:
    """A whole number from 1 to the market's maximum; every refusal of the value is one
    400 INVALID_REQUEST naming that maximum (schemas.parse_leverage)."""
    ctx = context(request)
    account = account_of(key)
    market = await ctx.runtime.run(ctx.ex.market, symbol)  # 404 for an unknown symbol
    try:
        leverage = parse_leverage(body.leverage, market.symbol, market.max_leverage)
    except LeverageRefused as refused:
        raise ApiError(400, "INVALID_REQUEST", str(refused)) from None

    def answer(_: None) -> dict[str, Any]:
        return {"symbol": symbol, "leverage": wire.leverage_value(leverage)}

    # the parsed value: 10, "10" and "10.0" are one request for Idempotency-Key
    request_data = {"leverage": format(leverage, "f")}
    args = {"account": account, "market": symbol, "leverage": leverage}
    return await once(request, response, account, request_data, "set_leverage", args, answer)


@router.post("/orders/preview", **declared(Preview))
async def preview(request: Request, body: PreviewBody, key: Read) -> dict[str, Any]:
    rt = context(request).runtime
    tif = "gtc" if body.timeInForce == "ALO" else body.timeInForce.lower()
    # keywords: preview_order takes reduce_only before post_only, place_order the other
    # way round (DESIGN.md fixes both orders), so positions here were one swap from a bug
    result = await rt.run(
        rt.ex.preview_order,
        account_of(key),
        body.symbol,
        body.side,
        body.size,
        price=body.price,
        type=wire.WIRE_ORDER_TYPES[body.type],
        tif=tif,
        reduce_only=body.reduceOnly,
        post_only=body.timeInForce == "ALO",
        trigger_price=body.triggerPx,
    )
    return wire.dump(result)


@router.get("/positions/{symbol}/explain", **declared(Explanation))
async def explain(request: Request, symbol: str, key: Read) -> dict[str, Any]:
    rt = context(request).runtime
    result = await rt.run(rt.ex.explain, account_of(key), symbol)
    return wire.dump(result)


@router.post("/withdrawals", **declared(AssetAmount))
async def withdraw(
    request: Request, response: Response, body: AssetAmountBody, key: Trade
) -> dict[str, Any]:
    account = account_of(key)

    def answer(_: None) -> dict[str, Any]:
        return {"asset": body.asset, "amount": wire.dec(body.amount)}

    args = {"account": account, "asset": body.asset, "amount": body.amount}
    return await once(request, response, account, body, "withdraw", args, answer)


@router.post("/converts", **declared(Converted))
async def convert(
    request: Request, response: Response, body: ConvertBody, key: Trade
) -> dict[str, Any]:
    account = account_of(key)

    def answer(got: Decimal) -> dict[str, Any]:
        return {
            "from": body.from_asset,
            "to": body.to_asset,
            "amount": wire.dec(body.amount),
            "received": wire.dec(got),
        }

    args = {
        "account": account,
        "from_asset": body.from_asset,
        "to_asset": body.to_asset,
        "amount": body.amount,
    }
    return await once(request, response, account, body, "convert", args, answer)


@router.post("/deposits", **declared(AssetAmount))
async def deposit(request: Request, body: AssetAmountBody, key: Trade) -> dict[str, Any]:
    """In class mode (the default) deposits are the instructor's: 403 DEPOSITS_DISABLED."""
    ctx = context(request)
    if not ctx.allow_deposits:
        raise ApiError(
            403,
            "DEPOSITS_DISABLED",
            "deposits are made by the instructor on this server (class mode)",
        )
    await ctx.runtime.run(ctx.ex.deposit, account_of(key), body.asset, body.amount)
    return {"asset": body.asset, "amount": wire.dec(body.amount)}


@router.get("/leaderboard", **declared(Leaderboard))
async def leaderboard(request: Request, key: Read) -> dict[str, Any]:
    """The class ranked by trading PnL (exchange_local.leaderboard, the same function
    perptui's in-process venue ranks with): every account that has or had a key, with its equity,
    its PnL, and `netDeposits`, the USD value at today's index of what was deposited minus
    withdrawn. The sums come from the runtime's Tally, kept as transactions post: a call
    reads no ledger."""
    ctx = context(request)
    names = ctx.keys.accounts_with_keys()

    def rank() -> list[dict[str, Any]]:
        known = set(ctx.ex.accounts())  # an account in the key file but not in this exchange
        return [
            wire.standing_json(s)
            for s in standings(ctx.ex, [n for n in names if n in known], ctx.runtime.tally)
        ]

    return {"leaderboard": await ctx.runtime.run(rank), "ts": ctx.ex.now_ms}
