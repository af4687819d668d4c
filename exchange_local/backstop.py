"""Stages 3-5 of MECHANICS section 4: backstop liquidity providers, the insurance fund, ADL.

Why each stage is computed on copies and committed at once: a stage is one atomic ledger
transaction checked against MECHANICS section 7 before it is applied (stage 6). Prices are
rounded to the tick so that every leg is exact; when an account is closed out completely, its
USD is set to exactly 0 and the rounding residual (a few ticks) goes to the insurance fund.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from exchange_local.events import LiquidationEvent
from exchange_local.ledger import INSURANCE, SETTLEMENT_CLEARING, Leg, TxType
from exchange_local.money import ONE, ZERO, quantize_usd, quantize_usd_down, quantize_usd_up
from exchange_local.orders import CancelReason
from exchange_local.positions import Position
from exchange_local.risk import Sums
from exchange_local.settlement import SettlementJobs
from exchange_local.state import Account, MarketRuntime

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
TWO_THIRDS = Decimal(2) / Decimal(3)
ONE_THIRD = ONE / Decimal(3)
# Far below any tick: a price computed by division carries a residue in its 34th digit (ZP
# 91,850.00000000000000000000000000004); quantized to this first, the directional rounding to
# the tick does not turn the residue into a whole tick
PRICE_RESIDUE = Decimal("1e-12")
NO_BLPS = "no backstop providers"


def usd_text(amount: Decimal) -> str:
    """A USD amount for an event's detail: to the cent, with thousands separators."""
    return f"{amount:,.2f}"


def exact_usd_text(amount: Decimal) -> str:
    """A USD amount with every digit it has (the ledger's quantum), at least cents."""
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{amount:,.{places}f}"


def move_text(move: Decimal, before: Decimal) -> str:
    """|move|, a payment that takes a balance from `before` to `before + move`: to the cent
    when the three, each to the cent, add up; else with every digit it has. Why: the fund's
    20,214.448831 read 20,214.45 → 18,088.00 beside "paid 2,126.44" (it paid 2,126.444883),
    three figures on one line that did not add up."""
    cent = Decimal("0.01")
    if (before + move).quantize(cent) - before.quantize(cent) == move.quantize(cent):
        return usd_text(abs(move))
    return exact_usd_text(abs(move))


def price_text(price: Decimal, m: MarketRuntime) -> str:
    """A price for an event's detail: the tick's decimals (at least two), separators."""
    exponent = m.tick.as_tuple().exponent
    places = max(2, -exponent if isinstance(exponent, int) else 2)
    return f"{price:,.{places}f}"


def size_text(size: Decimal, m: MarketRuntime) -> str:
    """A size for an event's detail: the lot's decimals, separators (JELLY's 1,000,000, not
    1000000 beside a line's "size 1,000,000"; BTC's 0.4000 as before)."""
    exponent = m.lot.normalize().as_tuple().exponent
    places = max(0, -exponent if isinstance(exponent, int) else 0)
    return f"{size:,.{places}f}"


@dataclass(slots=True)
class Plan:
    """A stage computed on copies: new positions, ledger legs, and what the event reports."""

    positions: dict[tuple[str, str], Position]  # (account, market) -> the position after
    legs: list[Leg]
    counterparties: list[str]
    fund_delta: Decimal


class StageRefused(Exception):
    """A stage failed its MECHANICS section 7 check; nothing was applied."""


