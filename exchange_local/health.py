"""What `health()`, `preview_order()` and `explain()` return: plain records for people and UIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(slots=True)
class CollateralLine:
    asset: str
    amount: Decimal
    price: Decimal
    weight: Decimal  # weight_total at this balance (1 for a liability)
    weight_initial: Decimal
    value: Decimal  # amount * price * weight: what it counts towards E_mm


@dataclass(slots=True)
class PositionRisk:
    """One position's risk. liquidation_state: "ok", "now" (E_mm < MMR) or "bankrupt" (E_mm < 0);
    liquidation_price / bankruptcy_price are None where MECHANICS section 3 says none exists."""

    market: str
    size: Decimal
    entry_price: Decimal
    settle_price: Decimal
    mark_price: Decimal
    notional: Decimal
    unsettled_pnl: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    funding_paid: Decimal
    imf: Decimal
    mmf: Decimal
    liquidation_price: Decimal | None
    bankruptcy_price: Decimal | None
    zero_price: Decimal | None
    liquidation_state: str
    distance_to_liquidation: Decimal | None
    adl_quintile: int | None = None


@dataclass(slots=True)
class AccountHealth:
    """Cross-margin health of one account (MECHANICS sections 1-3)."""

    account: str
    equity: Decimal  # E_mm
    initial_equity: Decimal  # E_im
    collateral_total: Decimal  # C_tot
    collateral_initial: Decimal  # C_init
    collateral: list[CollateralLine]
    unsettled_pnl: Decimal
    unrealized_pnl: Decimal
    notional: Decimal
    imr: Decimal
    mmr: Decimal
    acmr: Decimal
    margin_fraction: Decimal | None
    margin_usage: Decimal | None
    free_collateral: Decimal
    leverage: Decimal | None
    status: str
    warning: bool
    positions: list[PositionRisk] = field(default_factory=list)


@dataclass(slots=True)
class OrderPreview:
    """What an order would do, computed by the same gate that decides it; changes nothing."""

    market: str
    side: str
    size: Decimal
    est_fill_price: Decimal | None
    fillable_now: Decimal
    fee: Decimal
    imr_before: Decimal
    imr_after: Decimal
    free_collateral_before: Decimal
    free_collateral_after: Decimal
    margin_fraction_before: Decimal | None
    margin_fraction_after: Decimal | None
    liquidation_price_before: Decimal | None
    liquidation_price_after: Decimal | None
    bankruptcy_price_before: Decimal | None
    bankruptcy_price_after: Decimal | None
    position_before: Decimal
    position_after: Decimal
    would_reject: str | None
    max_size: Decimal | None
    warnings: list[str] = field(default_factory=list)
