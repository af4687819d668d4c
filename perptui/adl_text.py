"""The explain screen's words on auto-deleveraging (MECHANICS 4, stage 5) for one position.

Why a paragraph with the position's own numbers: ADL is the stage students meet last and
understand least ("why was MY profitable position closed?"). The ranking is a product of two
numbers the screen already has (profit ratio and leverage), so it is shown as that product,
with the place in the queue the exchange reports (quintile 5 = first in line).
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local.health import AccountHealth, PositionRisk
from perptui import format as fmt

EQUITY_FLOOR = Decimal("0.01")  # the engine's floor under E_mm in the ranking


def adl_score(position: PositionRisk, equity: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(profit ratio, leverage, score) as the engine ranks: M/EP for a long, EP/M for a
    short, times |s|·M / max(E_mm, 0.01)."""
    mark, entry = position.mark_price, position.entry_price
    ratio = mark / entry if position.size > 0 else entry / mark
    leverage = abs(position.size) * mark / max(equity, EQUITY_FLOOR)
    return ratio, leverage, ratio * leverage


def adl_lines(health: AccountHealth, market: str) -> list[str]:
    """What ADL would do to this position, in words and its numbers; [] without one."""
    position = next((p for p in health.positions if p.market == market), None)
    if position is None or position.size == 0 or position.entry_price <= 0:
        return []
    ratio, leverage, score = adl_score(position, health.equity)
    long = position.size > 0
    other = "short" if long else "long"
    ratio_words = "mark / entry" if long else "entry / mark"
    quintile = position.adl_quintile
    place = (f"quintile {quintile} of 5 (5 = first in line)" if quintile is not None
             else "not ranked yet (the queue is refreshed every 30 s)")  # fmt: skip
    return [
        "Auto-deleveraging (stage 5)",
        f"If a {other} goes bankrupt and neither the backstop providers nor the insurance "
        f"fund can absorb its deficit, the exchange closes {'long' if long else 'short'} "
        "positions against it at the bankrupt position's zero price, most profitable and "
        "most leveraged first: score = profit ratio × leverage.",
        f"  {ratio_words} {fmt.num(ratio, 4)} × notional / E_mm {fmt.num(leverage, 2)} = "
        f"score {fmt.num(score, 2)}: {place}.",
        "Your position is then closed at that price: you keep its profit up to there, and "
        "its open orders in this market are canceled.",
    ]