class Backstop(SettlementJobs):
    # --- shared helpers -------------------------------------------------------------------

    def _fund(self) -> Decimal:
        return self._ledger.balance(INSURANCE, "USD")

    def _round_tick(self, price: Decimal, m: MarketRuntime, up: bool | None = None) -> Decimal:
        """To the tick: nearest (up None), else up or down, after dropping the residue a
        division leaves far below the tick (PRICE_RESIDUE) so it cannot move a price a tick."""
        if up is None:
            return self._quantize_to_tick(price, m.tick)
        rounding = ROUND_CEILING if up else ROUND_FLOOR
        price = price.quantize(PRICE_RESIDUE)
        return (price / m.tick).to_integral_value(rounding=rounding) * m.tick

    def _zero_price(self, m: MarketRuntime, size: Decimal, sums: Sums, mmf: Decimal) -> Decimal:
        """ZP = M(1 -/+ PMPD), PMPD = MMF * E_mm / MMR (MECHANICS section 3)."""
        pmpd = mmf * sums.equity / sums.mmr
        return m.mark * (ONE - pmpd) if size > 0 else m.mark * (ONE + pmpd)

    def _open_positions(self, acct: Account) -> list[tuple[MarketRuntime, Position, Decimal]]:
        """(market, position, MMF) by MMR contribution, largest first (then by market name)."""
        rows = []
        for symbol, pos in acct.positions.items():
            if pos.size:
                m = self._markets[symbol]
                _, mmf = self._fractions(acct, m, pos.size, abs(pos.size))
                rows.append((m, pos, mmf))
        rows.sort(key=lambda r: (-(r[2] * abs(r[1].size) * r[0].mark), r[0].symbol))
        return rows

    def _copy_pos(self, plan: Plan, acct_id: str, symbol: str) -> Position:
        key = (acct_id, symbol)
        if key not in plan.positions:
            old = self._accounts[acct_id].positions.get(symbol) or Position(symbol)
            plan.positions[key] = Position(symbol, old.size, old.settle_price, old.entry_price,
                                           old.realized_pnl, old.funding_paid)  # fmt: skip
        return plan.positions[key]

    def _trade_legs(
        self, plan: Plan, symbol: str, seller_or_buyer: str, q: Decimal, price: Decimal,
        other: str, other_price: Decimal,
    ) -> None:  # fmt: skip
        """One side trades q at price, the other -q at other_price; clearing and fund balance."""
        cash_a = self._copy_pos(plan, seller_or_buyer, symbol).apply_fill(q, price)
        cash_b = self._copy_pos(plan, other, symbol).apply_fill(-q, other_price)
        # A trades q at price, B trades -q at other_price: q*price + (-q)*other_price of cash is
        # left between them; it goes to the fund (a seller at ZP, a BLP buying above: >= 0)
        fund = q * (price - other_price)
        plan.legs += [(seller_or_buyer, "USD", cash_a), (other, "USD", cash_b)]
        plan.legs.append((SETTLEMENT_CLEARING, "USD", -cash_a - cash_b - fund))
        if fund:
            plan.legs.append((INSURANCE, "USD", fund))
            plan.fund_delta += fund

    def _commit(self, plan: Plan, type: TxType, ref: str, market: MarketRuntime | None) -> None:
        """Check the plan against MECHANICS section 7, then apply it in one transaction."""
        balances = self._ledger.balances
        after: dict[tuple[str, str], Decimal] = {}
        for account, asset, amount in plan.legs:
            key = (account, asset)
            after[key] = after.get(key, balances[account].get(asset, ZERO)) + amount
        problems = [f"{a} would hold {v} {asset}" for (a, asset), v in after.items()
                    if asset != "USD" and v < 0 and a != "EXTERNAL"]  # fmt: skip
        if after.get((INSURANCE, "USD"), self._fund()) < 0:
            problems.append("the insurance fund would go negative")
        totals: dict[str, Decimal] = {}
        for _, asset, amount in plan.legs:
            totals[asset] = totals.get(asset, ZERO) + amount
        problems += [f"{asset} legs sum to {v}" for asset, v in totals.items() if v != 0]
        if problems:
            raise StageRefused("; ".join(problems))
        for (account, symbol), pos in plan.positions.items():
            acct = self._accounts[account]
            old = acct.positions.get(symbol)
            m = self._markets[symbol]
            m.oi_long += max(pos.size, ZERO) - max(old.size if old else ZERO, ZERO)
            acct.positions[symbol] = pos
            self._margin_dirty.add(account)
        self._post_tx(type, plan.legs, ref)
        if self._adl_cache:  # a second bankrupt account this tick ranks these sides afresh
            for _, symbol in plan.positions:
                self._forget_adl_rankings((), symbol)
            self._forget_adl_rankings({who for who, _, _ in plan.legs})
        for account, symbol in plan.positions:
            acct = self._accounts[account]
            if acct.reduce_only_orders:
                self._reclip_reduce_only(acct, self._markets[symbol])

    def _halt_stage(self, acct: Account, m: MarketRuntime | None, stage: str, why: str) -> None:
        """Stage 6: a failed check rolls the stage back, is announced, and halts the market."""
        if m is not None:
            m.reduce_only = True
        if (acct.account_id, stage) in self._halted:
            return  # announced once; the stage is retried each tick while the market is halted
        self._halted.add((acct.account_id, stage))
        sums = self._sums(acct)
        fund = self._fund()
        self._emit_stage(acct, m, "halted", None, None, sums, sums, (), fund, fund,
                         f"{stage} refused: {why}")  # fmt: skip

    def _emit_stage(
        self, acct: Account, m: MarketRuntime | None, stage: str, size: Decimal | None,
        price: Decimal | None, before: Sums, after: Sums, counterparties: tuple[str, ...],
        fund_before: Decimal, fund_after: Decimal, detail: str = "", *,
        fill_price: Decimal | None = None, counter_price: Decimal | None = None,
        fee: Decimal | None = None,
    ) -> None:  # fmt: skip
        self._stage_log.append((self.now_ms, acct.account_id, stage))
        if self._subscribers:
            self._emit(LiquidationEvent(
                self.now_ms, acct.account_id, m.symbol if m else None, stage, size, price,
                before.equity, after.equity, before.mmr, after.mmr, counterparties,
                fund_before, fund_after, detail, fill_price, counter_price, fee,
            ))  # fmt: skip

    # --- backstop liquidity providers ----------------------------------------------------

    def deposit(self, account: str, asset: str, amount: Any) -> None:
        """As ExchangeCore.deposit; a BLP's loss-cap baseline moves by the equity it adds."""
        self._external_transfer(super().deposit, account, asset, amount)

    def withdraw(self, account: str, asset: str, amount: Any) -> None:
        """As ExchangeCore.withdraw; a BLP's loss-cap baseline moves by the equity it removes."""
        self._external_transfer(super().withdraw, account, asset, amount)

    def _external_transfer(
        self, move: Callable[[str, str, Any], None], account: str, asset: str, amount: Any
    ) -> None:
        """Money in or out is not a trading loss or gain: keep it out of the loss cap."""
        acct = self._accounts.get(account) if isinstance(account, str) else None
        tracked = acct is not None and acct.backstop_baseline is not None
        before = self._equity(acct) if tracked and acct is not None else ZERO
        move(account, asset, amount)
        if tracked and acct is not None and acct.backstop_baseline is not None:
            acct.backstop_baseline += self._equity(acct) - before

    def _blp_capacities(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Per BLP: (USD notional its windows and loss cap allow, free initial margin)."""
        caps = {}
        for acct in self._accounts.values():
            if acct.kind == "backstop":
                window = self._blp_capacity(acct)
                if window > 0:
                    sums = self._sums(acct)
                    caps[acct.account_id] = (window, max(ZERO, sums.initial_equity - sums.imr))
        return caps

    def _blp_capacity(self, blp: Account) -> Decimal:
        """USD notional a BLP may still take: per-minute and per-hour windows, loss cap."""
        cfg = self.config
        now = self.now_ms
        blp.backstop_takeovers = [(t, v) for t, v in blp.backstop_takeovers if now - t < HOUR_MS]
        hour = sum((v for _, v in blp.backstop_takeovers), ZERO)
        minute = sum((v for t, v in blp.backstop_takeovers if now - t < MINUTE_MS), ZERO)
        sums = self._sums(blp)
        if blp.backstop_baseline is None:
            blp.backstop_baseline = sums.equity
        if self._stands_aside(blp, sums):
            return ZERO
        return max(
            ZERO, min(cfg.backstop_minute_capacity - minute, cfg.backstop_hour_capacity - hour)
        )

    def _allocate(
        self, m: MarketRuntime, size: Decimal, capacities: dict[str, tuple[Decimal, Decimal]]
    ) -> list[tuple[str, Decimal]]:
        """Split |size| among BLPs pro rata to remaining capacity, in lots, as far as their
        capacity goes: when it cannot carry all of it, every BLP takes all it may (pro rata to
        capacity, then, is exactly that) and the rest is the book's. A BLP's capacity here is
        also what its free margin carries at this market's base IMF. A rounding remainder goes
        to the BLP with most capacity left, then by id. `capacities` is shared across one
        account's positions and consumed. Empty when no BLP can take a single lot."""
        notional = abs(size) * m.mark
        imf = m.spec.base_imf
        caps = [(a, min(window, free / imf)) for a, (window, free) in sorted(capacities.items())]
        caps = [(a, c) for a, c in caps if c > 0]
        total = sum((c for _, c in caps), ZERO)
        if not caps:
            return []
        lots = int(abs(size) / m.lot)
        if total < notional:  # not enough for all of it: each takes the whole lots it may
            lot_value = m.lot * m.mark
            shares = [(a, int(c / lot_value)) for a, c in caps]
        else:
            shares = [(a, int(lots * c / total)) for a, c in caps]
            left = lots - sum(n for _, n in shares)
            if left:
                best = min(caps, key=lambda ac: (-ac[1], ac[0]))[0]
                shares = [(a, n + left if a == best else n) for a, n in shares]
        sign = 1 if size > 0 else -1
        for a, n in shares:
            window, free = capacities[a]
            taken = n * m.lot * m.mark
            capacities[a] = (window - taken, free - taken * imf)
        return [(a, sign * n * m.lot) for a, n in shares if n]

    # --- stage 3: backstop takeover ------------------------------------------------------

    def _backstop(self, acct: Account, sums: Sums, fund_start: Decimal) -> str | None:
        """Hand the positions to BLPs; None when they took all of them (or the stage was
        refused and halted), else why the caller must close what is left on the book, then
        ADL (the words the book close reports). E_mm >= 0: the account closes at zero prices
        and BLPs take at 2/3 ZP + 1/3 M; E_mm < 0: BLPs take at the mark and the fund pays
        the deficit, so only a deficit within the fund's step budget is taken over.

        BLPs short of capacity take what they can and the rest goes to the book: the part they
        take costs the fund nothing, where a book close past the zero price may cost it.
        Only a complete takeover passes the coins and closes the account out; a partial one
        leaves the account its coins, its rest and the equity that backs the rest (closing a
        part at its zero price spends exactly that part's share of the equity)."""
        rows = self._open_positions(acct)
        allocations = []
        capacities = self._blp_capacities()
        complete = True
        for m, pos, mmf in rows:
            shares = self._allocate(m, pos.size, capacities)
            complete = complete and sum((q for _, q in shares), ZERO) == pos.size
            if shares:
                allocations.append((m, pos, mmf, shares))
        if not allocations:
            return self._no_blp_reason()
        solvent = sums.equity >= 0
        budget = self._fund_budget(fund_start)
        if not solvent and -sums.equity > budget:
            # the fund cannot pay this deficit in one step: book, then the fund's budget and ADL
            return (f"deficit {usd_text(-sums.equity)} USD exceeds the fund's step budget "
                    f"{usd_text(budget)} USD: no backstop takeover at the mark")  # fmt: skip
        plan = Plan({}, [], [], ZERO)
        fund_before = self._fund()
        prices: dict[str, tuple[Decimal, Decimal]] = {}
        parts: dict[str, Decimal] = {}  # each market's own cash to the fund
        for m, pos, mmf, shares in allocations:
            if solvent:
                # rounded in the account's favour, the BLP's price in the fund's: residuals >= 0
                long = pos.size > 0
                zp = self._round_tick(self._zero_price(m, pos.size, sums, mmf), m, up=long)
                blp_price = self._round_tick(TWO_THIRDS * zp + ONE_THIRD * m.mark, m, up=long)
                blp_price = max(blp_price, zp) if long else min(blp_price, zp)
            else:
                zp = blp_price = m.mark
            prices[m.symbol] = (zp, blp_price)
            fund_so_far = plan.fund_delta
            for blp, q in shares:
                self._trade_legs(plan, m.symbol, acct.account_id, -q, zp, blp, blp_price)
                if blp not in plan.counterparties:
                    plan.counterparties.append(blp)
            parts[m.symbol] = plan.fund_delta - fund_so_far
        residual = ZERO  # closing out: the rounding residual (>= 0), or the deficit paid (< 0)
        if complete:
            receiver = max(allocations[0][3], key=lambda s: abs(s[1]))[0]
            self._pass_collateral(plan, acct, receiver)
            fund_so_far = plan.fund_delta
            self._close_out(plan, acct, keeps_collateral=False)
            residual = plan.fund_delta - fund_so_far
        try:
            self._commit(plan, TxType.BACKSTOP, f"backstop {acct.account_id}", allocations[0][0])
        except StageRefused as why:
            self._halt_stage(acct, allocations[0][0], "backstop", str(why))
            return None
        for m, _, _, shares in allocations:
            for blp, q in shares:
                self._accounts[blp].backstop_takeovers.append((self.now_ms, abs(q) * m.mark))
        self._announce_takeovers(acct, allocations, sums, prices, parts, residual, fund_before)
        return None if complete else "the rest is beyond the backstop providers' capacity left"

    def _announce_takeovers(
        self, acct: Account,
        allocations: list[tuple[MarketRuntime, Position, Decimal, list[tuple[str, Decimal]]]],
        before: Sums, prices: dict[str, tuple[Decimal, Decimal]], parts: dict[str, Decimal],
        residual: Decimal, fund_before: Decimal,
    ) -> None:  # fmt: skip
        """One "backstop" event per market, each with its own part: the fund, the equity and
        the MMR run on from one event to the next and the last ends where the ledger does.

        Why: the takeover is one transaction for all the account's markets, and each event
        used to give the whole transaction's fund move and deficit, so a class read the same
        payment once per market (8,558.69 twice for BTC and ETH). The close-out's part (the
        rounding residual, or the deficit the fund pays) is the account's, paid once: it is
        on the last event, and the others say so."""
        after = self._sums(acct)
        last = allocations[-1][0]
        fund, equity, mmr = fund_before, before.equity, before.mmr
        for m, pos, mmf, shares in allocations:
            size = sum((q for _, q in shares), ZERO)
            zp, blp_price = prices[m.symbol]
            part = parts[m.symbol]
            if m is last:
                part += residual
                fund_after, equity_after, mmr_after = self._fund(), after.equity, after.mmr
            else:
                fund_after = fund + part
                equity_after = equity - size * (m.mark - zp)  # sold at zp (bought, short)
                rest = pos.size - size
                _, rest_mmf = self._fractions(acct, m, rest, abs(rest))
                mmr_after = mmr - (mmf * abs(pos.size) - rest_mmf * abs(rest)) * m.mark
            if before.equity >= 0:
                # the BLPs take the account's side: a long they buy, a short they sell (they
                # "pay" the price only for a long: a class read it for a short taken over)
                taken = "long" if pos.size > 0 else "short"
                how = (f"at the zero price {price_text(zp, m)}; the BLPs take the {taken} at "
                       f"{price_text(blp_price, m)} (2/3 ZP + 1/3 mark, rounded to the tick in "
                       f"the fund's favour), the difference {usd_text(parts[m.symbol])} USD to "
                       "the fund")  # fmt: skip
                if m is last and residual:
                    how += (f", and {usd_text(residual)} USD of rounding as the account closes "
                            "out")  # fmt: skip
            else:
                how = f"at the mark {price_text(zp, m)}"
                if residual and m is last:
                    how += f"; the fund pays the deficit {move_text(part, fund)} USD"
                    if len(allocations) > 1:
                        how += " (the account's, once, for all its positions)"
                elif residual:
                    how += (f"; the account's deficit is paid once, with the {last.symbol} "
                            "takeover")  # fmt: skip
            if size != pos.size:
                how = (f"{how}: {size_text(abs(size), m)} of {size_text(abs(pos.size), m)}, all "
                       "the providers' capacity left; the rest goes to the book")  # fmt: skip
            blps = tuple(b for b, _ in shares)
            self._emit_stage(acct, m, "backstop", size, None, replace(before, equity=equity,
                             mmr=mmr), replace(after, equity=equity_after, mmr=mmr_after), blps,
                             fund, fund_after, how, fill_price=zp,
                             counter_price=blp_price)  # fmt: skip
            fund, equity, mmr = fund_after, equity_after, mmr_after

    def _blps_may_take_later(self, m: MarketRuntime) -> bool:
        """Some BLP could take a lot of `m` once its minute and hour windows refill: it exists,
        is short of its hard loss cap, is not itself liquidatable, has the free margin for a
        lot at the base IMF, and its configured windows are at least a lot's worth. Counting
        any BLP under its cap left an account open for good beside one with no money or a
        window smaller than a lot (review)."""
        cfg = self.config
        lot_value = m.lot * m.mark
        if min(cfg.backstop_minute_capacity, cfg.backstop_hour_capacity) < lot_value:
            return False
        for name in cfg.backstop_accounts:
            acct = self._accounts.get(name)
            if acct is None or acct.kind != "backstop":
                continue
            sums = self._sums(acct)
            if self._stands_aside(acct, sums):
                continue
            if (sums.initial_equity - sums.imr) / m.spec.base_imf >= lot_value:
                return True
        return False

    def _no_blp_later_words(self, markets: list[MarketRuntime]) -> str:
        """Why no BLP can take these markets' positions, even once its windows refill (what
        `_blps_may_take_later` found), true to the set-up: "there are no backstop providers"
        when none exists (gap), else each provider's reason (squeeze: hlp at its loss cap).
        It read "no backstop provider can take over, even once its capacity refills" in a
        lesson that has no providers, beside stage 3 lines saying "no backstop providers"."""
        cfg = self.config
        blps = [self._accounts[name] for name in sorted(cfg.backstop_accounts)
                if name in self._accounts and self._accounts[name].kind == "backstop"]  # fmt: skip
        if not blps or not markets:
            return f"there are {NO_BLPS}"
        m = markets[0]
        lot_value = m.lot * m.mark
        notes = []
        if min(cfg.backstop_minute_capacity, cfg.backstop_hour_capacity) < lot_value:
            notes.append(f"their capacity ({usd_text(cfg.backstop_minute_capacity)} USD a "
                         f"minute, {usd_text(cfg.backstop_hour_capacity)} USD an hour) is "
                         f"less than a lot of {m.symbol}")  # fmt: skip
        else:
            for blp in blps:
                sums = self._sums(blp)
                if self._at_loss_cap(blp, sums):
                    notes.append(f"{blp.account_id} at its loss cap "
                                 f"{usd_text(cfg.backstop_loss_cap)} USD")  # fmt: skip
                elif sums.equity < sums.mmr or blp.liquidation_status is not None:
                    notes.append(f"{blp.account_id} itself under its maintenance margin")
                else:
                    free = max(ZERO, sums.initial_equity - sums.imr)
                    notes.append(f"{blp.account_id}: free margin {usd_text(free)} USD, not a "
                                 f"lot's worth of {m.symbol}")  # fmt: skip
        why = "; ".join(notes)
        return f"no backstop provider can take over, even once its capacity refills ({why})"

    def _stands_aside(self, blp: Account, sums: Sums) -> bool:
        """A BLP that takes nothing whatever its windows: at its hard loss cap, or itself
        liquidatable (under maintenance, or under liquidation)."""
        return (
            self._at_loss_cap(blp, sums)
            or sums.equity < sums.mmr
            or blp.liquidation_status is not None
        )

    def _at_loss_cap(self, blp: Account, sums: Sums) -> bool:
        """The BLP has lost its hard loss cap since its baseline (the JELLY lesson): skipped."""
        baseline = blp.backstop_baseline
        return baseline is not None and baseline - sums.equity >= self.config.backstop_loss_cap

    def _no_blp_reason(self) -> str:
        """Why no BLP takes a single lot: none exist, or each one's limit, in words."""
        cfg = self.config
        notes = []
        accounts = self._accounts  # by the configured names: sorting all 100,000 accounts for
        # each account a crash liquidates made the crash bench 4x slower
        for name in sorted(self.config.backstop_accounts):
            acct = accounts.get(name)
            if acct is None:
                continue
            window = self._blp_capacity(acct)  # also sets the loss-cap baseline
            sums = self._sums(acct)
            if self._at_loss_cap(acct, sums):
                notes.append(f"{acct.account_id} at its loss cap {usd_text(cfg.backstop_loss_cap)}"
                             " USD")  # fmt: skip
            elif sums.equity < sums.mmr or acct.liquidation_status is not None:
                notes.append(f"{acct.account_id} itself under its maintenance margin")
            elif window <= 0:
                notes.append(f"{acct.account_id} used its minute or hour capacity")
            else:
                free = max(ZERO, sums.initial_equity - sums.imr)
                notes.append(f"{acct.account_id}: capacity {usd_text(window)} USD, free margin "
                             f"{usd_text(free)} USD, not a lot's worth")  # fmt: skip
        if not notes:
            return NO_BLPS
        return "no backstop provider can take it (" + "; ".join(notes) + ")"

    def _pass_collateral(self, plan: Plan, acct: Account, receiver: str) -> None:
        """Non-USD collateral passes to the BLP at its weighted value (MECHANICS 4, stage 3)."""
        for asset, amount in list(self._ledger.balances[acct.account_id].items()):
            if asset == "USD" or amount <= 0:
                continue
            wt, _ = self._weights(asset, amount)
            value = quantize_usd(amount * self.prices[asset] * wt)
            plan.legs += [(acct.account_id, asset, -amount), (receiver, asset, amount),
                          (receiver, "USD", -value), (acct.account_id, "USD", value)]  # fmt: skip

    def _close_out(self, plan: Plan, acct: Account, keeps_collateral: bool) -> None:
        """A closed-out account ends at 0 equity: the tick-rounding residual goes to the fund.

        Its USD ends at 0, or (when it keeps its coins, after ADL) at minus their weighted
        value rounded down, so that equity is 0 to the USD quantum and never below."""
        usd = self._ledger.balance(acct.account_id, "USD")
        usd += sum((a for who, asset, a in plan.legs if who == acct.account_id and asset == "USD"),
                   ZERO)  # fmt: skip
        target = ZERO
        if keeps_collateral:
            for asset, amount in self._ledger.balances[acct.account_id].items():
                if asset != "USD" and amount > 0:
                    wt, _ = self._weights(asset, amount)
                    target -= amount * self.prices[asset] * wt
            target = quantize_usd_up(target)
        residual = usd - target
        if residual:
            plan.legs += [(acct.account_id, "USD", -residual), (INSURANCE, "USD", residual)]
            plan.fund_delta += residual

    def _fund_budget(self, fund_start: Decimal) -> Decimal:
        """Stage 4: what the fund may lose for one account in this tick."""
        budget = min(self._fund(), fund_start * self.config.insurance_step_fraction)
        return max(ZERO, quantize_usd_down(budget))  # a USD amount: to the quantum

    # --- stage 4: the insurance fund pays a deficit -----------------------------------------

    def _cover_deficit(self, acct: Account, fund_start: Decimal) -> bool:
        """A flat account with negative equity: its coins pass to the fund at their weighted
        value first (so the fund never pays a deficit the account could pay itself), then the
        fund pays what is left, up to its step budget. Returns whether it was announced: a
        payment of 0.00 of a 0.00 deficit (a residue below the cent) is booked but is not an
        event, since nothing a reader can see happened (a class read "the fund paid 0.00 of
        the 0.00 USD deficit"); if the account's coins passed, the event says that instead.

        When the fund's USD cannot buy the coins as well as pay, the coins stay with the
        account and the fund pays only the deficit (MECHANICS 4.4: it pays while it stays >= 0,
        within its step budget). The purchase and the payment used to be one plan checked
        against fund >= 0 as a whole, so a fund of 1,000 USD facing coins worth 2,925 refused
        a 75 USD deficit every second, for good, and the account stayed "bankrupt". Why keep
        the coins rather than buy the part the fund can afford: the purchase is no loss to
        the fund (USD for coins at the value the equity counts them at), so the deficit is the
        same either way, and the account's USD loan is then backed by its coins at equity >= 0
        (the payment is rounded up to the USD quantum), the state a close-out by ADL already
        leaves (_close_out, keeps_collateral). A part bought would change the weight of the
        rest (the haircut depends on the amount), moving the equity the payment was for."""
        if any(p.size for p in acct.positions.values()):
            return False
        sums = self._sums(acct)
        if sums.equity >= 0:
            return False
        budget = self._fund_budget(fund_start)
        plan = Plan({}, [], [], ZERO)
        self._pass_collateral(plan, acct, INSURANCE)
        coins = -sum((a for who, asset, a in plan.legs if who == INSURANCE and asset == "USD"),
                     ZERO)  # fmt: skip
        usd = self._ledger.balance(acct.account_id, "USD") + sum(
            (a for who, asset, a in plan.legs if who == acct.account_id and asset == "USD"), ZERO
        )
        pay = min(-usd, budget) if usd < 0 else ZERO
        kept = coins > 0 and self._fund() - coins - pay < 0
        if kept:  # the fund cannot buy the coins: they stay, and it pays only the deficit
            plan = Plan({}, [], [], ZERO)
            pay = min(quantize_usd_up(-sums.equity), budget)
        if pay > 0:
            plan.legs += [(INSURANCE, "USD", -pay), (acct.account_id, "USD", pay)]
        if not plan.legs:
            return False
        before = self._fund()
        try:
            self._commit(plan, TxType.INSURANCE_COVER, f"deficit of {acct.account_id}", None)
        except StageRefused as why:
            self._halt_stage(acct, None, "insurance", str(why))
            return True  # the refusal was announced
        deficit, paid = usd_text(-sums.equity), usd_text(pay)
        bought = f"the account's coins at their weighted value {usd_text(coins)}"
        if deficit == paid == usd_text(ZERO):  # under half a cent: "paid 0.00 of 0.00"
            if not any(asset != "USD" for _, asset, _ in plan.legs):
                return False
            # coins the account kept after a close-out dipped a little: what happened is
            # the purchase, which moved the fund's USD and took the coins
            words = f"a deficit under a cent: the fund bought {bought}"
        else:
            if not coins or kept:  # the fund's USD moved by the payment alone
                paid = move_text(-pay, before)
            words = f"the fund paid {paid} of the {deficit} USD deficit"
            if kept:
                words += (f"; the account keeps its coins (weighted value {usd_text(coins)} "
                          f"USD, more than the fund's {usd_text(before)} USD could buy), which "
                          "back its USD loan")  # fmt: skip
            elif coins:  # the fund's USD moved by both
                words += f", after buying {bought}"
        self._emit_stage(acct, None, "insurance", None, None, sums, self._sums(acct), (),
                         before, self._fund(), words)  # fmt: skip
        return True

    # --- stage 5: auto-deleveraging -----------------------------------------------------------

    def _adl_ranking(
        self,
        m: MarketRuntime,
        long_side: bool,
        equity_of: Callable[[Account], Decimal] | None = None,
    ) -> list[tuple[Decimal, Decimal, str]]:
        """Positions on one side ranked first-in-line first: (M/EP or EP/M) * leverage.

        For execution it is ranked once per tick and side (it costs an equity sum per position);
        callers read each account's current position, so sizes closed earlier in the same tick
        are respected. `equity_of` lets the quintile refresh share one equity per account."""
        key = (m.symbol, long_side)
        cached = self._adl_cache.get(key)
        if equity_of is None and cached is not None and cached[0] == self.now_ms:
            return cached[1]
        rows = []
        floor = Decimal("0.01")
        for acct in self._accounts.values():
            pos = acct.positions.get(m.symbol)
            if pos is None or pos.size == 0 or (pos.size > 0) != long_side:
                continue
            if acct.liquidation_status is not None:
                continue
            equity = equity_of(acct) if equity_of is not None else self._equity(acct)
            pnl = m.mark / pos.entry_price if pos.size > 0 else pos.entry_price / m.mark
            score = pnl * (abs(pos.size) * m.mark / max(equity, floor))
            rows.append((-score, -abs(pos.size), acct.account_id))
        rows.sort()
        if equity_of is None:
            self._adl_cache[key] = (self.now_ms, rows)
        return rows

    def _adl(self, acct: Account, sums: Sums, fund_start: Decimal, why_adl: str = "") -> None:
        """Close every position of a bankrupt account at its zero price against the top-ranked
        opposite positions; their orders in that market are canceled. The fund first gives
        what its step budget allows (ADL only takes what BLPs and the fund cannot), which moves
        the zero prices towards the marks. One ledger transaction; two events when the fund
        gave: stage 4 "insurance" (its payment), then stage 5 "adl" (the rest).

        `why_adl`: the caller's words for why ADL runs though the fund's budget covers the whole
        deficit (nothing on the book and no BLP); the stage 4 event says it then, since "ADL
        takes the other 0.00" read as if ADL had nothing to do, above the ADL that ran."""
        rows = self._open_positions(acct)
        plan = Plan({}, [], [], ZERO)
        fund_before = self._fund()
        budget = self._fund_budget(fund_start)
        gift = min(-sums.equity, budget) if sums.equity < 0 else ZERO
        before_gift = sums
        if gift > 0:
            plan.legs += [(INSURANCE, "USD", -gift), (acct.account_id, "USD", gift)]
            sums = replace(sums, equity=sums.equity + gift,
                           initial_equity=sums.initial_equity + gift)  # fmt: skip
        # (market, size closed, price on the tick, takers, the exact zero price, the position's
        # size before and its MMF: what each market's event needs to report its own step)
        done: list[
            tuple[MarketRuntime, Decimal, Decimal, list[str], Decimal, Decimal, Decimal]
        ] = []
        for m, pos, mmf in rows:
            # rounded in the bankrupt account's favour, so the close-out residual is >= 0
            exact = self._zero_price(m, pos.size, sums, mmf)
            zp = self._round_tick(exact, m, up=pos.size > 0)
            if zp <= 0:
                zp = m.tick
            remaining = abs(pos.size)
            takers: list[str] = []
            for _, _, other in self._adl_ranking(m, long_side=pos.size < 0):
                if remaining == 0:
                    break
                if self._accounts[other].liquidation_status is not None:
                    continue  # in liquidation since the ranking was made this tick
                theirs = self._copy_pos(plan, other, m.symbol).size
                if theirs == 0 or (theirs > 0) != (pos.size < 0):
                    continue  # closed earlier in this tick
                their = abs(theirs)
                q = min(remaining, their)
                signed = -q if pos.size > 0 else q  # the bankrupt account's trade
                self._trade_legs(plan, m.symbol, acct.account_id, signed, zp, other, zp)
                takers.append(other)
                remaining -= q
            done.append((m, pos.size - (remaining if pos.size > 0 else -remaining), zp, takers,
                         exact, pos.size, mmf))  # fmt: skip
        if not any(takers for _, _, _, takers, *_ in done):
            return
        if all(self._copy_pos(plan, acct.account_id, m.symbol).size == 0 for m, *_ in done):
            self._close_out(plan, acct, keeps_collateral=True)
        try:
            self._commit(plan, TxType.ADL, f"adl {acct.account_id}", done[0][0])
        except StageRefused as why:
            self._halt_stage(acct, done[0][0], "adl", str(why))
            return
        fund_gave = fund_before - gift
        if gift > 0:  # stage 4 before stage 5: the fund's part is its own step
            words = self._adl_fund_words(
                -before_gift.equity, gift, budget, len(done), why_adl, fund_before
            )
            self._emit_stage(acct, None, "insurance", None, None, before_gift, sums, (),
                             fund_before, fund_gave, words)  # fmt: skip
        self._announce_adl(acct, done, sums, fund_gave)

    def _announce_adl(
        self, acct: Account,
        done: list[tuple[MarketRuntime, Decimal, Decimal, list[str], Decimal, Decimal, Decimal]],
        before: Sums, fund_before: Decimal,
    ) -> None:  # fmt: skip
        """Cancel the takers' orders in each market, and one "adl" event per market, each with
        its own step: the equity and the MMR run on from one event to the next, and the last
        ends where the ledger does (with the close-out's rounding residual, which goes to the
        fund once, for the account). The ADL is one transaction for all the account's markets;
        each event used to give the whole transaction's equity and fund move, so the residual
        read as paid once per market (as the backstop's events did, _announce_takeovers)."""
        after = self._sums(acct)
        last = done[-1][0]
        fund, equity, mmr = fund_before, before.equity, before.mmr
        for m, size, zp, takers, exact, held, mmf in done:
            for other in takers:
                for order in [o for o in self._accounts[other].open_orders.values()
                              if o.market == m.symbol]:  # fmt: skip
                    self._finish_cancel(order, CancelReason.ADL)
                self._flush_book(m)
            if m is last:
                fund_after, equity_after, mmr_after = self._fund(), after.equity, after.mmr
            else:  # the takers trade at zp both ways: nothing of this market's close to the fund
                fund_after = fund
                equity_after = equity + size * (zp - m.mark)  # sold at zp (bought, a short)
                rest = held - size
                _, rest_mmf = self._fractions(acct, m, rest, abs(rest))
                mmr_after = mmr - (mmf * abs(held) - rest_mmf * abs(rest)) * m.mark
            words = f"at the bankrupt position's zero price {price_text(zp, m)}"
            # the rounding is said when it shows (a class read the fund's extra cents as a
            # mistake), compared as shown: an exact zero price a residue off the tick
            # (93,949.999...) read "zero price 93,950.00, 93,950.00 on the tick (rounded ...)"
            if price_text(zp, m) != price_text(exact, m):
                words = (f"at the bankrupt position's zero price {price_text(exact, m)}, "
                         f"{price_text(zp, m)} on the tick (rounded in the account's favour: "
                         "what that leaves goes to the fund)")  # fmt: skip
            self._emit_stage(acct, m, "adl", size, zp, replace(before, equity=equity, mmr=mmr),
                             replace(after, equity=equity_after, mmr=mmr_after), tuple(takers),
                             fund, fund_after, words, fill_price=zp,
                             counter_price=zp)  # fmt: skip
            fund, equity, mmr = fund_after, equity_after, mmr_after

    @staticmethod
    def _adl_fund_words(
        deficit: Decimal, gift: Decimal, budget: Decimal, positions: int, why: str,
        fund_before: Decimal,
    ) -> str:  # fmt: skip
        """Stage 4 before ADL, in words. "its step budget" only when the budget limited the
        payment, and "ADL takes the other ..." only when something is left for it: a class
        read "the fund paid 952.30 of the 952.30 USD deficit, its step budget; ADL takes the
        other 0.00" for a payment below a budget of 1,080.00. When the fund paid it all, ADL
        still closes the position, at the zero price that now leaves no equity: say why. The
        payment is to the cent unless that breaks the fund's sum on the line (move_text)."""
        paid = move_text(-gift, fund_before)
        if gift < deficit:
            return (f"the fund paid {paid} of the {usd_text(deficit)} USD deficit, "
                    f"all of its step budget; ADL takes the other {usd_text(deficit - gift)} "
                    "at the zero price")  # fmt: skip
        closes = "the positions" if positions > 1 else "the position"
        words = (f"the fund paid the whole {paid} USD deficit, within its step "
                 f"budget {usd_text(budget)} USD; ADL still closes {closes} at the zero price, "
                 "which now leaves no equity")  # fmt: skip
        return f"{words}: {why}" if why else words

    def _equity(self, acct: Account) -> Decimal:
        """E_mm alone (collateral at its weights plus unsettled PnL): no requirements."""
        equity = ZERO
        for asset, amount in self._ledger.balances[acct.account_id].items():
            if amount > 0:
                equity += amount * self.prices[asset] * self._weights(asset, amount)[0]
            elif amount < 0:
                equity += amount * self.prices[asset]
        for symbol, pos in acct.positions.items():
            if pos.size:
                equity += pos.size * (self._markets[symbol].mark - pos.settle_price)
        return equity

    def _refresh_adl_quintiles(self) -> None:
        """Each position's place in the ADL queue: 5 = first in line (MECHANICS 4, stage 5)."""
        equities: dict[str, Decimal] = {}

        def equity_of(acct: Account) -> Decimal:
            found = equities.get(acct.account_id)
            if found is None:
                found = equities[acct.account_id] = self._equity(acct)
            return found

        for acct in self._accounts.values():
            acct.adl_quintiles = {}
        for m in self._markets.values():
            for long_side in (True, False):
                ranking = self._adl_ranking(m, long_side, equity_of)
                n = len(ranking)
                for rank, (_, _, account) in enumerate(ranking):
                    self._accounts[account].adl_quintiles[m.symbol] = 5 - (rank * 5) // n
