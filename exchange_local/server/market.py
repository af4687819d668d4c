"""The exchange a server runs: durable or in memory, with or without the living market.

Why a fallback: `Exchange.start_living_market` (a journaled market that survives a restart)
is the way; on an exchange without it the market is attached with `feeds.attach` and
`BotSet.attach`, which works in memory but does not survive reopening a store.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

from exchange_local.bots import BotSet, paper_config
from exchange_local.config import ExchangeConfig
from exchange_local.errors import InvalidRequest
from exchange_local.exchange import Exchange
from exchange_local.feeds import RandomWalkFeed, attach
from exchange_local.money import MAX_AMOUNT, decimals_of, plain

SCENARIOS = ("calm", "none")


def new_config(seed: int = 1, start_time_seconds: int | None = None) -> ExchangeConfig:
    """A fresh class exchange: paper bots' backstop accounts, the clock at the wall clock (so
    exchange times on the wire are ms since the epoch, as API.md says)."""
    start = int(time.time()) if start_time_seconds is None else start_time_seconds
    return paper_config(ExchangeConfig(seed=seed, start_time_seconds=start))


def open_exchange(db: str | None, seed: int = 1) -> Any:
    """An exchange on `db` (created with new_config if new; its own config if not)."""
    if db is None:
        return Exchange(new_config(seed))
    fresh = not (os.path.exists(db) and os.path.getsize(db) > 0)  # as Store decides
    return Exchange(new_config(seed) if fresh else None, store=db)


def deposit_refusal(ex: Any, deposits: dict[str, Decimal]) -> str | None:
    """Why these opening deposits would be refused (checked before an account is created, so
    a refusal leaves nothing behind), or None. In the engine's words (Exchange.deposit):
    "X is not accepted as collateral", amounts as typed (money.plain, never 1E-9)."""
    for asset, amount in deposits.items():
        spec = next((a for a in ex.config.assets if a.symbol == asset), None)
        if spec is None or not spec.collateral:
            return f"{asset} is not accepted as collateral"
        if amount <= 0:
            return f"the deposit of {asset} must be positive, got {plain(amount)}"
        if amount > MAX_AMOUNT:  # the engine's deposit refuses it too, but after the account
            return f"the deposit of {asset} {plain(amount)} is above the maximum of {MAX_AMOUNT:f}"
        if decimals_of(amount) > spec.decimals:
            return f"amount {plain(amount)} has more decimals than {asset} allows ({spec.decimals})"
    return None


def check_adjustment(ex: Any, asset: str, amount: Decimal) -> None:
    """Refuse an adjustment the engine would refuse for its amount, said the admin's way
    (InvalidRequest; the engine checks the rest: the asset, and a removal's balance and
    margin). Why here: adjust_balance checks the size of the amount as a deposit's, so a 0
    was "amount must be positive" (an adjustment is signed) and 0.0000001 came back as 1E-7."""
    if amount == 0:
        raise InvalidRequest("amount must not be 0 (a positive amount adds, a negative removes)")
    spec = next((a for a in ex.config.assets if a.symbol == asset.upper()), None)
    if spec is not None and decimals_of(amount) > spec.decimals:
        raise InvalidRequest(
            f"amount {plain(amount)} has more decimals than {spec.symbol} allows ({spec.decimals})"
        )


def living_market_running(ex: Any) -> bool:
    if hasattr(ex, "living_market_running"):
        return bool(ex.living_market_running)
    return any(j.name == "bots" for j in ex.scheduler.jobs())


def start_living_market(ex: Any, seed: int) -> bool:
    """Start the index walk and the bots; False if they already run."""
    if hasattr(ex, "start_living_market"):
        return bool(ex.start_living_market(seed=seed))
    if living_market_running(ex):
        return False
    feed = RandomWalkFeed.from_config(ex.config, seed=seed)
    feed.last_ms = ex.now_ms  # the walk starts now, not at the epoch
    attach(ex, feed)
    BotSet(seed=seed).attach(ex)
    return True
