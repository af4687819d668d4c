"""Teaching scenarios on the live class market: a scripted crash, a gap, a funding premium and
rising volatility, run on the exchange clock while the class trades.

Why here and not `exchange_local.scenarios`: those build their own exchange with accounts
placed where each stage must catch them; a class server has one exchange, the students'.
A live scenario is a short script of facade commands (`shock_index`, orders of a house
account) due at exchange times: the runtime stops the clock at each due time and runs the
step under the engine lock, so every step is a journaled command like any other. What is
not durable is the script itself: after a restart the remaining steps are gone (the steps
already run stay, being commands in the journal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from exchange_local.errors import ExchangeError, InvalidRequest
from exchange_local.money import plain

WHALE = "house-whale"  # the funding scenario's bidder: a house account, never a student's
WHALE_DEPOSIT = Decimal(50_000_000)
LIVE = {
    "crash": "the index falls 5 %, then to 15 % below where it started (MECHANICS section 4: "
    "margin calls, liquidation stages, the fund, maybe ADL)",
    "funding": "a house account bids 0.3 % over the index for 15 minutes: the premium, the "
    "predicted rate climbing, and the hourly payment (section 5)",
    "gap": "the index gaps 10 % at once, faster than the stages can work: accounts past their "
    "bankruptcy price, the insurance fund, maybe ADL (section 4)",
    "volatility": "the index swings down and up around its level every 5 s, wider each minute, "
    "for 15 minutes: margin calls and liquidations; with dynamic risk parameters on, tighter "
    "leverage and caps announced ahead",
}
MAX_SWING = Decimal("0.1")


@dataclass
class Step:
    due_ms: int
    label: str
    action: Callable[[Any], dict[str, Any]]


@dataclass
class LiveScenario:
    name: str
    started_ms: int
    key_name: str
    params: dict[str, Any]
    steps: list[Step]
    done: list[dict[str, Any]] = field(default_factory=list)
    on_stop: Callable[[Any], dict[str, Any]] | None = None
    stopped_ms: int | None = None  # stopped by the teacher before its last step

    @property
    def next_due_ms(self) -> int | None:
        return self.steps[0].due_ms if self.steps else None

    def run_due(self, ex: Any) -> list[dict[str, Any]]:
        """Run every step due by the exchange's time (called under the engine lock). A step
        the exchange refuses is recorded with the refusal; the script goes on."""
        ran = []
        while self.steps and self.steps[0].due_ms <= ex.now_ms:
            step = self.steps.pop(0)
            try:
                result = step.action(ex)
            except ExchangeError as exc:
                result = {"refused": exc.message}
            row = {"ts": ex.now_ms, "step": step.label, **result}
            self.done.append(row)
            ran.append(row)
        return ran

    def stop(self, ex: Any) -> dict[str, Any] | None:
        """Drop the remaining steps and undo what must not outlive the script (the whale's
        bid, the volatility's swing still away from its level). Called under the engine
        lock."""
        if self.steps:
            self.stopped_ms = ex.now_ms
        self.steps.clear()
        if self.on_stop is None:
            return None
        try:
            return self.on_stop(ex)
        except ExchangeError as exc:
            return {"refused": exc.message}

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "startedAt": self.started_ms,
            "startedBy": self.key_name,
            "params": self.params,
            "running": bool(self.steps),
            "stoppedAt": self.stopped_ms,
            "nextStepAt": self.next_due_ms,
            "remainingSteps": [s.label for s in self.steps],
            "remainingStepsAt": [s.due_ms for s in self.steps],
            "done": self.done,
        }


def _fraction(params: dict[str, Any], name: str, default: str) -> Decimal:
    value = Decimal(str(params.get(name, default)))
    if not Decimal("-0.9") <= value <= Decimal(1):
        raise InvalidRequest(f"{name} must be between -0.9 and 1, got {plain(value)}")
    return value


def _seconds(params: dict[str, Any], name: str, default: int, most: int) -> int:
    value = int(params.get(name, default))
    if not 1 <= value <= most:
        raise InvalidRequest(f"{name} must be between 1 and {most} seconds, got {value}")
    return value


def crash(ex: Any, key_name: str, params: dict[str, Any]) -> LiveScenario:
    """-5 % at once, then after `afterSeconds` (120) the rest of the way to -15 % from the
    start (`first`, `total` fractions), with `shock_index` so the living walk goes on from
    the new prices."""
    asset = _underlying(ex, params)
    first = _fraction(params, "first", "-0.05")
    total = _fraction(params, "total", "-0.15")
    after = _seconds(params, "afterSeconds", 120, 3600)
    second = (1 + total) / (1 + first) - 1
    now = ex.now_ms
    steps = [
        Step(now, f"{asset} index {first:+.1%}", _shock(asset, first)),
        Step(now + after * 1000, f"{asset} index to {total:+.1%} from the start",
             _shock(asset, second)),
    ]  # fmt: skip
    used = {"asset": asset, "first": str(first), "total": str(total), "afterSeconds": after}
    return LiveScenario("crash", now, key_name, used, steps)


def funding(ex: Any, key_name: str, params: dict[str, Any]) -> LiveScenario:
    """A house account (`house-whale`) bids `premium` (0.003) over the index on `symbol`
    (BTC-PERP), renewing the bid every `everySeconds` (30) for `minutes` (15); then its bid
    is canceled and its position closed with a reduce-only market order."""
    symbol = str(params.get("symbol", "BTC-PERP"))
    ex.market(symbol)  # UnknownMarket for a bad symbol
    premium = _fraction(params, "premium", "0.003")
    if premium <= 0:
        raise InvalidRequest(f"premium must be positive, got {plain(premium)}")
    every = _seconds(params, "everySeconds", 30, 600)
    minutes = _seconds(params, "minutes", 15, 180)
    now = ex.now_ms

    def setup(e: Any) -> dict[str, Any]:
        if WHALE not in e.accounts():
            e.create_account(WHALE)
            e.deposit(WHALE, "USD", WHALE_DEPOSIT)
        return {"account": WHALE} | bid(e)

    def bid(e: Any) -> dict[str, Any]:
        m = e.market(symbol)
        e.cancel_all(WHALE, symbol)
        price = (m.index * (1 + premium) / m.tick).to_integral_value(ROUND_FLOOR) * m.tick
        notional = max(Decimal(200_000), e.config.market(symbol).impact_notional * 2)
        rest = (notional / price / m.lot).to_integral_value(ROUND_FLOOR) * m.lot
        # it takes every ask up to its price, and `notional` of it is left resting there: in a
        # deep book a bid of `notional` alone was filled whole each time and never rested, so
        # the impact bid, and the premium, never moved (seen on a class market after a crash)
        taken = sum((q for p, q in e.book(symbol, 1000).asks if p <= price), Decimal(0))
        size = rest + taken
        e.place_order(WHALE, symbol, "buy", size, price=price)
        return {"symbol": symbol, "bidPx": str(price), "size": str(size), "resting": str(rest)}

    def unwind(e: Any) -> dict[str, Any]:
        if WHALE not in e.accounts():
            return {}
        canceled = e.cancel_all(WHALE, symbol)
        pos = next((p for p in e.positions(WHALE) if p.market == symbol), None)
        out: dict[str, Any] = {"canceled": len(canceled)}
        if pos is not None and pos.size:
            side = "sell" if pos.size > 0 else "buy"
            res = e.place_order(WHALE, symbol, side, abs(pos.size), type="market", reduce_only=True)
            out["closed"] = str(res.filled)
        return out

    steps = [Step(now, f"{WHALE} bids {premium:.2%} over the index", setup)]
    for k in range(1, minutes * 60 // every):
        steps.append(Step(now + k * every * 1000, "the bid follows the index", bid))
    steps.append(Step(now + minutes * 60_000, "the bid is withdrawn", unwind))
    used = {"symbol": symbol, "premium": str(premium), "everySeconds": every, "minutes": minutes}
    return LiveScenario("funding", now, key_name, used, steps, on_stop=unwind)


def _underlying(ex: Any, params: dict[str, Any]) -> str:
    """The `asset` setting (BTC), refused unless a market trades it."""
    asset = str(params.get("asset", "BTC"))
    if not any(ex.market(s).underlying == asset for s in ex.markets()):
        raise InvalidRequest(f"no market has the underlying {asset!r}")
    return asset


def _shock(asset: str, fraction: Decimal) -> Callable[[Any], dict[str, Any]]:
    def act(e: Any) -> dict[str, Any]:
        price = e.shock_index(asset, fraction)
        return {"asset": asset, "fraction": format(fraction, "f"), "indexPx": str(price)}

    return act


def gap(ex: Any, key_name: str, params: dict[str, Any]) -> LiveScenario:
    """One jump of `fraction` (-0.10) of `asset`'s index (BTC), in a single step: unlike the
    crash there is no second fall to wait for, and no time between for margin calls."""
    asset = _underlying(ex, params)
    fraction = _fraction(params, "fraction", "-0.10")
    if fraction == 0:
        raise InvalidRequest("fraction must not be 0: a gap moves the index")
    now = ex.now_ms
    steps = [Step(now, f"{asset} index gaps {fraction:+.1%}", _shock(asset, fraction))]
    used = {"asset": asset, "fraction": str(fraction)}
    return LiveScenario("gap", now, key_name, used, steps)


def volatility(ex: Any, key_name: str, params: dict[str, Any]) -> LiveScenario:
    """`asset`'s index (BTC) swings every `everySeconds` (5) for `minutes` (15): down by the
    swing, back, up by it, back. The swing starts at `swing` (0.002) and grows by a quarter
    each minute up to `maxSwing` (0.03). Each return is the exact inverse of its move, so the
    swings add no drift of their own to the living walk underneath."""
    asset = _underlying(ex, params)
    swing = _fraction(params, "swing", "0.002")
    most = _fraction(params, "maxSwing", "0.03")
    if not 0 < swing <= most <= MAX_SWING:
        raise InvalidRequest(
            f"need 0 < swing <= maxSwing <= {MAX_SWING}, got swing {swing}, maxSwing {most}"
        )
    every = _seconds(params, "everySeconds", 5, 60)
    minutes = _seconds(params, "minutes", 15, 180)
    now = ex.now_ms
    steps = []
    move = swing
    away: list[Decimal] = []  # the move whose way back has not run yet

    def swing_to(fraction: Decimal, back: bool) -> Callable[[Any], dict[str, Any]]:
        shock = _shock(asset, fraction)

        def act(e: Any) -> dict[str, Any]:
            result = shock(e)  # a refused step raises: `away` keeps what is really off
            away[:] = [] if back else [fraction]  # set, never toggled (review)
            return result

        return act

    def back_to_level(e: Any) -> dict[str, Any]:
        """Stopped between a move and its way back: take the way back now, so the stop
        leaves the index where the living walk has it (it was left up to 3 % off)."""
        if not away:
            return {}
        back = 1 / (1 + away.pop()) - 1
        return {"back": _shock(asset, back)(e)}

    for k in range(max(2, minutes * 60 // every // 2 * 2)):  # whole pairs: every move returns
        t = k * every
        size = min(most, swing * Decimal("1.25") ** (t // 60))
        if k % 2 == 0:  # a move: down on even pairs, up on odd ones
            move = -size if k % 4 == 0 else size
            steps.append(Step(now + t * 1000, f"{asset} index {move:+.2%}", swing_to(move, False)))
        else:  # the way back from the move before it
            back = 1 / (1 + move) - 1
            steps.append(Step(now + t * 1000, f"{asset} index back", swing_to(back, True)))
    used = {"asset": asset, "swing": str(swing), "maxSwing": str(most), "everySeconds": every,
            "minutes": minutes}  # fmt: skip
    return LiveScenario("volatility", now, key_name, used, steps, on_stop=back_to_level)


BUILDERS: dict[str, Callable[[Any, str, dict[str, Any]], LiveScenario]] = {
    "crash": crash,
    "funding": funding,
    "gap": gap,
    "volatility": volatility,
}
