"""`Exchange`: the stable facade, assembled from the core and its capabilities."""

from __future__ import annotations

from exchange_local.clock import (
    ORDER_FUNDING_PAYMENT,
    ORDER_FUNDING_SAMPLE,
    ORDER_LIQUIDATION,
    ORDER_SETTLEMENT,
)
from exchange_local.config import ExchangeConfig
from exchange_local.errors import StoreError
from exchange_local.funding import HOUR_MS, SAMPLE_MS
from exchange_local.living import LivingMarkets
from exchange_local.settlement import SETTLEMENT_MS
from exchange_local.store import Store

MARK_REFRESH_MS = 1000
ORDER_RISK_PARAMS = 35  # after the hourly funding payment, before settlement
RISK_TICK_MS = 1000  # margin-call levels and the liquidation engine (MECHANICS section 4)
ORDER_MARK = 5  # before stop triggers (MECHANICS section 6's order: index -> mark -> triggers)


class Exchange(LivingMarkets):
    """A perpetual-futures exchange in one process (see DESIGN.md, "the stable facade").

    >>> from decimal import Decimal
    >>> ex = Exchange()
    >>> alice = ex.create_account("alice")
    >>> ex.deposit(alice, "USD", Decimal("10000"))
    """

    def __init__(self, config: ExchangeConfig | None = None, store: str | None = None) -> None:
        """`store`: path of an SQLite file. New: created. Existing: the exact state it
        acknowledged is restored (its stored config is used; a different `config` is refused).
        `~` in the path is the home directory. The store is this exchange's alone until
        close(): StoreInUse (a StoreError) if another process has it open."""
        db = Store(store) if store is not None else None
        try:
            self._build(config, db, store)
        except BaseException:
            if db is not None:  # its lock too: a refused open leaves nothing held
                db.close()
            raise

    def _build(self, config: ExchangeConfig | None, db: Store | None, store: str | None) -> None:
        if db is not None and not db.fresh:
            stored = db.stored_config()
            if config is not None and config != stored:
                raise StoreError(
                    f"{store} was created with a different exchange configuration; open it "
                    "without a config (the stored one is used) or with the same one"
                )
            config = stored
        super().__init__(config)
        add = self.scheduler.add_job
        add("mark", MARK_REFRESH_MS, ORDER_MARK, self._refresh_marks)
        add("funding sample", SAMPLE_MS, ORDER_FUNDING_SAMPLE, self._sample_funding)
        add("funding payment", HOUR_MS, ORDER_FUNDING_PAYMENT, self._pay_funding)
        add("settlement", SETTLEMENT_MS, ORDER_SETTLEMENT, self._settle)
        add("risk tick", RISK_TICK_MS, ORDER_LIQUIDATION, self._risk_tick)
        if self.config.dynamic_risk:
            period = self.config.dynamic_risk_period_seconds * 1000
            add("risk parameters", period, ORDER_RISK_PARAMS, self._dynamic_risk_job)
        if db is not None:
            self._attach_store(db)
