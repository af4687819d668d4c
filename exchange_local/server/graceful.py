"""uvicorn's server, telling WebSocket clients it is stopping before it closes them.

Why a subclass: uvicorn closes every connection before the app's lifespan shutdown runs, so
the app itself never gets to send API.md's `{"type": "info", "code": "SHUTDOWN"}`; `shutdown`
is the one hook that runs while the connections are still open.
"""

from __future__ import annotations

import socket

import uvicorn


class ClassServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = getattr(self.config.app, "state", None)
        ctx = getattr(state, "ctx", None) if state is not None else None
        if ctx is not None:
            await ctx.runtime.announce_shutdown()
        await super().shutdown(sockets)
