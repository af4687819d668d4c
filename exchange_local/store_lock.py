"""The single-writer lock of a durable store: `<db>.lock` beside it, held exclusively.

Why: the engine is the store's only writer and replays its own journal; a second process (a
second server, the offline admin CLI, a second perptui on the same paper market) opening the
same store would fork its history, and one of them failed on a duplicate journal entry. The
lock is advisory (fcntl) and released when the process dies, so a crash never leaves it held.

Why the lock is named after the resolved path (os.path.realpath): a symlink to the store or
another relative path to it would otherwise take another lock file and let a second process
open the same store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO

from exchange_local.errors import StoreError


class StoreLocked(Exception):
    """Another process has the store open."""


def lock_path(db: str) -> str:
    """The lock file of the store `db`: one per file, whatever the path used to name it."""
    return os.path.realpath(db) + ".lock"


def _unusable(db: str, path: str, exc: OSError) -> StoreError:
    """A StoreError naming the store for a lock file that cannot be created or opened."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return StoreError(f"cannot open {db}: the directory {folder} does not exist")
    return StoreError(
        f"cannot open {db}: cannot create its lock file {path}: {exc.strerror or exc}"
    )


@contextlib.contextmanager
def store_lock(db: str | None) -> Iterator[None]:
    """Hold `<db>.lock` (of the resolved path) exclusively for the block; StoreLocked if
    someone else holds it, StoreError (naming the path) if the lock file cannot be opened."""
    if db is None:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock (documented)
        yield
        return
    path = lock_path(db)
    try:
        fh: IO[str] = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    except OSError as exc:
        raise _unusable(db, path, exc) from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise StoreLocked(
                f"{db} is open in another process (a perptui or an exchange-local)"
            ) from None
        try:  # the holder's pid, for a person looking; the flock is the lock, not this text
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
        except OSError:  # a full disk: the store's own open will say so in its words
            pass
        yield
    finally:
        with contextlib.suppress(OSError):  # a pid that could not be flushed: nothing lost
            fh.close()
