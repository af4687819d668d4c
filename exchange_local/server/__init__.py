"""The exchange as a server: REST under /api/v1 and one WebSocket (shared/API.md).

Why lazy: `codes`, `wire` and `wire_decode` are plain Python that perptui's remote venue
imports to speak the same spelling; importing them must not pull in FastAPI. `create_app` is
loaded from `app` on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from exchange_local.server.app import create_app

        return create_app
    raise AttributeError(name)
