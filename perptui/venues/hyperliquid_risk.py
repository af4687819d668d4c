"""Our own numbers for a watched Hyperliquid account, beside the venue's.

The venue's data becomes exchange_local's inputs (MECHANICS sections 1-3) with Hyperliquid's
maintenance convention, and exchange_local's pure functions do the rest:

- Equity: the cross account value E = `crossMarginSummary.accountValue`. It is split as one
  USDC collateral line `E - sum(unrealized)` (weight 1: HL margins in USDC at par) plus each
  position's unrealised PnL, with settle price := entry (HL settles nothing every 30 s, so
  "unsettled" is the unrealised PnL). `accountValue = totalRawUsd + sum(szi * markPx)` holds
  by construction.
- Mark: `positionValue / |szi|`, the mark the venue valued the position at in the same answer
  (so E, the venue's maintenance and its liquidationPx are all of one instant).
- Maintenance: HL's "half of the initial margin at max leverage" per margin tier [DOC "Margin
  tiers"]: `MM = notional * 1/(2 * tierMaxLev) - deduction`. MMF := 1/(2 * tierMaxLev).
- IMF := 1 / the position's leverage (HL's margin used = notional / leverage).
- p_liq: `margin.liquidation_price(E, s, M, MMF, MMR - MMF*|s|*M)`, which is exactly HL's
  published `liq = price - side * margin_available / |size| / (1 - l * side)` with
  `margin_available = E - MMR` and `l = MMF` (tests check the algebra on the fixtures).
- p_bk: `margin.bankruptcy_price(E, s, M)`: where the cross account value reaches 0 with this
  market alone moving. Hyperliquid does not publish it.
- Isolated positions are their own account: E_iso = rawUsd + szi * mark (or marginUsed when
  rawUsd is absent), no other maintenance.

The health record is the whole account: E_mm is HL's total `marginSummary.accountValue`, each
isolated margin being one more USDC line (an `IsolatedMarginLine`, labelled with its market,
so it does not read as a second copy of the cross USDC), so the panel and the stress grid
agree. For an all-cross account (the usual case) its E_mm, MMR and margin usage are HL's
cross figures (`crossMaintenanceMarginUsed / crossMarginSummary.accountValue`) when ours and
HL's maintenance agree; `WatchedRisk.maintenance` compares them with the liquidation prices'
0.5 % tolerance, because a gauge computed by our reading of HL's tiers would otherwise be
trusted silently. With isolated positions the MMR and usage pool them (an approximation for
the gauge only: every position's liquidation and bankruptcy prices are computed on its own
margin, and the status word is the cross account's). IMR counts each isolated margin whole
(HL's `marginUsed` for it: all of it is locked in that position), so E_mm - IMR is the cross
account's free margin, and Free is HL's own `withdrawable` where the answer has it: the
isolated margin beyond notional / leverage backs nothing else. ACMR is HL's backstop level,
2/3 of maintenance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from exchange_local import margin
from exchange_local.engine import MarketState
from exchange_local.explain import Explanation
from exchange_local.health import AccountHealth, CollateralLine, OrderPreview, PositionRisk
from exchange_local.margin import CollateralInput, PositionInput
from perptui.stress import ALL, StressCell, classify, shocked_risk, stress_cell
from perptui.venues.hyperliquid_wire import (
    AssetInfo,
    HLAccount,
    HLPosition,
    HyperliquidError,
    MarginTier,
)

ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
MISMATCH = Decimal("0.005")  # flag ours vs the venue's liquidation price beyond 0.5 %
CENT = Decimal("0.01")  # maintenance differences below a cent are the venue's rounding
BACKSTOP_SHARE = Decimal(2) / Decimal(3)  # HL: backstop below 2/3 of maintenance [DOC]
COLLATERAL = "USDC"
READ_ONLY = "Hyperliquid watch mode is read-only: "


@dataclass(frozen=True, slots=True)
class Maintenance:
    """HL's maintenance for one position at its notional: MM = MMF * notional - deduction."""

    mmf: Decimal
    deduction: Decimal
    tier_max_leverage: Decimal

    def of(self, notional: Decimal) -> Decimal:
        return self.mmf * notional - self.deduction


