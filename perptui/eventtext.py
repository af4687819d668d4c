"""Events as one line each for the events tab: every liquidation stage visible, ours marked.

Why here and not in a widget: the teaching value is in the words ("backstop took 1 BTC-PERP at
94,333.5; fund 20,000 -> 19,950"), so they are tested as plain text without a screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal

from exchange_local import events as ev
from exchange_local.scenarios import LESSON_MARKET_STEPS
from perptui import format as fmt

STAGE_WORDS = {
    "cancel": "stage 1: orders canceled",  # the engine's detail says how many: cancel_words
    # "partial" is MECHANICS 4's name for stage 2, but after a first order of 20 % its next
    # order is for the whole position: liquidation_words says which when the event can tell
    "partial": "stage 2: liquidation order on the book",
    "backstop": "stage 3: backstop takeover",
    "book_close": "stage 3: closed on the book by a liquidation order",
    "insurance": "stage 4: insurance fund paid",
    "adl": "stage 5: auto-deleveraged",
    "recovered": "recovered: margin restored",
    "over": "liquidation over",
    "halted": "stage 6: check failed, market reduce-only",
}


# why an order was canceled, as words: the engine's CancelReason values read as code
# ("canceled: self_trade_prevention"); the events tab and the ticket's results both use these
REASON_WORDS = {
    "user": "by you",
    "ioc_remainder": "IOC: not filled at once",
    "fok_not_fillable": "FOK: not fillable in full at once",
    "market_protection_band": "beyond the market-order price band",
    "no_liquidity": "no liquidity in the book",
    "self_trade_prevention": "self-trade prevention",
    "reduce_only_position_gone": "reduce-only: position gone",
    "open_interest_cap": "open-interest cap reached",
    "insufficient_margin": "insufficient margin",
    "liquidation": "liquidation",
    "auto_deleveraging": "auto-deleveraging",
    "market_settled": "market settled",
    "account_reset": "account reset",
}


def reason_words(reason: object) -> str:
    """A cancel reason (CancelReason or its string) in words; an unknown one with its
    underscores as spaces, so a newer server's reason still reads as words."""
    key = str(getattr(reason, "value", reason))
    return REASON_WORDS.get(key, key.replace("_", " "))


NUMBER = re.compile(r"-?\d+\.\d+")
CENT = Decimal("0.01")
USD_PLACES = 6  # the ledger's quantum


def market_steps(market: str | None) -> tuple[Decimal, Decimal] | None:
    """(tick, lot) of `market`: the exchange's default markets (format.MARKET_STEPS), then
    the lessons' own (squeeze's JELLY-PERP); None for a market nobody here knows."""
    if market is None:
        return None
    return fmt.MARKET_STEPS.get(market) or LESSON_MARKET_STEPS.get(market)


def event_price(market: str | None, value: Decimal) -> str:
    """A price in an event's line as the engine's words in the same line give it: the tick's
    decimals, at least cents (JELLY's 0.23840 beside "zero price 0.23840", not 0.2384);
    every digit it has, at least cents, where the tick is not known or the price is off it."""
    steps = market_steps(market)
    if steps is not None and value % steps[0] == 0:
        return fmt.num(value, max(2, fmt.decimals_of(steps[0])))
    return fmt.tick_price(value)


def event_size(market: str | None, value: Decimal) -> str:
    """A size in an event's line on the lot's decimals with separators (JELLY's 1,000,000,
    not 1,000,000.0000 beside "asked 1,000,000"); four places where the lot is not known."""
    steps = market_steps(market)
    if steps is not None and value % steps[1] == 0:
        return fmt.size(value, steps[1])
    return fmt.num(value, 4)


def balance_pair(before: Decimal, after: Decimal) -> str:
    """`before → after` of a balance (the fund's), to the cent when the cents add up to the
    move; else with every digit (the ledger's six places), as the engine's words then give
    the payment: 20,214.448831 → 18,088.003948 beside "paid 2,126.444883", where the cents
    read 20,214.45 → 18,088.00 beside it, a sum that does not add up."""
    if after.quantize(CENT) - before.quantize(CENT) == (after - before).quantize(CENT):
        return f"{fmt.usd(before)} → {fmt.usd(after)}"
    return f"{fmt.trimmed(before, USD_PLACES)} → {fmt.trimmed(after, USD_PLACES)}"


