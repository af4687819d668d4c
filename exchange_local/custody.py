"""Withdrawals, conversions and leverage choices: the changes an account makes to its own
collateral and requirements, each held to MECHANICS section 2's rule for collateral changes
(E_im' >= max(IMR, 0.10 N) and E_mm' >= MMR afterwards).

Why apart from risk.py: the order gates there run on every order and fill; these run when a
person moves money, and their refusals name the amount that would pass (the most that can be
withdrawn or converted now), which takes searches the order path never needs.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from exchange_local import margin
from exchange_local.errors import InsufficientBalance, InsufficientMargin, InvalidRequest
from exchange_local.ledger import EXTERNAL, FEES, TxType
from exchange_local.money import ONE, ZERO, cents_against, shortest, to_decimal
from exchange_local.risk import Risk
from exchange_local.state import Account


class Custody(Risk):
    """Withdraw, convert and leverage, on top of the risk engine's sums and weights."""

    def withdraw(self, account: str, asset: str, amount: Any) -> None:
        """As ExchangeCore.withdraw; a refusal for the balance also says what can go now.

        Why: "the balance is 2" alone invites a second refusal (for margin) when part of the
        balance backs positions; the person asked wants the one number that passes.
        """
        try:
            super().withdraw(account, asset, amount)
        except InsufficientBalance as refusal:
            acct, spec = self._account(account), self._asset(asset)
            most = self._max_withdrawal(acct, spec.symbol)
            raise InsufficientBalance(
                f"{refusal}; at most {shortest(most)} {spec.symbol} can be withdrawn now"
            ) from None

    def max_withdrawal(self, account: str, asset: str) -> Decimal:
        """The largest amount of `asset` the account can withdraw now: floored to the asset's
        decimals, never above its balance, zero when there is none (or a loan).

        Why a method: free collateral (E_im - IMR) overstates it, since the withdraw rule of
        MECHANICS section 2 is E_im' >= max(IMR, 0.10 N) and E_mm' >= MMR, and a weighted
        coin's value is not linear in its balance (large balances count less).
        """
        acct = self._account(account)
        return self._max_withdrawal(acct, self._asset(asset).symbol)

    def _max_withdrawal(self, acct: Account, asset: str) -> Decimal:
        """max_withdrawal's search. Only this asset's value changes, so from the account's
        sums the rule reads "the balance left keeps initial value >= keep_i and total value
        >= keep_t", which margin.balance_for_value solves in closed form (USD: one division).
        The withdraw check itself then confirms the answer and the next quantum's refusal,
        stepping a quantum where rounding at the 34th digit disagreed, so the answer is the
        largest amount withdraw() accepts."""
        spec = self._assets[asset]
        quantum = spec.quantum
        balance = self._ledger.balances[acct.account_id].get(asset, ZERO)
        whole = balance.quantize(quantum, rounding=ROUND_FLOOR) if balance > 0 else ZERO
        if whole <= 0:
            return ZERO
        risk = self._sums(acct)
        price = self.prices[asset]
        wt, wi = self._weights(asset, balance)
        keep_i = max(risk.imr, risk.notional / 10) - (risk.initial_equity - balance * price * wi)
        keep_t = risk.mmr - (risk.equity - balance * price * wt)
        if balance * price * wi < keep_i or balance * price * wt < keep_t:
            return ZERO  # short already: no withdrawal passes
        f = spec.size_factor
        left = max(
            margin.balance_for_value(keep_i, price, spec.weight_initial, f),
            margin.balance_for_value(keep_t, price, spec.weight_total, f),
        )
        most = min(whole, max(ZERO, (balance - left).quantize(quantum, rounding=ROUND_FLOOR)))

        def passes(amount: Decimal) -> bool:
            return self._collateral_refusal(acct, {asset: -amount}) is None

        for _ in range(4):
            if most > 0 and not passes(most):
                most -= quantum
            elif most < whole and passes(most + quantum):
                most += quantum
            else:
                return most.quantize(quantum) if most > 0 else ZERO
        lo, hi = 0, int(whole / quantum)  # never seen: then bisect with the rule itself
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if passes(mid * quantum):
                lo = mid
            else:
                hi = mid - 1
        return (lo * quantum).quantize(quantum) if lo else ZERO

    def _check_withdraw(self, acct: Account, asset: str, amount: Decimal) -> None:
        refusal = self._collateral_refusal(acct, {asset: -amount})
        if refusal is not None:
            most = self._max_withdrawal(acct, asset)
            raise InsufficientMargin(
                f"cannot withdraw: {refusal[0]}; at most {shortest(most)} {asset} can be withdrawn "
                "now",
                shortfall=refusal[1],
            )

    def _collateral_refusal(
        self, acct: Account, changes: dict[str, Decimal]
    ) -> tuple[str, Decimal] | None:
        """MECHANICS section 2: E_im' >= max(IMR, 0.10 N) and E_mm' >= MMR after the change;
        None when it passes, else (why, shortfall in USD)."""
        balances = dict(self._ledger.balances[acct.account_id])
        for asset, delta in changes.items():
            balances[asset] = balances.get(asset, ZERO) + delta
        rows = []
        for asset, amount in balances.items():
            if amount != 0:
                wt, wi = self._weights(asset, amount)
                rows.append(margin.CollateralInput(asset, amount, self.prices[asset], wt, wi))
        after = margin.account_risk(rows, self._position_inputs(acct))
        need_im = max(after.imr, after.notional / 10)
        if after.initial_equity >= need_im and after.equity >= after.mmr:
            return None
        e_im, im = cents_against(after.initial_equity, need_im)
        e_mm, mm = cents_against(after.equity, after.mmr)
        return (
            f"afterwards initial equity would be {e_im} USD against the required {im} USD (max "
            f"of IMR and 10 % of notional) and maintenance equity {e_mm} USD against MMR {mm} "
            "USD",
            max(need_im - after.initial_equity, after.mmr - after.equity),
        )

    # --- leverage and convert ---------------------------------------------------------------

    def leverage(self, account: str) -> dict[str, Decimal]:
        """The leverage the account chose per market; a market it never set runs at its max."""
        acct = self._account(account)
        return {
            symbol: acct.leverage.get(symbol, m.spec.max_leverage)
            for symbol, m in self._markets.items()
        }

    def set_leverage(self, account: str, market: str, leverage: Any) -> None:
        """Choose the account's leverage in a market: a whole number, 1 <= x <= max leverage
        (IMF >= 1/x). Whole, as on the wire (API.md's leverage is an integer everywhere): 2.7
        was taken here and then served as "2.7" beside the integers of other markets.

        Refused if it would leave the account below its initial requirement.
        """
        acct = self._account(account)
        m = self._market(market)
        x = to_decimal(leverage, "leverage")
        if x != x.to_integral_value() or x < 1 or x > m.spec.max_leverage:
            raise InvalidRequest(
                f"leverage for {m.symbol} must be a whole number between 1 and "
                f"{m.spec.max_leverage} (the market's maximum), got {x}"
            )
        x = x.quantize(ONE)  # 5.0 is 5
        before = acct.leverage.get(m.symbol)
        acct.leverage[m.symbol] = x
        self._margin_dirty.add(acct.account_id)
        risk = self._sums(acct)
        if x < (before or m.spec.max_leverage) and risk.initial_equity < risk.imr:
            if before is None:
                del acct.leverage[m.symbol]
            else:
                acct.leverage[m.symbol] = before
            raise InsufficientMargin(
                f"leverage {x}x would need initial margin {risk.imr:.2f} USD but initial "
                f"equity is {risk.initial_equity:.2f} USD",
                shortfall=risk.imr - risk.initial_equity,
            )

    def convert(self, account: str, from_asset: str, to_asset: str, amount: Any) -> Decimal:
        """Exchange collateral at the index with the configured spread (to FEES); returns
        the amount of `to_asset` credited. Used to repay a negative USD balance."""
        acct = self._account(account)
        src = self._asset(from_asset)
        dst = self._asset(to_asset)
        if src.symbol == dst.symbol:
            raise InvalidRequest("convert needs two different assets")
        for spec in (src, dst):  # deposit's and withdraw's refusal (unknown_asset), in words
            if not spec.collateral:
                raise self._not_collateral(spec)
        qty = self._amount(src, amount)
        balance = self._ledger.balance(acct.account_id, src.symbol)
        if qty > balance:
            raise InsufficientBalance(
                f"cannot convert {qty} {src.symbol}: the balance is {balance}"
            )
        gross, fee, net = self._convert_amounts(src.symbol, dst.symbol, qty)
        if net <= 0:
            raise InvalidRequest(f"{qty} {src.symbol} is too small to convert")
        refusal = self._collateral_refusal(acct, {src.symbol: -qty, dst.symbol: net})
        if refusal is not None:
            most = self._max_convert(acct, src.symbol, dst.symbol, qty)
            raise InsufficientMargin(
                f"cannot convert: {refusal[0]}; at most {shortest(most)} {src.symbol} can be "
                f"converted to {dst.symbol} now",
                shortfall=refusal[1],
            )
        src_price, dst_price = shortest(self.prices[src.symbol]), shortest(self.prices[dst.symbol])
        self._post_tx(
            TxType.CONVERT,
            [
                (acct.account_id, src.symbol, -qty), (EXTERNAL, src.symbol, qty),
                (EXTERNAL, dst.symbol, -gross), (acct.account_id, dst.symbol, net),
                (FEES, dst.symbol, fee),
            ],
            # both USD prices and the spread: "at 1" alone read as the price of the coin bought
            f"convert {src.symbol}->{dst.symbol}: {src.symbol} at {src_price}, {dst.symbol} at "
            f"{dst_price}, spread {shortest(fee)} {dst.symbol}",
        )  # fmt: skip
        self._after_collateral_change(acct)
        return net

    def _convert_amounts(
        self, src: str, dst: str, qty: Decimal
    ) -> tuple[Decimal, Decimal, Decimal]:
        """(gross, spread, net) of `dst` for qty of `src`: at the indexes, floored to dst's
        decimals; the spread rounds up (against the converter)."""
        quantum = self._assets[dst].quantum
        gross = (qty * self.prices[src] / self.prices[dst]).quantize(quantum, rounding=ROUND_FLOOR)
        fee = (gross * self.config.convert_spread).quantize(quantum, rounding=ROUND_CEILING)
        return gross, fee, gross - fee

    def _max_convert(self, acct: Account, src: str, dst: str, qty: Decimal) -> Decimal:
        """A convert of `src` <= qty that passes the margin rule, for the refusal to name:
        bisection on src's quanta, each step the check itself (refusals only). The largest
        one while more converted only tightens the rule (src counts at least as much as what
        it buys: the coin-to-USD loan repayment counts more, but that one rarely fails)."""
        quantum = self._assets[src].quantum
        lo, hi = 0, int(qty / quantum)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            net = self._convert_amounts(src, dst, mid * quantum)[2]
            if net > 0 and self._collateral_refusal(acct, {src: -mid * quantum, dst: net}) is None:
                lo = mid
            else:
                hi = mid - 1
        return (lo * quantum).quantize(quantum) if lo else ZERO
