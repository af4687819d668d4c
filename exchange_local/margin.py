"""Pure risk math of MECHANICS sections 1-3: weights, requirements, p_liq, p_bk, zero prices.

Why pure: the engine, the order preview, the server, the TUI, the stress screens and the tests
must all agree on one number for a liquidation price. So nothing here reads engine state; the
caller passes plain Decimals (or the two small input records) and gets Decimals back, unrounded
(MECHANICS section 0: displays round, the math does not).

Why "parts" functions: `explain` must show terms that sum *exactly* to the numerator and the
denominator used in each division. Rather than hoping two code paths round alike, the prices here
are computed from the very tuples of terms that `explain` displays, summed by `dsum` in one
fixed left-to-right order.

Relies on the decimal context installed by `exchange_local.money` (precision 34, half even).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from exchange_local.money import ONE, ZERO

if TYPE_CHECKING:
    from exchange_local.explain import Explanation

LiqState = Literal["ok", "now", "bankrupt"]

WEIGHT_CEILING = Decimal("1.1")  # FTX: 1.1 / (1 + f*sqrt(b)); the cap bites only for big b
MMF_SHARE = Decimal("0.6")  # MMF = 0.6 * max(baseIMF, f*sqrt|s|)
ACMR_NOTIONAL_SHARE = Decimal("0.06")  # ACMR = max(MMR/2, MMR - 0.06*N)
HALF = Decimal("0.5")
# Below this share of its threshold a size-scaled term cannot win its max/min, by a margin far
# wider than Decimal's rounding (34 digits): the floors below skip the sqrt with the same result.
_SQRT_SKIP = Decimal("0.999999999999")
_INFINITY = Decimal("Infinity")


def dsum(values: Iterable[Decimal]) -> Decimal:
    """Sum from 0, left to right: the one summation order used for every displayed term list.

    Decimal addition rounds at 34 digits, so (a+b)+c can differ from a+(b+c) in the last digit;
    fixing the order is what lets `explain`'s terms sum exactly to what the division used.
    It is also what `sum(terms, Decimal(0))` does, so a reader's own check agrees.
    """
    total = ZERO
    for value in values:
        total += value
    return total


def _positive_quotient(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """num/den, or None when no positive price solves it (den = 0 or solution <= 0)."""
    if denominator == 0:
        return None
    price = numerator / denominator
    return price if price > 0 else None


# --- section 1: collateral weights --------------------------------------------------------


def collateral_weight(w_max: Decimal, f: Decimal, balance: Decimal) -> Decimal:
    """FTX weight of a balance: min(w_max, 1.1 / (1 + f*sqrt(b))) for b > 0, else 1.

    Large balances count less because they are harder to sell in a liquidation; a liability
    (b <= 0, only USD may have one) counts in full, weight 1. Decimal sqrt costs about a
    microsecond, so callers cache the result per (asset, balance).
    """
    if balance <= 0:
        return ONE
    if f == 0:
        return w_max
    return min(w_max, WEIGHT_CEILING / (ONE + f * balance.sqrt()))


def balance_for_value(value: Decimal, price: Decimal, w_max: Decimal, f: Decimal) -> Decimal:
    """The smallest balance b whose weighted value b*price*collateral_weight(w_max, f, b)
    reaches `value` (0 when value <= 0), unrounded: what a withdrawal must leave.

    Why closed form: the value min(b*P*w_max, 1.1*P*b / (1 + f*sqrt(b))) grows with b in
    both branches, so the answer is the larger of the two branches' roots; with u = sqrt(b)
    the haircut branch is the quadratic 1.1*P*u^2 - value*f*u - value = 0. A bisection on
    the asset's quanta took some forty square roots for the same number.
    """
    if value <= 0:
        return ZERO
    flat = value / (price * w_max)
    if f == 0:
        return flat
    a = WEIGHT_CEILING * price
    u = (value * f + (value * value * f * f + 4 * a * value).sqrt()) / (2 * a)
    return max(flat, u * u)


# --- section 2: requirements ----------------------------------------------------------------


def open_size(size: Decimal, resting_buys: Decimal, resting_sells: Decimal) -> Decimal:
    """max(|s + buys|, |s - sells|): the worst position the resting orders could leave.

    Untriggered stops are the caller's to exclude; they are not resting liquidity.
    """
    return max(abs(size + resting_buys), abs(size - resting_sells))


def imf(
    user_leverage: Decimal | int, max_leverage: Decimal | int, f: Decimal, open_size: Decimal
) -> Decimal:
    """IMF = max(1/userLev, 1/maxLev, f*sqrt(open_size)): size scaling makes big books cost more.

    userLev is expected in [1, maxLev] (the engine validates it); a larger value is harmless
    because 1/maxLev then dominates.
    """
    base = ONE / Decimal(max_leverage)
    return max(ONE / Decimal(user_leverage), base, f * abs(open_size).sqrt())


def mmf(max_leverage: Decimal | int, f: Decimal, size: Decimal) -> Decimal:
    """MMF = 0.6 * max(1/maxLev, f*sqrt|s|): maintenance scales with the position actually held."""
    return MMF_SHARE * max(ONE / Decimal(max_leverage), f * abs(size).sqrt())


def fraction_floors(
    user_leverage: Decimal | int, max_leverage: Decimal | int, f: Decimal
) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(IMF floor, open size up to which IMF is that floor, MMF floor, |size| likewise).

    Why: the gates need IMF and MMF for every order, and below these sizes (nearly all orders)
    the answer is a constant: a comparison then replaces both the sqrt and a cache look-up,
    whose Decimal hashing cost more than the arithmetic. Below a limit f*sqrt(size) falls
    short of the floor by _SQRT_SKIP's margin, far more than rounding, so the constant is the
    very Decimal imf and mmf return there (tests/test_margin_fast_paths.py).
    """
    base = ONE / Decimal(max_leverage)
    user = ONE / Decimal(user_leverage)
    floor = user if user >= base else base
    mmf_floor = MMF_SHARE * base
    if f == 0:
        return floor, _INFINITY, mmf_floor, _INFINITY
    squeeze = _SQRT_SKIP * _SQRT_SKIP / (f * f)
    return floor, floor * floor * squeeze, mmf_floor, base * base * squeeze