def detail_value(value: object) -> str:
    """An event detail as words: `20 → 15` for an (old, new) pair, `asset BTC, first -5%`
    for a dict, a fraction to a few places; never a Python repr like Decimal('20')."""
    if isinstance(value, tuple) and len(value) == 2:
        return f"{detail_value(value[0])} → {detail_value(value[1])}"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {detail_value(v)}" for k, v in value.items()) + ")"
    if isinstance(value, (list, tuple)):
        return ", ".join(detail_value(v) for v in value)
    if isinstance(value, str) and NUMBER.fullmatch(value):  # a decimal string off the wire
        value = Decimal(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return f"{value:,.0f}"
        return f"{value:.6g}" if abs(value) < 1 else fmt.num(value, 2)
    return str(value)


# the dynamic risk job's events (exchange_local/risk_params.py) by name; their details read
# as "risk_params_announced effective at 600, max leverage 20 → 20, ..., daily vol None"
RISK_PARAMS_WORDS = {
    "risk_params_announced": "risk parameters announced",
    "risk_params_applied": "risk parameters applied",
}
RISK_PARAMS_KEYS = ("effective_at", "max_leverage", "oi_cap", "asset", "weight_total",
                    "weight_initial", "daily_vol")  # fmt: skip


def as_decimal(value: object) -> Decimal | None:
    """A detail's number, whether the engine's Decimal or the wire's string; None when it
    is none (unknown) or not a number."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            out = Decimal(value)
        except ArithmeticError:
            return None
        return out if out.is_finite() else None
    return None


def before_after(value: object) -> tuple[Decimal | None, Decimal | None]:
    """(before, after) of a detail: a pair (a tuple, or a list off the wire), or a value
    alone as (None, value) (an older server's "applied" sent only what is in force)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return as_decimal(value[0]), as_decimal(value[1])
    return None, as_decimal(value)


def leverage_text(value: Decimal) -> str:
    return f"{fmt.trimmed(value, 2, 0)}x"


def cap_text(value: Decimal) -> str:
    return f"{fmt.trimmed(value, 2, 0)} USD"


def weight_text(value: Decimal) -> str:
    return fmt.trimmed(value, 3, 2)  # weights step by 0.001: 0.95, 0.957


def risk_params_text(event: ev.MarketEvent) -> str:
    """A risk-parameter announcement or application in words: what changes (before → after),
    what stays ("unchanged", not "20 → 20"), when it takes effect as the tab's other times
    read (HH:MM:SS exchange time, not exchange seconds), the collateral weights of the
    underlying, and the daily volatility behind it as a percentage (left out when unknown)."""
    d = event.detail
    head = f"{event.market}: {RISK_PARAMS_WORDS[event.what]}"
    at = as_decimal(d.get("effective_at"))
    if at is not None:
        head += f", in force at {fmt.exchange_time(int(at * 1000))}"
    asset = d.get("asset")
    weight_name = f"{asset} collateral weight" if asset else "collateral weight"
    changed: list[str] = []
    same: list[str] = []
    for key, name, show in (("max_leverage", "max leverage", leverage_text),
                            ("oi_cap", "OI cap", cap_text),
                            ("weight_total", weight_name, weight_text)):  # fmt: skip
        if key not in d:
            continue
        old, new = before_after(d[key])
        if new is None:
            continue
        moved = old is None or old != new
        if old is not None and old != new:
            words = f"{name} {show(old).removesuffix(' USD')} → {show(new)}"
        else:
            words = f"{name} {show(new)}"
        if key == "weight_total" and "weight_initial" in d:
            old_init, new_init = before_after(d["weight_initial"])
            if new_init is not None:
                moved = moved or (old_init is not None and old_init != new_init)
                if old_init is not None and old_init != new_init:
                    words += f" (initial {weight_text(old_init)} → {weight_text(new_init)})"
                else:
                    words += f" (initial {weight_text(new_init)})"
        (changed if moved else same).append(words)
    parts = [head, *changed]
    if same:
        parts.append("unchanged: " + ", ".join(same))
    vol = as_decimal(d.get("daily_vol"))
    if vol is not None:
        parts.append(f"daily volatility {fmt.pct(vol)}")
    parts += [f"{k.replace('_', ' ')} {detail_value(v)}" for k, v in d.items()
              if k not in RISK_PARAMS_KEYS]  # a newer server's detail, as words  # fmt: skip
    return " · ".join(parts)


# a lesson's own marker (exchange_local.scenarios: squeeze's "lesson run 1 of 2: ..."): its
# words say the run and which caps it has; the detail's amounts, by name, in words
LESSON_WORDS = "lesson run"
LESSON_AMOUNTS = {"open_interest_cap_usd": "open-interest cap",
                  "backstop_loss_cap_usd": "backstop loss cap"}  # fmt: skip
LESSON_SAID = ("run", "of")  # in the words already


def lesson_text(event: ev.MarketEvent) -> str:
    """A lesson's marker as one readable line: its words, then the caps' amounts in USD
    with separators and cents ("none" is in the words: "no open-interest cap"). It read
    "... no backstop loss cap run 1, of 2, open interest cap usd none, ...", the detail's
    keys appended raw after the words."""
    parts = [f"{event.market}: {event.what}"]
    for key, value in event.detail.items():
        if key in LESSON_SAID or value in (None, "none"):
            continue
        amount = as_decimal(value)
        if key in LESSON_AMOUNTS and amount is not None:
            parts.append(f"{LESSON_AMOUNTS[key]} {fmt.usd(amount)} USD")
        else:  # a newer lesson's detail, as words
            parts.append(f"{key.replace('_', ' ')} {detail_value(value)}")
    return " · ".join(parts)


def closed_out(event: ev.LiquidationEvent) -> bool:
    """Every position closed by the liquidation: stage "over", or "recovered" with no MMR
    left from a server older than that stage. Never "recovered: margin restored", which a
    class read for accounts left with nothing."""
    return event.stage == "over" or (event.stage == "recovered" and event.mmr_after == 0)


def over_words(event: ev.LiquidationEvent) -> str:
    """README: "closed out, no equity" or "closed out, equity left", to the cent as the line
    shows it (a residue far below it, from coins at their weights, is no equity)."""
    if event.equity_after.quantize(CENT) > 0:
        return "closed out, equity left"
    return "closed out, no equity"


# the engine's detail of a stage 2 order opens with which order of MECHANICS 4.2 it is
ORDER_SHARES = ("the whole position", "part of the position")
# the engine's detail of stage 1: "no open orders to cancel", "1 open order canceled", ...
CANCELED = re.compile(r"no open orders to cancel|\d+ open orders? canceled")


def cancel_words(event: ev.LiquidationEvent) -> str | None:
    """Stage 1 as what it did, from the engine's detail: "stage 1: no open orders to cancel"
    or "stage 1: 2 open orders canceled"; None for a detail of another form (an older
    server's), which keeps "orders canceled" and the detail after the figures. It read
    "stage 1: orders canceled · ... · no open orders to cancel", contradicting itself."""
    if event.stage == "cancel" and CANCELED.fullmatch(event.detail):
        return f"stage 1: {event.detail}"
    return None


def order_share(event: ev.LiquidationEvent) -> tuple[str, str]:
    """("for the whole position" or "for part of the position (2.0000)", the detail after
    it) of a stage 2 order, from the engine's own words; ("", detail) for any other event.
    Why not "partial" for every stage 2 order: after a first order of 20 % the next one is
    for the whole position (MECHANICS 4.2), and a class read "partial" above it."""
    detail = event.detail
    if event.stage == "partial":
        for share in ORDER_SHARES:
            if detail.startswith(share):
                head, _, rest = detail.partition(": ")
                return f" for {head}", rest
    return "", detail


def nothing_filled_words(event: ev.LiquidationEvent) -> str:
    """An order on the book that filled nothing, and what comes of the position only where
    the event can tell. Stage 2 runs nothing after its order in the tick, so its position is
    still open (the next order may wait out the 30 s cooldown: no "each second" promise). A
    stage 3 close may be followed in the same tick by the fund (stage 4) or ADL (stage 5),
    which close the position, and the event does not say whether they will: it promises
    nothing (a class read "retried each second" above the ADL that closed it), and their
    events speak for what happened next."""
    words = ", nothing filled within the limit"
    if event.stage == "partial":
        return words + "; the position stays open"
    return words


NOTHING_CLOSED = {"book_close": "stage 3: close on the book"}  # not "closed": nothing filled


def liquidation_words(event: ev.LiquidationEvent) -> str:
    """The stage in words, before the figures: which stage, and what its order did."""
    cancel = cancel_words(event)
    if cancel is not None:
        return cancel
    words = STAGE_WORDS.get(event.stage, event.stage) + order_share(event)[0]
    if event.stage in ("partial", "book_close") and event.size == 0:
        words = NOTHING_CLOSED.get(event.stage, words) + nothing_filled_words(event)
    return words


def venue_liquidation_text(event: ev.LiquidationEvent, me: str, you: str) -> str:
    """Another venue's liquidation of the account (Hyperliquid's `userEvents`), saying only
    what the venue sent: the account value at liquidation, the notional as money, the
    liquidator. Why not the stage line: it showed "equity 100.00 → 100.00 · MMR 0.00 → 0.00"
    for figures the venue never sent, and the notional as it came off the wire (6020)."""
    who = you if event.account == me else event.account
    parts = [f"{who}: liquidated on {event.venue}"]
    if event.market:
        parts.append(event.market)
    parts.append(f"account value {fmt.usd(event.equity_before)} at liquidation")
    if event.notional is not None:
        parts.append(f"notional {fmt.usd(abs(event.notional))} USD")
    liquidators = [you if c == me else c for c in event.counterparties if c]
    if liquidators:
        parts.append("liquidator " + ", ".join(liquidators))
    if event.detail:
        parts.append(event.detail)
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class EventLine:
    time_ms: int
    kind: str  # liquidation, margin, market, funding, order, fill, invariant
    text: str
    mine: bool
    event: ev.Event | None = field(default=None, compare=False)  # to re-mark it (below)


def describe(event: ev.Event, me: str, you: str = "YOU") -> EventLine | None:
    """A line for the events tab, or None for events the tab does not list. `you` names the
    watched account (a demo watches a scripted account, not the user's own)."""
    line = _describe(event, me, you)
    return None if line is None else replace(line, event=event)


def remark(line: EventLine, me: str, you: str) -> EventLine:
    """The line as it reads for another watched account (a demo's or a replay's `w`): its
    own words for the events it lists, else the line as written but no longer marked as
    ours (another account's fill, in its name: still what happened)."""
    if line.event is None:
        return line
    again = describe(line.event, me, you)
    return again if again is not None else replace(line, mine=False)


def _describe(event: ev.Event, me: str, you: str) -> EventLine | None:
    t = event.time_ms
    if isinstance(event, ev.LiquidationEvent) and event.venue is not None:
        return EventLine(t, "liquidation", venue_liquidation_text(event, me, you),
                         event.account == me or me in event.counterparties)  # fmt: skip
    if isinstance(event, ev.LiquidationEvent):
        who = you if event.account == me else event.account
        stage_words = liquidation_words(event)
        if closed_out(event):
            stage_words = f"liquidation over: {over_words(event)}"
        parts = [f"{who}: {stage_words}"]
        if event.market:
            parts.append(event.market)
        on_book = event.stage in ("partial", "book_close")
        market = event.market
        if event.size is not None and on_book:  # what the IOC filled, not what it asked
            filled = f"filled {event_size(market, abs(event.size))}"
            if event.fill_price is not None:  # at its average price, then its limit
                filled += f" @ {fmt.average_price(event.fill_price)}"
            if event.size:
                parts.append(filled)
        elif event.size is not None:
            parts.append(f"size {event_size(market, abs(event.size))}")  # side: in the words
        if event.price is not None:
            parts.append(f"{'limit' if on_book else '@'} {event_price(market, event.price)}")
        if event.counter_price is not None and event.counter_price != event.price:
            parts.append(f"BLPs @ {event_price(market, event.counter_price)}")
        if event.fee:  # the order's fills above read as taker fills with no fee: this is it
            parts.append(f"liquidation fee {fmt.usd(event.fee)} to the fund, no taker fee")
        if closed_out(event):  # nothing moved: what is left, once
            parts.append(f"equity {fmt.usd(event.equity_after)}")
        else:
            parts.append(f"equity {fmt.usd(event.equity_before)} → {fmt.usd(event.equity_after)}")
            if event.mmr_before is not None and event.mmr_after is not None:  # None: not known
                parts.append(f"MMR {fmt.usd_up(event.mmr_before)} → {fmt.usd_up(event.mmr_after)}")
        if event.counterparties:
            parts.append("with " + ", ".join(you if c == me else c for c in event.counterparties))
        if event.fund_before != event.fund_after:
            parts.append(f"fund USD {balance_pair(event.fund_before, event.fund_after)}")
        detail = order_share(event)[1]  # what the words above took from it, left out
        if cancel_words(event) is not None:
            detail = ""
        if detail and not closed_out(event):  # "over": the words above say it
            parts.append(detail)
        mine = event.account == me or me in event.counterparties
        return EventLine(t, "liquidation", " · ".join(parts), mine)
    if isinstance(event, ev.MarginEvent):
        words = {"warning": "margin call: equity below 2 × MMR", "reduce_only":
                 "reduce-only: equity below IMR", "recovered": "margin recovered"}  # fmt: skip
        who = you if event.account == me else event.account
        if event.level == "recovered" and event.mmr == 0:  # flat: nothing was "recovered"
            left = ", no equity left" if event.equity.quantize(CENT) <= 0 else ""
            words["recovered"] = f"margin calls over: nothing left at risk{left}"
        text = (f"{who}: {words.get(event.level, event.level)} · equity {fmt.usd(event.equity)}"
                f" · MMR {fmt.usd_up(event.mmr)} · IMR {fmt.usd_up(event.imr)}")  # fmt: skip
        return EventLine(t, "margin", text, event.account == me)
    if isinstance(event, ev.MarketEvent) and event.what in RISK_PARAMS_WORDS:
        return EventLine(t, "market", risk_params_text(event), False)
    if isinstance(event, ev.MarketEvent) and event.what.startswith(LESSON_WORDS):
        return EventLine(t, "market", lesson_text(event), False)
    if isinstance(event, ev.MarketEvent):
        detail = ", ".join(f"{k.replace('_', ' ')} {detail_value(v)}"
                           for k, v in event.detail.items())  # fmt: skip
        return EventLine(t, "market", f"{event.market}: {event.what} {detail}".strip(), False)
    if isinstance(event, ev.FundingPaid):
        r = event.record
        text = (f"{r.market}: funding paid at {fmt.rate(r.rate)}/h, {fmt.usd(r.paid)} from "
                f"payers, residual {fmt.usd(r.residual)} to the fund")  # fmt: skip
        return EventLine(t, "funding", text, False)
    if isinstance(event, ev.OrderRefused):
        who = you if event.account == me else event.account
        at = f" @ {event_price(event.market, event.price)}" if event.price is not None else ""
        size = event_size(event.market, event.size)
        text = (f"{who}: {event.side} {size} {event.market}{at} refused "
                f"({event.code.replace('_', ' ')}): {event.message}")  # fmt: skip
        return EventLine(t, "order", text, event.account == me)
    if isinstance(event, ev.InvariantViolated):
        return EventLine(t, "invariant", "INVARIANT VIOLATED: " + "; ".join(event.problems), True)
    if isinstance(event, ev.OrderCanceled) and event.order.account == me:
        o = event.order
        return EventLine(t, "order", f"{you}: order {o.order_id} {o.side} {o.size} {o.market} "
                         f"canceled: {reason_words(event.reason)}", True)  # fmt: skip
    if isinstance(event, ev.OrderTriggered) and event.order.account == me:
        o = event.order
        return EventLine(t, "order", f"{you}: {o.type} {o.order_id} triggered at mark "
                         f"{fmt.tick_price(event.mark)}", True)  # fmt: skip
    if isinstance(event, ev.FillEvent) and me in (event.fill.taker, event.fill.maker):
        f = event.fill
        side = f.taker_side if f.taker == me else ("sell" if f.taker_side == "buy" else "buy")
        role = "taker" if f.taker == me else "maker"
        size, price = fmt.market_size(f.market, f.size), fmt.market_price(f.market, f.price)
        text = f"{you} {side} {size} {f.market} @ {price} ({role})"
        return EventLine(t, "fill", text, True)
    return None
