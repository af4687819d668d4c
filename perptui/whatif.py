"""The what-if line of the explain screen: equity and maintenance as one price moves.

Why straight lines: with everything else fixed (MECHANICS section 3), moving market j's mark to
p moves the account's equity by (s_j + k_j)(p - M_j) (the position plus the weighted coins of
the same underlying held as collateral, the basis to the index held constant) and its
maintenance by MMF_j*|s_j|*(p - M_j) (MMF depends on size, not price). So

    E(p)   = E_mm + (s_j + k_j)(p - M_j)
    MMR(p) = MMR_o + MMF_j*|s_j|*p            MMR_o: every other market's maintenance
    N(p)   = N_o + |s_j|*p                    for ACMR(p) = max(MMR(p)/2, MMR(p) - 0.06 N(p))

and E(p_liq) = MMR(p_liq), E(p_bk) = 0 at the explain's prices, up to the last digit of the
34-digit context. The explain screen draws these two lines and the status word at p.

No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchange_local.explain import Explanation
from exchange_local.health import AccountHealth
from exchange_local.margin import acmr
from perptui.stress import classify


@dataclass(frozen=True, slots=True)
class WhatIf:
    """The account as a function of one market's mark p (all else fixed)."""

    market: str
    mark: Decimal  # M_j now
    equity: Decimal  # E_mm now
    size: Decimal  # s_j
    k: Decimal  # weighted coins of the underlying held as collateral
    mmf: Decimal  # MMF_j
    other_mmr: Decimal  # MMR_o
    other_notional: Decimal | None  # N_o; None when unknown (then no backstop level)

    @property
    def slope(self) -> Decimal:
        """dE/dp = s + k: its sign, not the side, says which way liquidation lies."""
        return self.size + self.k

    def equity_at(self, p: Decimal) -> Decimal:
        return self.equity + self.slope * (p - self.mark)

    def mmr_at(self, p: Decimal) -> Decimal:
        return self.other_mmr + self.mmf * abs(self.size) * p

    def notional_at(self, p: Decimal) -> Decimal | None:
        if self.other_notional is None:
            return None
        return self.other_notional + abs(self.size) * p

    def acmr_at(self, p: Decimal) -> Decimal | None:
        """Backstop threshold at p; None when the other positions' notional is unknown."""
        n = self.notional_at(p)
        return None if n is None else acmr(self.mmr_at(p), n)

    def status_at(self, p: Decimal) -> str:
        """MECHANICS section 2's status at p (as the stress grid; without reduce_only).

        Without the other positions' notional, ACMR = max(MMR/2, MMR - 0.06 N) cannot be
        formed, so the backstop level falls back to MMR/2, the least ACMR can be: the word
        may then say LIQ where BACKSTOP is due, never the reverse. The screen passes N_o.
        """
        mmr = self.mmr_at(p)
        n = self.notional_at(p)
        if n is None:
            n = abs(self.size) * p
            threshold = mmr / 2
        else:
            threshold = acmr(mmr, n)
        return classify(self.equity_at(p), mmr, threshold, n)


def from_explanation(expl: Explanation, other_notional: Decimal | None = None) -> WhatIf:
    """The what-if of the explained market; `other_notional` (N - |s|*M, from the health
    record) lets the status at p tell the backstop level apart."""
    own = expl.mmf * abs(expl.size) * expl.mark
    return WhatIf(
        market=expl.market,
        mark=expl.mark,
        equity=expl.equity,
        size=expl.size,
        k=expl.k,
        mmf=expl.mmf,
        other_mmr=expl.mmr - own,
        other_notional=other_notional,
    )


def from_health(health: AccountHealth, market: str, underlying: str) -> WhatIf:
    """The same line from the health record alone (the remote venue's cheap path)."""
    pos = next((p for p in health.positions if p.market == market), None)
    if pos is None:
        raise ValueError(f"no {market} position in the account")
    k = Decimal(0)
    for c in health.collateral:
        if c.asset == underlying and c.amount > 0:
            k += c.weight * c.amount
    own_mmr = pos.mmf * abs(pos.size) * pos.mark_price
    return WhatIf(
        market=market,
        mark=pos.mark_price,
        equity=health.equity,
        size=pos.size,
        k=k,
        mmf=pos.mmf,
        other_mmr=health.mmr - own_mmr,
        other_notional=health.notional - abs(pos.size) * pos.mark_price,
    )


def other_notional(health: AccountHealth, market: str) -> Decimal:
    """N_o: the notional of every position but `market`'s, for `from_explanation`."""
    return sum(
        (abs(p.size) * p.mark_price for p in health.positions if p.market != market),
        Decimal(0),
    )
