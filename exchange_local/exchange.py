"""`Exchange`: the stable facade, assembled from the core and its capabilities."""

from __future__ import annotations

from exchange_local.engine import ExchangeCore
from exchange_local.trading import Trading


class Exchange(Trading, ExchangeCore):
    """A perpetual-futures exchange in one process (see DESIGN.md, "the stable facade").

    >>> from decimal import Decimal
    >>> ex = Exchange()
    >>> alice = ex.create_account("alice")
    >>> ex.deposit(alice, "USD", Decimal("10000"))
    """
