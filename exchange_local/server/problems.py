"""RFC 9457 problem+json for every refusal: a stable `code`, the exchange's own message.

Why override FastAPI's handlers: its validation errors are 422 with a list a person cannot
read, and an unknown route is `{"detail": "Not Found"}`; API.md wants 400 problem+json for a
malformed request and the same shape everywhere, so a client has one error path.
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from exchange_local.errors import ExchangeError, InsufficientMargin, UnknownAsset
from exchange_local.server.codes import EXCHANGE_CODE_BY_WIRE, TITLES, classify, wire_message
from exchange_local.server.wire import dec

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("exchange_local.server")
MAX_DETAIL_ERRORS = 10
MAX_INSTANCE = 200  # characters of the request's path echoed in a problem
HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"}


class ApiError(Exception):
    """A refusal raised by the server itself (auth, scope, rate limit, look-ups)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


class Problem(BaseModel):
    """The body of every error response (RFC 9457, with API.md's `code` and `requestId`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    instance: str
    requestId: str


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "description": TITLES[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}


def problem_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    rate = getattr(request.state, "rate_headers", None)  # deps.RATE_HEADERS, set by RateGate
    if rate:  # every answer carries them; here too for a 500 answered outside RateGate
        headers = {**rate, **(headers or {})}
    body = {
        "type": f"/api/v1/errors/{code.lower().replace('_', '-')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": _cut(request.url.path, MAX_INSTANCE),
        "requestId": f"r-{secrets.token_hex(4)}",
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and "..." (ASCII: `instance` is a URI
    reference). Why: a problem echoed the request's path whole, so a path of 60,000
    characters was answered with 120 KB."""
    return text if len(text) <= limit else text[:limit] + "..."


def api_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    extra = dict(exc.extra)
    if exc.code in EXCHANGE_CODE_BY_WIRE:  # the same refusal the engine would have raised
        extra.setdefault("exchangeCode", EXCHANGE_CODE_BY_WIRE[exc.code])
    return problem_response(request, exc.status, exc.code, exc.detail, exc.headers, **extra)


def exchange_error_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ExchangeError)
    status, code = classify(exc)
    if isinstance(exc, UnknownAsset) and "asset" not in request.path_params:
        status, code = BODY_ASSET  # the asset came from the body (or query), not the URL
    extra: dict[str, Any] = {"exchangeCode": exc.code}
    if isinstance(exc, InsufficientMargin):
        extra["shortfall"] = dec(exc.shortfall)
        extra["maxSize"] = dec(exc.max_size)
    return problem_response(request, status, code, wire_message(exc.message), **extra)


# An unknown or non-collateral asset named in a request body (`{"asset": "DOGE"}` to
# /withdrawals, a convert's `from`/`to`, an account's `deposits`) is an invalid field: 400,
# as API.md's status map says of one. Why not UNKNOWN_ASSET's 404: that says the URL's
# resource does not exist, and a client reading 404 "Not found" on POST /withdrawals looks
# for a wrong path. Only PUT /admin/index/{asset} names an asset in the URL; there it stays
# 404. `exchangeCode` still says unknown_asset, so the remote venue raises UnknownAsset.
BODY_ASSET = (400, "INVALID_REQUEST")


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    code = "BAD_REQUEST"
    if any(e.get("type") == "invalid_decimal" for e in errors):
        code = "INVALID_DECIMAL"
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = "the request body is not valid JSON"
    else:
        detail = "; ".join(
            f"{_location(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}"
            for e in errors[:MAX_DETAIL_ERRORS]
        )
    listed = [
        {
            "field": _location(tuple(e.get("loc", ()))),
            "message": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors[:MAX_DETAIL_ERRORS]
    ]
    return problem_response(request, 400, code, detail, errors=listed)


def allowed_methods(request: Request) -> str | None:
    """The `Allow` of a 405: every method the OpenAPI document declares for the path (None
    for a path it does not describe). Why not Starlette's: it names the methods of the first
    route whose path matched only, so `OPTIONS /api/v1/orders` said `POST` though GET and
    DELETE are there too (RFC 9110 wants them all). A literal path beats a template, as in
    OpenAPI: /orders/preview allows POST, not also the GET of /orders/{orderId}."""
    path = request.scope["path"]
    matched: list[tuple[int, str]] = []
    for template, item in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(template)), path):
            params = template.count("{")
            matched += [(params, m.upper()) for m in item if m.upper() in HTTP_METHODS]
    if not matched:
        return None
    fewest = min(params for params, _ in matched)
    return ", ".join(sorted({m for params, m in matched if params == fewest}))


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
    code = getattr(exc, "code", None) or codes.get(  # json_body.BodyRefused carries its code
        exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL"
    )
    detail = str(exc.detail) if exc.detail else TITLES.get(exc.status_code, "error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"there is no endpoint {request.method} {_cut(request.url.path, MAX_INSTANCE)}"
    return problem_response(request, exc.status_code, code, detail, headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "INTERNAL", "the server failed; this is a bug")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(ExchangeError, exchange_error_response)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
