"""Request bodies are JSON objects whose keys appear once: a duplicate key is refused.

Why: Python's json keeps the last of two equal keys, other parsers the first, so
`{"symbol": "BTC-PERP", ..., "symbol": "ETH-PERP"}` placed an ETH order while a proxy, a log
or the client's own check read BTC. The server cannot know which the sender meant, so it
refuses the body (400 INVALID_REQUEST naming the key) and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException


class DuplicateKey(ValueError):
    """A JSON object had the same key twice (the message names it)."""

    def __init__(self, key: str) -> None:
        shown = json.dumps(key)
        if len(shown) > 40:
            shown = shown[:40] + "…"
        super().__init__(f"the JSON body has the key {shown} more than once; send each field once")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`object_pairs_hook` for json.loads: the object as a dict, refusing a repeated key."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


class BodyRefused(HTTPException):
    """A body refused while it is decoded, with its wire code (problems._http_error reads
    `code`). An HTTPException because FastAPI re-raises those from body decoding, while it
    turns any other exception there into a bare "There was an error parsing the body"."""

    def __init__(self, detail: str, code: str = "INVALID_REQUEST") -> None:
        super().__init__(400, detail)
        self.code = code


class UniqueKeysRequest(Request):
    """A Request whose JSON body refuses duplicate keys, and nesting deeper than Python's
    parser recurses (a RecursionError there was "There was an error parsing the body")."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body, object_pairs_hook=unique_keys)
            except DuplicateKey as exc:
                raise BodyRefused(str(exc)) from None
            except RecursionError:
                raise BodyRefused("the request body is JSON nested too deeply", BAD) from None
        return self._json


BAD = "BAD_REQUEST"


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON as FastAPI reads it: application/json or
    application/*+json, parameters (charset) aside."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class UniqueKeysRoute(APIRoute):
    """The route class of every router: its bodies are decoded by UniqueKeysRequest
    (FastAPI's documented way to customise how a route reads its request).

    A body sent as another Content-Type (text/plain, a form, none) is refused naming the
    header. Why: FastAPI then validates the raw bytes against the body model, and the
    client read "body: Input should be a valid dictionary or object to extract fields
    from" about a body that was a perfectly good JSON object."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        takes_json = self.body_field is not None

        async def handler(request: Request) -> Response:
            wrapped = UniqueKeysRequest(request.scope, request.receive)
            wrong = takes_json and not is_json(wrapped.headers.get("content-type"))
            if wrong and await wrapped.body():  # an empty body is FastAPI's "Field required"
                raise BodyRefused("Content-Type must be application/json", BAD)
            return await original(wrapped)

        return handler
