"""Pages of an account's ledger for GET /ledger, /admin/ledger and /insurance-fund, read
without reading the whole ledger.

Why not `ex.ledger(account)` and a slice: that built every leg of the account (in a durable
exchange, read and parsed every leg from SQLite) under the engine lock, so one
`/ledger?limit=1` took longer the longer the ledger grew and held up every other client
meanwhile. The store pages itself (store_ledger.LedgerQueries.ledger_page); the in-memory
ledger is paged here with the same LegIndex over the engine's own list of legs, which is
only indexed into, never copied.

Why this reaches into the exchange (`_store`, `_ledger`, `_accounts`): the facade's `ledger`
returns the whole list, and a paged facade method belongs in engine.py, which this server
change does not touch; these three reads are the whole of it, in this one module.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange_local.errors import UnknownAccount
from exchange_local.ledger import LedgerEntry
from exchange_local.store_ledger import LegIndex


class LedgerPages:
    """The pager of one exchange: the store's when it has one, else an index per account
    over the in-memory ledger (kept for the accounts that asked, extended as they ask)."""

    def __init__(self, exchange: Any) -> None:
        self.ex = exchange
        self._indexes: dict[str, LegIndex] = {}

    def page(
        self,
        account: str,
        since_ms: int | None,
        until_ms: int | None,
        type_prefix: str | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[LedgerEntry]]:
        """(how many legs match, legs `offset` .. `offset + limit` of them), oldest first:
        what `of_type(ex.ledger(account, since, until), type_prefix)[offset:offset + limit]`
        gives, with its length."""
        self._check(account)
        store = self.ex._store
        if store is not None:
            page: tuple[int, list[LedgerEntry]] = store.ledger_page(
                account, since_ms, until_ms, type_prefix, offset, limit
            )
            return page
        legs, index = self._memory_index(account)
        total, positions = index.select(since_ms, until_ms, type_prefix, offset, limit)
        return total, [_entry(legs[i]) for i in positions]

    def newest(self, account: str, count: int) -> list[LedgerEntry]:
        """The account's last `count` legs, oldest first."""
        self._check(account)
        store = self.ex._store
        if store is not None:
            rows: list[LedgerEntry] = store.newest_legs(account, count)
            return rows
        legs, _ = self._memory_index(account)
        return [_entry(legs[i]) for i in range(max(0, len(legs) - count), len(legs))]

    def _check(self, account: str) -> None:
        """The facade's refusal of an account that does not exist (system ones do)."""
        if not isinstance(account, str) or account not in self.ex._accounts:
            raise UnknownAccount(f"there is no account {account!r}")

    def _memory_index(self, account: str) -> tuple[list[Any], LegIndex]:
        """The engine's list of the account's legs and its index, extended to its end."""
        legs = self.ex._ledger.entries.get(account, [])
        index = self._indexes.get(account)
        if index is None or len(index) > len(legs):  # a new account, or a list started anew
            index = self._indexes[account] = LegIndex()
        for i in range(len(index), len(legs)):
            tx = legs[i][0]
            index.add(tx.time_ms, str(tx.type))
        return legs, index


def _entry(leg: tuple[Any, str, Decimal, Decimal]) -> LedgerEntry:
    """One leg of the in-memory ledger as Ledger.entries_for builds it."""
    tx, asset, amount, balance = leg
    return LedgerEntry(
        tx.txid, Decimal(tx.time_ms) / 1000, str(tx.type), asset, amount, balance, tx.ref
    )
