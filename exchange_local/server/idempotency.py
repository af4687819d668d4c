"""`Idempotency-Key` for the POST and PUT endpoints other than orders (API.md): the same key
with the same request again answers the original response (`Idempotent-Replayed: true`);
with a different request, 409 IDEMPOTENCY_KEY_CONFLICT. Keys are remembered per account in
the key store, without expiry (API.md asks for at least 24 h).

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
    request: Request, response: Response, owner: str, request_data: Any, fn: Callable[[], Any]
) -> Any:
    """Run `fn` under the engine lock, at most once per (owner, Idempotency-Key)."""
    ctx = context(request)
    key = request.headers.get(HEADER)
    if key is None:
        return await ctx.runtime.run(fn)
    if not KEY.fullmatch(key):  # `$` alone lets a final newline through
        raise ApiError(400, "BAD_REQUEST", "Idempotency-Key must be 1-64 of A-Z a-z 0-9 . _ : / -")
    text = json.dumps([request.method, request.url.path, request_data], sort_keys=True, default=str)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()

    def guarded() -> tuple[bool, Any]:
        prior = ctx.keys.remembered(owner, "idem", key)
        if prior is not None:
            if prior[0] != fingerprint:
                raise ApiError(
                    409,
                    "IDEMPOTENCY_KEY_CONFLICT",
                    f"Idempotency-Key {key!r} was used for a different request",
                )
            return True, json.loads(prior[2])
        result = fn()
        ctx.keys.remember(owner, "idem", key, fingerprint, 200, result)
        return False, result

    replayed, result = await ctx.runtime.run(guarded)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return result