def maintenance(tiers: Sequence[MarginTier], notional: Decimal) -> Maintenance:
    """The tier that holds `notional` and its deduction (continuous across tiers) [DOC]:
    ded(0) = 0, ded(n) = ded(n-1) + lowerBound(n) * (rate(n) - rate(n-1))."""
    if not tiers:
        raise HyperliquidError("no margin tier for this asset")
    ordered = sorted(tiers, key=lambda t: t.lower_bound)
    rate = ONE / (TWO * ordered[0].max_leverage)
    deduction = ZERO
    chosen = Maintenance(rate, deduction, ordered[0].max_leverage)
    for tier in ordered[1:]:
        if notional < tier.lower_bound:
            break
        new_rate = ONE / (TWO * tier.max_leverage)
        deduction += tier.lower_bound * (new_rate - rate)
        rate = new_rate
        chosen = Maintenance(rate, deduction, tier.max_leverage)
    return chosen


@dataclass(frozen=True, slots=True)
class LiquidationCheck:
    """Ours against the venue's liquidation price for one position (the UI's "venue liq" and
    "≠" columns). `difference` = |ours - venue| / venue; `mismatch` when it exceeds 0.5 %, or
    when exactly one of the two has a price."""

    market: str
    ours: Decimal | None
    venue: Decimal | None
    difference: Decimal | None
    mismatch: bool
    bankruptcy: Decimal | None
    margin_mode: str  # "cross" | "isolated"
    maintenance_ours: Decimal  # this position's MM by HL's convention, at the venue's mark


def compare(ours: Decimal | None, venue: Decimal | None) -> tuple[Decimal | None, bool]:
    if ours is None and venue is None:
        return None, False
    if ours is None or venue is None or venue == 0:
        return None, True
    difference = abs(ours - venue) / abs(venue)
    return difference, difference > MISMATCH


@dataclass(frozen=True, slots=True)
class MaintenanceCheck:
    """Our cross maintenance (HL's convention per tier) against HL's own
    `crossMaintenanceMarginUsed`. The gauge, MMR and every liquidation price are ours, so a
    venue that counts differently (new tiers, another convention) must be flagged, as a
    liquidation price is: `mismatch` when they differ by more than 0.5 % of the venue's
    figure (and by a cent or more). `venue` None: an older answer without it (not flagged;
    the missing field has its own notice)."""

    ours: Decimal
    venue: Decimal | None
    difference: Decimal | None
    mismatch: bool


def compare_maintenance(ours: Decimal, venue: Decimal | None) -> MaintenanceCheck:
    if venue is None:
        return MaintenanceCheck(ours, None, None, False)
    gap = abs(ours - venue)
    if venue == 0:  # no cross position on HL's side: any maintenance of ours is a mismatch
        return MaintenanceCheck(ours, venue, None, gap >= CENT)
    difference = gap / abs(venue)
    return MaintenanceCheck(ours, venue, difference, difference > MISMATCH and gap >= CENT)


@dataclass(slots=True)
class IsolatedMarginLine(CollateralLine):
    """One isolated position's margin as a collateral line of the whole account: USDC (the
    stress grid must not shock it, so `asset` stays the unit), carrying what it is, so the
    panel can say "isolated SOL" beside a row that otherwise repeats "USDC"."""

    market: str = ""

    @property
    def label(self) -> str:
        """The row's words: "isolated SOL" (the coin, as HL names the position)."""
        return f"isolated {self.market.removesuffix('-PERP')}"


@dataclass(frozen=True, slots=True)
class WatchedRisk:
    """Everything derived from one `clearinghouseState`: the health record the UI shows, the
    exchange_local inputs behind it (explain, preview, stress), and the checks."""

    health: AccountHealth
    collateral: tuple[CollateralInput, ...]
    positions: tuple[PositionInput, ...]  # the cross positions: one account
    isolated: Mapping[str, tuple[tuple[CollateralInput, ...], PositionInput]]
    checks: Mapping[str, LiquidationCheck]
    venue_maintenance: Decimal | None  # crossMaintenanceMarginUsed (None on older answers)
    leverage: Mapping[str, Decimal]
    cross_equity: Decimal  # crossMarginSummary.accountValue
    cross_mmr: Decimal  # ours, by HL's convention: equals venue_maintenance when HL agrees
    maintenance: MaintenanceCheck  # cross_mmr against venue_maintenance, flagged beyond 0.5 %

    @property
    def cross_margin_ratio(self) -> Decimal | None:
        """HL's headline ratio: cross maintenance / cross account value (100 %: liquidation)."""
        return self.cross_mmr / self.cross_equity if self.cross_equity > 0 else None


