"""POST /api/v1/orders without FastAPI's routing and dependency machinery: the hot route.

Why: profiled under 50 clients, an order cost the server ~0.8 ms of CPU, of which the engine's
own work was ~0.2 ms; FastAPI's route matching (a linear walk over ~70 routes with per-route
context), dependency solving and response validation took most of the rest. This ASGI
middleware answers an order that is well-formed and authorised directly: the same key
(the one deps.RateGate, outside it, found and charged the token to), the same `OrderBody`
model, the same `routes_orders.place` and the same problem responses for the exchange's
refusals, so the answer is identical; RateGate adds the RateLimit headers, as to every
answer. Anything else (no or a bad key, another scope, malformed JSON, a field the model
refuses) is handed, untouched, to the FastAPI app, which answers it as it always did; the
route there stays the one the OpenAPI document describes. An empty bucket never gets here:
RateGate has answered it 429.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange_local.errors import ExchangeError
from exchange_local.server.deps import CALLER, ServerContext
from exchange_local.server.json_body import unique_keys
from exchange_local.server.problems import ApiError, api_error_response, exchange_error_response
from exchange_local.server.routes_orders import place
from exchange_local.server.schemas import OrderBody

PATH = "/api/v1/orders"


class FastOrders:
    def __init__(self, app: ASGIApp, ctx: ServerContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        key = scope.get(CALLER)  # RateGate's look-up of the Authorization bearer
        if key is None or key.account is None or not key.allows("trade"):
            await self.app(scope, receive, send)  # FastAPI answers 401 / 403
            return
        content_type = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
        body, complete = await _read_body(receive)
        if not complete:  # the client left, or the body was over the limit (BodyLimit: 413)
            return
        parsed: OrderBody | None = None
        if content_type == b"application/json":
            try:
                parsed = OrderBody.model_validate(json.loads(body, object_pairs_hook=unique_keys))
            except Exception:  # malformed, refused, duplicate keys or too deep: FastAPI says
                parsed = None
        if parsed is None:
            await self.app(scope, _replay(body, receive), send)  # FastAPI's 400
            return
        request = Request(scope)  # its state holds RateGate's headers: refusals carry them
        try:
            status, payload = await place(self.ctx, key.account, parsed)
        except ApiError as exc:  # as the app's exception handlers answer them
            response: Any = api_error_response(request, exc)
        except ExchangeError as exc:
            response = exchange_error_response(request, exc)
        else:
            response = JSONResponse(payload, status_code=status)
            if status == 200:
                response.headers["Idempotent-Replayed"] = "true"
        await response(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then the client's own messages."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
