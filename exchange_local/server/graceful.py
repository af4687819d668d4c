"""uvicorn's server, telling WebSocket clients it is stopping before it closes them.

Why a subclass: uvicorn closes every connection before the app's lifespan shutdown runs, so
the app itself never gets to send API.md's `{"type": "info", "code": "SHUTDOWN"}`; `shutdown`
is the one hook that runs while the connections are still open.

Why stop_signals: uvicorn (>= 0.29) shuts down on SIGINT/SIGTERM and then raises the signal
again with the handlers it found. With Python's defaults that is a KeyboardInterrupt (through
asyncio.run: a CancelledError traceback, status 130) or a death by SIGTERM (143) that skips
the caller's final close (the exchange's snapshot). Under stop_signals the handlers it finds
only ask the server to stop, so the re-raised signal is a no-op and the caller's close runs.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ClassServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = getattr(self.config.app, "state", None)
        ctx = getattr(state, "ctx", None) if state is not None else None
        if ctx is not None:
            await ctx.runtime.announce_shutdown()
        await super().shutdown(sockets)


@contextlib.contextmanager
def stop_signals(server: uvicorn.Server) -> Iterator[None]:
    """For the block, SIGINT and SIGTERM ask `server` to stop (uvicorn's own handlers do the
    same while it runs; a second SIGINT then forces the exit) and are not raised again, so the
    block ends normally: the caller closes the store and exits 0. A signal arriving after the
    server stopped (during the final close) is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(sig: int, frame: FrameType | None) -> None:
        server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
