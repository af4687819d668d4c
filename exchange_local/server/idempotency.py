"""`Idempotency-Key` for the POST and PUT endpoints other than orders (API.md): the same key
with the same request again answers the original response (`Idempotent-Replayed: true`);
with a different request, 409 IDEMPOTENCY_KEY_CONFLICT. Keys are remembered per account
without expiry (API.md asks for at least 24 h).

Why the engine keeps the record (`Exchange.run_once`): it is journaled with the command it
guards, in one transaction, so no crash can leave a withdrawal done and its key forgotten.
The response is rebuilt from the command's remembered result by the route's own `answer`,
so a replay reads as the original did. Records written by earlier versions in the key store
are still honoured.

Why not for creating accounts: the original response holds a new API key, and a replay would
have to keep that secret in clear text to repeat it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from exchange_local.money import shortest
from exchange_local.server.deps import context
from exchange_local.server.problems import ApiError

KEY = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
HEADER = "idempotency-key"


def canonical(value: Any) -> Any:
    """A parsed request body in a form where equal requests are equal: every Decimal as its
    value's shortest plain text ("98000.0", "98000" and "98000.000" are all "98000"; -0 is
    "0"), a model as its fields' parsed values, dicts, lists and everything else as they
    are. Why: a retry that writes a number differently is the same order or the same
    withdrawal; comparing the text answered 409 CLIENT_ORDER_ID_CONFLICT to a client whose
    library prints 98000 as "98000.0". Other fields stay exact ("ETH" and "eth", "buy" and
    "sell" still differ). Why a model's fields and not `model_dump()`: its decimals are
    serialized back to the text they came as (schemas.Dec), which is what was compared."""
    if isinstance(value, Decimal):
        return shortest(value)
    if isinstance(value, BaseModel):
        return {name: canonical(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def digest(data: Any) -> str:
    """SHA-256 of `data` as sorted-key JSON (Decimals etc. by str, after `canonical`)."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def request_fingerprint(method: str, path: str, request_data: Any) -> str:
    """The fingerprint an Idempotency-Key remembers: method, path and the canonical body."""
    return digest([method, path, canonical(request_data)])


def legacy_request_fingerprint(method: str, path: str, request_data: Any) -> str:
    """The fingerprint versions before `canonical` stored (the numbers' text); still
    accepted, so a key remembered by them replays a byte-identical retry after an upgrade."""
    if isinstance(request_data, BaseModel):
        request_data = request_data.model_dump()
    return digest([method, path, request_data])


async def once(
    request: Request,
    response: Response,
    owner: str,
    request_data: Any,
    command: str,
    args: dict[str, Any],
    answer: Callable[[Any], dict[str, Any]],
    check: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the engine's `command(**args)` under the engine lock, at most once per (owner,
    Idempotency-Key), and answer `answer(result)`. `request_data`: the parsed body (a model)
    or what stands for it; its numbers are compared by value (`canonical`). `check` runs
    first, under the lock, when the command is about to run (not on a replay)."""
    ctx = context(request)
    ex = ctx.ex
    key = request.headers.get(HEADER)
    if key is not None and not KEY.fullmatch(key):  # `$` alone lets a final newline through
        raise ApiError(400, "BAD_REQUEST", "Idempotency-Key must be 1-64 of A-Z a-z 0-9 . _ : / -")
    fingerprint = request_fingerprint(request.method, request.url.path, request_data)
    same = {fingerprint, legacy_request_fingerprint(request.method, request.url.path, request_data)}

    def conflict(used: str) -> None:
        if used not in same:
            raise ApiError(
                409,
                "IDEMPOTENCY_KEY_CONFLICT",
                f"Idempotency-Key {key!r} was used for a different request",
            )

    def guarded() -> tuple[bool, dict[str, Any]]:
        if key is None:
            if check is not None:
                check()
            return False, answer(getattr(ex, command)(**args))
        record = ex.request_record(owner, key)
        if record is not None:
            conflict(record[0])
            return True, answer(record[1])
        legacy = ctx.keys.remembered(owner, "idem", key)  # written before the engine kept them
        if legacy is not None:
            conflict(legacy[0])
            return True, json.loads(legacy[2])
        if check is not None:
            check()
        return False, answer(ex.run_once(owner, key, fingerprint, command, args))

    replayed, result = await ctx.runtime.run(guarded)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result
