"""The 1 s risk tick: margin-call levels and the liquidation engine of MECHANICS section 4.

Why one tick for both: both need the account's E_mm, E_im, IMR and MMR, and the watch list
(liq_watch.py) decides cheaply which accounts can have crossed a boundary. Stages 1-2 live
here; stages 3-5 in backstop.py; operator actions in operator.py.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal
from typing import NamedTuple

from exchange_local.backstop import Backstop, price_text, size_text, usd_text
from exchange_local.ledger import INSURANCE, TxType
from exchange_local.liq_watch import REBASE_MOVE, LiquidationWatch
from exchange_local.money import ONE, ZERO, quantize_usd_down, quantize_usd_up
from exchange_local.orders import CancelReason, Order, OrderStatus
from exchange_local.risk import Sums
from exchange_local.state import Account, MarketRuntime

ADL_REFRESH_MS = 30_000
ADL_REFRESH_OFFSET_MS = 15_000  # mid-cycle: not on the settlement second
LEVEL_DEPTH = {"ok": 0, "warning": 1, "reduce_only": 2}  # margin-call levels, deeper = worse
FILLABLE_BAND = Decimal("1.5")
NO_EQUITY_LEFT = "closed out, no equity"  # README's words, to the cent
EQUITY_LEFT = "closed out, equity left"
# why ADL closes a bankrupt position whose deficit the fund's budget covers (the stage 4
# event's words, ended by why no BLP can take it: _no_blp_later_words): what `stuck` in
# _liquidation_step tests
STUCK_WORDS = "the book filled nothing this second and"


def attempt_key(account: str, symbol: str) -> str:
    """`_last_attempt`'s key: one position (account, market), in the str the engine declares."""
    return f"{account}\x00{symbol}"


class LiquidationFill(NamedTuple):
    """What one liquidation IOC did: size filled, average fill price, fee to the fund."""

    filled: Decimal
    price: Decimal | None  # None when nothing filled
    fee: Decimal


