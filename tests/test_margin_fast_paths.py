"""The sqrt-skipping floors of margin.py give the very Decimal the plain formulas give.

Why: the gates take IMF, MMF and collateral weights from `fraction_floors` and
`weight_floor_limit` instead of Decimal.sqrt when the size-scaled term cannot win its max/min.
That is only allowed if the answer is bit-for-bit the one of MECHANICS's formula, including at
sizes right at the threshold, where rounding would show.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from exchange_local import margin
from exchange_local.money import ONE

SIZES = st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 9, places=8)
FACTORS = st.sampled_from([Decimal(0), Decimal("0.0001"), Decimal("0.002"), Decimal("0.05")])
LEVERAGES = st.sampled_from([1, 2, 3, 5, 10, 20, 50])


def plain_imf(user: int, max_lev: int, f: Decimal, size: Decimal) -> Decimal:
    return max(ONE / Decimal(user), ONE / Decimal(max_lev), f * abs(size).sqrt())


def plain_mmf(max_lev: int, f: Decimal, size: Decimal) -> Decimal:
    return margin.MMF_SHARE * max(ONE / Decimal(max_lev), f * abs(size).sqrt())


def plain_weight(w_max: Decimal, f: Decimal, b: Decimal) -> Decimal:
    if b <= 0:
        return ONE
    if f == 0:
        return w_max
    return min(w_max, margin.WEIGHT_CEILING / (ONE + f * b.sqrt()))


def near_threshold(base: Decimal, f: Decimal) -> list[Decimal]:
    """Sizes at, just under and just over (base/f)^2, where the two terms swap."""
    if f == 0:
        return []
    t = (base / f) ** 2
    step = Decimal("1e-20") * t
    return [t - 2 * step, t - step, t, t + step, t + 2 * step, t * Decimal("0.999999999999")]


@given(LEVERAGES, LEVERAGES, FACTORS, SIZES)
def test_imf_and_mmf_match_the_plain_formula(user: int, max_lev: int, f: Decimal, size: Decimal):
    user = min(user, max_lev)
    assert margin.imf(user, max_lev, f, size) == plain_imf(user, max_lev, f, size)
    assert str(margin.imf(user, max_lev, f, size)) == str(plain_imf(user, max_lev, f, size))
    assert str(margin.mmf(max_lev, f, size)) == str(plain_mmf(max_lev, f, size))


def test_at_the_threshold_the_fast_paths_agree_to_the_last_digit():
    for max_lev in (3, 10, 20, 50):
        for f in (Decimal("0.0001"), Decimal("0.002"), Decimal("0.05")):
            base = ONE / Decimal(max_lev)
            for size in near_threshold(base, f):
                assert str(margin.imf(max_lev, max_lev, f, size)) == str(
                    plain_imf(max_lev, max_lev, f, size)
                )
                assert str(margin.mmf(max_lev, f, size)) == str(plain_mmf(max_lev, f, size))
            for w_max in (Decimal("0.95"), Decimal("0.9"), Decimal("0.5")):
                room = margin.WEIGHT_CEILING / w_max - ONE
                limit = margin.weight_floor_limit(w_max, f)
                for b in near_threshold(room, f):
                    assert str(margin.collateral_weight(w_max, f, b)) == str(
                        plain_weight(w_max, f, b)
                    )
                    if b <= limit:  # the gates take w_max itself here
                        assert str(w_max) == str(plain_weight(w_max, f, b))


@given(st.sampled_from([Decimal("0.95"), Decimal("0.9"), Decimal("0.5"), Decimal("1.2")]),
       FACTORS, SIZES)  # fmt: skip
def test_collateral_weight_matches_the_plain_formula(w_max: Decimal, f: Decimal, b: Decimal):
    assert str(margin.collateral_weight(w_max, f, b)) == str(plain_weight(w_max, f, b))
    if 0 < b <= margin.weight_floor_limit(w_max, f):  # the gates take w_max itself here
        assert str(w_max) == str(plain_weight(w_max, f, b))


@given(LEVERAGES, LEVERAGES, FACTORS, SIZES)
def test_fraction_floors_give_what_imf_and_mmf_give(user: int, max_lev: int, f: Decimal,
                                                    size: Decimal):  # fmt: skip
    """The gates' comparison against the floors' limits returns the formulas' own Decimal."""
    user = min(user, max_lev)
    imf_floor, imf_limit, mmf_floor, mmf_limit = margin.fraction_floors(user, max_lev, f)
    for x in [size, *near_threshold(imf_floor, f), *near_threshold(ONE / Decimal(max_lev), f)]:
        x = abs(x)
        if x <= imf_limit:
            assert str(imf_floor) == str(plain_imf(user, max_lev, f, x))
        if x <= mmf_limit:
            assert str(mmf_floor) == str(plain_mmf(max_lev, f, x))


def test_the_floor_limits_sit_just_under_the_onset_of_size_scaling():
    """Not a vacuous limit: just above it the sqrt term wins or nearly does."""
    imf_floor, imf_limit, _, mmf_limit = margin.fraction_floors(20, 20, Decimal("0.002"))
    onset = (imf_floor / Decimal("0.002")) ** 2  # 625 coins
    assert onset * Decimal("0.99999") < imf_limit < onset
    assert onset * Decimal("0.99999") < mmf_limit < onset
    assert margin.fraction_floors(5, 20, Decimal(0))[1] == Decimal("Infinity")
    w_limit = margin.weight_floor_limit(Decimal("0.95"), Decimal("0.002"))
    for b in (w_limit * Decimal("0.5"), w_limit):
        assert margin.collateral_weight(Decimal("0.95"), Decimal("0.002"), b) == Decimal("0.95")
    assert margin.collateral_weight(Decimal("0.95"), Decimal("0.002"), w_limit * 2) < Decimal(
        "0.95"
    )
    assert margin.weight_floor_limit(Decimal("1.2"), Decimal("0.002")) == -1


def test_the_engine_gates_use_floors_for_the_current_spec_only():
    """A new market spec (dynamic risk parameters) renews the floors: no stale MMF."""
    from dataclasses import replace

    from exchange_local.config import ExchangeConfig
    from exchange_local.exchange import Exchange

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("a")
    ex.deposit("a", "USD", Decimal(100_000))
    ex.set_leverage("a", "BTC-PERP", Decimal(5))
    acct, m = ex._account("a"), ex._market("BTC-PERP")
    before = ex._fractions(acct, m, Decimal(1), Decimal(1))
    assert before == (
        margin.imf(5, m.spec.max_leverage, m.spec.size_factor, Decimal(1)),
        margin.mmf(m.spec.max_leverage, m.spec.size_factor, Decimal(1)),
    )
    m.spec = replace(m.spec, max_leverage=m.spec.max_leverage // 2)
    after = ex._fractions(acct, m, Decimal(1), Decimal(1))
    assert after[1] == margin.mmf(m.spec.max_leverage, m.spec.size_factor, Decimal(1))
    assert after[1] != before[1]
