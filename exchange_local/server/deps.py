"""What every route needs: the server context, the caller's key, its scope and its account.

Why the rate limit is an ASGI middleware around the whole app (RateGate) and not a route
dependency: a dependency runs only once a route has matched and its body has been read, so a
malformed or oversized body, a duplicate JSON key, an unknown path, a wrong method or the
OpenAPI document was answered without taking a token and without the RateLimit headers, and
a loop sending them was never slowed down. The gate dependency now only authenticates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exchange_local.server.hub import WS_PER_ADDRESS
from exchange_local.server.keys import ApiKey, KeyStore
from exchange_local.server.problems import ApiError, problem_response
from exchange_local.server.ratelimit import RateLimiter
from exchange_local.server.runtime import ExchangeRuntime

CALLER = "exchange_local.caller"  # scope key: the live key RateGate found (None: per address)
RATE_HEADERS = "rate_headers"  # scope["state"]: the RateLimit headers every answer carries


@dataclass
class ServerContext:
    runtime: ExchangeRuntime
    keys: KeyStore
    limiter: RateLimiter
    allow_deposits: bool = False  # class mode: deposits are the instructor's (admin API)
    max_body: int = 64 * 1024
    extra: dict[str, Any] = field(default_factory=dict)
    ws_per_address: int = WS_PER_ADDRESS  # open WebSockets per client address (0: no limit)

    @property
    def ex(self) -> Any:
        return self.runtime.ex


def context(request: Request) -> ServerContext:
    ctx: ServerContext = request.app.state.ctx
    return ctx


def bearer(header: str | None) -> str | None:
    """The key in an `Authorization: Bearer <key>` header ('' when malformed)."""
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def authenticate(keys: KeyStore, header: str | None, known: ApiKey | None = None) -> ApiKey | None:
    """The live key the header names (None without the header); 401 for a malformed header or
    an unknown or revoked key. `known`: the key RateGate already found for this header."""
    token = bearer(header)
    if token is None:
        return None
    if not token:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "use the header Authorization: Bearer <api key>",
            {"WWW-Authenticate": "Bearer"},
        )
    key = known or keys.lookup(token)
    if key is None:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "the API key is unknown or has been revoked",
            {"WWW-Authenticate": "Bearer"},
        )
    return key


def caller(keys: KeyStore, scope: Scope) -> tuple[str, ApiKey | None]:
    """Whose bucket a request takes its token from: its key's when the Authorization bearer
    names a live key, else its address's. A bad key (unknown, revoked, malformed header) is
    limited per address like a caller without one, so guessing keys costs the same as any
    other request (its 401 comes later, from the gate)."""
    header = None
    for name, value in scope["headers"]:
        if name == b"authorization":  # the first one, as Request.headers.get reads it
            header = value.decode("latin-1")
            break
    token = bearer(header)
    key = keys.lookup(token) if token else None
    if key is not None:
        return f"key:{key.key_id}", key
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}", None


class RateGate:
    """The outermost layer of the app: every HTTP request takes one token from its caller's
    bucket before anything else runs (body limit, the fast order path, body parsing, duplicate
    keys, route matching), and every answer carries the RateLimit headers; an empty bucket is
    answered 429 with Retry-After here. The one place a token is taken, so none is counted
    twice. WebSocket handshakes and the lifespan pass through untouched."""

    def __init__(self, app: ASGIApp, ctx: ServerContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limiter = self.ctx.limiter
        who, key = caller(self.ctx.keys, scope)
        scope[CALLER] = key
        verdict = limiter.take(who)
        headers = limiter.headers(verdict)
        scope.setdefault("state", {})[RATE_HEADERS] = headers  # problem_response reads them
        if not verdict.allowed:
            detail = f"too many requests; try again in {verdict.retry_after} s"
            refusal = problem_response(Request(scope), 429, "RATE_LIMITED", detail, headers)
            await refusal(scope, receive, send)
            return
        raw = [  # allowed: no Retry-After
            (b"ratelimit-policy", headers["RateLimit-Policy"].encode()),
            (b"ratelimit", headers["RateLimit"].encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = list(message.get("headers", ()))
                # a problem response has them already (problem_response reads the state)
                if not any(name.lower() == b"ratelimit" for name, _ in present):
                    message = {**message, "headers": present + raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def gate(request: Request) -> None:
    """App-wide: authenticate if a key is given (RateGate has taken the token already). A bad
    key is refused 401 here, with the RateLimit headers of its address's bucket."""
    ctx = context(request)
    header = request.headers.get("authorization")
    request.state.key = authenticate(ctx.keys, header, request.scope.get(CALLER))


def require(request: Request, scope: str) -> ApiKey:
    key: ApiKey | None = getattr(request.state, "key", None)
    if key is None:
        raise ApiError(
            401, "UNAUTHENTICATED", "this endpoint needs an API key", {"WWW-Authenticate": "Bearer"}
        )
    if not key.allows(scope):
        raise ApiError(
            403,
            "FORBIDDEN_SCOPE",
            f"this key has the scopes {', '.join(sorted(key.scopes))}; this endpoint needs {scope}",
        )
    return key


# async: FastAPI runs a plain `def` dependency in a worker thread, which costs more than the
# whole order
async def read_key(request: Request) -> ApiKey:
    return require(request, "read")


async def trade_key(request: Request) -> ApiKey:
    return require(request, "trade")


async def admin_key(request: Request) -> ApiKey:
    return require(request, "admin")


def account_of(key: ApiKey) -> str:
    if key.account is None:
        raise ApiError(403, "FORBIDDEN_SCOPE", f"the key {key.name!r} is not bound to an account")
    return key.account
