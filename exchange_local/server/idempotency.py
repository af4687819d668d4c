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
from typing import Any

from fastapi import Request, Response

from exchange_local.server.deps import context
from exchange_local.server.problems import ApiError

KEY = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
HEADER = "idempotency-key"


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
    Idempotency-Key), and answer `answer(result)`. `check` runs first, under the lock, when
    the command is about to run (not on a replay)."""
    ctx = context(request)
    ex = ctx.ex
    key = request.headers.get(HEADER)
    if key is not None and not KEY.fullmatch(key):  # `$` alone lets a final newline through
        raise ApiError(400, "BAD_REQUEST", "Idempotency-Key must be 1-64 of A-Z a-z 0-9 . _ : / -")
    text = json.dumps([request.method, request.url.path, request_data], sort_keys=True, default=str)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()

    def conflict(used: str) -> None:
        if used != fingerprint:
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
