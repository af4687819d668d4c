"""The instructor's endpoints (admin scope): accounts and keys, deposits, index prices,
halting and settling a market, rolling back a window, the whole ledger, the audit log (the
class clock, scenarios and a student's reset are in routes_teacher.py).

Every action is written to the key store's audit log and the public events stream with the
acting key's name, so the class sees what the instructor did.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from exchange_local.ledger import SYSTEM_ACCOUNTS
from exchange_local.server import wire
from exchange_local.server.admin_text import sentence
from exchange_local.server.deps import ServerContext, admin_key, context
from exchange_local.server.idempotency import once
from exchange_local.server.json_body import UniqueKeysRoute
from exchange_local.server.keys import ApiKey
from exchange_local.server.market import deposit_refusal
from exchange_local.server.problems import ApiError
from exchange_local.server.query import MAX_WHOLE, WHOLE
from exchange_local.server.responses import (
    AccountList,
    AdminDeposit,
    AuditLog,
    CreatedKey,
    Halted,
    IndexSet,
    KeyList,
    LedgerPage,
    Revoked,
    RolledBack,
    Settled,
    declared,
)
from exchange_local.server.schemas import (
    NAME,
    AssetAmountBody,
    CreateAccountBody,
    CreateKeyBody,
    PriceBody,
    RollbackBody,
)

router = APIRouter(prefix="/admin", tags=["admin"], route_class=UniqueKeysRoute)
Admin = Annotated[ApiKey, Depends(admin_key)]
AccountId = Annotated[str, Path(pattern=NAME)]
MAX_INDEX_MOVE = 10  # shock_index's largest fraction: the living walk moves at most 11x at once


async def audit(ctx: ServerContext, key: ApiKey, action: str, **detail: Any) -> None:
    """The audit log's row and the events stream's AdminAction, whose `text` says what was
    done in a sentence (admin_text.sentence) beside the `detail` data."""
    async with ctx.runtime.lock:
        note_action(ctx, key, action, **detail)


def note_action(ctx: ServerContext, key: ApiKey, action: str, **detail: Any) -> None:
    """`audit` for a caller that already holds the engine lock: an action whose own effects
    are events (a scenario's first step) is announced before them, in the same lock hold."""
    ts = ctx.ex.now_ms
    ctx.keys.audit(ts, key.name, action, detail)
    data = wire.dump(detail)
    ctx.runtime.hub.note(
        "AdminAction",
        ts,
        {
            "keyName": key.name,
            "action": action,
            "detail": data,
            "text": sentence(key.name, action, data),
        },
    )


def user_account(ctx: ServerContext, account: str) -> None:
    if account not in ctx.ex.accounts():
        raise ApiError(404, "UNKNOWN_ACCOUNT", f"there is no account {account!r}")


@router.post("/accounts", status_code=201, **declared(CreatedKey, 201))
async def create_account(request: Request, body: CreateAccountBody, key: Admin) -> dict[str, Any]:
    """A student's account, funded, with a key (shown once in this response only)."""
    ctx = context(request)
    deposits = dict(body.deposits)
    if body.initialBalance is not None:
        deposits["USD"] = deposits.get("USD", Decimal(0)) + body.initialBalance

    def create() -> str:
        refusal = deposit_refusal(ctx.ex, deposits)  # before anything is stored
        if refusal is not None:
            raise ApiError(400, "INVALID_REQUEST", refusal)
        account = ctx.ex.create_account(body.name)
        for asset, amount in deposits.items():
            ctx.ex.deposit(account, asset, amount)
        return str(account)

    account = await ctx.runtime.run(create)
    secret, record = ctx.keys.create(body.name, account, body.scopes)
    await audit(
        ctx, key, "create_account", account=account, deposits=deposits, scopes=sorted(record.scopes)
    )
    return {
        "accountId": account,
        "apiKey": secret,
        "keyId": record.key_id,
        "scopes": sorted(record.scopes),
    }


@router.get("/accounts", **declared(AccountList))
async def list_accounts(request: Request, key: Admin) -> dict[str, Any]:
    ctx = context(request)
    keyed = {k.account for k in ctx.keys.all() if k.account}

    def rows() -> list[dict[str, Any]]:
        out = []
        for name in ctx.ex.accounts():
            h = ctx.ex.health(name)
            out.append(
                {
                    "accountId": name,
                    "hasKey": name in keyed,
                    "equity": wire.dec(h.equity),
                    "status": h.status,
                    "positions": len(h.positions),
                }
            )
        return out

    return {"accounts": await ctx.runtime.run(rows)}


@router.post("/accounts/{accountId}/deposit", **declared(AdminDeposit))
async def deposit(
    request: Request, response: Response, accountId: AccountId, body: AssetAmountBody, key: Admin
) -> dict[str, Any]:
    ctx = context(request)
    user_account(ctx, accountId)

    def answer(_: None) -> dict[str, Any]:
        return {"accountId": accountId, "asset": body.asset, "amount": wire.dec(body.amount)}

    owner = f"admin:{key.key_id}"
    args = {"account": accountId, "asset": body.asset, "amount": body.amount}
    result = await once(request, response, owner, body, "deposit", args, answer)
    if response.headers.get("Idempotent-Replayed") is None:
        await audit(ctx, key, "deposit", account=accountId, asset=body.asset, amount=body.amount)
    return result


@router.post("/accounts/{accountId}/keys", status_code=201, **declared(CreatedKey, 201))
async def create_key(
    request: Request, accountId: AccountId, body: CreateKeyBody, key: Admin
) -> dict[str, Any]:
    ctx = context(request)
    user_account(ctx, accountId)
    if "admin" in body.scopes:
        raise ApiError(400, "INVALID_REQUEST", "an account's key cannot have the admin scope")
    secret, record = ctx.keys.create(body.name, accountId, body.scopes)
    await audit(
        ctx, key, "create_key", account=accountId, keyId=record.key_id, scopes=sorted(record.scopes)
    )
    return {
        "accountId": accountId,
        "apiKey": secret,
        "keyId": record.key_id,
        "scopes": sorted(record.scopes),
    }


@router.get("/keys", **declared(KeyList))
async def list_keys(request: Request, key: Admin) -> dict[str, Any]:
    return {
        "keys": [
            {
                "keyId": k.key_id,
                "name": k.name,
                "accountId": k.account,
                "scopes": sorted(k.scopes),
                "createdAt": k.created_ms,
                "revokedAt": k.revoked_ms,
            }
            for k in context(request).keys.all()
        ]
    }


@router.delete("/keys/{keyId}", **declared(Revoked))
async def revoke_key(
    request: Request, keyId: Annotated[str, Path(max_length=64)], key: Admin
) -> dict[str, Any]:
    ctx = context(request)
    if not ctx.keys.revoke(keyId):
        raise ApiError(404, "KEY_NOT_FOUND", f"there is no live key {keyId!r}")
    await audit(ctx, key, "revoke_key", keyId=keyId)
    return {"revoked": keyId}


@router.put("/index/{asset}", **declared(IndexSet))
async def set_index(
    request: Request, asset: Annotated[str, Path(max_length=16)], body: PriceBody, key: Admin
) -> dict[str, Any]:
    """Set an underlying's index (`BTC` or `BTC-PERP`); on the living market its walk goes
    on from the new price."""
    ctx = context(request)
    price = await ctx.runtime.run(set_index_price, ctx.ex, asset, body.price)
    await audit(ctx, key, "set_index", asset=asset, price=body.price)
    return {"asset": asset, "indexPx": wire.dec(price)}


def set_index_price(ex: Any, asset: str, price: Decimal) -> Decimal:
    """The index of `asset` at `price`; returns it (rounded to the tick).

    Why through `shock_index` while the living walk runs: a plain `set_index_price` was
    undone by the walk's next step (within a second the mark was back); moving the walk
    itself by the same fraction, as the live crash scenario does, makes the walk go on from
    the new level. The walk keeps its own unrounded price, so `set_index_price` then puts
    the index exactly where the teacher asked."""
    underlying = ex.market(asset).underlying if asset in ex.markets() else asset
    current = ex.prices.get(underlying)
    ticks = [ex.market(s).tick for s in ex.markets() if ex.market(s).underlying == underlying]
    if ticks and price > 0 and (price / ticks[0]).to_integral_value() == 0:
        # refused here, before the walk moves: shock_index would move it, then refuse
        raise ApiError(
            400, "INVALID_REQUEST", f"price {price} rounds to 0 at {underlying}'s tick {ticks[0]}"
        )
    if getattr(ex, "living_index_walk", False) and current and price > 0:
        fraction = price / current - 1
        if fraction > MAX_INDEX_MOVE:
            raise ApiError(
                400,
                "INVALID_REQUEST",
                f"on the living market an index moves at most {MAX_INDEX_MOVE + 1}x at once: "
                f"{underlying} is {current}, so at most {current * (MAX_INDEX_MOVE + 1)}",
            )
        ex.shock_index(underlying, fraction)
    ex.set_index_price(asset, price)
    return Decimal(ex.prices[underlying])


@router.post("/markets/{symbol}/settle", **declared(Settled))
async def settle(request: Request, symbol: str, body: PriceBody, key: Admin) -> dict[str, Any]:
    """Close every position of `symbol` at `price` and keep the market closed. Once only: the
    engine refuses a settled market (409 MARKET_SETTLED, no event)."""
    ctx = context(request)
    closed = int(await ctx.runtime.run(ctx.ex.settle_market, symbol, body.price))
    await audit(ctx, key, "settle_market", symbol=symbol, price=body.price, positions=closed)
    return {"symbol": symbol, "price": wire.dec(body.price), "positionsClosed": closed}


@router.post("/markets/{symbol}/rollback", **declared(RolledBack))
async def rollback(request: Request, symbol: str, body: RollbackBody, key: Admin) -> dict[str, Any]:
    """Reverse every fill with start <= time <= end (ms of exchange time)."""
    ctx = context(request)
    if body.end < body.start:  # the engine's refusal names its seconds since/until
        raise ApiError(
            400, "INVALID_REQUEST", f"end ({body.end} ms) is before start ({body.start} ms)"
        )
    since, until = Decimal(body.start) / 1000, Decimal(body.end) / 1000
    n = await ctx.runtime.run(ctx.ex.rollback_trades, symbol, since, until)
    await audit(ctx, key, "rollback", symbol=symbol, start=body.start, end=body.end, fills=n)
    return {"symbol": symbol, "fillsReversed": n}


async def _halt(request: Request, symbol: str, key: ApiKey, halted: bool) -> dict[str, Any]:
    """Halt a market (reduce-only) or lift the halt: journaled commands of the exchange, so
    a restart keeps them. A settled market stays closed (422 MARKET_HALTED)."""
    ctx = context(request)
    ex = ctx.ex
    changed = await ctx.runtime.run(ex.halt_market if halted else ex.resume_market, symbol)
    await audit(ctx, key, "halt" if halted else "unhalt", symbol=symbol, changed=changed)
    return {"symbol": symbol, "reduceOnly": halted, "changed": changed}


@router.post("/markets/{symbol}/halt", **declared(Halted))
async def halt(request: Request, symbol: str, key: Admin) -> dict[str, Any]:
    return await _halt(request, symbol, key, True)


@router.post("/markets/{symbol}/unhalt", **declared(Halted))
async def unhalt(request: Request, symbol: str, key: Admin) -> dict[str, Any]:
    return await _halt(request, symbol, key, False)


@router.get("/ledger", **declared(LedgerPage))
async def whole_ledger(
    request: Request,
    key: Admin,
    account: Annotated[str, Query(max_length=64)],
    cursor: Annotated[int | None, Query(ge=0, le=MAX_WHOLE), WHOLE] = None,
    limit: Annotated[int, Query(ge=1, le=5000), WHOLE] = 500,
) -> dict[str, Any]:
    """Any account's ledger, system accounts (INSURANCE, FEES, ...) included."""
    ctx = context(request)
    if account not in SYSTEM_ACCOUNTS:
        user_account(ctx, account)
    rt = ctx.runtime
    start = cursor or 0
    total, rows = await rt.run(rt.pages.page, account, None, None, None, start, limit)
    return wire.ledger_page(rows, total, start, limit)


@router.get("/audit", **declared(AuditLog))
async def audit_log(
    request: Request, key: Admin, limit: Annotated[int, Query(ge=1, le=1000), WHOLE] = 100
) -> dict[str, Any]:
    return {"audit": context(request).keys.audit_log(limit)}
