"""Operator actions of MECHANICS section 4, stage 6: settle a market, roll back a window.

Why through the ledger and never by deletion: the books and records must show what happened
and what was undone. A settled market closes every position at the chosen price in one
ADMIN_SETTLE transaction; a rollback re-trades each fill of the window in reverse at its
original price between the same two accounts (reversing its PnL whether settled or not),
refunds its fees, and leaves funding as paid. Liquidation then runs as usual.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange_local.clock import seconds_to_ms
from exchange_local.errors import InvalidRequest
from exchange_local.events import MarketEvent
from exchange_local.ledger import FEES, SETTLEMENT_CLEARING, Leg, TxType
from exchange_local.liquidation import LiquidationJobs
from exchange_local.money import ZERO
from exchange_local.orders import CancelReason


class Operator(LiquidationJobs):
    def settle_market(self, market: str, price: Any) -> int:
        """Set the market reduce-only and close every position at `price` (a multiple of the
        tick). Returns the number of positions closed. Operator only (the server's admin scope)."""
        m = self._market(market)
        settle = self._parse_price(m, price, "price")
        m.reduce_only = True
        m.settled = True
        for acct in self._accounts.values():
            for order in [o for o in acct.open_orders.values() if o.market == m.symbol]:
                self._finish_cancel(order, CancelReason.MARKET_SETTLED)
        self._flush_book(m)
        legs: list[Leg] = []
        total = ZERO
        closed = 0
        for acct in self._accounts.values():
            pos = acct.positions.get(m.symbol)
            if pos is None or pos.size == 0:
                continue
            cash = pos.apply_fill(-pos.size, settle)
            legs.append((acct.account_id, "USD", cash))
            total += cash
            closed += 1
            self._margin_dirty.add(acct.account_id)
        m.oi_long = ZERO
        if legs:
            legs.append((SETTLEMENT_CLEARING, "USD", -total))
            self._post_tx(TxType.ADMIN_SETTLE, legs, f"settle {m.symbol} at {settle}")
        if self._subscribers:
            self._emit(MarketEvent(self.now_ms, m.symbol, "settled",
                                   {"price": settle, "positions": closed}))  # fmt: skip
        return closed

    def rollback_trades(self, market: str, since: Any, until: Any) -> int:
        """Reverse every fill of `market` with since <= time <= until (exchange seconds),
        newest first, each in its own ROLLBACK transaction that names the original fill.
        Returns the number of fills reversed. Operator only."""
        m = self._market(market)
        start = seconds_to_ms(since, "since")
        end = seconds_to_ms(until, "until")
        if end < start:
            raise InvalidRequest(f"until ({until}) is before since ({since})")
        if m.settled:
            raise InvalidRequest(f"{m.symbol} has been settled; its trades can no longer be undone")
        fills = [f for f in self._fills if f.market == m.symbol and start <= f.time_ms <= end
                 and f.fill_id not in self._rolled_back]  # fmt: skip
        if fills and len(self._fills) == self._fills.maxlen and self._fills[0].time_ms > start:
            raise InvalidRequest("the window starts before the oldest fill still kept")
        for fill in reversed(fills):
            q = fill.size if fill.taker_side == "buy" else -fill.size  # the taker's original
            taker = self._accounts[fill.taker].position(m.symbol)
            maker = self._accounts[fill.maker].position(m.symbol)
            t_before, m_before = taker.size, maker.size
            cash_t = taker.apply_fill(-q, fill.price)
            cash_m = maker.apply_fill(q, fill.price)
            m.oi_long += (max(taker.size, ZERO) - max(t_before, ZERO)
                          + max(maker.size, ZERO) - max(m_before, ZERO))  # fmt: skip
            fees = fill.taker_fee + fill.maker_fee
            legs: list[Leg] = [
                (fill.taker, "USD", cash_t + fill.taker_fee),
                (fill.maker, "USD", cash_m + fill.maker_fee),
                (SETTLEMENT_CLEARING, "USD", -cash_t - cash_m),
                (FEES, "USD", -fees),
            ]
            self._post_tx(TxType.ROLLBACK, legs, f"rollback of fill:{fill.fill_id}")
            self._rolled_back.add(fill.fill_id)
            self._margin_dirty.update((fill.taker, fill.maker))
            for account in (fill.taker, fill.maker):
                acct = self._accounts[account]
                if acct.reduce_only_orders:
                    self._reclip_reduce_only(acct, m)
        if self._subscribers:
            self._emit(MarketEvent(self.now_ms, m.symbol, "rolled_back",
                                   {"since": Decimal(start) / 1000, "until": Decimal(end) / 1000,
                                    "fills": len(fills)}))  # fmt: skip
        return len(fills)
