"""The cross-margin risk engine in the exchange: gates, OI caps, margin calls.

Withdrawals, conversions and leverage choices, the changes an account makes to its own
collateral and requirements, are custody.py's.

Why a mixin over the pure math: exchange_local.margin holds MECHANICS sections 1-3 as pure
functions; this file feeds them the engine's state (balances, positions, resting orders, marks)
and enforces section 2's gates on every command. The same `_order_impact` decides an order and
previews it, so the preview can never disagree with the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from exchange_local import margin
from exchange_local.errors import (
    InsufficientMargin,
    MarketHalted,
    OpenInterestCap,
    ReduceOnlyMode,
)
from exchange_local.events import MarginEvent
from exchange_local.mark import RobustMark
from exchange_local.money import (
    CENT,
    ONE,
    ZERO,
    cents_against,
    quantize_usd_up,
)
from exchange_local.orders import CancelReason, Order
from exchange_local.state import Account, MarketRuntime
from exchange_local.trading import FillGate, Trading


@dataclass(slots=True)
class Sums:
    """The account totals the gates need (MECHANICS sections 1-2)."""

    equity: Decimal  # E_mm
    initial_equity: Decimal  # E_im
    imr: Decimal
    mmr: Decimal
    notional: Decimal
    unsettled: Decimal = ZERO  # sum of s * (M - S) over the markets


@dataclass(slots=True)
class OrderImpact:
    """An order's effect on its account, as the pre-trade check of MECHANICS section 2 sees it."""

    reducing: bool
    take_qty: Decimal
    rest_qty: Decimal
    est_fill_price: Decimal | None
    fee: Decimal
    adverse_cost: Decimal
    initial_equity_after: Decimal  # E_im'
    imr_after: Decimal  # IMR'
    open_size_after: Decimal
    position_after: Decimal
    open_size_before: Decimal = ZERO
    realised_credit: Decimal = ZERO  # unsettled profit the fill turns into cash (see below)
    stp_canceled: Decimal = ZERO  # the account's own opposite orders the walk cancels (STP)

    @property
    def shortfall(self) -> Decimal:
        return self.imr_after - self.initial_equity_after


def usd(value: Decimal) -> str:
    """A USD amount in a refusal, to the cent with thousands separators, as every screen
    shows it (a refusal read "short by 1259366.07 USD" beside "1,259,366.07")."""
    return f"{value:,.2f}"


def grouped(value: Decimal) -> str:
    """A configured USD figure (a cap) with its own digits and thousands separators."""
    return f"{value:,f}"


def _largest_words(best: Decimal, amend: Order | None) -> tuple[Decimal, str]:
    """(max_size, words) of a refusal: the largest size that passes, or for an amend the
    largest total size, filled part included, as amend_order takes it."""
    if amend is None:
        return best, f"the largest size that would pass is {best}"
    total = amend.filled + best
    if total > amend.filled:
        return total, f"the largest total size that would pass is {total}"
    return total, f"no total size above the filled {amend.filled} would pass"


class OiGate:
    """Per-fill open-interest cap (MECHANICS section 2): a fill that would take the market's
    long OI above its cap is not made, unless it strictly reduces the taker's position."""

    reason: str = CancelReason.OPEN_INTEREST_CAP

    def __init__(self, ex: Risk, taker: Account, m: MarketRuntime, is_buy: bool) -> None:
        self.ex, self.taker, self.m, self.is_buy = ex, taker, m, is_buy
        self.blocked: bool = False

    def _oi_after(self, maker: str, lots: int) -> Decimal:
        m = self.m
        q = lots * m.lot if self.is_buy else -lots * m.lot
        t = self.taker.positions.get(m.symbol)
        mk = self.ex._accounts[maker].positions.get(m.symbol)
        ts = t.size if t else ZERO
        ms = mk.size if mk else ZERO
        delta = max(ts + q, ZERO) - max(ts, ZERO) + max(ms - q, ZERO) - max(ms, ZERO)
        return m.oi_long + delta

    def __call__(self, maker_owner: str, price: int, lots: int) -> int:
        maker = maker_owner
        m = self.m
        t = self.taker.positions.get(m.symbol)
        ts = t.size if t else ZERO
        q = lots * m.lot if self.is_buy else -lots * m.lot
        if ts != 0 and (ts > 0) != (q > 0) and abs(q) <= abs(ts):
            return lots  # strictly reduces the taker: always allowed
        cap_coins = m.spec.oi_cap / m.mark
        if self._oi_after(maker, lots) <= cap_coins or self._oi_after(maker, lots) <= m.oi_long:
            return lots
        lo, hi = 0, lots  # largest n with OI after <= cap
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self._oi_after(maker, mid) <= cap_coins:
                lo = mid
            else:
                hi = mid - 1
        self.blocked = True
        return lo