def weight_floor_limit(w_max: Decimal, f: Decimal) -> Decimal:
    """Balance up to which collateral_weight is w_max itself (-1 when it never is)."""
    if f == 0:
        return _INFINITY
    room = WEIGHT_CEILING / w_max - ONE
    if room <= 0:
        return -ONE
    return room * room * _SQRT_SKIP * _SQRT_SKIP / (f * f)


def acmr(mmr: Decimal, notional: Decimal) -> Decimal:
    """Backstop threshold max(MMR/2, MMR - 0.06*N) (FTX auto-close margin requirement)."""
    return max(mmr * HALF, mmr - ACMR_NOTIONAL_SHARE * notional)


def liquidation_word(
    equity: Decimal, mmr: Decimal, acmr_: Decimal, notional: Decimal
) -> str | None:
    """Section 2's table below maintenance: "bankrupt" (E_mm < 0, with or without a position:
    a USD loan larger than the collateral), "backstop" (E_mm < ACMR) or "liquidating"
    (E_mm < MMR) with a position; None above it. One function for health() and the stress
    grid, which had each written the table (and disagreed on a flat account in debt)."""
    if equity < 0:
        return "bankrupt"
    if not notional:
        return None
    if equity < acmr_:
        return "backstop"
    if equity < mmr:
        return "liquidating"
    return None


# --- section 3: liquidation, bankruptcy and zero prices -------------------------------------


Parts = tuple[tuple[Decimal, ...], tuple[Decimal, ...]]  # (numerator terms, denominator terms)


def liquidation_parts(
    *, equity: Decimal, size: Decimal, mark: Decimal, mmf: Decimal, other_mmr: Decimal, k: Decimal
) -> Parts:
    """Terms of p_liq = (E - s*M - k*M - MMR_o) / (|s|*MMF - s - k), in display order.

    Solves E(p) = MMR(p) with E(p) = E + (s + k)(p - M) and MMR(p) = MMR_o + MMF*|s|*p.
    """
    numerator = (equity, -(size * mark), -(k * mark), -other_mmr)
    denominator = (abs(size) * mmf, -size, -k)
    return numerator, denominator


