"""Orders: place (with clientOrderId idempotency), look up, amend, cancel, cancel all.

Why idempotency is checked inside the engine lock: two retries of one order racing each other
must see each other's record, so the look-up, the placement and the record are one critical
section. The record (fingerprint of the parsed body and the response) lives in the key store,
so a retry after a server restart is still answered as a replay.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from exchange_local.events import FillEvent, OrderAccepted
from exchange_local.server import wire
from exchange_local.server.deps import ServerContext, account_of, context, read_key, trade_key
from exchange_local.server.idempotency import canonical, digest
from exchange_local.server.json_body import UniqueKeysRoute
from exchange_local.server.keys import ApiKey
from exchange_local.server.problems import ApiError
from exchange_local.server.query import WHOLE
from exchange_local.server.responses import (
    Canceled,
    Order,
    OrderResult,
    Orders,
    PlacedOrder,
    declared,
)
from exchange_local.server.schemas import CLIENT_ORDER_ID, AmendBody, OrderBody

router = APIRouter(tags=["orders"], route_class=UniqueKeysRoute)
Read = Annotated[ApiKey, Depends(read_key)]
Trade = Annotated[ApiKey, Depends(trade_key)]
OrderId = Annotated[int, Path(ge=1, le=2**62), WHOLE]
# `:path`: API.md allows "/" in a clientOrderId ("qa/one", sent as qa%2Fone or as is), which a
# plain path parameter never matched (404 "no endpoint"); the pattern still checks the id
ClientId = Annotated[str, Path(pattern=CLIENT_ORDER_ID)]


def fingerprint(body: OrderBody) -> str:
    """What a clientOrderId remembers of its order: the parsed body with its numbers
    compared by value (idempotency.canonical), so "98000.0" retries an order sent with
    "98000" and is not a 409."""
    return digest(canonical(body))


def legacy_fingerprint(body: OrderBody) -> str:
    """The fingerprint of versions before `canonical` (the numbers' text), still accepted:
    a record they left in a durable key store replays a byte-identical retry."""
    data = body.model_dump(mode="json")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _order(ctx: ServerContext, account: str, order_id: int) -> dict[str, Any]:
    info = ctx.ex.order(account, order_id)
    if info is None:  # unknown, or another account's: the same answer, nothing leaks
        raise ApiError(404, "ORDER_NOT_FOUND", f"there is no order {order_id} in this account")
    return wire.order_json(info, ctx.runtime.hub.updated_ms.get(order_id))


def _by_client_id(ctx: ServerContext, account: str, client_order_id: str) -> int:
    info = ctx.ex.order_by_client_id(account, client_order_id)
    if info is None:  # never used, or used by another account: the same answer
        raise ApiError(
            404, "ORDER_NOT_FOUND", f"there is no order with clientOrderId {client_order_id!r}"
        )
    return int(info.order_id)


async def place(ctx: ServerContext, account: str, body: OrderBody) -> tuple[int, dict[str, Any]]:
    """Place the order (or answer the replay of its clientOrderId): (status, body). Shared by
    the route below and the fast path (fast_orders.py), so both answer exactly alike."""
    ex = ctx.ex
    hub = ctx.runtime.hub
    fp = fingerprint(body)
    coid = body.clientOrderId
    same = {fp, legacy_fingerprint(body)} if coid is not None else set()

    def run() -> tuple[int, dict[str, Any]]:
        if coid is not None:
            prior = ctx.keys.remembered(account, "coid", coid)
            if prior is not None:
                if prior[0] not in same:
                    raise ApiError(
                        409,
                        "CLIENT_ORDER_ID_CONFLICT",
                        f"clientOrderId {coid!r} was used for a different order",
                    )
                return 200, json.loads(prior[2])
        res = ex.place_order(
            account,
            body.symbol,
            body.side,
            body.size,
            price=body.price,
            type=wire.WIRE_ORDER_TYPES[body.type],
            tif="gtc" if body.timeInForce == "ALO" else body.timeInForce.lower(),
            post_only=body.timeInForce == "ALO",
            reduce_only=body.reduceOnly,
            trigger_price=body.triggerPx,
            client_order_id=coid,
        )
        oid = res.order_id
        fresh = any(type(e) is OrderAccepted and e.order.order_id == oid for e in hub.pending)
        fills = [
            wire.fill_json(e.fill, account, coid)
            for e in hub.pending
            if type(e) is FillEvent and e.fill.taker_order_id == oid
        ]
        info = ex.order(account, oid)
        payload = {"order": wire.order_json(info, ex.now_ms), "fills": fills}
        if coid is not None:
            ctx.keys.remember(account, "coid", coid, fp, 201, payload)
        return (201 if fresh else 200), payload

    return await ctx.runtime.run(run)


@router.post(
    "/orders",
    status_code=201,
    response_model=None,  # declared below, not enforced: the fast path answers most orders
    responses={
        201: {"model": PlacedOrder},
        200: {
            "description": "A replay: this clientOrderId with this body was placed "
            "before; the original response, header Idempotent-Replayed: true",
            "model": PlacedOrder,  # the body of the 201 again
            "headers": {
                "Idempotent-Replayed": {
                    "required": True,
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        },
    },
)
async def place_order(
    request: Request, response: Response, body: OrderBody, key: Trade
) -> dict[str, Any]:
    """201 with the order and its immediate fills. The same clientOrderId with the same body
    again: 200, the original response, `Idempotent-Replayed: true`; with another body: 409."""
    status, payload = await place(context(request), account_of(key), body)
    if status == 200:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return payload


@router.get("/orders", **declared(Orders))
async def orders(
    request: Request,
    key: Read,
    status: Annotated[str, Query(pattern=r"^(open|closed|filled|canceled|all)$")] = "open",
    symbol: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000), WHOLE] = 100,
) -> dict[str, Any]:
    """`open` (the default): every open and untriggered order, oldest first. `closed`
    (filled or canceled), `filled`, `canceled`, `all`: the newest `limit` (at most 1000),
    newest first."""
    ctx = context(request)
    account = account_of(key)
    if status == "open":
        rows = await ctx.runtime.run(ctx.ex.open_orders, account, symbol)
    else:
        rows = await ctx.runtime.run(ctx.ex.orders, account, status, symbol, limit)
    updated = ctx.runtime.hub.updated_ms
    return {"orders": [wire.order_json(o, updated.get(o.order_id)) for o in rows]}


@router.get("/orders/by-client-id/{clientOrderId:path}", **declared(Order))
async def order_by_client_id(
    request: Request, clientOrderId: ClientId, key: Read
) -> dict[str, Any]:
    ctx = context(request)
    account = account_of(key)
    return await ctx.runtime.run(
        lambda: _order(ctx, account, _by_client_id(ctx, account, clientOrderId))
    )


@router.get("/orders/{orderId}", **declared(Order))
async def order(request: Request, orderId: OrderId, key: Read) -> dict[str, Any]:
    ctx = context(request)
    account = account_of(key)
    return await ctx.runtime.run(_order, ctx, account, orderId)


async def _cancel(
    ctx: ServerContext, account: str, order_id: int | None, coid: str | None
) -> dict[str, Any]:
    def cancel() -> dict[str, Any]:
        oid = order_id if order_id is not None else _by_client_id(ctx, account, coid or "")
        _order(ctx, account, oid)  # 404 for an unknown or another account's order
        ctx.ex.cancel_order(account, oid)
        return {"order": _order(ctx, account, oid)}

    return await ctx.runtime.run(cancel)


@router.delete("/orders/by-client-id/{clientOrderId:path}", **declared(OrderResult))
async def cancel_by_client_id(
    request: Request, clientOrderId: ClientId, key: Trade
) -> dict[str, Any]:
    return await _cancel(context(request), account_of(key), None, clientOrderId)


@router.delete("/orders/{orderId}", **declared(OrderResult))
async def cancel(request: Request, orderId: OrderId, key: Trade) -> dict[str, Any]:
    return await _cancel(context(request), account_of(key), orderId, None)


@router.delete("/orders", **declared(Canceled))
async def cancel_all(request: Request, key: Trade, symbol: str | None = None) -> dict[str, Any]:
    ctx = context(request)
    ids = await ctx.runtime.run(ctx.ex.cancel_all, account_of(key), symbol)
    return {"canceled": [str(i) for i in ids]}


@router.patch("/orders/{orderId}", **declared(OrderResult))
async def amend(request: Request, orderId: OrderId, body: AmendBody, key: Trade) -> dict[str, Any]:
    ctx = context(request)
    account = account_of(key)

    def change() -> dict[str, Any]:
        _order(ctx, account, orderId)
        ctx.ex.amend_order(
            account, orderId, price=body.price, size=body.size, trigger_price=body.triggerPx
        )
        return {"order": _order(ctx, account, orderId)}

    return await ctx.runtime.run(change)
