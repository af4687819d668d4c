"""The single-writer lock of a durable store: `<db>.lock` beside it, held exclusively.

Why: the engine is the store's only writer and replays its own journal; a second process (a
second server, the offline admin CLI, a second perptui on the same paper market, a script's
`Exchange(store=...)`) opening the same store would fork its history, and one of them failed on
a duplicate journal entry. The lock is advisory (fcntl) and released when the process dies, so
a crash never leaves it held.

Why the lock is named after the resolved path (os.path.realpath, `~` expanded): a symlink to
the store or another relative path to it would otherwise take another lock file and let a
second process open the same store.

Why the lock file records its holder ("PID KIND"): a refusal can then say what has the store
open and what to do about it (close that perptui; act through that server). The flock is the
lock; the text is only for the person reading the refusal.

Why two ways to take it: a program that opens a store (serve, the admin CLI, perptui) holds
`store_lock` around the whole session, and a second session, even in the same process, is
refused; `Store` itself (exchange_local/store.py) takes the lock with `writer_lock`, which uses
the one this process already holds for that file, so the facade of a script is locked against
other processes too and the programs above do not lock themselves out.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

from exchange_local.errors import StoreError

PERPTUI = "perptui"
SCRIPT = "script"  # a Python program using the facade (Exchange(store=...)) directly

# the stores whose lock this process holds for a session (store_lock): lock path -> kind
_HELD: dict[str, str] = {}
# the locks this process's Stores took themselves (writer_lock): lock path -> _Own
_OWN: dict[str, _Own] = {}


class StoreInUse(StoreError):
    """Another process has the store open. `base`: that sentence alone, naming the holder
    (without the advice after it); `kind` and `pid`: the holder, when its lock file says
    ("" and None when it does not)."""

    def __init__(self, message: str, base: str = "", kind: str = "", pid: int | None = None):
        super().__init__(message)
        self.base = base or message
        self.kind = kind
        self.pid = pid


class StoreLocked(StoreInUse):
    """Another process has the store open: a server, the admin CLI, or one that did not say
    which it is (the admin CLI then says to act through the server with --url)."""


def store_path(db: str) -> str:
    """`db` with `~` expanded, as every opener of a store names it."""
    return os.path.expanduser(db)


def lock_path(db: str) -> str:
    """The lock file of the store `db`: one per file, whatever the path used to name it."""
    return os.path.realpath(store_path(db)) + ".lock"


def this_program() -> str:
    """What this process is, as a holder of a lock: "perptui", "exchange-local serve", ...,
    or "" when it is neither (a script, a test)."""
    argv = sys.argv or [""]
    first = argv[0].replace(os.sep, "/")
    name = os.path.basename(first)
    if name == "perptui" or first.endswith("perptui/cli.py"):
        return PERPTUI
    if name == "exchange-local" or first.endswith("exchange_local/cli.py"):
        command = next((a for a in argv[1:2] if not a.startswith("-")), "")
        return f"exchange-local {command}".strip()
    return ""


def _unusable(db: str, path: str, exc: OSError) -> StoreError:
    """A StoreError naming the store for a lock file that cannot be created or opened."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        return StoreError(f"cannot open {db}: the directory {folder} does not exist")
    return StoreError(
        f"cannot open {db}: cannot create its lock file {path}: {exc.strerror or exc}"
    )


