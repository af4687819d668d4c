"""Positions under MECHANICS section 6's cash-flow accounting.

Why cash flows instead of realising PnL at close: with 30 s settlement every position is marked
to a settle price S, and a fill of q at X pays q*(S - X) in USD. Open, add, reduce, close and
flip all follow that one rule; the average entry price EP is kept only for display and ADL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from exchange_local.money import ZERO, quantize_usd


@dataclass(slots=True)
class Position:
    market: str
    size: Decimal = ZERO
    settle_price: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    funding_paid: Decimal = ZERO

    def apply_fill(self, q: Decimal, price: Decimal) -> Decimal:
        """Apply a signed fill of q at price; return the USD cash flow q*(S - X).

        When the position was flat, S := X first (so opening moves no cash). Realised PnL for
        display is credited on the part that reduces, against the average entry price. It and
        the funding paid are the position's own: a position opened from flat starts them at 0
        (the ledger keeps what earlier positions in the market made or paid).
        """
        s = self.size
        if s == 0:
            self.settle_price = price
            self.entry_price = price
            self.size = q
            self.realized_pnl = ZERO
            self.funding_paid = ZERO
            return ZERO
        cash = q * (self.settle_price - price)
        new = s + q
        if (s > 0) == (q > 0):  # adding
            self.entry_price = (abs(s) * self.entry_price + abs(q) * price) / abs(new)
        else:
            closed = min(abs(q), abs(s))
            direction = 1 if s > 0 else -1
            # EP may be a repeating decimal (300,400 / 3): the display figure is USD-quantized
            self.realized_pnl += quantize_usd(closed * (price - self.entry_price) * direction)
            if new == 0:
                self.entry_price = ZERO
            elif (new > 0) != (s > 0):  # flipped: the new side opened at this fill
                self.entry_price = price
        self.size = new
        return cash

    def unsettled(self, mark: Decimal) -> Decimal:
        return self.size * (mark - self.settle_price)

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.size * (mark - self.entry_price) if self.size else ZERO
