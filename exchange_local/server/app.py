"""`create_app(exchange, keys)`: the FastAPI application over the facade (shared/API.md).

Why the clock starts in the app's lifespan: the driver is an asyncio task and needs the
server's event loop; tests that drive the clock themselves pass `speed=0` and call the admin
`advance` endpoint (or the facade under `runtime.lock`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange_local.server import (
    routes_account,
    routes_admin,
    routes_market,
    routes_orders,
    routes_teacher,
    ws,
)
from exchange_local.server.deps import (
    RateGate,
    ServerContext,
    admin_key,
    gate,
    read_key,
    trade_key,
)
from exchange_local.server.fast_orders import FastOrders
from exchange_local.server.hub import WS_PER_ADDRESS
from exchange_local.server.keys import KeyStore
from exchange_local.server.problems import PROBLEM_JSON, PROBLEM_RESPONSES, Problem, install
from exchange_local.server.ratelimit import RateLimiter
from exchange_local.server.runtime import ExchangeRuntime

PREFIX = "/api/v1"
MAX_BODY = 64 * 1024
ROUTE_MODULES = (routes_market, routes_account, routes_orders, routes_admin, routes_teacher)


class BodyLimit:
    """Refuses a request body over `limit` bytes with 413 problem+json, before it is parsed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, send)
            return
        seen = 0
        too_big = False

        async def limited() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_big = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if too_big and not started:
                return  # the app is answering a body it never fully got: answer 413 instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited, watch)
        if too_big and not started:
            await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = (
            '{"type":"/api/v1/errors/payload-too-large","title":"Request body too large",'
            f'"status":413,"code":"PAYLOAD_TOO_LARGE","detail":"request bodies are limited to '
            f'{self.limit} bytes","instance":"{scope.get("path", "")}","requestId":"r-limit"}}'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(
    exchange: Any,
    keys: KeyStore | None = None,
    *,
    speed: Decimal | int | str = 0,
    rate: float = 50.0,
    burst: int = 100,
    allow_deposits: bool = False,
    max_body: int = MAX_BODY,
    tick_seconds: float = 0.2,
    ws_per_address: int = WS_PER_ADDRESS,
) -> FastAPI:
    """The server over `exchange`. `speed`: exchange seconds per wall second (0 = paused; the
    admin API and tests advance it). `rate`/`burst`: each key's token bucket.
    `ws_per_address`: WebSocket connections one client address may have open (0: any)."""
    if ws_per_address < 0:
        raise ValueError("ws_per_address must be >= 0 (0: no limit)")
    keys = keys or KeyStore()
    runtime = ExchangeRuntime(exchange, speed, tick_seconds, counters=keys)
    ctx = ServerContext(runtime, keys, RateLimiter(rate, burst), allow_deposits, max_body)
    ctx.ws_per_address = ws_per_address

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.run(_rank_once, runtime, keys)
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="exchange_local",
        version="1.0",
        summary="A paper perpetual-futures exchange: REST and WebSocket (shared/API.md).",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install(app)
    common: dict[str, Any] = {
        "prefix": PREFIX,
        "dependencies": [Depends(gate)],
        "responses": PROBLEM_RESPONSES,
    }
    _literal_paths_first(app)
    for module in ROUTE_MODULES:
        app.include_router(module.router, **common)
    app.include_router(ws.router, prefix=PREFIX)
    ws.quiet_refusals()  # uvicorn logs an ERROR for each refused WebSocket key (ws.py)
    app.add_middleware(FastOrders, ctx=ctx)  # inside BodyLimit: the same body limit
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(RateGate, ctx=ctx)  # outermost: every request takes its token first
    _declare_problem(app)
    return app


def _literal_paths_first(app: FastAPI) -> None:
    """405 for a method a literal path lacks but a template over it has: PATCH
    /orders/preview matched PATCH /orders/{orderId} and was told "orderId ... not 'preview'"
    (schemathesis ST204). OpenAPI ranks a literal path above a template, and so does
    problems.allowed_methods for the `Allow` header; these hidden routes, added before the
    real ones, make the router agree."""
    routes = [r for m in ROUTE_MODULES for r in m.router.routes if isinstance(r, APIRoute)]
    literal: dict[str, set[str]] = {}
    for route in routes:
        if "{" not in route.path:
            literal.setdefault(route.path, set()).update(route.methods or ())
    for path, methods in literal.items():
        shadowed: set[str] = set()
        for route in routes:
            if "{" in route.path and route.path_regex.match(path):
                shadowed |= set(route.methods or ()) - methods
        if shadowed:
            app.add_api_route(
                PREFIX + path, _not_allowed, methods=sorted(shadowed), include_in_schema=False
            )


async def _not_allowed() -> None:
    raise StarletteHTTPException(405)


def _rank_once(runtime: ExchangeRuntime, keys: KeyStore) -> None:
    """Read the ranked accounts' ledgers into the leaderboard's sums before serving, so the
    first GET /leaderboard does not (after that they are kept as transactions post)."""
    known = set(runtime.ex.accounts())
    for name in keys.accounts_with_keys():
        if name in known:
            runtime.tally.sums(name)


KEYED = {read_key, trade_key, admin_key}


def _calls(dependant: Dependant) -> set[Any]:
    """Every dependency a route runs, nested ones too."""
    out = set()
    for sub in dependant.dependencies:
        out |= {sub.call, *_calls(sub)}
    return out


def _declare_problem(app: FastAPI) -> None:
    """Put the Problem schema in components (every route's error responses refer to it), and
    the Bearer key scheme on each operation that needs a key (read, trade or admin)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {}).setdefault("Problem", Problem.model_json_schema())
            components["securitySchemes"] = {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <api key>` (keys carry scopes: "
                    "read, trade, admin)",
                }
            }
            for module in ROUTE_MODULES:
                for route in module.router.routes:
                    if not isinstance(route, APIRoute) or not _calls(route.dependant) & KEYED:
                        continue
                    for method in route.methods or ():
                        path = schema["paths"].get(PREFIX + route.path_format, {})
                        if method.lower() in path:
                            path[method.lower()]["security"] = [{"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