def _holder(path: str) -> tuple[int | None, str]:
    """(pid, kind) from a lock file another process holds; (None, "") if it does not say."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            text = os.read(fd, 200).decode("utf-8", "replace")
        finally:
            os.close(fd)
    except OSError:
        return None, ""
    pid_text, _, kind = text.strip().partition(" ")
    try:
        return int(pid_text), kind.strip()
    except ValueError:
        return None, ""


def holder_text(kind: str, pid: int | None) -> str:
    """Who holds a lock, in words: "perptui, pid 12", "exchange-local serve, pid 12"."""
    who = {PERPTUI: "perptui", SCRIPT: "a Python program using Exchange(store=...)"}.get(
        kind, kind or "a perptui or an exchange-local"
    )
    return f"{who}, pid {pid}" if pid is not None else who


def in_use(db: str, pid: int | None, kind: str) -> StoreInUse:
    """The refusal for a store someone else holds, in words that fit the holder: the admin
    CLI says "act through the server" for a StoreLocked, and prints these others as they are."""
    base = f"{db} is open in another process ({holder_text(kind, pid)})"
    if kind == PERPTUI:
        advice = ("close that perptui first (while it runs, its paper account is changed in "
                  "perptui itself, e.g. with its deposit dialog, D)")  # fmt: skip
        return StoreInUse(f"{base}: {advice}", base, kind, pid)
    if kind == SCRIPT:
        advice = "close that exchange (Exchange.close()) or stop the program first"
        return StoreInUse(f"{base}: {advice}", base, kind, pid)
    return StoreLocked(base, base, kind, pid)


def _flock(fh: IO[Any]) -> bool:
    """Take the exclusive lock without waiting; False if someone holds it."""
    import fcntl

    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def store_lock(db: str | None, holder: str | None = None) -> Iterator[None]:
    """Hold `<db>.lock` (of the resolved path) exclusively for the block: a program's
    session on the store (a Store it opens meanwhile uses this lock). StoreInUse (or
    StoreLocked, for a server or a holder that did not say) if someone else holds it, even
    this process; StoreError (naming the path) if the lock file cannot be opened. `holder`:
    what to record as the holder (default: this_program())."""
    with _locked(db, holder, session=True):
        yield


@contextlib.contextmanager
def _locked(db: str | None, holder: str | None, session: bool) -> Iterator[None]:
    if db is None:
        yield
        return
    try:
        import fcntl  # noqa: F401 (used by _flock)
    except ImportError:  # not POSIX: no lock (documented)
        yield
        return
    path = lock_path(db)
    kind = holder if holder is not None else this_program()
    try:
        fh: IO[str] = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    except OSError as exc:
        raise _unusable(db, path, exc) from None
    store_fh: IO[bytes] | None = None
    try:
        if not _flock(fh):
            pid, held_by = _holder(path)
            # this process: perhaps an exchange dropped without close() and not yet collected
            # (its store is in a reference cycle); collecting it releases its lock
            if pid == os.getpid():
                gc.collect()
            if pid != os.getpid() or not _flock(fh):
                raise in_use(db, pid, held_by) from None
        store_fh = _lock_store_file(db)
        try:  # the holder, for a refusal's words; the flock is the lock, not this text
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()} {kind}".strip() + "\n")
            fh.flush()
        except OSError:  # a full disk: the store's own open will say so in its words
            pass
        if not session:
            yield
            return
        _HELD[path] = kind
        try:
            yield
        finally:
            _HELD.pop(path, None)
    finally:
        with contextlib.suppress(OSError):  # a pid that could not be flushed: nothing lost
            fh.close()
        if store_fh is not None:
            with contextlib.suppress(OSError):
                store_fh.close()


def _lock_store_file(db: str) -> IO[bytes] | None:
    """A second flock, on the store file itself where it exists (a store made in this session
    is covered from its next open): the open file, None where it cannot be taken (no file
    yet, a directory, a file this process may not open: the store's own open says why in its
    words); StoreInUse if another holds it (its lock file deleted: who cannot be said).

    Why: the lock file can be deleted under its holder (a tidy-up of stray .lock files), and
    the next opener then locked a new file of that name: two writers on one store. The
    store file itself is not tidied away while in use. (flock and SQLite's own POSIX locks
    do not meet on Linux.)"""
    real = os.path.realpath(store_path(db))
    if not os.path.isfile(real):  # none yet (a new store: made by its opener) or a directory
        return None
    for attempt in range(2):
        try:  # "r": never made here (a file that appeared would read as a stored market)
            fh = open(real, "rb")  # noqa: SIM115 (held with the lock file)
        except OSError:
            return None
        if _flock(fh):
            return fh
        fh.close()
        if attempt == 0:
            gc.collect()  # this process's own exchange dropped without close(), as above
    raise in_use(db, None, "")


@contextlib.contextmanager
def writer_lock(db: str) -> Iterator[None]:
    """The lock a Store takes, for another process to find: nothing more if this process
    holds the store's lock for a session (serve, the admin CLI, perptui), else the lock,
    shared by this process's Stores on that file and released when the last one closes.

    Why per process, as the session lock is: the lock keeps a second process from forking
    the store's history; a program (or a test that plays a crash) that opens the same file
    again in its own process is its own business, as SQLite's own locks are per process."""
    path = lock_path(db)
    if path in _HELD:
        yield
        return
    own = _OWN.get(path)
    if own is None:
        stack = contextlib.ExitStack()
        stack.enter_context(_locked(db, this_program() or SCRIPT, session=False))
        own = _OWN[path] = _Own(stack)
    own.users += 1
    try:
        yield
    finally:  # also when a Store dropped without close() is collected
        own.users -= 1
        if own.users == 0:
            if _OWN.get(path) is own:
                del _OWN[path]
            own.stack.close()


class _Own:
    """The lock this process's Stores hold on one file, and how many of them are open."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        self.stack = stack
        self.users = 0
