"""What every route needs: the server context, the caller's key, its scope and its account.

Why the rate limit is a dependency of the whole app: it must run before any work, per key
(or per address without one), and its headers must reach every successful response too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response

from exchange_local.server.keys import ApiKey, KeyStore
from exchange_local.server.problems import ApiError
from exchange_local.server.ratelimit import RateLimiter
from exchange_local.server.runtime import ExchangeRuntime

VERDICT = "exchange_local.rate_verdict"  # scope key: the fast path already took the token


@dataclass
class ServerContext:
    runtime: ExchangeRuntime
    keys: KeyStore
    limiter: RateLimiter
    allow_deposits: bool = False  # class mode: deposits are the instructor's (admin API)
    max_body: int = 64 * 1024
    extra: dict[str, Any] = field(default_factory=dict)

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


def authenticate(keys: KeyStore, header: str | None) -> ApiKey | None:
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
    key = keys.lookup(token)
    if key is None:
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "the API key is unknown or has been revoked",
            {"WWW-Authenticate": "Bearer"},
        )
    return key


RATE_HEADERS = "rate_headers"  # request.state: the RateLimit headers every answer carries


async def gate(request: Request, response: Response) -> None:
    """App-wide: authenticate if a key is given, then take a token from the caller's bucket.

    A bad key (unknown, revoked, malformed header) is limited per address like a caller
    without one, before its 401: otherwise a loop guessing keys was never slowed down and
    its answers carried no RateLimit headers. The headers are kept on the request so that
    error answers (problem+json) carry them too."""
    ctx = context(request)
    refusal: ApiError | None = None
    try:
        key = authenticate(ctx.keys, request.headers.get("authorization"))
    except ApiError as exc:
        key, refusal = None, exc
    verdict = request.scope.pop(VERDICT, None)
    if verdict is None:
        client = request.client.host if request.client else "unknown"
        who = f"key:{key.key_id}" if key is not None else f"ip:{client}"
        verdict = ctx.limiter.take(who)
    headers = ctx.limiter.headers(verdict)
    setattr(request.state, RATE_HEADERS, headers)
    if not verdict.allowed:
        raise ApiError(
            429, "RATE_LIMITED", f"too many requests; try again in {verdict.retry_after} s", headers
        )
    if refusal is not None:
        refusal.headers = {**headers, **refusal.headers}
        raise refusal
    response.headers.update(headers)
    request.state.key = key


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