class LiquidationJobs(Backstop):
    # --- which accounts to look at ---------------------------------------------------------

    def _safe_move(self, acct: Account, sums: Sums) -> Decimal | None:
        """The relative price move that cannot cross any of the account's boundaries
        (maintenance, warning level, initial), from a bound on how fast they can move:
        sum over underlyings of (|s| + weighted coins + MMF|s|*(1 + warning) + IMF*open) * P."""
        warning = self.config.warning_multiple
        sensitivity = ZERO
        balances = self._ledger.balances[acct.account_id]
        for asset, amount in balances.items():
            if asset != "USD" and amount:
                sensitivity += abs(amount) * self.prices[asset]
        for symbol, pos in acct.positions.items():
            if pos.size:
                m = self._markets[symbol]
                imf, mmf = self._fractions(acct, m, pos.size, abs(pos.size))
                sensitivity += abs(pos.size) * m.mark * (ONE + mmf * (1 + warning) + imf)
        for symbol, (buys, sells) in acct.resting.items():
            m = self._markets[symbol]
            sensitivity += (buys + sells) * m.mark * (m.spec.base_imf * 2 + ONE)
        if sensitivity == 0:
            return None
        distance = min(
            abs(sums.equity - sums.mmr),
            abs(sums.equity - warning * sums.mmr),
            abs(sums.initial_equity - sums.imr),
        )
        return distance / sensitivity

    def _watched_prices(self) -> dict[str, Decimal]:
        """Every price margin depends on: each asset's index (collateral) and each market's
        mark (positions). Under the robust mark the two differ and either may move alone."""
        prices = dict(self.prices)
        for symbol, m in self._markets.items():
            prices[symbol] = m.mark
        return prices

    def _candidates(self) -> list[str]:
        watch: LiquidationWatch = self._liq_watch
        prices = self._watched_prices()
        if not watch.reference:
            watch.reference = prices
        move = watch.max_move(prices)
        if move > REBASE_MOVE:
            watch.rebase(prices)  # thresholds carried over; the due ones come below
            move = ZERO
        self._liq_move = move
        due = set(watch.due(move))
        due.update(self._margin_dirty)
        due.update(a for a in self._liquidating)
        self._margin_dirty = set()
        return sorted(due)

    # --- the tick ------------------------------------------------------------------------------

    def _risk_tick(self, t_ms: int) -> None:
        """MECHANICS section 4 on the 1 s tick, then margin-call levels, for the candidates."""
        fund_start = self._fund()
        for account_id in self._candidates():
            acct = self._accounts[account_id]
            if acct.kind == "system":
                continue
            sums = self._sums(acct)
            # a margin call the account now deserves is announced before the stage it leads
            # to (README: "before any liquidation it announces margin calls"); it was recorded
            # after, so "stage 1" read before "reduce-only" in the same second
            self._record_level(acct, sums, calls_only=True)
            if acct.liquidation_status is None and sums.notional and sums.equity < sums.mmr:
                self._stage_cancel(acct, sums)
            elif acct.liquidation_status is not None:
                self._liquidation_step(acct, sums, fund_start)
            elif sums.equity < 0 and not sums.notional:
                acct.liquidation_status = "bankrupt"  # a deficit with no position: stage 4
                self._liquidating.add(account_id)
                self._after_stage(acct, fund_start, quiet=True)
            sums = self._sums(acct)
            self._record_level(acct, sums)
            if acct.liquidation_status is None:
                self._liq_watch.set(account_id, self._safe_move(acct, sums), self._liq_move)
            else:
                self._liq_watch.discard(account_id)
        if t_ms % ADL_REFRESH_MS == ADL_REFRESH_OFFSET_MS:
            self._refresh_adl_quintiles()

    def _record_level(self, acct: Account, sums: Sums, *, calls_only: bool = False) -> None:
        """Announce a change of margin-call level. `calls_only` (before the tick's stage):
        only a deeper call (ok -> warning -> reduce-only); a recovery waits for the level after
        the stage, which is what brings it."""
        level = self._margin_level(sums, acct.margin_level)
        if calls_only and LEVEL_DEPTH[level] <= LEVEL_DEPTH[acct.margin_level]:
            return
        if level != acct.margin_level:
            acct.margin_level = level
            name = "recovered" if level == "ok" else level
            self._emit_margin(acct, name, sums)

    # --- stage 1: cancel ---------------------------------------------------------------------

    def _stage_cancel(self, acct: Account, sums: Sums) -> None:
        """First tick under maintenance: cancel every open order (it stops new risk)."""
        fund = self._fund()
        acct.liquidation_status = "liquidating"
        acct.liquidation_started_ms = self.now_ms
        acct.liquidation_full_next = False
        acct.liquidation_cooldown_until_ms = 0
        self._liquidating.add(acct.account_id)
        canceled = [o for o in acct.open_orders.values()]
        for order in canceled:
            self._finish_cancel(order, CancelReason.LIQUIDATION)
        for m in {
            self._markets[o.market].symbol: self._markets[o.market] for o in canceled
        }.values():
            self._flush_book(m)
        n = len(canceled)  # "0 open orders canceled" read as if something had been
        words = ("no open orders to cancel" if n == 0 else
                 f"{n} open order{'s' if n > 1 else ''} canceled")  # fmt: skip
        self._emit_stage(acct, None, "cancel", None, None, sums, sums, (), fund, fund, words)

    def _end_liquidation(self, acct: Account) -> None:
        acct.liquidation_status = None
        self._last_attempt.pop(acct.account_id, None)  # the key before it was per market
        for symbol in self._markets:
            self._last_attempt.pop(attempt_key(acct.account_id, symbol), None)
        self._liquidating.discard(acct.account_id)

    def _recovered(self, acct: Account, sums: Sums) -> None:
        """Back above maintenance with positions still open: the only real recovery."""
        self._end_liquidation(acct)
        fund = self._fund()
        self._emit_stage(acct, None, "recovered", None, None, sums, sums, (), fund, fund)

    def _closed_out(self, acct: Account, sums: Sums) -> None:
        """Every position closed by the liquidation and no deficit left: stage "over", never
        "recovered" (README: a class read "margin restored" for an account left with nothing).
        The detail says whether equity is left, to the cent as the line shows it (a residue
        far below it, from coins at their weights, is no equity)."""
        self._end_liquidation(acct)
        fund = self._fund()
        words = NO_EQUITY_LEFT if usd_text(sums.equity) == "0.00" else EQUITY_LEFT
        self._emit_stage(acct, None, "over", None, None, sums, sums, (), fund, fund, words)

    # --- stages 2-5 -----------------------------------------------------------------------------

    def _liquidation_step(self, acct: Account, sums: Sums, fund_start: Decimal) -> None:
        has_positions = any(p.size for p in acct.positions.values())
        if has_positions and sums.equity >= sums.mmr:
            self._recovered(acct, sums)
            return
        if not has_positions:
            self._after_stage(acct, fund_start)
            return
        acmr = max(sums.mmr / 2, sums.mmr - Decimal("0.06") * sums.notional)
        stage2_expired = self.now_ms - acct.liquidation_started_ms >= (
            self.config.backstop_after_seconds * 1000
        )
        if sums.equity >= acmr and not stage2_expired:
            acct.liquidation_status = "liquidating"
            self._stage_partial(acct, sums)
            self._after_stage(acct, fund_start)
            return
        acct.liquidation_status = "bankrupt" if sums.equity < 0 else "backstop"
        why_book = self._backstop(acct, sums, fund_start)
        if why_book is not None:
            sums = self._sums(acct)  # a partial takeover moved it
            filled = False
            if sums.equity >= 0 or self._fund_budget(fund_start) > 0:
                filled = self._book_close(acct, sums, fund_start, why_book)
                sums = self._sums(acct)
            # ADL only takes what BLPs, the fund and the book cannot absorb. With equity left
            # the rest waits for bids (retried every second), and so does a deficit within the
            # fund's budget while the book fills some of it or a BLP may take it once its
            # window refills; a bankrupt account that the book could not fill at all and that
            # no BLP can ever take goes to ADL (without BLPs it stayed open on an empty book,
            # its loss growing with the price while the fund was never asked)
            open_positions = any(p.size for p in acct.positions.values())
            beyond_fund = -sums.equity > self._fund_budget(fund_start)
            stuck = False
            markets: list[MarketRuntime] = []
            if sums.equity < 0 and not filled:  # only then: _open_positions sums fractions
                markets = [m for m, _, _ in self._open_positions(acct)]
                stuck = not any(self._blps_may_take_later(m) for m in markets)
            if open_positions and (beyond_fund or stuck):
                why = f"{STUCK_WORDS} {self._no_blp_later_words(markets)}" if stuck else ""
                self._adl(acct, sums, fund_start, why)
        self._after_stage(acct, fund_start)

    def _after_stage(self, acct: Account, fund_start: Decimal, *, quiet: bool = False) -> None:
        """A closed-out account: the fund covers what it may, then the status resolves to
        "over" (closed out) or stays "bankrupt" (a deficit the fund's budget left).

        `quiet`: the account was outside liquidation (already over, its coins moving with
        their index, or never liquidated); when the fund's cover of its deficit is not worth
        an event (0.00 of 0.00), neither is a second "over"."""
        if any(p.size for p in acct.positions.values()):
            return
        announced = self._cover_deficit(acct, fund_start)
        sums = self._sums(acct)
        if sums.equity >= 0:
            if quiet and not announced:
                self._end_liquidation(acct)
            else:
                self._closed_out(acct, sums)
        else:
            acct.liquidation_status = "bankrupt"

    def _stage_partial(self, acct: Account, sums: Sums) -> None:
        """Stage 2: one reduce-only IOC on the book for the largest MMR contributor."""
        if self.now_ms < acct.liquidation_cooldown_until_ms:
            return
        m, pos, mmf = self._open_positions(acct)[0]
        cfg = self.config
        size = whole = abs(pos.size)  # the order changes the position in place
        if not acct.liquidation_full_next and size * m.mark > cfg.partial_liquidation_notional:
            chunk = size * cfg.partial_liquidation_fraction
            floor = min(size, cfg.partial_liquidation_min_notional / m.mark)
            chunk = max(chunk, floor)
            size = min(size, (chunk / m.lot).to_integral_value(rounding=ROUND_CEILING) * m.lot)
        q = min(max(sums.equity / sums.mmr, ZERO), ONE)
        band = FILLABLE_BAND * mmf * (ONE - q)
        zp = self._zero_price(m, pos.size, sums, mmf)
        if pos.size > 0:
            limit = self._round_tick(max(m.mark * (ONE - band), zp), m, up=True)
        else:
            limit = self._round_tick(min(m.mark * (ONE + band), zp), m, up=False)
        fund_before = self._fund()  # the fee moves it: read before the order
        done = self._liquidation_order(acct, m, pos.size, size, max(limit, m.tick), sums)
        if size < whole:
            acct.liquidation_cooldown_until_ms = (
                self.now_ms + cfg.liquidation_cooldown_seconds * 1000
            )
            acct.liquidation_full_next = True
        if not self._worth_announcing(acct, m, "partial", done.filled):
            return
        # which order of MECHANICS 4.2 this is: a share first, or the whole position (after a
        # share, or a small position at once); the event's size is what filled, not asked
        share = (
            "the whole position"
            if size == whole
            else f"part of the position ({size_text(size, m)} of {size_text(whole, m)})"
        )
        words = f"{share}: {self._order_words(m, size, limit, done)}"
        self._emit_stage(acct, m, "partial", done.filled, limit, sums, self._sums(acct), (),
                         fund_before, self._fund(), words, fill_price=done.price,
                         fee=done.fee)  # fmt: skip

    def _book_close(self, acct: Account, sums: Sums, fund_start: Decimal, why: str) -> bool:
        """Stage 3 for what BLPs do not take (`why`: no capacity, or a deficit past the fund's
        step budget): reduce-only IOCs whose limits may pass the zero price by as much as the
        fund's step budget covers. True if any of them filled."""
        budget = self._fund_budget(fund_start)
        filled = False
        for m, pos, mmf in self._open_positions(acct):
            zp = self._zero_price(m, pos.size, sums, mmf)
            share = budget * mmf * abs(pos.size) * m.mark / sums.mmr  # the budget split by MMR
            beyond = share / abs(pos.size)
            if pos.size > 0:
                limit = self._round_tick(max(zp - beyond, m.tick), m, up=True)
            else:
                limit = self._round_tick(zp + beyond, m, up=False)
            size = abs(pos.size)  # the order changes the position in place
            fund_before = self._fund()  # per order: each one's fee moves it
            done = self._liquidation_order(acct, m, pos.size, size, limit, sums)
            filled = filled or bool(done.filled)
            if not self._worth_announcing(acct, m, "book_close", done.filled):
                continue
            words = (f"{why}; on the book, the limit past the zero price {price_text(zp, m)} "
                     f"by the fund's step budget ({usd_text(share)} USD for this position); "
                     f"{self._order_words(m, size, limit, done)}")  # fmt: skip
            self._emit_stage(acct, m, "book_close", done.filled, limit, sums, self._sums(acct),
                             (), fund_before, self._fund(), words, fill_price=done.price,
                             fee=done.fee)  # fmt: skip
        return filled

    @staticmethod
    def _order_words(m: MarketRuntime, size: Decimal, limit: Decimal, done: LiquidationFill) -> str:
        asked = f"asked {size_text(size, m)} at {price_text(limit, m)} or better"
        if not done.filled or done.price is None:
            return f"{asked}: nothing filled"
        fee = f"fee {usd_text(done.fee)} USD to the fund" if done.fee else "no fee (no equity)"
        filled = size_text(done.filled, m)
        return f"{asked}: filled {filled} at {price_text(done.price, m)} on average, {fee}"

    def _worth_announcing(
        self, acct: Account, m: MarketRuntime, stage: str, filled: Decimal
    ) -> bool:
        """An order that filled is always news; an unfilled retry only when the stage changed
        for that position (an empty book would otherwise repeat the same event every second).
        Kept per (account, market): by account alone, a book close's second position, unfilled
        in the same second as the first, read as a repeat and had no event."""
        key = attempt_key(acct.account_id, m.symbol)
        previous = self._last_attempt.get(key)
        self._last_attempt[key] = stage
        return bool(filled) or previous != stage

    def _share_liquidation_fee(self, order: Order, fee: Decimal) -> None:
        """Record each fill's part of the order's liquidation fee, by notional (the last fill
        takes the rounding), so a rollback of some of its fills refunds exactly their part."""
        fills = []
        for fill in reversed(self._fills):  # the order's fills are the newest ones
            if fill.taker_order_id != order.order_id:
                break
            fills.append(fill)
        left = fee
        for i, fill in enumerate(reversed(fills)):
            last = i == len(fills) - 1
            share = (
                left
                if last
                else quantize_usd_down(fee * fill.price * fill.size / order.filled_notional)
            )
            self._liquidation_fees[fill.fill_id] = share
            left -= share
        if len(self._liquidation_fees) > len(self._fills) and self._fills:
            oldest = self._fills[0].fill_id  # a rollback reaches only the fills still kept
            for fill_id in [f for f in self._liquidation_fees if f < oldest]:
                del self._liquidation_fees[fill_id]

    def _liquidation_order(
        self, acct: Account, m: MarketRuntime, position: Decimal, size: Decimal, limit: Decimal,
        before: Sums,
    ) -> LiquidationFill:  # fmt: skip
        """Place and run a liquidation IOC; book its fee to the fund; say what it did."""
        side = "sell" if position > 0 else "buy"
        order = Order(self._next_order_id, acct.account_id, m.symbol, side, "limit", "ioc", size,
                      limit, None, False, True, None, self.now_ms, OrderStatus.OPEN)  # fmt: skip
        order.liquidation = True
        order.updated_ms = self.now_ms
        self._accept(acct, order)
        self._execute(acct, m, order)
        self._flush_book(m)
        fee = ZERO
        if order.filled:
            equity = self._sums(acct).equity
            fee = min(quantize_usd_up(order.filled_notional * self.config.liquidation_fee),
                      quantize_usd_down(max(equity, ZERO)))  # fmt: skip
            if fee > 0:
                legs = [(acct.account_id, "USD", -fee), (INSURANCE, "USD", fee)]
                self._post_tx(TxType.LIQ_FEE, legs, f"liquidation fee order:{order.order_id}")
                self._share_liquidation_fee(order, fee)
            else:
                fee = ZERO
        return LiquidationFill(order.filled, order.avg_price, fee)
