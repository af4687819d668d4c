"""Dynamic risk parameters: max leverage, open-interest caps and collateral weights that follow
realised volatility, book depth and circulating supply (the seed's three inputs).

Why announce a change a period ahead and bound each step: a parameter change can move every
account's margin; nobody should be liquidated by one without warning (the event is shown in
the TUI), and no single step may move a parameter far.

The formula, per market (underlying u), all in Decimal:
- daily volatility s: the realised variance of the mark over the last 24 h (sum of squared
  relative moves between 1-minute closes, divided by the minutes spanned), times 1,440, rooted;
- max leverage = floor(1 / (3 s)): initial margin covers a three-sigma day; at most configured;
- OI cap = min(50 x depth, 5 % x circulating supply x price), at most configured, where depth is
  the USD notional within 1 % of the mark on the thinner side of the book;
- weights of u as collateral: W_tot = 1 - 3 s (never below half or above configured), W_init
  lower by the configured gap.
Each period a parameter moves at most 25 % (leverage at least 1 step, weights 0.05) towards
its target.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from exchange_local.config import AssetSpec, MarketSpec
from exchange_local.events import MarketEvent
from exchange_local.money import ONE, ZERO
from exchange_local.operator import Operator
from exchange_local.state import MarketRuntime

SIGMAS = Decimal(3)
DEPTH_MULTIPLE = Decimal(50)
SUPPLY_SHARE = Decimal("0.05")
MAX_STEP = Decimal("0.25")
WEIGHT_STEP = Decimal("0.05")
DAY_MS = 86_400_000
MINUTE_MS = 60_000


@dataclass(slots=True)
class Suggestion:
    market: str
    daily_vol: Decimal | None
    depth_usd: Decimal
    market_cap: Decimal | None
    max_leverage: Decimal
    oi_cap: Decimal
    weight_total: Decimal | None
    weight_initial: Decimal | None
    current: MarketSpec
    configured: MarketSpec


def daily_volatility(closes: list[tuple[int, Decimal]]) -> Decimal | None:
    """Realised daily volatility from (minute start ms, close) pairs, oldest first."""
    if len(closes) < 2:
        return None
    pairs = zip(closes, closes[1:], strict=False)  # noqa: RUF007 (pairwise of tuples)
    variance = sum(((b / a - ONE) ** 2 for (_, a), (_, b) in pairs), ZERO)
    minutes = Decimal(closes[-1][0] - closes[0][0]) / MINUTE_MS
    if minutes <= 0:
        return None
    return (variance / minutes * 1440).sqrt()


def toward(current: Decimal, target: Decimal, step: Decimal) -> Decimal:
    """Move at most `step` (a fraction of current) towards target."""
    return max(current * (ONE - step), min(current * (ONE + step), target))


class DynamicRisk(Operator):
    def _depth_usd(self, m: MarketRuntime) -> Decimal:
        bids, asks = m.book.depth(1000)
        low, high = m.mark * Decimal("0.99"), m.mark * Decimal("1.01")
        bid = sum((p * m.tick * q * m.lot for p, q in bids if p * m.tick >= low), ZERO)
        ask = sum((p * m.tick * q * m.lot for p, q in asks if p * m.tick <= high), ZERO)
        return min(bid, ask)

    def risk_parameters(self, market: str) -> Suggestion:
        """What the formula suggests for a market now, beside its current and configured
        parameters (see this module's docstring for the formula)."""
        m = self._market(market)
        configured = self._configured_markets[m.symbol]
        closes = [(b[0], b[4]) for b in m.data.mark_candles.window(self.now_ms - DAY_MS)]
        vol = daily_volatility(closes)
        depth = self._depth_usd(m)
        asset = self._assets[m.spec.underlying]
        cap_supply = (asset.circulating_supply * self.prices[asset.symbol]
                      if asset.circulating_supply else None)  # fmt: skip
        if vol:
            lev = (ONE / (SIGMAS * vol)).to_integral_value(rounding=ROUND_FLOOR)
            max_lev = min(configured.max_leverage, max(ONE, lev))
        else:
            max_lev = configured.max_leverage
        oi = DEPTH_MULTIPLE * depth
        if cap_supply is not None:
            oi = min(oi, SUPPLY_SHARE * cap_supply)
        oi = min(configured.oi_cap, oi) if oi > 0 else configured.oi_cap
        w_tot = w_init = None
        base = self._configured_assets.get(asset.symbol)
        if vol is not None and base is not None and asset.collateral:
            w_tot = min(base.weight_total, max(Decimal("0.5"), ONE - SIGMAS * vol))
            w_init = max(ZERO, w_tot - (base.weight_total - base.weight_initial))
        return Suggestion(m.symbol, vol, depth, cap_supply, max_lev, oi, w_tot, w_init,
                          m.spec, configured)  # fmt: skip

    def _dynamic_risk_job(self, t_ms: int) -> None:
        """Apply what was announced a period ago, then announce the next bounded step."""
        for symbol, (spec, new_asset) in sorted(self._pending_params.items()):
            m = self._markets[symbol]
            old, old_asset = m.spec, None
            m.spec = spec
            if new_asset is not None:
                old_asset = self._assets[new_asset.symbol]
                self._assets[new_asset.symbol] = new_asset
                self._weight_cache.clear()
            self._margin_dirty.update(self.accounts())
            if self._subscribers:
                # (before, after) as announced, the weights too: a class saw the announced
                # weight and no word of it when it applied
                applied: dict[str, Any] = {
                    "max_leverage": (old.max_leverage, spec.max_leverage),
                    "oi_cap": (old.oi_cap, spec.oi_cap),
                }
                if new_asset is not None and old_asset is not None:
                    applied.update(weights(old_asset, new_asset))
                self._emit(MarketEvent(t_ms, symbol, "risk_params_applied", applied))
        self._pending_params = {}
        period = self.config.dynamic_risk_period_seconds
        for m in self._markets.values():
            s = self.risk_parameters(m.symbol)
            cur = m.spec
            lev_step = max(ONE, (cur.max_leverage * MAX_STEP).to_integral_value(ROUND_FLOOR))
            lev = max(cur.max_leverage - lev_step, min(cur.max_leverage + lev_step, s.max_leverage))
            oi_cap = toward(cur.oi_cap, s.oi_cap, MAX_STEP).to_integral_value(ROUND_FLOOR)
            spec = replace(cur, max_leverage=lev, oi_cap=oi_cap)
            asset: AssetSpec | None = None
            now_asset = self._assets[cur.underlying]
            if s.weight_total is not None and s.weight_initial is not None:
                wt = max(now_asset.weight_total - WEIGHT_STEP,
                         min(now_asset.weight_total + WEIGHT_STEP, s.weight_total))  # fmt: skip
                wt = wt.quantize(Decimal("0.001"), rounding=ROUND_FLOOR)
                gap = now_asset.weight_total - now_asset.weight_initial
                asset = replace(now_asset, weight_total=wt, weight_initial=max(ZERO, wt - gap))
            if spec == cur and (asset is None or asset == now_asset):
                continue
            self._pending_params[m.symbol] = (spec, asset)
            if self._subscribers:
                self._emit(MarketEvent(t_ms, m.symbol, "risk_params_announced", {
                    "effective_at": Decimal(t_ms) / 1000 + period,  # exchange seconds
                    "max_leverage": (cur.max_leverage, spec.max_leverage),
                    "oi_cap": (cur.oi_cap, spec.oi_cap),
                    **weights(now_asset, asset or now_asset),
                    "daily_vol": s.daily_vol,  # None: not known (too few minute closes)
                }))  # fmt: skip


def weights(before: AssetSpec, after: AssetSpec) -> dict[str, Any]:
    """An event's collateral weights of the market's underlying, (before, after): the
    initial weight moves with the total one, and both change what an account may do."""
    return {
        "asset": after.symbol,
        "weight_total": (before.weight_total, after.weight_total),
        "weight_initial": (before.weight_initial, after.weight_initial),
    }