def bankruptcy_parts(*, equity: Decimal, size: Decimal, mark: Decimal, k: Decimal) -> Parts:
    """Terms of p_bk = (s*M + k*M - E) / (s + k), which is MECHANICS' M - E/(s + k) as one
    division, so a student recomputes it from two sums and one quotient."""
    return (size * mark, k * mark, -equity), (size, k)


def zero_price_parts(
    *, equity: Decimal, size: Decimal, mark: Decimal, mmf: Decimal, mmr: Decimal
) -> tuple[Decimal, tuple[Decimal, Decimal]] | None:
    """(PMPD, (M, -+M*PMPD)) with PMPD = MMF*E/MMR; ZP is the sum of the pair.

    Sharing E by MMR is what makes closing every position at its ZP leave exactly 0:
    sum_j |s_j|*M_j*PMPD_j = E * sum_j MMF_j|s_j|M_j / MMR = E. None for a flat position (nothing
    to close) or when MMR = 0 (no share to take).
    """
    if size == 0 or mmr == 0:
        return None
    pmpd = mmf * equity / mmr
    shift = mark * pmpd
    return pmpd, (mark, -shift if size > 0 else shift)


def liquidation_price(
    *,
    equity: Decimal,
    size: Decimal,
    mark: Decimal,
    mmf: Decimal,
    other_mmr: Decimal,
    same_underlying_collateral: Decimal = ZERO,
) -> Decimal | None:
    """Mark of this market at which E_mm = MMR, all else fixed (MECHANICS section 3).

    `same_underlying_collateral` is k, the weighted coins of the underlying held as collateral:
    they move with the mark, so the side alone does not tell the direction. Exactly, E - MMR
    moves with slope s + k - |s|*MMF: a fall liquidates when that is > 0 (a short hedged by
    k > |s|*(1 + MMF) coins included), a rise when it is < 0. Unrounded; None when the
    denominator is 0 or the solution is <= 0. Other venues' conventions fit by what the caller
    passes as equity, mark and other_mmr (tests/test_published_examples.py).
    """
    num, den = liquidation_parts(
        equity=equity, size=size, mark=mark, mmf=mmf, other_mmr=other_mmr,
        k=same_underlying_collateral,
    )  # fmt: skip
    return _positive_quotient(dsum(num), dsum(den))


def bankruptcy_price(
    *, equity: Decimal, size: Decimal, mark: Decimal, same_underlying_collateral: Decimal = ZERO
) -> Decimal | None:
    """Mark of this market at which E_mm = 0, all else fixed: p_bk = M - E/(s + k).

    None when s + k = 0 (the account's value does not move with this mark) or the solution <= 0.
    """
    num, den = bankruptcy_parts(equity=equity, size=size, mark=mark, k=same_underlying_collateral)
    return _positive_quotient(dsum(num), dsum(den))


def liquidation_state(equity: Decimal, mmr: Decimal) -> LiqState:
    """ "bankrupt" when E_mm < 0, "now" when E_mm < MMR, else "ok": shown instead of a price."""
    if equity < 0:
        return "bankrupt"
    if equity < mmr:
        return "now"
    return "ok"


# --- the account -------------------------------------------------------------------------
# The records below are read-only by contract but not `frozen`, as in events.py: a frozen
# dataclass's __init__ costs six times a plain one's, and health() builds several per account
# after every mark move.


@dataclass(slots=True)
class CollateralInput:
    """One balance. Weights are computed by the caller for this amount (and cached there)."""

    asset: str
    amount: Decimal
    price: Decimal
    weight_total: Decimal
    weight_initial: Decimal

    def value(self, initial: bool = False) -> Decimal:
        """USD this balance counts for: weighted when an asset, in full when a liability."""
        if self.amount <= 0:
            return self.amount * self.price
        return self.amount * self.price * (self.weight_initial if initial else self.weight_total)


@dataclass(slots=True)
class PositionInput:
    """One market's position (size may be 0 when only resting orders are there)."""

    market: str
    underlying: str
    size: Decimal
    mark: Decimal
    settle_price: Decimal
    entry_price: Decimal
    imf: Decimal
    mmf: Decimal
    open_size: Decimal