def _tiers(p: HLPosition, infos: Mapping[str, AssetInfo]) -> tuple[MarginTier, ...]:
    info = infos.get(p.market)
    if info is not None:
        return info.tiers
    if p.max_leverage is not None:
        return (MarginTier(ZERO, p.max_leverage),)
    raise HyperliquidError(
        f"{p.market}: no maxLeverage in the position and no meta for it (cannot tell its "
        "maintenance margin)"
    )


def _input(p: HLPosition, mm: Maintenance) -> PositionInput:
    """MMF in the input is the effective rate at this notional (MM / notional), so MMR sums
    to HL's maintenance exactly; it equals the tier rate whenever the deduction is 0 (the
    first tier: every position below 150 M USD of BTC on mainnet)."""
    notional = abs(p.size) * p.mark
    mmf = mm.of(notional) / notional if notional else mm.mmf
    imf = ONE / p.leverage if p.leverage else ONE / mm.tier_max_leverage
    underlying = p.market.removesuffix("-PERP")
    return PositionInput(p.market, underlying, p.size, p.mark, p.entry_price, p.entry_price,
                         imf, mmf, abs(p.size))  # fmt: skip


def _cash(equity: Decimal, positions: Sequence[PositionInput]) -> tuple[CollateralInput, ...]:
    """One USDC line so that C_tot + sum(unsettled) = the venue's account value exactly."""
    upnl = margin.dsum(p.size * (p.mark - p.entry_price) for p in positions)
    return (CollateralInput(COLLATERAL, equity - upnl, ONE, ONE, ONE),)


def _own_liquidation(
    equity: Decimal, p: PositionInput, mm: Maintenance, mmr: Decimal
) -> Decimal | None:
    """HL's liquidation price with the tier's marginal rate (the deduction is constant)."""
    return margin.liquidation_price(
        equity=equity, size=p.size, mark=p.mark, mmf=mm.mmf,
        other_mmr=mmr - mm.mmf * abs(p.size) * p.mark,
    )  # fmt: skip


def watched_risk(account: HLAccount, infos: Mapping[str, AssetInfo], name: str) -> WatchedRisk:
    """The watched account as exchange_local sees it (module docstring for the mapping)."""
    cross_rows = [p for p in account.positions if p.leverage_type != "isolated"]
    iso_rows = [p for p in account.positions if p.leverage_type == "isolated"]
    tiers = {p.market: maintenance(_tiers(p, infos), abs(p.size) * p.mark)
             for p in account.positions}  # fmt: skip
    positions = tuple(_input(p, tiers[p.market]) for p in cross_rows)
    collateral = _cash(account.account_value, positions)
    risk = margin.account_risk(collateral, positions)
    rows: list[PositionRisk] = []
    checks: dict[str, LiquidationCheck] = {}
    by_market = {pm.market: pm for pm in risk.positions}
    for hp, pi in zip(cross_rows, positions, strict=True):
        pm = by_market[pi.market]
        ours = _own_liquidation(risk.equity, pi, tiers[hp.market], risk.mmr)
        rows.append(_row(hp, pi, pm, ours))
        checks[hp.market] = _check(hp, ours, pm.bankruptcy_price, "cross", pi)
    isolated: dict[str, tuple[tuple[CollateralInput, ...], PositionInput]] = {}
    locked = ZERO  # the isolated margins: each one whole, as HL's marginUsed counts it
    for hp in iso_rows:
        pi = _input(hp, tiers[hp.market])
        equity = hp.raw_usd + hp.size * hp.mark if hp.raw_usd is not None else hp.margin_used
        cash = _cash(equity, (pi,))
        iso = margin.account_risk(cash, (pi,))
        pm = iso.positions[0]
        ours = _own_liquidation(iso.equity, pi, tiers[hp.market], iso.mmr)
        rows.append(_row(hp, pi, pm, ours))
        checks[hp.market] = _check(hp, ours, pm.bankruptcy_price, "isolated", pi)
        isolated[hp.market] = (cash, pi)
        locked += max(ZERO, iso.equity)
    # the account as a whole: isolated margins are extra USDC lines, so E_mm is HL's total
    # accountValue and the stress grid sees every position (each row keeps its own prices)
    pooled_cash = collateral + tuple(c for cash, _ in isolated.values() for c in cash)
    pooled = margin.account_risk(pooled_cash, positions + tuple(p for _, p in isolated.values()))
    lines = [CollateralLine(c.asset, c.amount, c.price, ONE, ONE, c.amount) for c in collateral]
    lines += [IsolatedMarginLine(c.asset, c.amount, c.price, ONE, ONE, c.amount, market)
              for market, (cash, _) in isolated.items() for c in cash]  # fmt: skip
    # each isolated margin is locked whole in its position, so E_mm - IMR is the cross
    # account's free margin; Free is HL's withdrawable where given (module docstring)
    free = risk.equity - risk.imr if account.withdrawable is None else account.withdrawable
    health = AccountHealth(
        account=name, equity=pooled.equity, initial_equity=pooled.equity,
        collateral_total=pooled.c_tot, collateral_initial=pooled.c_init, collateral=lines,
        unsettled_pnl=pooled.unsettled_pnl, unrealized_pnl=pooled.unrealized_pnl,
        notional=pooled.notional, imr=risk.imr + locked, mmr=pooled.mmr,
        acmr=pooled.mmr * BACKSTOP_SHARE, margin_fraction=pooled.margin_fraction,
        margin_usage=pooled.margin_usage, free_collateral=free,
        leverage=pooled.leverage, status=_status(risk.equity, risk.mmr, risk.notional),
        warning=bool(risk.notional) and risk.equity < TWO * risk.mmr, positions=rows,
    )  # fmt: skip
    leverage = {p.market: p.leverage for p in account.positions if p.leverage is not None}
    held = compare_maintenance(risk.mmr, account.maintenance_used)
    return WatchedRisk(health, collateral, positions, isolated, checks,
                       account.maintenance_used, leverage, risk.equity, risk.mmr,
                       held)  # fmt: skip


