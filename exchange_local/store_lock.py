"""The single-writer lock of a durable store: `<db>.lock` beside it, held exclusively.

Why: the engine is the store's only writer and replays its own journal; a second process (a
second server, the offline admin CLI, a second perptui on the same paper market) opening the
same store would fork its history, and one of them failed on a duplicate journal entry. The
lock is advisory (fcntl) and released when the process dies, so a crash never leaves it held.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO


class StoreLocked(Exception):
    """Another process has the store open."""


@contextlib.contextmanager
def store_lock(db: str | None) -> Iterator[None]:
    """Hold `<db>.lock` exclusively for the block; StoreLocked if someone else holds it."""
    if db is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (documented)
        yield
        return
    fh: IO[str] = open(f"{db}.lock", "a+")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreLocked(
                f"{db} is open in another process (a perptui or an exchange-local)"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        fh.close()