@dataclass(slots=True)
class PositionMath:
    """Section 3 for one position. Prices are unrounded; a display rounds p_liq toward the mark.

    liquidation_price / bankruptcy_price are the pure functions' outputs even when liq_state is
    not "ok" (then they are the prices at which the account would recover); the display shows
    liq_state instead, and distance_to_liquidation is 0 because liquidation is already here.
    """

    market: str
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    zero_price: Decimal | None
    liq_state: LiqState
    k: Decimal
    distance_to_liquidation: Decimal | None
    mmr_contribution: Decimal  # MMF*|s|*M: the liquidation engine takes the largest first
    other_mmr: Decimal  # MMR_o = MMR - mmr_contribution
    notional: Decimal = ZERO  # |s|*M, the term of N
    unsettled_pnl: Decimal = ZERO  # s*(M - settle price), the term of unsettled PnL
    unrealized_pnl: Decimal = ZERO  # s*(M - entry price), the term of unrealized PnL


@dataclass(slots=True)
class AccountRisk:
    """Sections 1-3 for one cross-margin account; positions in the order they were given."""

    c_tot: Decimal
    c_init: Decimal
    unsettled_pnl: Decimal
    unrealized_pnl: Decimal
    equity: Decimal  # E_mm
    initial_equity: Decimal  # E_im
    notional: Decimal  # N
    imr: Decimal
    mmr: Decimal
    acmr: Decimal
    margin_fraction: Decimal | None  # E_mm / N, None when N = 0
    margin_usage: Decimal | None  # MMR / E_mm, None when E_mm <= 0
    free_collateral: Decimal  # E_im - IMR
    leverage: Decimal | None  # N / E_mm, None when E_mm <= 0
    positions: tuple[PositionMath, ...]


def same_underlying_coins(collateral: Sequence[CollateralInput], underlying: str) -> Decimal:
    """k: weighted coins of `underlying` held as collateral (w_tot * b over positive balances).

    Only positive balances count: they are what moves with the mark at weight w_tot.
    """
    return dsum(c.weight_total * c.amount for c in collateral
                if c.asset == underlying and c.amount > 0)  # fmt: skip


def mmr_contribution(p: PositionInput) -> Decimal:
    """MMF_j * |s_j| * M_j: this position's share of MMR."""
    return p.mmf * abs(p.size) * p.mark


def account_risk(
    collateral: Sequence[CollateralInput], positions: Sequence[PositionInput]
) -> AccountRisk:
    """Equity, requirements and per-position prices of one account (MECHANICS sections 1-3).

    Every sum adds its terms from 0 in input order, as `dsum` does, so `explain` can list the
    same terms and they add up to these figures exactly (tests/test_margin_pure.py holds that).
    The loops are written out rather than built from `dsum` and the `*_parts` functions because
    health() runs for every account after each mark move: generators and keyword calls were
    two thirds of its cost. The arithmetic, operand for operand, is the one of the parts.
    """
    c_tot = c_init = ZERO
    k_by_asset: dict[str, Decimal] = {}
    for c in collateral:
        amount = c.amount
        if amount <= 0:
            value = amount * c.price
            c_tot += value
            c_init += value
        else:
            value = amount * c.price
            c_tot += value * c.weight_total
            c_init += value * c.weight_initial
            asset = c.asset  # k: weighted coins of an underlying, as same_underlying_coins sums
            k_by_asset[asset] = k_by_asset.get(asset, ZERO) + c.weight_total * amount
    unsettled = unrealized = notional = imr = mmr = ZERO
    terms = []  # per position: (own MMR, notional, unsettled, unrealized), for the rows
    for p in positions:
        size, mark = p.size, p.mark
        t_unsettled = size * (mark - p.settle_price)
        unsettled += t_unsettled
        t_unrealized = size * (mark - p.entry_price)
        unrealized += t_unrealized
        exposure = abs(size) * mark
        notional += exposure
        imr += p.imf * p.open_size * mark
        own = p.mmf * abs(size) * mark  # mmr_contribution(p)
        terms.append((own, exposure, t_unsettled, t_unrealized))
        mmr += own
    equity = c_tot + unsettled
    initial_equity = c_init + min(ZERO, unsettled)
    state = liquidation_state(equity, mmr)
    rows = tuple(
        _position_math(p, t, k_by_asset.get(p.underlying, ZERO), equity, mmr, state)
        for p, t in zip(positions, terms, strict=True)
    )
    positive = equity > 0
    return AccountRisk(
        c_tot, c_init, unsettled, unrealized, equity, initial_equity, notional, imr, mmr,
        acmr(mmr, notional), equity / notional if notional else None,
        mmr / equity if positive else None, initial_equity - imr,
        notional / equity if positive else None, rows,
    )  # fmt: skip


