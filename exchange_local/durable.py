"""Durability for Exchange: every accepted command is journaled with its ledger rows before it
returns, snapshots bound the replay, and opening a store restores the exact state.

Why wrap the facade instead of journaling inside each method: the journal must hold exactly
the calls a user made (not the engine's internal steps), and a command that raised must leave
no row. Nested calls (bots and scenarios calling the facade) journal only at the outside.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import sqlite3
from collections.abc import Callable
from typing import Any

from exchange_local import snapshot_fork
from exchange_local.errors import StoreError
from exchange_local.once import OnceRequests
from exchange_local.store import Store

COMMANDS = (
    "create_account", "deposit", "withdraw", "convert", "place_order", "amend_order",
    "cancel_order", "cancel_all", "set_leverage", "set_index_price", "advance",
    "settle_market", "rollback_trades", "shock_index", "start_living_market",
    "halt_market", "resume_market", "reset_account", "adjust_balance", "run_once",
)  # fmt: skip
log = logging.getLogger(__name__)
SNAPSHOT_EVERY_COMMANDS = 2_000
SNAPSHOT_EVERY_MS = 3_600_000
TRANSIENT = (
    "_store", "_subscribers", "_in_command", "_replaying", "_weight_cache", "_weight_limits",
    "_fraction_floors", "_last_snapshot", "_forked_snapshot", "_config_given", "_adl_cache",
    "store_failure",
    *COMMANDS,
)  # fmt: skip


def _what_to_do(failure: BaseException) -> str:
    """What the person should do about a failed store write, by its cause (SQLite's code,
    else its words)."""
    code = getattr(failure, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(failure)
    if primary == sqlite3.SQLITE_FULL or "disk is full" in text:
        return "free the disk and restart it"
    if primary == sqlite3.SQLITE_READONLY or "readonly database" in text:
        return "the store (or its directory) has become read-only: make it writable and restart it"
    return "restart it once that is put right"


class Durable(OnceRequests):
    """Mixed into Exchange; active only when a store path is given."""

    _store: Store | None = None
    _in_command = False
    _replaying = False
    # snapshots pickled by a forked child where the platform allows (snapshot_fork.py);
    # False keeps them inline (set on the class or the instance before the store opens)
    fork_snapshots = True
    _forked_snapshot: snapshot_fork.ForkedSnapshot | None = None
    # why the store stopped taking writes (a failed commit), or None: see _commit_failed
    store_failure: str | None = None

    def _attach_store(self, store: Store) -> None:
        """Restore from the store (snapshot + journal) or initialise it; then journal."""
        if store.fresh:
            store.set_meta("config", pickle.dumps(self.config).hex())
            # what the constructor posted (the insurance fund's seed) reaches disk too; no
            # journal row: constructing the engine again recreates it on replay
            for tx in self._ledger.transactions:
                after = [self._ledger.balance(acct, asset) for acct, asset, _ in tx.legs]
                store.add_transaction(tx, after)
            store.commit_pending()
        else:
            snapshot = store.latest_snapshot()
            seq = 0
            if snapshot is not None:
                seq, state = snapshot
                self._restore_state(state)
            self._replay(store, seq)
            self._check_replay(store)
        self._store = store
        self._ledger.keep_history = False
        self._ledger.transactions.clear()
        self._ledger.entries.clear()
        self._ledger.on_post.append(store.add_transaction)
        self._last_snapshot = (store.journal_seq, self.now_ms)
        if snapshot_fork.AVAILABLE and self.fork_snapshots:
            snapshot_fork.remove_leftovers(store.path)
            self._forked_snapshot = snapshot_fork.ForkedSnapshot(store.path)
        for name in COMMANDS:
            setattr(self, name, self._journaled(name, getattr(type(self), name)))

    def _check_replay(self, store: Store) -> None:
        """Refuse a store whose journal, replayed after its last snapshot, does not give the
        transactions it stored: its tail was written by another version of the engine (one
        that liquidates or charges fees otherwise). Opening it anyway handed out transaction
        ids the store already held, and the first command then stopped the exchange with a
        bare "UNIQUE constraint failed". Only a store that was not closed cleanly has such a
        tail: a clean close writes a snapshot, from which any version starts."""
        row = store.db.execute("SELECT MAX(txid) FROM transactions").fetchone()
        stored = int(row[0]) if row and row[0] is not None else 0
        replayed = self._ledger._next_txid - 1
        if replayed != stored:
            store.close()
            raise StoreError(
                f"{store.path}: replaying the commands after its last snapshot gave "
                f"transaction {replayed} where the store holds {stored}: they were written by "
                "another version of exchange_local, which was not closed cleanly. Open it "
                "with that version and close it (a clean close writes a snapshot any version "
                "starts from); the file was left as it was"
            )

    def _restore_state(self, state: dict[str, Any]) -> None:
        clock = state.pop("_clock")
        self.__dict__.update(state)
        self.scheduler.now_ms = clock["now_ms"]
        self._restore_jobs()
        for job in self.scheduler.jobs():
            job.next_ms = clock["jobs"][job.name]

    def _restore_jobs(self) -> None:
        """Re-register the jobs whose owners are part of the restored state (the living market,
        exchange_local/living.py); the saved due times are applied to them afterwards. The
        constructor's own jobs already exist."""

    def _replay(self, store: Store, after_seq: int) -> None:
        self._replaying = True
        try:
            for _seq, _time_ms, command, args in store.journal_after(after_seq):
                getattr(type(self), command)(self, **args)
        finally:
            self._replaying = False

    def _journaled(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(method)

        def command(*args: Any, **kwargs: Any) -> Any:
            if self._in_command:
                return method(self, *args, **kwargs)
            if self.store_failure is not None:
                raise StoreError(self.store_failure)
            store = self._store
            assert store is not None
            self._in_command = True
            try:
                result = method(self, *args, **kwargs)
            except BaseException:
                store.discard_pending()
                raise
            finally:
                self._in_command = False
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop("self")
            try:
                store.commit_command(self.now_ms, name, arguments)
            except Exception as failure:
                raise self._commit_failed(name, failure) from failure
            try:
                self._maybe_snapshot()
            except sqlite3.Error as failure:  # the journal has it all; try again later
                log.warning("a snapshot could not be written (%s); the journal keeps every "
                            "command, so the next start replays more", failure)  # fmt: skip
            return result

        command.__doc__ = method.__doc__
        command.__name__ = name
        return command

    def _commit_failed(self, name: str, failure: Exception) -> StoreError:
        """Fail-stop after a command whose journal row could not be written (a full disk).

        Why stop rather than go on: the command has already changed the state in memory (a
        fill, its ledger legs), and nothing can take that back. Going on served fills the
        store never saw, and a clean stop then wrote them into the final snapshot, whose
        balances no longer matched the ledger. So every later command and the final
        snapshot are refused; the store holds everything up to the command before, and a
        restart (once the disk has room) resumes from there.

        Why the advice depends on the cause: "free the disk" was said for a store that had
        become read-only too, where freeing the disk changes nothing."""
        self.store_failure = (
            f"the exchange store {self._store.path if self._store else ''} could not be "
            f"written ({failure}); the exchange stopped taking commands and its last "
            f"command ({name}) is not saved: {_what_to_do(failure)}, everything before "
            "that command is in the store"
        )
        log.error("%s", self.store_failure)
        return StoreError(self.store_failure)

    def _maybe_snapshot(self, force: bool = False) -> None:
        """Snapshot every SNAPSHOT_EVERY_COMMANDS commands or exchange hour: in a forked child
        where it can (snapshot_fork.py: the engine does not wait for the pickling), else here.
        `force` (closing) writes it here and now, replacing a child still at work."""
        store = self._store
        assert store is not None
        forked = self._forked_snapshot
        if forked is not None and forked.busy:
            if force:
                forked.abandon()
            else:
                forked.collect(store.write_snapshot_blob)
        seq, t = self._last_snapshot
        if not (
            force
            or store.journal_seq - seq >= SNAPSHOT_EVERY_COMMANDS
            or (self.now_ms - t >= SNAPSHOT_EVERY_MS)
        ):
            return
        if forked is not None and not force:
            if forked.busy:
                return  # the child before is still writing; due again at the next command
            forked.start(store.journal_seq, self.now_ms, self._snapshot_state)
        else:
            store.write_snapshot(self.now_ms, self._snapshot_state())
        self._last_snapshot = (store.journal_seq, self.now_ms)

    def finish_snapshot(self) -> None:
        """Wait for a snapshot being written by a child process and store it (tests, tools
        that read the store next). Nothing to do when none is under way."""
        forked = self._forked_snapshot
        if self._store is not None and forked is not None:
            forked.collect(self._store.write_snapshot_blob, wait=True)

    def _snapshot_state(self) -> dict[str, Any]:
        """Everything but the store, subscribers, caches and the scheduler's callbacks (the
        scheduler is saved as its times: its jobs are rebuilt bound to the new engine)."""
        state = {k: v for k, v in self.__dict__.items() if k not in TRANSIENT}
        sched = state.pop("scheduler")
        state["_clock"] = {
            "now_ms": sched.now_ms,
            "jobs": {j.name: j.next_ms for j in sched.jobs()},
        }
        return state

    def close(self) -> None:
        """Write a final snapshot (fast restart) and close the store. Safe to call twice."""
        if self._store is not None:
            try:
                if self.store_failure is None:  # never a snapshot of a state the store lacks
                    self._maybe_snapshot(force=True)
                elif self._forked_snapshot is not None:
                    self._forked_snapshot.abandon()
            except (sqlite3.Error, OSError) as failure:  # a full disk: as any failed snapshot
                log.warning("the final snapshot could not be written (%s); the journal keeps "
                            "every command, so the next start replays more", failure)  # fmt: skip
            finally:
                store, self._store = self._store, None
                store.close()
