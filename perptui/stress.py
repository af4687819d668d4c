"""The stress grid: what one cross-margin account would look like after a price shock.

Why this exists: a trader sees one liquidation price per position, computed with everything
else fixed. A crash moves BTC, ETH and the collateral coins together, so the question that
matters is "what if everything fell 30 %?". The grid answers it per underlying and for all
underlyings together (correlated: every one moves by the same fraction).

The math, exact in Decimal (MECHANICS sections 1-2). A shock x on underlying u multiplies
every price of u by (1 + x): the mark of each market on u (so a position's unsettled PnL moves
by s*M*x), and the price of u held as collateral (its value moves by amount*price*w_tot*x;
weights depend on the coin balance, not the price, and only USD may be a liability). MMF
depends on size only, so each position's maintenance MMF*|s|*M and its notional scale by
(1 + x). The shocked figures are then summed by `exchange_local.margin.account_risk`, the same
function the exchange uses, so a shocked grid cell equals what `Exchange.health()` reports
after the same index move, to the last digit.

Assumptions, said plainly because the screen repeats them: the book is deep enough for the
liquidation engine to work at the mark, every price not shocked stays where it is (including
the basis between mark and index), and funding, fees and the 30 s settlement are ignored. The
reduce-only status needs IMR, which depends on resting orders this record does not carry, so
the grid goes from "warning" straight to "liquidating".

No Textual here: the screen, the tests and any script share this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from exchange_local.engine import MarketState
from exchange_local.health import AccountHealth
from exchange_local.margin import (
    AccountRisk,
    CollateralInput,
    PositionInput,
    account_risk,
    liquidation_word,
)

ALL = "ALL"  # the column where every underlying moves together
UNIT_ASSETS = frozenset({"USD", "USDC"})  # the unit of account: a shock does not move them
WARNING_MULTIPLE = Decimal(2)  # MECHANICS section 2: margin-call warning below 2 x MMR
SHOCKS: tuple[Decimal, ...] = tuple(
    Decimal(p) / 100
    for p in (-50, -40, -30, -20, -10, -5, 0, 5, 10, 20, 30, 40, 50)
)  # fmt: skip

STATUSES = ("ok", "warning", "liquidating", "backstop", "bankrupt")  # best to worst
STATUS_WORDS = {"ok": "OK", "warning": "WATCH", "liquidating": "LIQ",
                "backstop": "BACKSTOP", "bankrupt": "BANKRUPT"}  # fmt: skip
STAGES = {
    "ok": "none",
    "warning": "none (margin call)",
    "liquidating": "stage 1-2: on the book",
    "backstop": "stage 3: backstop",
    # MECHANICS 4.3-4.5: BLPs take it at the mark and the fund pays the deficit; ADL takes
    # what they cannot ("fund or ADL" left out the takeover that comes first)
    "bankrupt": "stage 3-5: backstop takeover, fund pays the deficit, else ADL",
}


def classify(equity: Decimal, mmr: Decimal, acmr: Decimal, notional: Decimal) -> str:
    """MECHANICS section 2's status from the worst condition that holds (reduce_only aside).

    Without a position nothing can be liquidated, so only a negative equity (a USD loan larger
    than the collateral) is a state to report, and the exchange calls it bankrupt too.
    """
    word = liquidation_word(equity, mmr, acmr, notional)  # the exchange's own table
    if word is not None:
        return word
    if notional and equity < WARNING_MULTIPLE * mmr:
        return "warning"
    return "ok"


@dataclass(frozen=True, slots=True)
class StressCell:
    """The account after one shock. `column` is an underlying or ALL; `shock` a fraction."""

    column: str
    shock: Decimal
    equity: Decimal  # E_mm'
    mmr: Decimal
    acmr: Decimal
    notional: Decimal
    margin_fraction: Decimal | None  # E'/N', None when flat
    margin_usage: Decimal | None  # MMR'/E', None when E' <= 0
    status: str  # one of STATUSES

    @property
    def word(self) -> str:
        """The status as one word the grid shows beside the colour (never colour alone)."""
        return STATUS_WORDS[self.status]

    @property
    def stage(self) -> str:
        """Which liquidation stage of MECHANICS section 4 this state would reach."""
        return STAGES[self.status]


@dataclass(frozen=True, slots=True)
class StressGrid:
    """Rows are `shocks`, columns the underlyings the account is exposed to, then ALL."""

    shocks: tuple[Decimal, ...]
    columns: tuple[str, ...]
    cells: Mapping[tuple[str, Decimal], StressCell]

    def cell(self, column: str, shock: Decimal) -> StressCell:
        return self.cells[(column, shock)]


def _underlying_of(market: str, markets: Mapping[str, MarketState]) -> str:
    state = markets.get(market)
    if state is None:
        raise ValueError(f"no market state for {market}: cannot tell its underlying")
    return state.underlying


def exposures(health: AccountHealth, markets: Mapping[str, MarketState]) -> tuple[str, ...]:
    """Underlyings a shock would move for this account: those of its positions, then the
    non-USD coins it holds, in first-seen order (positions first, as the screen lists them)."""
    seen: dict[str, None] = {}
    for p in health.positions:
        if p.size:
            seen.setdefault(_underlying_of(p.market, markets), None)
    for c in health.collateral:
        if c.asset not in UNIT_ASSETS and c.amount:
            seen.setdefault(c.asset, None)
    return tuple(seen)


def shocked_risk(
    health: AccountHealth, markets: Mapping[str, MarketState], shocks: Mapping[str, Decimal]
) -> AccountRisk:
    """The account's risk with each underlying u in `shocks` moved by the fraction shocks[u].

    Inputs are rebuilt from the health record with the shocked prices and summed by the
    exchange's own `account_risk`; IMR in the result is not meaningful (resting orders are
    not in the record) and nothing here reads it.
    """
    for u, x in shocks.items():
        if 1 + x <= 0:
            raise ValueError(f"a shock of {x} on {u} would take its price to or below 0")
    factor = {u: 1 + x for u, x in shocks.items()}
    collateral = [
        CollateralInput(
            c.asset,
            c.amount,
            c.price * factor[c.asset] if c.asset in factor and c.amount > 0 else c.price,
            c.weight,
            c.weight_initial,
        )
        for c in health.collateral
    ]
    positions = []
    for p in health.positions:
        u = _underlying_of(p.market, markets)
        mark = p.mark_price * factor[u] if u in factor else p.mark_price
        row = (p.market, u, p.size, mark, p.settle_price, p.entry_price, p.imf, p.mmf)
        positions.append(PositionInput(*row, open_size=abs(p.size)))
    return account_risk(collateral, positions)


def stress_cell(
    health: AccountHealth,
    markets: Mapping[str, MarketState],
    column: str,
    shock: Decimal,
    underlyings: Sequence[str] | None = None,
) -> StressCell:
    """One cell: `column` is an underlying, or ALL to move every one of `underlyings`."""
    if column == ALL:
        moved = underlyings if underlyings is not None else exposures(health, markets)
        shocks = {u: shock for u in moved}
    else:
        shocks = {column: shock}
    risk = shocked_risk(health, markets, shocks)
    return StressCell(
        column=column,
        shock=shock,
        equity=risk.equity,
        mmr=risk.mmr,
        acmr=risk.acmr,
        notional=risk.notional,
        margin_fraction=risk.margin_fraction,
        margin_usage=risk.margin_usage,
        status=classify(risk.equity, risk.mmr, risk.acmr, risk.notional),
    )


def stress_grid(
    health: AccountHealth,
    markets: Mapping[str, MarketState],
    shocks: Sequence[Decimal] = SHOCKS,
) -> StressGrid:
    """Every shock for every underlying the account is exposed to, and for all of them."""
    underlyings = exposures(health, markets)
    columns = (*underlyings, ALL) if underlyings else ()
    cells = {
        (column, x): stress_cell(health, markets, column, x, underlyings)
        for column in columns
        for x in shocks
    }
    return StressGrid(tuple(shocks), columns, cells)
