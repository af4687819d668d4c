"""Operator actions: MECHANICS section 4, stage 6 (settle a market, roll back a window, halt
and resume one), and a teacher's actions on one account (reset it, adjust a balance).

Why through the ledger and never by deletion: the books and records must show what happened
and what was undone. A settled market closes every position at the chosen price in one
ADMIN_SETTLE transaction; a rollback re-trades each fill of the window in reverse at its
original price between the same two accounts (reversing its PnL whether settled or not),
refunds its fees (a liquidation fill's liquidation fee from the insurance fund), and
leaves funding as paid. Liquidation then runs as usual. A reset hands
the account's positions to the backstop providers at the mark (an ADMIN_SETTLE transaction:
someone must hold the other side, and they are the accounts that exist to take positions
over) and moves its balances to the new deposit with DEPOSIT and WITHDRAW transactions; its
history stays in the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange_local.backstop import Plan
from exchange_local.clock import seconds_to_ms
from exchange_local.errors import (
    InsufficientBalance,
    InvalidRequest,
    MarketHalted,
    MarketSettled,
    NotAuthorized,
    UnknownAsset,
)
from exchange_local.events import MarketEvent
from exchange_local.ledger import EXTERNAL, FEES, INSURANCE, SETTLEMENT_CLEARING, Leg, TxType
from exchange_local.liquidation import LiquidationJobs
from exchange_local.money import ZERO, to_decimal
from exchange_local.orders import CancelReason
from exchange_local.state import Account

RESET_REF = "account reset"
ADJUST_REF = "adjustment"


@dataclass(frozen=True, slots=True)
class AccountReset:
    """What `reset_account` did: orders canceled, positions handed over, balances moved."""

    account: str
    canceled: list[int] = field(default_factory=list)
    # (market, size closed, price, the backstop accounts that took it)
    closed: list[tuple[str, Decimal, Decimal, tuple[str, ...]]] = field(default_factory=list)
    moved: dict[str, Decimal] = field(default_factory=dict)  # asset -> change (+ in, - out)


class Operator(LiquidationJobs):
    def settle_market(self, market: str, price: Any) -> int:
        """Set the market reduce-only and close every position at `price` (a multiple of the
        tick). Returns the number of positions closed. Operator only (the server's admin scope).
        Once only: a second settlement would announce a second closing price for positions
        closed at the first (MarketSettled, nothing changes)."""
        m = self._market(market)
        settle = self._parse_price(m, price, "price")
        if m.settled:
            raise MarketSettled(
                f"{m.symbol} has already been settled; a market is settled once and stays closed"
            )
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
        if fills:
            self._refuse_transfers_in(start, end)
        refunds = {f.fill_id: self._liquidation_fees.get(f.fill_id, ZERO) for f in fills}
        owed = sum(refunds.values(), ZERO)
        if owed > self._fund():
            raise InvalidRequest(
                f"the window's liquidation fills paid {owed} USD of liquidation fees to the "
                f"insurance fund, which holds {self._fund()} USD now: it cannot refund them"
            )
        self._adl_cache.clear()  # positions move under any ranking made this tick
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
            refund = refunds[fill.fill_id]  # a liquidation fill's fee went to the fund
            legs: list[Leg] = [
                (fill.taker, "USD", cash_t + fill.taker_fee + refund),
                (fill.maker, "USD", cash_m + fill.maker_fee),
                (SETTLEMENT_CLEARING, "USD", -cash_t - cash_m),
                (FEES, "USD", -fees),
            ]
            if refund:
                legs.append((INSURANCE, "USD", -refund))
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

    def _refuse_transfers_in(self, start: int, end: int) -> None:
        """A rollback re-trades book fills only. A backstop takeover or an ADL in the window
        moved positions (and coins) outside the book: reversing the fills around it gave the
        liquidated account a short it never held while the BLP kept its long. Such a window is
        refused, as is one reaching past the stages still kept (nothing can be said of it)."""
        log = self._stage_log
        if len(log) == log.maxlen and log[0][0] > start:
            raise InvalidRequest("the window starts before the oldest liquidation stage kept")
        moved = [(t, who, stage) for t, who, stage in log
                 if start <= t <= end and stage in ("backstop", "adl")]  # fmt: skip
        if moved:
            t, who, stage = moved[0]
            what = "a backstop takeover" if stage == "backstop" else "an auto-deleveraging"
            raise InvalidRequest(
                f"the window holds {what} of {who} at {Decimal(t) / 1000} s, which moved "
                "positions outside the book; a rollback re-trades book fills only and would "
                "leave positions nobody held: choose a window that ends before it"
            )

    # --- halting a market ------------------------------------------------------------------

    def halt_market(self, market: str) -> bool:
        """Halt a market: only risk-reducing orders pass (MarketHalted for the others); resting
        orders stay. Returns False if it was already halted. Operator only."""
        m = self._market(market)
        if m.reduce_only:
            return False
        m.reduce_only = True
        if self._subscribers:
            self._emit(MarketEvent(self.now_ms, m.symbol, "halted", {}))
        return True

    def resume_market(self, market: str) -> bool:
        """Lift a halt (an operator's, or a liquidation stage's refused check after review).
        A settled market stays closed, and so does every market after a broken invariant.
        Returns False if the market was not halted. Operator only."""
        m = self._market(market)
        if m.settled:
            raise MarketHalted(f"{m.symbol} has been settled; it stays closed")
        if self.halted_reasons:
            raise MarketHalted(
                "trading stopped because an invariant broke ("
                + "; ".join(self.halted_reasons[:3])
                + "); it cannot be resumed"
            )
        if not m.reduce_only:
            return False
        m.reduce_only = False
        if self._subscribers:
            self._emit(MarketEvent(self.now_ms, m.symbol, "resumed", {}))
        return True

    # --- a teacher's actions on one account ------------------------------------------------------

    def _student(self, account: str) -> Account:
        acct = self._account(account)
        if acct.kind != "user":
            raise NotAuthorized(f"{acct.account_id} is a backstop provider, not a user account")
        return acct

    def _collateral_amount(self, asset: Any, amount: Any, allow_zero: bool) -> tuple[str, Decimal]:
        spec = self._asset(asset)
        if not spec.collateral:
            raise UnknownAsset(f"{spec.symbol} is not accepted as collateral")
        value = to_decimal(amount, "amount")
        if value == 0 and allow_zero:
            return spec.symbol, value
        return spec.symbol, self._amount(spec, abs(value)).copy_sign(value)

    def adjust_balance(self, account: str, asset: str, amount: Any) -> Decimal:
        """Add (amount > 0) or remove (amount < 0) collateral: a DEPOSIT or WITHDRAW
        transaction marked "adjustment". A removal follows the withdrawal rules (never more
        than the balance, margin kept). Returns the new balance. Operator only."""
        acct = self._student(account)
        symbol, value = self._collateral_amount(asset, amount, allow_zero=False)
        balance = self._ledger.balance(acct.account_id, symbol)
        if value < 0:
            if -value > balance:
                raise InsufficientBalance(
                    f"cannot remove {-value} {symbol}: the balance is {balance}"
                )
            self._check_withdraw(acct, symbol, -value)
        self._post_tx(
            TxType.DEPOSIT if value > 0 else TxType.WITHDRAW,
            [(acct.account_id, symbol, value), (EXTERNAL, symbol, -value)],
            ADJUST_REF,
        )
        self._after_collateral_change(acct)
        return balance + value

    def reset_account(self, account: str, deposits: dict[str, Any]) -> AccountReset:
        """Start an account again: cancel its orders, hand its positions to the backstop
        providers at the mark (rounded to the tick; refused, changing nothing, when they
        cannot take them all), then move its balances to exactly `deposits` (asset ->
        amount; every other asset to 0) with one DEPOSIT and one WITHDRAW transaction. The
        ledger keeps everything before. Operator only."""
        acct = self._student(account)
        if not isinstance(deposits, dict):
            raise InvalidRequest("deposits must be a dict of asset to amount")
        target: dict[str, Decimal] = {}
        for asset, amount in deposits.items():
            symbol, value = self._collateral_amount(asset, amount, allow_zero=True)
            if value < 0:
                raise InvalidRequest(f"the deposit of {symbol} must not be negative, got {value}")
            target[symbol] = target.get(symbol, ZERO) + value
        plan, closed = self._reset_plan(acct)
        # nothing has changed so far; from here on every step is accepted
        canceled = list(acct.open_orders)
        for oid in canceled:
            self._finish_cancel(self._orders[oid], CancelReason.ACCOUNT_RESET)
        for m in {self._orders[oid].market for oid in canceled}:
            self._flush_book(self._markets[m])
        if plan.legs:
            self._commit(plan, TxType.ADMIN_SETTLE, f"{RESET_REF} {acct.account_id}", None)
        balances = self._ledger.balances[acct.account_id]
        moved = {a: target.get(a, ZERO) - balances.get(a, ZERO) for a in {*balances, *target}}
        moved = {a: v for a, v in sorted(moved.items()) if v != 0}
        for tx_type, sign in ((TxType.WITHDRAW, -1), (TxType.DEPOSIT, 1)):
            legs: list[Leg] = []
            for a, v in moved.items():
                if v * sign > 0:
                    legs += [(acct.account_id, a, v), (EXTERNAL, a, -v)]
            if legs:
                self._post_tx(tx_type, legs, RESET_REF)
        self._margin_dirty.add(acct.account_id)
        self._after_collateral_change(acct)
        return AccountReset(acct.account_id, canceled, closed, moved)

    def _reset_plan(
        self, acct: Account
    ) -> tuple[Plan, list[tuple[str, Decimal, Decimal, tuple[str, ...]]]]:
        """The positions' takeover at the mark, computed on copies (raises, changing nothing,
        when the backstop providers' free margin cannot carry them)."""
        plan = Plan({}, [], [], ZERO)
        closed: list[tuple[str, Decimal, Decimal, tuple[str, ...]]] = []
        rows = [(self._markets[s], p) for s, p in sorted(acct.positions.items()) if p.size]
        if not rows:
            return plan, closed
        capacities: dict[str, tuple[Decimal, Decimal]] = {}
        for provider in self._accounts.values():
            if provider.kind == "backstop" and provider.liquidation_status is None:
                sums = self._sums(provider)
                if sums.equity >= sums.mmr:
                    free = max(ZERO, sums.initial_equity - sums.imr)
                    capacities[provider.account_id] = (Decimal("Infinity"), free)
        for m, pos in rows:
            shares = self._allocate(m, pos.size, capacities)
            if sum((q for _, q in shares), ZERO) != pos.size:  # a reset takes all or nothing
                raise InvalidRequest(
                    f"no backstop provider can take {acct.account_id}'s {pos.size} {m.symbol} "
                    "at the mark now (none, or not enough free margin); close the position on "
                    "the book first, then reset"
                )
            price = self._round_tick(m.mark, m)
            for blp, q in shares:
                self._trade_legs(plan, m.symbol, acct.account_id, -q, price, blp, price)
            closed.append((m.symbol, pos.size, price, tuple(b for b, _ in shares)))
        return plan, closed