class Risk(Trading):
    """Risk half of the facade: health, preview, explain, leverage, convert; gates as hooks."""

    # --- inputs for the pure math ----------------------------------------------------------

    def _weights(self, asset: str, amount: Decimal) -> tuple[Decimal, Decimal]:
        """(w_tot, w_init) at this balance: the flat weights up to the haircut's onset (one
        comparison), else cached per balance, since Decimal sqrt costs about a microsecond."""
        spec = self._assets[asset]
        if amount <= 0:
            return ONE, ONE
        limits = self._weight_limits.get(asset)
        if limits is None or limits[0] is not spec:
            limits = self._weight_limits[asset] = (
                spec,
                margin.weight_floor_limit(spec.weight_total, spec.size_factor),
                margin.weight_floor_limit(spec.weight_initial, spec.size_factor),
            )
        if amount <= limits[1] and amount <= limits[2]:
            return spec.weight_total, spec.weight_initial
        key = (asset, amount)
        cached = self._weight_cache.get(key)
        if cached is None:
            cached = (
                margin.collateral_weight(spec.weight_total, spec.size_factor, amount),
                margin.collateral_weight(spec.weight_initial, spec.size_factor, amount),
            )
            if len(self._weight_cache) > 100_000:
                self._weight_cache.clear()
            self._weight_cache[key] = cached
        return cached

    def _collateral_inputs(
        self, acct: Account, usd_delta: Decimal = ZERO
    ) -> list[margin.CollateralInput]:
        rows = []
        balances = dict(self._ledger.balances[acct.account_id])
        if usd_delta:
            balances["USD"] = balances.get("USD", ZERO) + usd_delta
        for asset, amount in balances.items():
            if amount == 0:
                continue
            wt, wi = self._weights(asset, amount)
            rows.append(margin.CollateralInput(asset, amount, self.prices[asset], wt, wi))
        return rows

    @staticmethod
    def _reduce_only_resting(acct: Account) -> dict[str, tuple[Decimal, Decimal]]:
        """Unfilled (buys, sells) of the account's resting reduce-only limit orders per market:
        one walk of its open orders, and none at all for the many accounts without any."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        if not acct.reduce_only_orders:
            return out
        for o in acct.open_orders.values():
            if o.reduce_only and o.type == "limit":
                buys, sells = out.get(o.market, (ZERO, ZERO))
                if o.side == "buy":
                    out[o.market] = (buys + o.size - o.filled, sells)
                else:
                    out[o.market] = (buys, sells + o.size - o.filled)
        return out

    @staticmethod
    def _effective_resting(
        buys: Decimal, sells: Decimal, ro: tuple[Decimal, Decimal] | None, size: Decimal
    ) -> tuple[Decimal, Decimal]:
        """Resting (buys, sells) as they can move a position of `size`: reduce-only orders
        count only up to what they can still reduce, |size| on the side that reduces it and
        nothing when flat or on the wrong side.

        Why: the engine clips them to the position after every fill and cancels them once it
        is gone (MECHANICS section 2), so together they never take it past flat. Counted in
        full, two take-profits of 0.5 on a 0.5 long read as a 0.5 short once a market sell
        closed the long, and the gate asked initial margin for it (closing was refused).
        """
        if ro is None:
            return buys, sells
        ro_buys, ro_sells = ro
        buys -= ro_buys
        sells -= ro_sells
        if size > 0:
            sells += ro_sells if ro_sells < size else size
        elif size < 0:
            buys += ro_buys if ro_buys < -size else -size
        return buys, sells

    def _resting_for(
        self, acct: Account, symbol: str, size: Decimal,
        ro: dict[str, tuple[Decimal, Decimal]] | None = None,
    ) -> tuple[Decimal, Decimal]:  # fmt: skip
        """The resting (buys, sells) of `symbol` that can move a position of `size`."""
        buys, sells = acct.resting.get(symbol, (ZERO, ZERO))
        if not acct.reduce_only_orders:
            return buys, sells
        if ro is None:
            ro = self._reduce_only_resting(acct)
        return self._effective_resting(buys, sells, ro.get(symbol), size)

    def _position_input(
        self,
        acct: Account,
        m: MarketRuntime,
        size: Decimal | None = None,
        open_size: Decimal | None = None,
        settle: Decimal | None = None,
    ) -> margin.PositionInput:
        """One market's input; `size`, `open_size` and `settle` override the account's own
        (an order preview)."""
        pos = acct.positions.get(m.symbol)
        held = pos is not None and pos.size != 0
        s = size if size is not None else (pos.size if held else ZERO)  # type: ignore[union-attr]
        if open_size is None:
            open_size = margin.open_size(s, *self._resting_for(acct, m.symbol, s))
        imf, mmf = self._fractions(acct, m, s, open_size)
        sp = settle if settle is not None else (pos.settle_price if held else m.mark)  # type: ignore[union-attr]
        ep = pos.entry_price if held else sp  # type: ignore[union-attr]
        return margin.PositionInput(
            m.symbol, m.spec.underlying, s, m.mark, sp, ep, imf, mmf, open_size
        )

    def _position_inputs(
        self, acct: Account, override: margin.PositionInput | None = None
    ) -> list[margin.PositionInput]:
        """One input per market with a position or resting orders, positions first.

        Resting sizes are the account's kept totals and IMF/MMF come through the fraction
        floors: health() runs this for every account after each mark move.
        """
        markets = [mk for mk, p in acct.positions.items() if p.size != 0]
        markets += acct.resting
        if override is not None:
            markets.append(override.market)
        rows = []
        for symbol in dict.fromkeys(markets):
            if override is not None and symbol == override.market:
                rows.append(override)
            else:
                rows.append(self._position_input(acct, self._markets[symbol]))
        return rows

    def _account_risk(self, acct: Account) -> margin.AccountRisk:
        """Everything, liquidation prices included: for health, previews and explain."""
        return margin.account_risk(self._collateral_inputs(acct), self._position_inputs(acct))

    def _fractions(self, acct: Account, m: MarketRuntime, size: Decimal, open_sz: Decimal
                   ) -> tuple[Decimal, Decimal]:  # fmt: skip
        """(IMF, MMF): the floors below the size-scaling onset, else the formulas (each a sqrt).

        The floors are kept per market and leverage, for the market's current spec (dynamic
        risk parameters replace the spec, which renews them).
        """
        spec = m.spec
        lev = acct.leverage.get(m.symbol, spec.max_leverage)
        per = self._fraction_floors.get(m.symbol)
        if per is None or per[0] is not spec:
            per = self._fraction_floors[m.symbol] = (spec, {})
        floors = per[1].get(lev)
        if floors is None:
            floors = per[1][lev] = margin.fraction_floors(lev, spec.max_leverage, spec.size_factor)
        imf_floor, imf_limit, mmf_floor, mmf_limit = floors
        if open_sz <= imf_limit:
            imf = imf_floor
        else:
            imf = margin.imf(lev, spec.max_leverage, spec.size_factor, open_sz)
        held = -size if size < 0 else size
        if held <= mmf_limit:
            return imf, mmf_floor
        return imf, margin.mmf(spec.max_leverage, spec.size_factor, held)

    def _sums(
        self,
        acct: Account,
        market: str | None = None,
        size: Decimal | None = None,
        open_sz: Decimal | None = None,
        usd_delta: Decimal = ZERO,
    ) -> Sums:
        """E_mm, E_im, IMR, MMR and N straight from the engine's state: the gates' fast path.

        The same formulas as margin.account_risk (a test holds them equal) without building
        inputs or liquidation prices. `market` with `size` and `open_sz` overrides one market.
        """
        prices = self.prices
        c_tot = c_init = ZERO
        balances = self._ledger.balances[acct.account_id]
        if usd_delta:
            balances = dict(balances)
            balances["USD"] = balances.get("USD", ZERO) + usd_delta
        for asset, amount in balances.items():
            if amount > 0:
                wt, wi = self._weights(asset, amount)
                value = amount * prices[asset]
                c_tot += value * wt
                c_init += value * wi
            elif amount < 0:
                value = amount * prices[asset]
                c_tot += value
                c_init += value
        resting = acct.resting
        symbols = []  # plain loops: comprehensions cost a frame each in this hot path
        for sym, p in acct.positions.items():
            if p.size:
                symbols.append(sym)
        for sym in resting:
            if sym not in symbols:
                symbols.append(sym)
        if market is not None and market not in symbols:
            symbols.append(market)
        ro = self._reduce_only_resting(acct) if acct.reduce_only_orders else None
        unsettled = imr = mmr = notional = ZERO
        for sym in symbols:
            m = self._markets[sym]
            mark = m.mark
            pos = acct.positions.get(sym)
            s = pos.size if pos is not None else ZERO
            if s:
                unsettled += s * (mark - pos.settle_price)  # type: ignore[union-attr]
            if sym == market and size is not None and open_sz is not None:
                s, open_here = size, open_sz
            else:
                buys, sells = resting.get(sym, (ZERO, ZERO))
                if ro is not None:
                    buys, sells = self._effective_resting(buys, sells, ro.get(sym), s)
                open_here = margin.open_size(s, buys, sells)
            imf, mmf = self._fractions(acct, m, s, open_here)
            imr += imf * open_here * mark
            exposure = abs(s) * mark
            mmr += mmf * exposure
            notional += exposure
        return Sums(c_tot + unsettled, c_init + min(ZERO, unsettled), imr, mmr, notional, unsettled)

    # --- the pre-trade check ---------------------------------------------------------------

    def _order_impact(
        self, acct: Account, m: MarketRuntime, is_buy: bool, qty: Decimal, price: Decimal | None,
        may_rest: bool, fill_at: Decimal | None = None, reduce_only: bool = False,
    ) -> OrderImpact:  # fmt: skip
        """E_im' and IMR' of MECHANICS section 2 for an order of qty (limit `price` or market).

        `fill_at`: a stop or take-profit as the check will see it when it triggers, a market
        order filled whole at that price (its trigger, the mark then) as a taker; nothing is
        walked.

        One departure from section 2's formula, E_im' = E_im - fee - adverse: the part that
        takes and closes a position settles it then (section 6), so E_im' also counts what
        that turns from unsettled PnL into cash: a profit E_im left out ("unsettled profit
        opens no risk") is counted, a loss other markets' profit hid is charged. Without it a
        flip of a profitable position was refused although the account passed once the fill
        was booked (and closing, then reopening, passed).

        Resting reduce-only orders (this one's rest too, when `reduce_only`) count in the
        after-state only up to what they can still reduce from the position after the part
        that takes, as the engine re-clips them after the fill (`_effective_resting`).
        """
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos else ZERO
        buys, sells = acct.resting.get(m.symbol, (ZERO, ZERO))
        ro = self._reduce_only_resting(acct).get(m.symbol) if acct.reduce_only_orders else None
        open_before = margin.open_size(s, *self._effective_resting(buys, sells, ro, s))
        signed = qty if is_buy else -qty
        est: Decimal | None
        if fill_at is None:
            lots = int(qty / m.lot)
            limit_ticks = (self._protection_limit(m, is_buy) if price is None
                           else int(price / m.tick))  # fmt: skip
            filled_lots, notional_ticks, own_lots = m.book.sweep(
                is_buy, lots, limit_ticks, acct.account_id
            )
            take_qty = filled_lots * m.lot
            est = (Decimal(notional_ticks) / filled_lots) * m.tick if filled_lots else None
            stp_canceled = own_lots * m.lot
            if stp_canceled:  # the account's own orders the walk cancels rest no more
                if is_buy:
                    sells -= stp_canceled
                else:
                    buys -= stp_canceled
        else:
            take_qty, est, stp_canceled = qty, fill_at, ZERO
        rest_qty = (qty - take_qty) if may_rest else ZERO
        fee = ZERO
        adverse = ZERO
        direction = 1 if is_buy else -1
        s_taken = s
        if take_qty:
            assert est is not None
            fee += quantize_usd_up(take_qty * est * m.spec.taker_fee)
            adverse += take_qty * max(ZERO, direction * (est - m.mark))
            s_taken = s + take_qty * direction
        if rest_qty:
            if price is not None:
                fee += quantize_usd_up(rest_qty * price * m.spec.maker_fee)
                adverse += rest_qty * max(ZERO, direction * (price - m.mark))
            # what takes is position now, only the rest adds to the resting side
            if is_buy:
                buys += rest_qty
            else:
                sells += rest_qty
            if reduce_only:
                ro_buys, ro_sells = ro if ro is not None else (ZERO, ZERO)
                ro = (ro_buys + rest_qty, ro_sells) if is_buy else (ro_buys, ro_sells + rest_qty)
        open_after = margin.open_size(s_taken, *self._effective_resting(buys, sells, ro, s_taken))
        reducing = s != 0 and (s > 0) != is_buy and qty <= abs(s) and open_after <= open_before
        after = self._sums(acct, m.symbol, s, open_after)
        credit = ZERO
        if take_qty and s and (s > 0) != is_buy:
            assert pos is not None and est is not None
            credit = self._closing_credit(m, s, pos.settle_price, take_qty, est, after, adverse)
        return OrderImpact(
            reducing, take_qty, rest_qty, est, fee, adverse,
            after.initial_equity - fee - adverse + credit, after.imr, open_after, s + signed,
            open_before, credit, stp_canceled,
        )  # fmt: skip

    @staticmethod
    def _closing_credit(
        m: MarketRuntime, s: Decimal, settle: Decimal, take_qty: Decimal, est: Decimal,
        now: Sums, adverse: Decimal,
    ) -> Decimal:  # fmt: skip
        """What a fill closing (part of) position s adds to section 2's E_im - adverse.

        Economically, the closed part's unsettled PnL becomes cash: a profit E_im left out
        counts, a loss other markets' profit hid is charged. The books can say less for up
        to 30 s: a flip keeps S (section 6), so the new side's cash is paid at once while a
        profit on it stays unsettled. The credit is the smaller of the two, so the preview
        says what health() shows after the fill and the gate never counts the hidden part.
        """
        direction = -1 if s > 0 else 1  # of the fill
        closed = take_qty if take_qty < abs(s) else abs(s)
        u = now.unsettled
        pnl = closed * (m.mark - settle) * -direction
        economic = pnl + min(ZERO, u - pnl) - min(ZERO, u)
        s_after = s + direction * take_qty
        u_after = u - s * (m.mark - settle) + s_after * (m.mark - settle)  # S kept, even flipped
        booked = direction * take_qty * (settle - est) + min(ZERO, u_after) - min(ZERO, u)
        return min(economic, booked + adverse)

    def _oi_room(self, m: MarketRuntime) -> Decimal:
        """How many coins long OI may still grow by under the cap: the largest lot multiple r
        with (OI + r) x mark <= cap, 0 when the cap is full (or exceeded by price drift)."""
        cap, mark, lot = m.spec.oi_cap, m.mark, m.lot
        room = ((cap / mark - m.oi_long) / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
        if room < 0:
            return ZERO
        if (m.oi_long + room + lot) * mark <= cap:  # the division rounded at 34 digits
            room += lot
        while room > 0 and (m.oi_long + room) * mark > cap:
            room -= lot
        return room

    def _oi_size_limit(self, acct: Account, m: MarketRuntime, is_buy: bool) -> Decimal:
        """The largest order size the OI cap accepts (`_within_caps`). It judges the growth of
        |position|, so an order against the position may close it and flip to the same size
        (2|s|) before it adds any, then add the cap's room. (The per-fill OiGate then judges
        the long OI the fills add, which a flip's new side may find full.)"""
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos else ZERO
        against = abs(s) if s != 0 and (s > 0) != is_buy else ZERO
        return 2 * against + self._oi_room(m)

    def _within_caps(self, acct: Account, m: MarketRuntime, impact: OrderImpact) -> bool:
        """At acceptance (MECHANICS section 2): an order that grows |position| may not lift
        long OI above the market's cap, nor take the account's open size past its own cap."""
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos else ZERO
        increase = max(ZERO, abs(impact.position_after) - abs(s))
        if increase and (m.oi_long + increase) * m.mark > m.spec.oi_cap:
            return False
        cap = m.spec.max_account_position
        return cap is None or impact.open_size_after <= cap or impact.reducing

    def _max_passing_size(
        self, acct: Account, m: MarketRuntime, is_buy: bool, qty: Decimal, price: Decimal | None,
        may_rest: bool, reduce_only: bool = False,
    ) -> Decimal:  # fmt: skip
        """The largest lot multiple <= qty that passes the gate (refusals only): it reduces,
        or it passes the caps and the margin check. The OI cap bounds it first (no walk of
        the book needed), then a binary search finds the rest.

        Why the caps too: an OI-cap refusal named no size, so the ticket's max read 0 while
        a buy of 39,000 SOL passed; and the largest size the margin passes is no answer if
        the cap refuses it."""
        lots = int(qty / m.lot)
        hi = min(lots, int(self._oi_size_limit(acct, m, is_buy) / m.lot))

        def passes(n: int) -> bool:
            imp = self._order_impact(acct, m, is_buy, n * m.lot, price, may_rest,
                                     reduce_only=reduce_only)  # fmt: skip
            if imp.reducing:
                return True
            return self._within_caps(acct, m, imp) and imp.initial_equity_after >= imp.imr_after

        if hi <= 0 or passes(hi):
            return max(hi, 0) * m.lot
        lo, hi = 0, hi - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if passes(mid):
                lo = mid
            else:
                hi = mid - 1
        return lo * m.lot

    def _gate(self, acct: Account, m: MarketRuntime, is_buy: bool, qty: Decimal,
              price: Decimal | None, may_rest: bool, reduce_only: bool = False,
              amend: Order | None = None) -> OrderImpact:  # fmt: skip
        """Raise the refusal MECHANICS section 2 prescribes, or return the passing impact.

        `amend`: the order an amend would replace (qty is then its remaining size), so the
        refusal speaks of the total size the amend asks for, as amend_order takes it.
        """
        impact = self._order_impact(acct, m, is_buy, qty, price, may_rest,
                                    reduce_only=reduce_only)  # fmt: skip
        if impact.reducing:
            return impact
        if m.reduce_only:
            raise MarketHalted(f"{m.symbol} accepts only risk-reducing orders")
        passes = impact.initial_equity_after >= impact.imr_after
        # An order that does not shrink the open size cannot lower IMR (IMF never falls as open
        # size grows) and only lowers E_im (fee and adverse are >= 0), so if the account passes
        # after it, it passed before: the account-wide sums are then not needed to rule out
        # reduce-only mode. That skips half the gate's work on the common path.
        grows = impact.open_size_after >= impact.open_size_before
        if impact.realised_credit > 0:  # then E_im' may exceed E_im: the premise above fails
            grows = False
        risk = None if passes and grows else self._sums(acct)
        if risk is not None and risk.initial_equity < risk.imr:
            e_im, im = cents_against(risk.initial_equity, risk.imr)
            raise ReduceOnlyMode(
                f"account {acct.account_id} is in reduce-only mode: initial equity "
                f"{usd(e_im)} USD is below its initial requirement {usd(im)} USD; only orders "
                "that reduce risk are accepted"
            )
        if not self._within_caps(acct, m, impact):
            best = self._max_passing_size(acct, m, is_buy, qty, price, may_rest, reduce_only)
            self._refuse_over_cap(acct, m, is_buy, impact, best, price, may_rest, reduce_only,
                                  amend)  # fmt: skip
        if not passes:
            best = self._max_passing_size(acct, m, is_buy, qty, price, may_rest, reduce_only)
            e_im, im = cents_against(impact.initial_equity_after, impact.imr_after)
            short = impact.shortfall.quantize(CENT, rounding=ROUND_CEILING)
            side = "buy" if is_buy else "sell"
            if amend is None:
                what = f"this {side} of {qty} {m.symbol}"
            else:  # amend_order takes the total size, filled part included: speak its terms
                what = (f"amending {side} order {amend.order_id} to a total size of {amend.size} "
                        f"{m.symbol} ({amend.filled} filled)")  # fmt: skip
            best, largest = _largest_words(best, amend)
            raise InsufficientMargin(
                f"insufficient margin: {what} needs initial margin {usd(im)} USD, but initial "
                f"equity after fee and price impact would be {usd(e_im)} USD: short by "
                f"{usd(short)} USD; {largest}",
                shortfall=impact.shortfall,
                max_size=best,
            )
        return impact

    def _refuse_over_cap(
        self, acct: Account, m: MarketRuntime, is_buy: bool, impact: OrderImpact, best: Decimal,
        price: Decimal | None, may_rest: bool, reduce_only: bool, amend: Order | None,
    ) -> None:  # fmt: skip
        """Raise OpenInterestCap for an order `_within_caps` refuses: the market's cap (an
        order that grows |position| may not lift long OI above it), else the per-account cap;
        with the room left and `best`, the largest size that passes every check.

        Why the room and the size: the refusal said "only orders that reduce a position are
        accepted" with 5.9 million USD of room left, and named no size, so the ticket's max
        (which reads `max_size`) offered 0 while a buy of 39,000 SOL passed."""
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos else ZERO
        by_margin = by_account_cap = False
        if best < self._oi_size_limit(acct, m, is_buy):  # more than the OI cap stops it
            probe = self._order_impact(acct, m, is_buy, best + m.lot, price, may_rest,
                                       reduce_only=reduce_only)  # fmt: skip
            by_margin = self._within_caps(acct, m, probe)
            by_account_cap = not by_margin
        best, largest = _largest_words(best, amend)
        if by_margin:
            largest += " (initial margin allows no more)"
        increase = max(ZERO, abs(impact.position_after) - abs(s))
        if increase and (m.oi_long + increase) * m.mark > m.spec.oi_cap:
            if by_account_cap:
                largest += (f" (the per-account cap of {m.spec.max_account_position} allows no "
                            "more)")  # fmt: skip
            room = self._oi_room(m)
            oi_usd = m.oi_long * m.mark
            left = (m.spec.oi_cap - oi_usd).quantize(CENT, rounding=ROUND_FLOOR)
            head = (f"{m.symbol} open interest is {usd(oi_usd)} USD against a cap of "
                    f"{grouped(m.spec.oi_cap)} USD")  # fmt: skip
            if left > 0:
                head += f", room for {usd(left)} USD more"
            if room > 0:
                tail = f"an order adding more than {room} {m.symbol} would go over the cap"
            else:
                tail = (f"not one lot ({m.lot} {m.symbol}) fits under the cap, so only orders "
                        "that do not grow a position are accepted")  # fmt: skip
            raise OpenInterestCap(
                f"{head}; this order would add up to {usd(increase * m.mark)} USD, and {tail}; "
                f"{largest}",
                max_size=best,
            )
        raise OpenInterestCap(
            f"{m.symbol}: this order would take the account's position and orders to "
            f"{impact.open_size_after} against the per-account cap of "
            f"{m.spec.max_account_position} (now {abs(s)}); {largest}",
            max_size=best,
        )

    # --- hooks of the trading core ---------------------------------------------------------

    def _check_new_order(self, acct: Account, m: MarketRuntime, order: Order) -> None:
        if order.type in ("stop_market", "take_profit"):
            if not order.reduce_only and m.reduce_only:
                raise MarketHalted(f"{m.symbol} accepts only risk-reducing orders")
            return  # untriggered orders carry no margin; they are checked when they trigger
        may_rest = order.type == "limit" and order.tif == "gtc"
        self._gate(acct, m, order.is_buy, order.size, order.price, may_rest, order.reduce_only)

    def _check_amend(self, acct: Account, m: MarketRuntime, order: Order, draft: Order) -> None:
        if draft.size <= order.size and draft.price == order.price:
            return  # shrinking never adds risk
        if order.status.value == "untriggered":
            return
        # judge the amended order as the order it replaces would be judged, without itself
        saved = acct.open_orders.pop(order.order_id)
        acct.rest(saved, saved.filled - saved.size)
        try:
            self._gate(acct, m, order.is_buy, draft.size - draft.filled, draft.price, True,
                       order.reduce_only, amend=draft)  # fmt: skip
        finally:
            acct.open_orders[order.order_id] = saved
            acct.rest(saved, saved.size - saved.filled)

    def _fill_allowance(self, acct: Account, m: MarketRuntime, order: Order) -> FillGate | None:
        worst = (m.oi_long + 2 * order.remaining) * m.mark
        if worst <= m.spec.oi_cap:
            return None  # cannot bind: no per-fill callback on the hot path
        return OiGate(self, acct, m, order.is_buy)

    def _triggered_order_allowed(self, acct: Account, m: MarketRuntime, order: Order) -> str | None:
        try:
            self._gate(acct, m, order.is_buy, order.remaining, None, False, order.reduce_only)
        except (InsufficientMargin, ReduceOnlyMode):
            return CancelReason.INSUFFICIENT_MARGIN
        except (OpenInterestCap, MarketHalted):
            return CancelReason.OPEN_INTEREST_CAP
        return None

    # --- margin-call levels -----------------------------------------------------------------

    def _margin_level(self, risk: Sums, current: str = "ok") -> str:
        """The margin-call level for events, with hysteresis: an account leaves a level only
        once it clears the line by `margin_call_hysteresis`, so equity hovering at the line
        does not announce a margin call and a recovery every few seconds. Entering a level is
        exact, and the gates and health() never use this (they compare exactly)."""
        if risk.notional == 0 and risk.imr == 0:
            return "ok"
        band = ONE + self.config.margin_call_hysteresis
        imr_line = risk.imr * band if current == "reduce_only" else risk.imr
        if risk.initial_equity < imr_line:
            return "reduce_only"
        warning_line = self.config.warning_multiple * risk.mmr
        if current != "ok":
            warning_line *= band
        if risk.equity < warning_line:
            return "warning"
        return "ok"

    def _emit_margin(self, acct: Account, level: str, risk: Sums) -> None:
        if self._subscribers:
            self._emit(MarginEvent(self.now_ms, acct.account_id, level, risk.equity, risk.mmr,
                                   risk.imr))  # fmt: skip

    def _after_fill(self, m: MarketRuntime, taker: Account, maker: Account) -> None:
        self._margin_dirty.add(taker.account_id)
        self._margin_dirty.add(maker.account_id)

    def _after_collateral_change(self, acct: Account) -> None:
        self._margin_dirty.add(acct.account_id)

    # --- the robust mark -------------------------------------------------------------------

    def _update_mark(self, m: MarketRuntime) -> None:
        if self.config.mark_source == "index":
            if m.mark != m.index:
                self._set_mark(m, m.index)
            return
        state = self._mark_state.setdefault(m.symbol, RobustMark.new())
        bid, ask = m.book.best_bid(), m.book.best_ask()
        raw = state.compute(
            self.now_ms, m.index,
            bid * m.tick if bid is not None else None,
            ask * m.tick if ask is not None else None,
            m.data.last_price,
        )  # fmt: skip
        mark = self._quantize_to_tick(raw, m.tick)
        if mark <= 0:
            mark = m.tick
        if mark != m.mark:
            self._set_mark(m, mark)

    def _refresh_marks(self, t_ms: int) -> None:
        """Periodic and after-command refresh of the robust mark (at most every 100 ms)."""
        if self.config.mark_source == "index":
            return
        for m in self._markets.values():
            state = self._mark_state.get(m.symbol)
            if state is None or state.due(self.now_ms):
                self._update_mark(m)

    def _after_command(self) -> None:
        self._refresh_marks(self.now_ms)