def _status(equity: Decimal, mmr: Decimal, notional: Decimal) -> str:
    """The stress grid's classification with HL's backstop level; "warning" is the health
    record's separate flag, not a status."""
    status = classify(equity, mmr, mmr * BACKSTOP_SHARE, notional)
    return "ok" if status == "warning" else status


def _row(
    hp: HLPosition, pi: PositionInput, pm: margin.PositionMath, ours: Decimal | None
) -> PositionRisk:
    distance = None
    if ours is not None and pi.mark > 0:
        distance = ZERO if pm.liq_state != "ok" else abs(ours - pi.mark) / pi.mark
    return PositionRisk(
        market=hp.market, size=hp.size, entry_price=hp.entry_price, settle_price=pi.settle_price,
        mark_price=pi.mark, notional=abs(hp.size) * pi.mark,
        unsettled_pnl=pi.size * (pi.mark - pi.settle_price),
        unrealized_pnl=pi.size * (pi.mark - pi.entry_price), realized_pnl=ZERO,
        funding_paid=hp.funding_since_open if hp.funding_since_open is not None else ZERO,
        imf=pi.imf, mmf=pi.mmf, liquidation_price=ours, bankruptcy_price=pm.bankruptcy_price,
        zero_price=pm.zero_price, liquidation_state=pm.liq_state,
        distance_to_liquidation=distance,
    )  # fmt: skip


def _check(
    hp: HLPosition, ours: Decimal | None, bankruptcy: Decimal | None, mode: str, pi: PositionInput
) -> LiquidationCheck:
    difference, flagged = compare(ours, hp.liquidation_price)
    return LiquidationCheck(hp.market, ours, hp.liquidation_price, difference, flagged,
                            bankruptcy, mode, pi.mmf * abs(pi.size) * pi.mark)  # fmt: skip


def explain_watched(risk: WatchedRisk, market: str) -> Explanation:
    """`exchange_local.margin.explain` on the watched account's inputs (cross, or the isolated
    position's own account)."""
    if market in risk.isolated:
        cash, position = risk.isolated[market]
        return margin.explain(cash, (position,), market)
    if not any(p.market == market for p in risk.positions):
        raise HyperliquidError(f"the watched account has no {market} position to explain")
    return margin.explain(risk.collateral, risk.positions, market)