def _position_math(
    p: PositionInput, terms: tuple[Decimal, Decimal, Decimal, Decimal], k: Decimal,
    equity: Decimal, mmr: Decimal, state: LiqState,
) -> PositionMath:  # fmt: skip
    """Section 3 for one position, from the terms of liquidation_parts, bankruptcy_parts and
    zero_price_parts (see account_risk for why inline).

    Equal in value to summing those terms from 0 in display order: adding to 0 is exact, and
    Decimal defines a - b as a + (-b), rounding included. A k of 0 adds nothing, so its
    products are skipped (most accounts hold no coin of the underlying).
    """
    own_mmr = terms[0]
    size, mark, mmf_ = p.size, p.mark, p.mmf
    other = mmr - own_mmr
    sm = size * mark
    if k:
        km = k * mark
        den = abs(size) * mmf_ - size - k
        num = equity - sm - km - other
        den_bk = size + k
        num_bk = sm + km - equity
    else:
        den = abs(size) * mmf_ - size
        num = equity - sm - other
        den_bk = size
        num_bk = sm - equity
    p_liq = None
    if den:
        p_liq = num / den
        if p_liq <= 0:
            p_liq = None
    p_bk = None
    if den_bk:
        p_bk = num_bk / den_bk
        if p_bk <= 0:
            p_bk = None
    zero = None
    if size and mmr:
        shift = mark * (mmf_ * equity / mmr)
        zero = mark - shift if size > 0 else mark + shift
    if p_liq is None or mark <= 0:
        distance = None
    elif state != "ok":
        distance = ZERO
    else:
        distance = abs(p_liq - mark) / mark
    return PositionMath(p.market, p_liq, p_bk, zero, state, k, distance, own_mmr, other,
                        terms[1], terms[2], terms[3])  # fmt: skip


def risk_at_marks(
    collateral: Sequence[CollateralInput],
    positions: Sequence[PositionInput],
    marks: Mapping[str, Decimal],
) -> AccountRisk:
    """What-if for stress screens: the account with some markets' marks moved.

    As in section 3, the basis to the index is held constant, so collateral in a moved market's
    underlying moves by the same amount; weights stay fixed (they depend on coins, not price).
    Two markets on one underlying must move by the same amount, else ValueError.
    """
    known = {p.market for p in positions}
    unknown = set(marks) - known
    if unknown:
        raise ValueError(f"no position input for {sorted(unknown)}")
    shifts: dict[str, Decimal] = {}
    for p in positions:
        if p.market in marks:
            delta = marks[p.market] - p.mark
            if shifts.setdefault(p.underlying, delta) != delta:
                raise ValueError(f"markets on {p.underlying} must move by the same amount")
    moved_collateral = [
        replace(c, price=c.price + shifts[c.asset]) if c.asset in shifts else c for c in collateral
    ]
    moved_positions = [
        replace(p, mark=marks[p.market]) if p.market in marks else p for p in positions
    ]
    return account_risk(moved_collateral, moved_positions)


def explain(
    collateral: Sequence[CollateralInput], positions: Sequence[PositionInput], market: str
) -> Explanation:
    """The terms behind p_liq, p_bk and the zero price of `market` (see exchange_local.explain)."""
    from exchange_local.explain import explain as build

    return build(collateral, positions, market)


def __getattr__(name: str) -> object:
    """`margin.Explanation` and `margin.Term` live in explain.py (a separate room, DESIGN.md);
    loaded on first use so that the two modules can import each other without a cycle."""
    if name in ("Explanation", "Term"):
        from exchange_local import explain as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
