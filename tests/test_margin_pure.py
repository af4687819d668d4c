"""Properties of the pure risk math (MECHANICS sections 1-3), checked against the model itself.

The checks never reuse the closed-form formulas: they move the account's inputs (the market's
mark and, basis held constant, the price of collateral in the same underlying; weights fixed, as
the model says) and recompute equity and MMR with `account_risk` from scratch.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from exchange_local.errors import InvalidRequest
from exchange_local.explain import explain
from exchange_local.margin import (
    AccountRisk,
    CollateralInput,
    PositionInput,
    account_risk,
    acmr,
    bankruptcy_price,
    collateral_weight,
    dsum,
    imf,
    liquidation_price,
    mmf,
    open_size,
    risk_at_marks,
)

D = Decimal
REL = D("1e-18")
UNDERLYINGS = ("BTC", "ETH", "SOL")
ASSETS = ("USD", *UNDERLYINGS)


def dec(lo: int, hi: int, places: int) -> st.SearchStrategy[Decimal]:
    """Exact decimals in [lo, hi] with `places` decimals (never a float in sight)."""
    return st.integers(lo * 10**places, hi * 10**places).map(lambda i: D(i).scaleb(-places))


# --- account strategy ----------------------------------------------------------------------


@st.composite
def accounts(draw, hedged_short: bool = False):
    """1-3 positions on distinct underlyings, 1-4 collateral assets, E_mm >= MMR.

    USD is drawn last and sized from a non-negative cushion so that E_mm - MMR = cushion: the
    accounts span everything from "exactly at the liquidation line" to very safe, and USD may be
    a loan (negative) when the other collateral carries the account.
    """
    n = 1 if hedged_short else draw(st.integers(1, 3))
    underlyings = draw(st.permutations(UNDERLYINGS))[:n]
    prices = {u: draw(dec(1, 200000, 2)) for u in UNDERLYINGS}
    positions = []
    for u in underlyings:
        basis = draw(dec(-5, 5, 2)) * prices[u] / 100  # mark within 5 % of the index
        mark = prices[u] + basis
        size = draw(dec(1, 5000, 3))
        if hedged_short or draw(st.booleans()):
            size = -size
        m = draw(dec(1, 200, 4)) / 1000  # MMF 0.1 % .. 20 %
        settle = mark * (1 + draw(dec(-20, 20, 2)) / 100)
        entry = mark * (1 + draw(dec(-20, 20, 2)) / 100)
        positions.append(PositionInput(f"{u}-PERP", u, size, mark, settle, entry, 2 * m, m,
                                       abs(size)))  # fmt: skip
    coins = draw(st.lists(st.sampled_from(UNDERLYINGS), unique=True, max_size=3))
    if hedged_short:
        coins = [positions[0].underlying]
    rows = []
    for a in coins:
        w_tot = draw(dec(50, 100, 0)) / 100
        f = draw(dec(0, 100, 0)) / 10000
        amount = draw(dec(0, 10000, 4))
        if hedged_short:  # k = |s| x ratio, ratio in [1.001, 1.5]: more coins than the short
            f = D(0)  # so that w = w_tot and k is what we asked for
            amount = abs(positions[0].size) * draw(dec(1001, 1500, 0)) / 1000 / w_tot
        w = collateral_weight(w_tot, f, amount)
        rows.append(CollateralInput(a, amount, prices[a], w, w * D("0.95")))
    partial = account_risk(rows, positions)
    cushion = draw(
        st.one_of(
            st.just(D(0)),
            dec(0, 10**7, 2),
            dec(0, 300, 2).map(lambda r: r / 100 * partial.notional),
        )
    )  # up to 3 x notional: p_liq often None
    usd = partial.mmr - partial.equity + cushion
    rows.append(CollateralInput("USD", usd, D(1), D(1), D(1)))
    return rows, positions


def moved(rows, positions, market: str, price: Decimal) -> AccountRisk:
    """The account with `market`'s mark at `price`, rebuilt independently of the helpers under
    test: collateral of the underlying moves by the same amount, weights stay as they are."""
    p = next(q for q in positions if q.market == market)
    delta = price - p.mark
    rows2 = [replace(c, price=c.price + delta) if c.asset == p.underlying else c for c in rows]
    pos2 = [replace(q, mark=price) if q.market == market else q for q in positions]
    return account_risk(rows2, pos2)


def scale(rows, positions, *prices: Decimal) -> Decimal:
    """Size of the numbers involved, for a relative tolerance."""
    biggest = max([abs(p) for p in prices] + [abs(q.mark) for q in positions])
    return (1 + dsum(abs(c.amount) * (abs(c.price) + biggest) for c in rows)
            + dsum(abs(q.size) * biggest for q in positions))  # fmt: skip


# --- the properties ------------------------------------------------------------------------


@given(accounts())
def test_equity_meets_mmr_at_liquidation_price_and_zero_at_bankruptcy(account):
    rows, positions = account
    risk = account_risk(rows, positions)
    # a zero cushion gives E_mm = MMR only to 34-digit precision: allow that rounding
    assert risk.equity >= risk.mmr - scale(rows, positions) * D("1e-25")
    for q, pm in zip(positions, risk.positions, strict=True):
        event(f"p_liq {'exists' if pm.liquidation_price else 'None'}")
        event(f"p_bk {'exists' if pm.bankruptcy_price else 'None'}")
        if pm.liquidation_price is not None:
            at = moved(rows, positions, q.market, pm.liquidation_price)
            tol = REL * scale(rows, positions, pm.liquidation_price)
            assert abs(at.equity - at.mmr) <= tol
        if pm.bankruptcy_price is not None:
            at = moved(rows, positions, q.market, pm.bankruptcy_price)
            assert abs(at.equity) <= REL * scale(rows, positions, pm.bankruptcy_price)
        if pm.liquidation_price is not None and pm.bankruptcy_price is not None:
            low, high = sorted((q.mark, pm.bankruptcy_price))
            slack = REL * q.mark  # at E_mm = MMR, p_liq is the mark up to the 34th digit
            assert low - slack <= pm.liquidation_price <= high + slack
            assert pm.distance_to_liquidation == abs(pm.liquidation_price - q.mark) / q.mark


@given(accounts())
def test_no_price_is_reported_only_where_none_exists(account):
    """E(p) - MMR(p) is linear in p; find its root from two recomputations of the account and
    check that None is reported exactly when that root is not a positive price."""
    rows, positions = account
    risk = account_risk(rows, positions)
    for q, pm in zip(positions, risk.positions, strict=True):
        g0 = moved(rows, positions, q.market, D(0))
        g1 = moved(rows, positions, q.market, 2 * q.mark)
        tol = REL * scale(rows, positions, 2 * q.mark)
        for value, f0, f1 in (
            (pm.liquidation_price, g0.equity - g0.mmr, g1.equity - g1.mmr),
            (pm.bankruptcy_price, g0.equity, g1.equity),
        ):
            slope = (f1 - f0) / (2 * q.mark)
            if abs(slope) * q.mark <= tol:  # flat: the mark does not move this quantity
                assert value is None
                continue
            root = -f0 / slope
            if value is None:
                assert root <= tol * q.mark
            else:
                assert abs(root - value) <= REL * q.mark * 1000


@given(accounts(hedged_short=True))
def test_short_hedged_by_more_coins_is_liquidated_by_a_fall(account):
    """MECHANICS: "a short hedged by more coins of collateral (s + k > 0) is liquidated by a
    FALL". Exactly: E - MMR moves with slope s + k - |s|*MMF, so the fall needs
    k > |s|*(1 + MMF); in the thin band |s| < k <= |s|*(1 + MMF) equity still rises with the
    price but MMR rises faster, and the liquidation (if any) comes from a RISE."""
    rows, positions = account
    risk = account_risk(rows, positions)
    pm, q = risk.positions[0], positions[0]
    assert q.size < 0 and pm.k > abs(q.size)
    if pm.bankruptcy_price is not None:
        assert pm.bankruptcy_price < q.mark
    if pm.liquidation_price is None:
        event("no liquidation price")
        return
    slope = q.size + pm.k - abs(q.size) * q.mmf
    if abs(risk.equity - risk.mmr) <= REL * scale(rows, positions):  # drawn at the line
        if abs(slope) <= REL * scale(rows, positions):
            event("E - MMR flat in price: every price is a root")  # k = |s|(1 + MMF) exactly
            return
        assert abs(pm.liquidation_price - q.mark) <= REL * q.mark
    elif pm.k > abs(q.size) * (1 + q.mmf):
        event("k beyond |s|(1 + MMF)")
        assert pm.liquidation_price < q.mark
    else:
        event("k in the band")
        assert pm.liquidation_price > q.mark


@given(accounts())
def test_closing_every_position_at_its_zero_price_leaves_exactly_zero(account):
    rows, positions = account
    risk = account_risk(rows, positions)
    assert all(pm.zero_price is not None for pm in risk.positions)
    after = risk.c_tot + dsum(q.size * (pm.zero_price - q.settle_price)
                              for q, pm in zip(positions, risk.positions, strict=True))  # fmt: skip
    assert abs(after) <= REL * scale(rows, positions)


@given(accounts())
def test_explain_terms_sum_exactly_to_what_was_divided(account):
    rows, positions = account
    risk = account_risk(rows, positions)
    for pm in risk.positions:
        exp = explain(rows, positions, pm.market)
        total = lambda terms: dsum(t.value for t in terms)  # noqa: E731
        assert total(exp.collateral_terms) == risk.c_tot
        assert total(exp.unsettled_terms) == risk.unsettled_pnl
        assert total(exp.equity_terms) == risk.equity
        assert total(exp.mmr_terms) == risk.mmr
        assert total(exp.k_terms) == pm.k
        for num, den, result in (
            (exp.liquidation_numerator, exp.liquidation_denominator, pm.liquidation_price),
            (exp.bankruptcy_numerator, exp.bankruptcy_denominator, pm.bankruptcy_price),
        ):
            quotient = total(num) / total(den) if total(den) else None
            assert result == (quotient if quotient is not None and quotient > 0 else None)
        assert exp.zero_price == pm.zero_price == total(exp.zero_price_terms)
        assert exp.liquidation_price == pm.liquidation_price
        assert exp.bankruptcy_price == pm.bankruptcy_price


@given(accounts())
def test_risk_at_marks_agrees_with_an_independent_rebuild(account):
    rows, positions = account
    q = positions[0]
    new = q.mark * D("0.9")
    assert risk_at_marks(rows, positions, {q.market: new}) == moved(rows, positions, q.market, new)


def test_the_checks_catch_a_formula_that_forgets_the_collateral():
    """The properties can fail: a p_liq that ignores k (same-underlying collateral) misses."""
    rows = [CollateralInput("BTC", D(1), D(100000), D("0.975"), D("0.95")),
            CollateralInput("USD", D(-50000), D(1), D(1), D(1))]  # fmt: skip
    positions = [PositionInput("BTC-PERP", "BTC", D(1), D(100000), D(100000), D(100000),
                               D("0.05"), D("0.03"), D(1))]  # fmt: skip
    risk = account_risk(rows, positions)
    wrong = liquidation_price(equity=risk.equity, size=D(1), mark=D(100000), mmf=D("0.03"),
                              other_mmr=D(0))  # fmt: skip
    right = risk.positions[0].liquidation_price
    assert wrong is not None and right is not None
    at_wrong = moved(rows, positions, "BTC-PERP", wrong)
    at_right = moved(rows, positions, "BTC-PERP", right)
    assert abs(at_wrong.equity - at_wrong.mmr) > 1000
    assert abs(at_right.equity - at_right.mmr) < D("1e-20")


# --- the small functions, by example -------------------------------------------------------


def test_none_where_no_price_exists():
    assert liquidation_price(equity=D(200000), size=D(1), mark=D(100000), mmf=D("0.03"),
                             other_mmr=D(0)) is None  # fmt: skip  # solution <= 0
    assert bankruptcy_price(equity=D(1000), size=D(-2), mark=D(10),
                            same_underlying_collateral=D(2)) is None  # fmt: skip  # s + k = 0
    assert liquidation_price(equity=D(1000), size=D(1), mark=D(10), mmf=D(1),
                             other_mmr=D(0)) is None  # fmt: skip  # denominator 0
    assert bankruptcy_price(equity=D(-1), size=D(1), mark=D(10)) == D(11)


def test_liquidation_states():
    base = [CollateralInput("USD", D(100), D(1), D(1), D(1))]
    pos = [PositionInput("X-PERP", "X", D(10), D(100), D(100), D(100), D("0.2"), D("0.1"), D(10))]
    assert account_risk(base, pos).positions[0].liq_state == "ok"  # E 100 = MMR 100
    short = [replace(base[0], amount=D("99.99"))]
    now = account_risk(short, pos).positions[0]
    assert now.liq_state == "now" and now.distance_to_liquidation == 0
    broke = account_risk([replace(base[0], amount=D(-1))], pos)
    assert broke.positions[0].liq_state == "bankrupt"
    assert broke.margin_usage is None and broke.leverage is None


def test_collateral_weight():
    assert collateral_weight(D("0.975"), D("0.002"), D("0.5")) == D("0.975")
    assert collateral_weight(D("0.975"), D("0.002"), D(10000)) == D("1.1") / D("1.2")
    assert collateral_weight(D("0.9"), D(0), D(10**12)) == D("0.9")
    assert collateral_weight(D("0.9"), D("0.01"), D(-5)) == 1
    assert collateral_weight(D("0.9"), D("0.01"), D(0)) == 1


def test_requirements():
    assert open_size(D(1), D(2), D(5)) == 4
    assert open_size(D(-1), D(0), D(0)) == 1
    assert imf(20, 20, D("0.002"), D(1)) == D("0.05")
    assert imf(5, 20, D("0.002"), D(1)) == D("0.2")
    assert imf(20, 20, D("0.002"), D(10000)) == D("0.2")  # size scaling: 0.002 x 100
    assert mmf(20, D("0.002"), D(-10000)) == D("0.12")
    assert mmf(20, D("0.002"), D(1)) == D("0.03")
    assert acmr(D(3900), D(130000)) == D(1950)
    assert acmr(D(3900), D(10000)) == D(3300)


def test_account_figures_and_empty_account():
    risk = account_risk([CollateralInput("USD", D(10), D(1), D(1), D(1))], [])
    assert (risk.equity, risk.mmr, risk.notional) == (10, 0, 0)
    assert risk.margin_fraction is None and risk.margin_usage == 0 and risk.leverage == 0
    rows = [CollateralInput("ETH", D(2), D(3000), D("0.95"), D("0.9"))]
    pos = [PositionInput("ETH-PERP", "ETH", D(-1), D(3000), D(2900), D(3100), D("0.05"),
                         D("0.03"), D(2))]  # fmt: skip
    risk = account_risk(rows, pos)
    assert risk.unsettled_pnl == -100 and risk.unrealized_pnl == 100
    assert risk.initial_equity == 5400 - 100 and risk.equity == 5700 - 100
    assert risk.imr == D("0.05") * 2 * 3000 and risk.mmr == 90


def test_explain_refuses_a_market_without_inputs():
    with pytest.raises(InvalidRequest):
        explain([], [], "BTC-PERP")


def test_risk_at_marks_refuses_inconsistent_moves():
    rows = [CollateralInput("BTC", D(1), D(100), D(1), D(1))]
    pos = [PositionInput(m, "BTC", D(1), D(100), D(100), D(100), D("0.1"), D("0.1"), D(1))
           for m in ("BTC-PERP", "BTC-USD")]  # fmt: skip
    with pytest.raises(ValueError):
        risk_at_marks(rows, pos, {"BTC-PERP": D(90), "BTC-USD": D(80)})
    with pytest.raises(ValueError):
        risk_at_marks(rows, pos, {"ETH-PERP": D(90)})
    moved_both = risk_at_marks(rows, pos, {"BTC-PERP": D(90), "BTC-USD": D(90)})
    assert moved_both.c_tot == 90
