"""Read-only risk views of the facade: health, order preview and explain.

Why separate from risk.py: these build records for people (the TUI, the server, students)
from the same pure math the gates use, and never change state.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from exchange_local import margin
from exchange_local.custody import Custody
from exchange_local.errors import ExchangeError, TooManyOrders
from exchange_local.health import AccountHealth, CollateralLine, OrderPreview, PositionRisk
from exchange_local.money import ZERO
from exchange_local.positions import Position
from exchange_local.risk import OrderImpact
from exchange_local.state import Account, MarketRuntime

LIQ_WARNING_DISTANCE = Decimal("0.10")


class RiskViews(Custody):
    def _status(self, acct: Account, risk: margin.AccountRisk) -> str:
        """MECHANICS section 2's status word, from its table's conditions at current marks.

        With positions open it is the table's, whatever stage the engine ran at its last
        tick: the engine's word alone lagged a tick (an account past zero read
        "liquidating" until the next tick, one a partial fill had restored still read
        "liquidating"; audit). With none left, an account the engine still holds (a deficit
        the fund's budget left) keeps its word; one in debt is bankrupt by the table too."""
        word = margin.liquidation_word(risk.equity, risk.mmr, risk.acmr, risk.notional)
        if word is not None:
            return word
        if not risk.notional and acct.liquidation_status is not None:
            return acct.liquidation_status
        if risk.initial_equity < risk.imr:
            return "reduce_only"
        return "ok"

    def health(self, account: str) -> AccountHealth:
        """Cross-margin health: equity, collateral, requirements, status, per-position prices."""
        acct = self._account(account)
        collateral = self._collateral_inputs(acct)
        positions = self._position_inputs(acct)
        risk = margin.account_risk(collateral, positions)
        lines = [
            CollateralLine(c.asset, c.amount, c.price,
                           c.weight_total if c.amount > 0 else Decimal(1),
                           c.weight_initial if c.amount > 0 else Decimal(1),
                           c.amount * c.price * (c.weight_total if c.amount > 0 else 1))
            for c in collateral
        ]  # fmt: skip
        by_market = {p.market: p for p in risk.positions}
        rows = []
        for p in positions:
            if p.size == 0:
                continue
            pm = by_market[p.market]
            pos = acct.positions[p.market]
            rows.append(PositionRisk(
                p.market, p.size, p.entry_price, p.settle_price, p.mark, pm.notional,
                pm.unsettled_pnl, pm.unrealized_pnl,
                pos.realized_pnl, pos.funding_paid, p.imf, p.mmf,
                pm.liquidation_price, pm.bankruptcy_price, pm.zero_price, pm.liq_state,
                pm.distance_to_liquidation, acct.adl_quintiles.get(p.market),
            ))  # fmt: skip
        return AccountHealth(
            acct.account_id, risk.equity, risk.initial_equity, risk.c_tot, risk.c_init, lines,
            risk.unsettled_pnl, risk.unrealized_pnl, risk.notional, risk.imr, risk.mmr,
            risk.acmr, risk.margin_fraction, risk.margin_usage, risk.free_collateral,
            risk.leverage, self._status(acct, risk),
            bool(risk.notional) and risk.equity < self.config.warning_multiple * risk.mmr, rows,
        )  # fmt: skip

    def preview_order(
        self,
        account: str,
        market: str,
        side: str,
        size: Any,
        price: Any = None,
        type: str | None = None,
        tif: str = "gtc",
        reduce_only: bool = False,
        post_only: bool = False,
        trigger_price: Any = None,
    ) -> OrderPreview:
        """What the order would do to margin and liquidation prices, with the gate's verdict.

        A GTC limit order is assumed to take what the book has at its limit or better and
        fill the rest at its limit for the "after" figures (what traders ask to see). An
        order that cannot rest fills now or never, so only what walking the book fills counts:
        a market order up to its protection band and an IOC up to its limit, the rest
        canceled; a FOK whole or not at all. One that would fill nothing previews no fill
        price (None), `fillable_now` 0, no fee, and "after" equal to "before", with a warning
        that it would be canceled unfilled (an IOC below the book showed a fill at its limit).
        A stop or take-profit fills whole at its trigger price, as the taker it becomes when
        the mark gets there (nothing fills now). Every "after" figure (IMR, free collateral,
        margin fraction, position, liq and bankruptcy price) is the account as it would be
        booked after that fill, at today's marks: one state, not the gate's resting view
        beside a filled position (a limit closing a short showed free collateral going
        negative). The verdict is the gate's. A post-only order that would take is said in
        the warnings as the refusal it would be. Changes nothing.

        Free collateral after is the gate's own figure, E_im' - IMR' of `_order_impact` (the
        numbers `_gate` compares), for every order the gate judges on margin: a refused one
        reads -shortfall, an accepted one what the gate left; no credit for a favourable gap
        between its price and the mark, the adverse one charged (a buy resting below the mark
        read as instant profit). An order that only reduces, and a stop or take-profit, show
        the booked state's; see `_risk_after_fill`.

        `type` defaults to "market" without a price and "limit" with one (DESIGN.md previews
        `price=None` as a market order). Input place_order refuses whatever the state (a tif
        or post-only a type cannot take, a price a market order cannot take) raises in its
        words; a refusal that depends on the state (the cap of open orders, a post-only order
        that would take, a reduce-only order with nothing to reduce) is `would_reject`.
        """
        acct = self._account(account)
        m = self._market(market)
        if type is None:
            type = "limit" if price is not None else "market"
        qty, limit, trigger = self._parse_order_inputs(
            m, side, size, price, type, tif, post_only, reduce_only, trigger_price
        )
        is_buy = side == "buy"
        warnings: list[str] = []
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos else ZERO
        not_reducing: str | None = None
        if reduce_only:
            if s == 0 or (s > 0) == is_buy:
                try:  # place_order's refusal, in its words
                    self._clip_reduce_only(acct, m, is_buy, qty)
                except ExchangeError as refusal:
                    not_reducing = str(refusal)
            elif qty > abs(s):
                warnings.append(f"reduce-only would be clipped to the position ({abs(s)})")
                qty = abs(s)
        # after the clip, as place_order: a size or price past its maximum is already refused
        self._check_notional(m, qty, limit if limit is not None else trigger)
        may_rest = type == "limit" and tif == "gtc"
        would_reject: str | None = None
        max_size: Decimal | None = None
        if trigger is not None:
            impact = self._order_impact(acct, m, is_buy, qty, None, False, fill_at=trigger)
            try:  # place_order's own refusals: trigger already reached, halted market, ...
                order = self._validate_new_order(
                    acct, m, side, qty, None, type, tif, post_only, reduce_only, trigger, None
                )
                self._check_new_order(acct, m, order)
            except ExchangeError as refusal:
                would_reject = str(refusal)
                warnings.append(f"would be rejected: {refusal}")
            if would_reject is None and not impact.reducing and impact.shortfall > 0:
                warnings.append(  # the margin check runs when it triggers, not now
                    f"if it triggered at {trigger} now it would be canceled: initial equity "
                    f"after fee {impact.initial_equity_after:.2f} USD is short of the initial "
                    f"margin {impact.imr_after:.2f} USD"
                )
        else:
            impact = self._order_impact(acct, m, is_buy, qty, limit, may_rest,
                                        reduce_only=reduce_only)  # fmt: skip
            try:
                self._gate(acct, m, is_buy, qty, limit, may_rest, reduce_only)
            except ExchangeError as refusal:
                would_reject = str(refusal)
                max_size = getattr(refusal, "max_size", None)
                warnings.append(f"would be rejected: {refusal}")
            try:  # place_order refuses this before its margin check: it says it first
                self._check_open_orders(acct, type, tif)
            except TooManyOrders as refusal:
                would_reject, max_size = str(refusal), None
                warnings.append(f"would be rejected: {refusal}")
        # an order that cannot rest (IOC, FOK, market) fills now or never: what the book
        # cannot take is canceled, and a FOK short of whole fills nothing
        unfilled = False
        if trigger is None and not may_rest and impact.take_qty < qty and not_reducing is None:
            unfilled = self._immediate_shortfall(m, is_buy, qty, impact.take_qty, limit, type,
                                                 tif, warnings)  # fmt: skip
        touch = self._post_only_takes(m, is_buy, limit) if post_only and limit else None
        if touch is not None:  # the test place_order makes
            would_reject = f"post-only order at {limit} would take liquidity ({touch})"
            warnings.append(f"would be rejected: {would_reject}")
        if not_reducing is not None and would_reject != not_reducing:  # place_order says it first
            would_reject, max_size = not_reducing, None
            warnings.insert(0, f"would be rejected: {not_reducing}")
        before = self.health(account)
        before_pos = next((p for p in before.positions if p.market == m.symbol), None)
        if not_reducing is not None or unfilled:
            # refused whatever the book or margin, or canceled unfilled, so nothing changes:
            # "after" is "before" (it showed the position the order would have opened, 0 ->
            # +0.05, beside the refusal; an IOC below the book, a fill at its limit)
            imr_after, free_after, mf_after = (
                before.imr,
                before.free_collateral,
                before.margin_fraction,
            )
            liq_after = before_pos.liquidation_price if before_pos else None
            bk_after = before_pos.bankruptcy_price if before_pos else None
            size_after = s
        else:
            after, size_after = self._risk_after_fill(acct, m, is_buy, impact, limit)
            free_after = after.free_collateral
            if trigger is None and not impact.reducing:  # the gate judges it: its own figure
                free_after = impact.initial_equity_after - impact.imr_after
            imr_after, mf_after = after.imr, after.margin_fraction
            after_pos = next((p for p in after.positions if p.market == m.symbol), None)
            if size_after == 0:
                after_pos = None
            liq_after = after_pos.liquidation_price if after_pos else None
            bk_after = after_pos.bankruptcy_price if after_pos else None
            gap = abs(liq_after - m.mark) / m.mark if liq_after is not None else None
            # past its liquidation price, "would be within 10 % of the mark" misreads: the next
            # warning says what is so (a long's liq 86,354.5 above a mark of 85,190)
            past = after_pos is not None and after_pos.liq_state != "ok"
            if not past and liq_after is not None and gap is not None and (
                    gap < LIQ_WARNING_DISTANCE):  # fmt: skip
                toward = ROUND_CEILING if liq_after < m.mark else ROUND_FLOOR  # as displays do
                shown = (liq_after / m.tick).to_integral_value(rounding=toward) * m.tick
                warnings.append(
                    f"liquidation price {shown} would be within 10 % of the mark {m.mark}"
                )
            if after_pos and after_pos.liq_state != "ok":
                warnings.append("the account would be under liquidation after this order")
        if unfilled:  # no fill, no fee, no price: a resting GTC alone shows its limit
            est, fillable, fee = None, ZERO, ZERO
        else:
            est = impact.est_fill_price if impact.take_qty else limit
            fillable = ZERO if trigger is not None else impact.take_qty
            fee = impact.fee
        return OrderPreview(
            m.symbol, side, qty, est, fillable, fee, before.imr,
            imr_after, before.free_collateral, free_after, before.margin_fraction, mf_after,
            before_pos.liquidation_price if before_pos else None, liq_after,
            before_pos.bankruptcy_price if before_pos else None, bk_after,
            s, size_after, would_reject, max_size, warnings,
        )  # fmt: skip

    def _immediate_shortfall(
        self, m: MarketRuntime, is_buy: bool, qty: Decimal, take_qty: Decimal,
        limit: Decimal | None, type: str, tif: str, warnings: list[str],
    ) -> bool:  # fmt: skip
        """Say what an order that cannot rest (IOC or FOK limit, market) does with the part
        the book cannot fill now, appending the warning; True when nothing at all would fill.

        Why: such an order is canceled where the book runs out (`_execute`), so the preview
        must not show that part as filled. An IOC below the book previewed a fill at its
        limit, and a FOK short of whole its partial fill, though both end canceled unfilled.
        """
        if limit is not None:
            where = f"at {limit} or better"
        else:  # a market order stops at the protection band, as `_execute` walks it
            worst = self._protection_limit(m, is_buy) * m.tick
            where = f"at {worst} or better (the market protection band)"
        label = {"ioc": "immediate-or-cancel", "fok": "fill-or-kill"}.get(tif, "market order")
        if not take_qty:
            warnings.append(
                f"{label}: nothing fillable now {where}, so the order would be canceled unfilled"
            )
            return True
        if type == "limit" and tif == "fok":
            warnings.append(f"fill-or-kill: only {take_qty} fillable now {where}, so the whole "
                            "order would be canceled unfilled")  # fmt: skip
            return True
        warnings.append(f"{label}: only {take_qty} fillable now {where}; the other "
                        f"{qty - take_qty} would be canceled")  # fmt: skip
        return False

    def _risk_after_fill(
        self, acct: Account, m: MarketRuntime, is_buy: bool, impact: OrderImpact,
        limit: Decimal | None,
    ) -> tuple[margin.AccountRisk, Decimal]:  # fmt: skip
        """The account as booked if the whole order filled (takes at the estimate, rests at
        its limit, a stop or take-profit at its trigger), with the position size after: the
        liquidation and bankruptcy price, margin fraction and IMR after. Built from inputs,
        never by touching state.

        Free collateral after is this state's E_im - IMR only for an order the gate does not
        judge on margin: one that only reduces (a limit closing a short, booked as one state:
        its profit in cash, the position gone, never free collateral going negative beside
        it) and a stop or take-profit (no gap at its trigger). For any other order
        preview_order takes the gate's own E_im' - IMR' (`_order_impact`). Why: a liquidation
        price is a price level, the same wherever the mark is when the order fills, but free
        collateral is money at today's marks, and the gate's E_im' already leaves the
        favourable gap between fill price and mark out (unsettled profit opens no risk) and
        charges the adverse one. Re-deriving it here from a booked state less that gap took
        it out twice on a position held with its settle price kept: the fill's cash less
        the gap left a cash loss q x (S - M) beside as much unsettled profit, and E_im's
        min(0, sum of unsettled) counts the loss but not the profit. A SOL buy of 90,000
        with S 1.237 under the mark previewed free collateral 104,598.27 below the gate's
        (111,330 less the BTC loss of 6,731.72 that profit netted), so a refused order did
        not read -shortfall. A buy resting below the mark still reads no instant profit: the
        gate never credits the gap.
        """
        pos = acct.positions.get(m.symbol)
        size, settle, entry = (pos.size, pos.settle_price, pos.entry_price) if pos else (
            ZERO, ZERO, ZERO)  # fmt: skip
        booked = Position(m.symbol, size, settle, entry)
        direction = 1 if is_buy else -1
        cash = ZERO
        fills = []
        if impact.take_qty:
            assert impact.est_fill_price is not None
            fills.append((impact.take_qty, impact.est_fill_price))
        if impact.rest_qty and limit is not None:
            fills.append((impact.rest_qty, limit))
        for qty, price in fills:
            cash += booked.apply_fill(direction * qty, price)
        buys, sells = self._resting_for(acct, m.symbol, booked.size)
        if impact.stp_canceled:  # own orders the fill's walk cancels (self-trade prevention)
            buys, sells = (buys, sells - impact.stp_canceled) if is_buy else (
                buys - impact.stp_canceled, sells)  # fmt: skip
        override = self._position_input(
            acct, m, size=booked.size, open_size=margin.open_size(booked.size, buys, sells),
            settle=booked.settle_price if booked.size else None,
        )  # fmt: skip
        risk = margin.account_risk(
            self._collateral_inputs(acct, usd_delta=cash - impact.fee),
            self._position_inputs(acct, override),
        )
        return risk, booked.size

    def explain(self, account: str, market: str) -> margin.Explanation:
        """The terms behind p_liq, p_bk and the zero price of one position, each summing exactly."""
        acct = self._account(account)
        m = self._market(market)
        return margin.explain(self._collateral_inputs(acct), self._position_inputs(acct), m.symbol)
