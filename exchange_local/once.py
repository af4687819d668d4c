"""Requests that must happen at most once: the server's `Idempotency-Key` for deposits,
withdrawals, converts, leverage, resets and adjustments, kept inside the engine.

Why in the engine rather than beside it: the record that a key was used must reach the disk
in the same transaction as the command it guards. Kept in the server's key store (another
file, written after the command), a `kill -9` between the two writes left a withdrawal done
and its key unknown, and the client's retry withdrew a second time. `run_once` is itself a
journaled command whose arguments are the key and the command, so the journal row that makes
the withdrawal durable is the one that records the key; replaying the journal after a crash
rebuilds the records with the balances. Orders need none of this: their clientOrderId is
checked by the engine already.
"""

from __future__ import annotations

from typing import Any

from exchange_local.errors import InvalidRequest
from exchange_local.risk_params import DynamicRisk

# The commands a request key may guard: the ones a retried HTTP request could repeat.
ONCE_COMMANDS = frozenset(
    {"deposit", "withdraw", "convert", "set_leverage", "reset_account", "adjust_balance"}
)


class OnceRequests(DynamicRisk):
    # (owner, key) -> (fingerprint of the request, the command's result); in the snapshot
    _once_records: dict[tuple[str, str], tuple[str, Any]] | None = None

    def request_record(self, owner: str, key: str) -> tuple[str, Any] | None:
        """(fingerprint, result) of the request `owner` made with `key`, or None if unused."""
        records = self._once_records
        return None if records is None else records.get((owner, key))

    def run_once(
        self, owner: str, key: str, fingerprint: str, command: str, args: dict[str, Any]
    ) -> Any:
        """Run `command(**args)` and remember its result under (owner, key) with the request's
        fingerprint. A key already used returns the remembered result and runs nothing: the
        caller compares fingerprints first (`request_record`), this is the replay's guard.
        A command that raises is not remembered, so a corrected retry may use the key."""
        if command not in ONCE_COMMANDS:
            raise InvalidRequest(f"{command!r} cannot be run once by key")
        prior = self.request_record(owner, key)
        if prior is not None:
            return prior[1]
        result = getattr(type(self), command)(self, **args)
        if self._once_records is None:
            self._once_records = {}
        self._once_records[(owner, key)] = (fingerprint, result)
        return result
