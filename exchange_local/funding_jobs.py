"""The exchange's funding jobs: a premium sample every 5 s, payments on the hour.

Why a layer of its own: exchange_local.funding holds MECHANICS section 5's pure formulas; this
applies them to the engine's markets and positions and books the payments in the ledger.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local.events import FundingPaid
from exchange_local.funding import (
    HOUR_MS,
    AccountFunding,
    FundingRecord,
    FundingState,
    hourly_rate,
    payment,
    premium,
)
from exchange_local.ledger import INSURANCE, TxType
from exchange_local.money import ZERO
from exchange_local.state import MarketRuntime
from exchange_local.views import RiskViews


class FundingJobs(RiskViews):
    """The exchange's funding jobs; mixed into Exchange (uses its markets, ledger, clock)."""

    def _funding_state(self, symbol: str) -> FundingState:
        state = self._funding.get(symbol)
        if state is None:
            state = self._funding[symbol] = FundingState()
        return state

    def _impact_price(self, m: MarketRuntime, is_buy: bool) -> Decimal | None:
        """Average fill price for the market's impact notional, None if the book is too thin."""
        spec = m.spec
        notional_units = int(spec.impact_notional / (spec.tick * spec.lot))
        walked = m.book.sweep_notional(is_buy, notional_units)
        if walked is None:
            return None
        lots, price_lots = walked
        return Decimal(price_lots) / lots * spec.tick

    def _funding_fields(self, symbol: str) -> tuple[Decimal | None, ...]:
        now = self.now_ms
        next_funding = (now // HOUR_MS + 1) * HOUR_MS
        next_settle = (now // 30_000 + 1) * 30_000
        return (
            self._funding_state(symbol).last_rate,
            self.predicted_funding_rate(symbol),
            Decimal(next_funding) / 1000,
            Decimal(next_settle) / 1000,
        )

    def _sample_funding(self, t_ms: int) -> None:
        for m in self._markets.values():
            prem = premium(m.index, m.mark, self._impact_price(m, False),
                           self._impact_price(m, True))  # fmt: skip
            self._funding_state(m.symbol).samples.append(prem)

    def predicted_funding_rate(self, symbol: str) -> Decimal | None:
        state = self._funding_state(symbol)
        if not state.samples:
            return None
        m = self._markets[symbol]
        return hourly_rate(sum(state.samples, ZERO) / len(state.samples), m.spec.base_imf)

    def _pay_funding(self, t_ms: int) -> None:
        """On the hour: one FUNDING transaction per market with a leg per position."""
        for m in self._markets.values():
            state = self._funding_state(m.symbol)
            if not state.samples:
                continue
            mean = sum(state.samples, ZERO) / len(state.samples)
            rate = hourly_rate(mean, m.spec.base_imf)
            count = len(state.samples)
            state.samples = []
            state.last_rate = rate
            legs = []
            paid = received = ZERO
            now = Decimal(t_ms) / 1000
            for acct in self._accounts.values():
                pos = acct.positions.get(m.symbol)
                if pos is None or pos.size == 0:
                    continue
                amount = payment(pos.size, m.index, rate)
                legs.append((acct.account_id, "USD", -amount))
                self._margin_dirty.add(acct.account_id)  # equity moved without a price move
                pos.funding_paid += amount
                acct.funding_history.append(AccountFunding(now, m.symbol, pos.size, rate, amount))
                if amount > 0:
                    paid += amount
                else:
                    received -= amount
            residual = paid - received
            if residual:
                legs.append((INSURANCE, "USD", residual))
            if legs:
                self._post_tx(TxType.FUNDING, legs, f"funding {m.symbol} rate {rate}")
            record = FundingRecord(now, m.symbol, rate, mean, m.index, count, paid, received,
                                   residual)  # fmt: skip
            state.history.append(record)
            if self._subscribers:
                self._emit(FundingPaid(t_ms, record))

    def funding_history(
        self, market: str | None = None, account: str | None = None
    ) -> list[FundingRecord] | list[AccountFunding]:
        """Hourly funding of a market (FundingRecord), or an account's payments (AccountFunding)."""
        if account is not None:
            acct = self._account(account)
            symbol = self._market(market).symbol if market else None
            return [f for f in acct.funding_history if symbol is None or f.market == symbol]
        if market is None:
            return [r for s in self._funding.values() for r in s.history]
        return list(self._funding_state(self._market(market).symbol).history)
