"""Snapshots pickled by a forked child, so the engine does not stop while they are written.

Why: a snapshot pickles the whole engine state, and that grows with the market's history
(fills for rollbacks, the trade tape, 30 days of 1-minute candles): 0.3 s after two hours of
the living market, about a second after six, more after days. Written inline every 2,000
commands, that was a pause of the class server (every client's order waited) and of perptui
at `--speed 100` (keys unanswered for seconds). `fork()` copies the process lazily (about
10 ms for 800 MB here): the child sees the state exactly as it was at the fork, pickles it on
the other core, writes the bytes to a file beside the store and exits; the engine goes on.

Why the parent, not the child, puts the bytes into SQLite: SQLite forbids using a connection
across fork(), and its per-process bookkeeping of open files and locks is inherited by the
child, so a connection the child opened to the same file could misjudge its locks. The child
therefore never touches SQLite; the parent inserts the finished blob on its next command
(a file read and an insert: milliseconds) under the journal sequence number of the fork.

Only where fork() is safe to use this way (Linux); elsewhere snapshots stay inline.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import logging
import os
import pickle
import signal
import sys
import warnings
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

AVAILABLE = sys.platform.startswith("linux") and hasattr(os, "fork")
_PART = ".snapshot-part"  # written by the child; renamed when whole
_DONE = ".snapshot"
_UNREAPED: set[int] = set()  # children of snapshots dropped without collect() or abandon()


def remove_leftovers(store_path: str) -> None:
    """Remove snapshot files a crashed process left beside its store. Never needed for a
    correct restart (the journal holds every command); they only take disk."""
    for path in glob.glob(glob.escape(store_path) + ".*" + _DONE + "*"):
        _remove(path)


class ForkedSnapshot:
    """At most one snapshot being pickled by a child process, and what to do with it."""

    def __init__(self, store_path: str) -> None:
        self.store_path = store_path
        self.pid: int | None = None
        self.seq = 0
        self.time_ms = 0

    @property
    def busy(self) -> bool:
        return self.pid is not None

    def _paths(self) -> tuple[str, str]:
        base = f"{self.store_path}.{self.seq}"
        return base + _PART, base + _DONE

    def __del__(self) -> None:
        # an exchange dropped without close(): its child is reaped by a later start(), so a
        # process that opens exchange after exchange (tests, a reconnecting client) does not
        # collect zombies
        if self.pid is not None:
            _UNREAPED.add(self.pid)

    def start(self, seq: int, time_ms: int, state: Callable[[], Any]) -> None:
        """Fork a child that pickles `state()` (the state as of the fork) into a file."""
        _reap_dropped()
        self.seq, self.time_ms = seq, time_ms
        part, done = self._paths()
        with warnings.catch_warnings():
            # Python 3.12+ warns on fork() in a process with threads; the child below calls
            # nothing that takes a lock another thread may hold (no logging, no SQLite)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its result is checked by the parent
            _child(part, done, state)
        self.pid = pid

    def collect(self, write: Callable[[int, int, bytes], None], wait: bool = False) -> None:
        """If the child has finished, hand its snapshot to `write(seq, time_ms, blob)`.

        A child that failed is logged and forgotten: the next due snapshot tries again, and
        the journal keeps every command meanwhile. `wait` blocks until the child ends.
        """
        if self.pid is None:
            return
        pid, status = os.waitpid(self.pid, 0 if wait else os.WNOHANG)
        if pid == 0:
            return
        self.pid = None
        part, done = self._paths()
        try:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                log.warning("a snapshot child process failed (exit %s); the journal keeps "
                            "every command, so the next start replays more", code)  # fmt: skip
                return
            try:
                with open(done, "rb") as fh:
                    blob = fh.read()
            except OSError as failure:
                log.warning("a snapshot written by a child process could not be read (%s); "
                            "the next start replays more", failure)  # fmt: skip
                return
            write(self.seq, self.time_ms, blob)
        finally:
            _remove(part, done)

    def abandon(self) -> None:
        """Stop a child still at work and forget it (a final snapshot supersedes it)."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        self.pid = None
        _remove(*self._paths())


def _reap_dropped() -> None:
    """Reap the finished children of dropped snapshots (never another child of the process)."""
    for pid in list(_UNREAPED):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped already
            done = pid
        if done:
            _UNREAPED.discard(pid)


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            os.remove(path)


def _child(part: str, done: str, state: Callable[[], Any]) -> None:  # pragma: no cover
    """Pickle, write, rename, exit: never return into the parent's code.

    Closing the inherited descriptors releases nothing of the parent's: SQLite's fcntl locks
    belong to the process that took them, and the parent keeps its own copies. gc is off so
    that no finalizer runs here (a SQLite connection closed by the collector would try to
    checkpoint the parent's write-ahead log). Signals go back to
    their defaults and the wakeup fd is dropped, so a resize or a ^C meant for the terminal
    or the server is not handled twice (the wakeup socket is shared with the parent's loop).
    """
    code = 1
    try:
        gc.disable()
        # the store's lock (flock: held while any copy of its descriptor is open), the
        # server's listening socket and the terminal stay the parent's alone: a restart
        # after the parent died must not find its store locked by a child still pickling
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGWINCH):
                signal.signal(sig, signal.SIG_DFL)
        except ValueError:  # not the main thread: nothing was installed here to undo
            pass
        blob = pickle.dumps(state(), protocol=pickle.HIGHEST_PROTOCOL)
        with open(part, "wb") as fh:
            fh.write(blob)
        os.replace(part, done)
        code = 0
    finally:
        os._exit(code)
