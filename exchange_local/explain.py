"""`explain`: the terms behind one position's liquidation, bankruptcy and zero prices.

Why a separate room: margin.py is the math; this is the same math laid out for a student. Each
list of terms sums exactly (with `margin.dsum`, which is what `sum(terms, Decimal(0))` does) to
the quantity it explains, and every division below is a division of two such sums. The prices
come from the same `*_parts` functions that margin.py's prices use, so the explanation cannot
disagree with what the engine, the health view and the TUI show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from exchange_local.errors import InvalidRequest
from exchange_local.margin import (
    CollateralInput,
    LiqState,
    PositionInput,
    account_risk,
    bankruptcy_parts,
    dsum,
    liquidation_parts,
    mmr_contribution,
    zero_price_parts,
)


@dataclass(frozen=True, slots=True)
class Term:
    """One addend: what it is, how it is formed (in words), and its exact value."""

    name: str
    formula: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Explanation:
    """One market of one account. Every `*_terms`, `*_numerator`, `*_denominator` sums exactly:

    collateral_terms -> C_tot, unsettled_terms -> unsettled PnL, equity_terms -> E_mm,
    mmr_terms -> MMR, k_terms -> k; liquidation_price = sum(numerator) / sum(denominator)
    (None when the denominator is 0 or the quotient <= 0), likewise bankruptcy_price;
    zero_price = sum(zero_price_terms), where pmpd = MMF_j * E_mm / MMR.
    """

    market: str
    underlying: str
    size: Decimal
    mark: Decimal
    mmf: Decimal
    liq_state: LiqState
    collateral_terms: tuple[Term, ...]
    unsettled_terms: tuple[Term, ...]
    equity_terms: tuple[Term, ...]
    mmr_terms: tuple[Term, ...]
    k_terms: tuple[Term, ...]
    liquidation_numerator: tuple[Term, ...]
    liquidation_denominator: tuple[Term, ...]
    liquidation_price: Decimal | None
    bankruptcy_numerator: tuple[Term, ...]
    bankruptcy_denominator: tuple[Term, ...]
    bankruptcy_price: Decimal | None
    pmpd: Decimal | None
    zero_price_terms: tuple[Term, ...]
    zero_price: Decimal | None

    @property
    def equity(self) -> Decimal:
        return dsum(t.value for t in self.equity_terms)

    @property
    def mmr(self) -> Decimal:
        return dsum(t.value for t in self.mmr_terms)

    @property
    def k(self) -> Decimal:
        return dsum(t.value for t in self.k_terms)


def _quotient(numerator: tuple[Term, ...], denominator: tuple[Term, ...]) -> Decimal | None:
    num = dsum(t.value for t in numerator)
    den = dsum(t.value for t in denominator)
    if den == 0:
        return None
    price = num / den
    return price if price > 0 else None


def _collateral_term(c: CollateralInput) -> Term:
    if c.amount <= 0:
        return Term(f"{c.asset} liability", "amount x price (a liability counts at weight 1)",
                    c.value())  # fmt: skip
    return Term(f"{c.asset} collateral", "amount x price x w_tot (weight at this balance)",
                c.value())  # fmt: skip


def explain(
    collateral: Sequence[CollateralInput], positions: Sequence[PositionInput], market: str
) -> Explanation:
    """Explain `market` of an account given by the same inputs as `margin.account_risk`.

    Raises InvalidRequest when the account has no position input for that market: there is
    nothing to explain (the facade has already refused unknown markets).
    """
    index = next((i for i, p in enumerate(positions) if p.market == market), None)
    if index is None:
        raise InvalidRequest(f"no position or resting order in {market}: nothing to explain")
    p = positions[index]
    risk = account_risk(collateral, positions)
    row = risk.positions[index]
    s, m, k = p.size, p.mark, row.k

    collateral_terms = tuple(_collateral_term(c) for c in collateral)
    unsettled_terms = tuple(
        Term(f"{q.market} unsettled PnL", "s x (M - S): size times (mark - settle price)",
             q.size * (q.mark - q.settle_price))
        for q in positions
    )  # fmt: skip
    equity_terms = (
        Term("C_tot", "total collateral: sum of weighted collateral values", risk.c_tot),
        Term("unsettled PnL", "sum over positions of s x (M - S)", risk.unsettled_pnl),
    )
    mmr_terms = tuple(
        Term(f"{q.market} maintenance", "MMF x |s| x M", mmr_contribution(q)) for q in positions
    )
    k_terms = tuple(
        Term(f"{c.asset} coins held", "w_tot x amount: weighted coins that move with the mark",
             c.weight_total * c.amount)
        for c in collateral if c.asset == p.underlying and c.amount > 0
    )  # fmt: skip

    ln, ld = liquidation_parts(equity=risk.equity, size=s, mark=m, mmf=p.mmf,
                               other_mmr=row.other_mmr, k=k)  # fmt: skip
    liq_num = (
        Term("equity E_mm", "maintenance equity E_mm = C_tot + unsettled PnL", ln[0]),
        Term("minus position value", "-s x M: minus size times mark", ln[1]),
        Term("minus same-underlying collateral value",
             "-k x M: minus weighted coins of the underlying held, times mark", ln[2]),
        Term("minus other maintenance", "-MMR_o = -(MMR - MMF x |s| x M of this market)", ln[3]),
    )  # fmt: skip
    liq_den = (
        Term("maintenance per unit of price", "|s| x MMF", ld[0]),
        Term("minus size", "-s", ld[1]),
        Term("minus same-underlying coins", "-k", ld[2]),
    )
    bn, bd = bankruptcy_parts(equity=risk.equity, size=s, mark=m, k=k)
    bk_num = (
        Term("position value", "s x M: size times mark", bn[0]),
        Term("same-underlying collateral value", "k x M: weighted coins times mark", bn[1]),
        Term("minus equity", "-E_mm: p_bk = M - E_mm / (s + k)", bn[2]),
    )
    bk_den = (Term("size", "s", bd[0]), Term("same-underlying coins", "k", bd[1]))
    zero = zero_price_parts(equity=risk.equity, size=s, mark=m, mmf=p.mmf, mmr=risk.mmr)
    zero_terms: tuple[Term, ...] = ()
    if zero is not None:
        side = "minus (long)" if s > 0 else "plus (short)"
        zero_terms = (
            Term("mark", "M", zero[1][0]),
            Term("share of equity per coin", f"{side} M x PMPD, PMPD = MMF x E_mm / MMR",
                 zero[1][1]),
        )  # fmt: skip

    explanation = Explanation(
        market=p.market,
        underlying=p.underlying,
        size=s,
        mark=m,
        mmf=p.mmf,
        liq_state=row.liq_state,
        collateral_terms=collateral_terms,
        unsettled_terms=unsettled_terms,
        equity_terms=equity_terms,
        mmr_terms=mmr_terms,
        k_terms=k_terms,
        liquidation_numerator=liq_num,
        liquidation_denominator=liq_den,
        liquidation_price=_quotient(liq_num, liq_den),
        bankruptcy_numerator=bk_num,
        bankruptcy_denominator=bk_den,
        bankruptcy_price=_quotient(bk_num, bk_den),
        pmpd=zero[0] if zero else None,
        zero_price_terms=zero_terms,
        zero_price=dsum(t.value for t in zero_terms) if zero else None,
    )
    # The explanation is only worth showing if it is the engine's own number.
    assert explanation.liquidation_price == row.liquidation_price
    assert explanation.bankruptcy_price == row.bankruptcy_price
    assert explanation.zero_price == row.zero_price
    return explanation
