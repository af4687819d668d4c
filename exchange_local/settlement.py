"""Continuous settlement every 30 s of exchange time (MECHANICS section 6; FTX's design).

Why settle so often: unsettled PnL becomes USD that can be withdrawn about every 30 seconds,
and each position's settle price returns to the mark, so the books are complete at any moment:
one SETTLE entry per position per cycle, even when it moves nothing (2,880 a day).
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local.events import Settled
from exchange_local.funding_jobs import FundingJobs
from exchange_local.ledger import SETTLEMENT_CLEARING, TxType
from exchange_local.money import ZERO

SETTLEMENT_MS = 30_000


class SettlementJobs(FundingJobs):
    """Mixed into Exchange: the 30 s cycle over every position not under liquidation."""

    def _settle(self, t_ms: int) -> None:
        """One SETTLE transaction per market: a leg per position plus the clearing leg."""
        for m in self._markets.values():
            mark = m.mark
            legs: list[tuple[str, str, Decimal]] = []
            total = ZERO
            for acct in self._accounts.values():
                pos = acct.positions.get(m.symbol)
                if pos is None or pos.size == 0 or acct.liquidation_status is not None:
                    continue
                amount = pos.size * (mark - pos.settle_price)
                legs.append((acct.account_id, "USD", amount))
                total += amount
                pos.settle_price = mark
            if not legs:
                continue
            legs.append((SETTLEMENT_CLEARING, "USD", -total))
            self._post_tx(TxType.SETTLE, legs, f"settle {m.symbol} at {mark}")
            if self._subscribers:
                self._emit(Settled(t_ms, m.symbol, mark, len(legs) - 1, total))
        problems = self._cheap_invariants()
        if problems:
            self._halt_all(problems)