def preview_watched(
    risk: WatchedRisk, market: str, side: str, size: Decimal, price: Decimal, mark: Decimal,
    max_leverage: Decimal, user_leverage: Decimal | None = None,
) -> OrderPreview:  # fmt: skip
    """What a fill of `size` at `price` would do to the watched cross account at today's mark,
    by the same pure math: the fill's distance from the mark comes off equity at once (fees
    not estimated: they depend on the account's HL fee tier). Never sent."""
    signed = size if side == "buy" else -size
    before = margin.account_risk(risk.collateral, risk.positions)
    positions = list(risk.positions)
    old = next((p for p in positions if p.market == market), None)
    if old is None:
        new = PositionInput(market, market.removesuffix("-PERP"), signed, mark, price, price,
                            ONE / (user_leverage or max_leverage), ONE / (TWO * max_leverage),
                            abs(signed))  # fmt: skip
        positions.append(new)
    else:
        after_size = old.size + signed
        entry = _entry(old, signed, price)
        new = replace(old, size=after_size, open_size=abs(after_size), entry_price=entry,
                      settle_price=entry)  # fmt: skip
        positions[positions.index(old)] = new
    held = [p for p in positions if p.size]
    cash = _cash(before.equity - signed * (price - (old.mark if old else mark)), held)
    after = margin.account_risk(cash, held)
    pm_before = next((p for p in before.positions if p.market == market), None)
    pm_after = next((p for p in after.positions if p.market == market), None)
    return OrderPreview(
        market=market, side=side, size=size, est_fill_price=price, fillable_now=ZERO, fee=ZERO,
        imr_before=before.imr, imr_after=after.imr,
        free_collateral_before=before.equity - before.imr,
        free_collateral_after=after.equity - after.imr,
        margin_fraction_before=before.margin_fraction, margin_fraction_after=after.margin_fraction,
        liquidation_price_before=pm_before.liquidation_price if pm_before else None,
        liquidation_price_after=pm_after.liquidation_price if pm_after else None,
        bankruptcy_price_before=pm_before.bankruptcy_price if pm_before else None,
        bankruptcy_price_after=pm_after.bankruptcy_price if pm_after else None,
        position_before=old.size if old else ZERO, position_after=new.size,
        would_reject=READ_ONLY + "this is what the order would do; it cannot be sent from here",
        max_size=None,
        warnings=["fees not estimated (they depend on the account's Hyperliquid fee tier)"],
    )  # fmt: skip


def _entry(old: PositionInput, signed: Decimal, price: Decimal) -> Decimal:
    after = old.size + signed
    if after == 0 or old.size == 0 or (old.size > 0) != (after > 0):
        return price  # closed, opened or flipped: the new part's price
    if abs(after) < abs(old.size):
        return old.entry_price  # reduced: entry unchanged
    return (old.entry_price * old.size + price * signed) / after


# --- a price gap (the mirror reopening after a pause) -------------------------------------------


@dataclass(frozen=True, slots=True)
class GapImpact:
    """What the jump from the prices before a pause to the prices now does to an account."""

    moves: Mapping[str, Decimal]  # underlying -> fraction (0.05 = +5 %)
    before: StressCell
    after: StressCell

    @property
    def worse(self) -> bool:
        order = ("ok", "warning", "liquidating", "backstop", "bankrupt")
        return order.index(self.after.status) > order.index(self.before.status)


def gap_impact(
    health: AccountHealth,
    markets: Mapping[str, MarketState],
    old_prices: Mapping[str, Decimal],
    new_prices: Mapping[str, Decimal],
) -> GapImpact:
    """The account at the old prices and after the jump to the new ones, by perptui.stress
    (the exchange's own `account_risk`): every underlying moves by its own fraction at once.
    `health` is the account as it stands at the old prices (the market paused on them)."""
    moves = {
        u: new_prices[u] / old_prices[u] - 1
        for u in old_prices
        if u in new_prices and old_prices[u] > 0
    }
    before = stress_cell(health, markets, ALL, ZERO, ())
    risk = shocked_risk(health, markets, moves)
    after = StressCell(
        column=ALL, shock=max(moves.values(), key=abs, default=ZERO), equity=risk.equity,
        mmr=risk.mmr, acmr=risk.acmr, notional=risk.notional,
        margin_fraction=risk.margin_fraction, margin_usage=risk.margin_usage,
        status=classify(risk.equity, risk.mmr, risk.acmr, risk.notional),
    )  # fmt: skip
    return GapImpact(moves, before, after)
