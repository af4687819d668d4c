"""The watch venue's live half: what each WebSocket push does to the cached state.

Why a mixin of its own: HyperliquidVenue (hyperliquid.py) owns the state and the REST side;
these handlers are the one place that turns `allMids`, `l2Book`, `trades`, `candle`,
`activeAssetCtx`, `userFills`, `userFundings`, `orderUpdates` and `userEvents` (channel `user`)
into that state and into events for the events tab. User streams replay a snapshot on every
(re)subscribe (`isSnapshot`), and `userEvents` repeats the fills of `userFills`: fills are
deduped by trade id and only new ones become events. `orderUpdates` has no snapshot, so the
REST bootstrap (and the 10 s poll) of `frontendOpenOrders` is reconciled with it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import replace
from decimal import Decimal
from typing import Any

from exchange_local.engine import BookSnapshot, MarketState
from exchange_local.events import (
    Event,
    FillEvent,
    LiquidationEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
)
from exchange_local.funding import AccountFunding
from exchange_local.marketdata import Candle, Trade
from exchange_local.orders import Fill, OrderInfo, OrderStatus
from perptui.venues import hyperliquid_wire as hw

ZERO = Decimal(0)
KEPT = 2_000  # fills, funding payments, events: HL returns at most 2000 fills anyway
TRADES_KEPT = 200
CANDLES = 240


class LiveUpdates:
    """Mixed into HyperliquidVenue, which creates these attributes."""

    account: str
    _markets: dict[str, MarketState]
    _orders: dict[int, OrderInfo]
    _fills: dict[int, Fill]
    _funding: dict[tuple[Decimal, str], AccountFunding]
    _books: dict[str, BookSnapshot]
    _trades: dict[str, deque[Trade]]
    _candles: dict[tuple[str, str], list[Candle]]
    _events: deque[Event]
    _wake: asyncio.Event
    mids: dict[str, Decimal]

    def _add_fills(self, rows: Any, live: bool) -> None:
        for row in rows or ():
            fill = hw.parse_fill(row, self.account)
            if fill.fill_id in self._fills:
                continue  # a snapshot replayed on (re)subscribe, or userEvents repeating it
            self._fills[fill.fill_id] = fill
            if live:
                self._events.append(FillEvent(fill.time_ms, fill))
                self._wake.set()
        if len(self._fills) > KEPT:
            for key in sorted(self._fills, key=lambda k: self._fills[k].time_ms)[:-KEPT]:
                del self._fills[key]

    def _add_funding(self, payment: AccountFunding) -> None:
        self._funding[(payment.time, payment.market)] = payment

    def _on_message(self, channel: str, data: Any) -> None:
        if channel == "allMids" and isinstance(data, dict):
            mids = data.get("mids") or {}
            self.mids.update({k: v for k, v in ((c, hw.dec(p)) for c, p in mids.items())
                              if v is not None})  # fmt: skip
        elif channel == "l2Book":
            self._set_book(hw.parse_book(data))
        elif channel == "trades":
            for row in data or ():
                trade = hw.parse_trade(row)
                tape = self._trades.setdefault(hw.market_of(row["coin"]), deque(maxlen=TRADES_KEPT))
                if not tape or trade.trade_id != tape[-1].trade_id:
                    tape.append(trade)
        elif channel == "candle":
            self._add_candle(data)
        elif channel == "activeAssetCtx":
            market = hw.market_of(str(data.get("coin")))
            if market in self._markets:
                self._markets[market] = hw.apply_asset_ctx(self._markets[market], data["ctx"])
        elif channel == "userFills":
            self._add_fills(data.get("fills"), live=not data.get("isSnapshot"))
        elif channel == "userFundings":
            for row in data.get("fundings") or ():
                self._add_funding(hw.parse_funding(row))
        elif channel == "orderUpdates":
            for update in data or ():
                self._order_update(update)
        elif channel == "user":
            self._user_event(data)

    def _set_book(self, book: BookSnapshot) -> None:
        """No sequence numbers on HL: the block time says which of two snapshots is newer."""
        old = self._books.get(book.market)
        if old is None or book.seq >= old.seq:
            self._books[book.market] = book

    def _add_candle(self, row: dict[str, Any]) -> None:
        key = (hw.market_of(str(row.get("s"))), str(row.get("i")))
        series = self._candles.get(key)
        if series is None:
            return  # not on screen: nothing to extend
        candle = hw.parse_candle(row)
        if series and series[-1].start == candle.start:
            series[-1] = candle
        elif not series or candle.start > series[-1].start:
            series.append(candle)
            del series[:-CANDLES]

    def _order_update(self, update: dict[str, Any]) -> None:
        """`orderUpdates` has no snapshot: the REST bootstrap plus these keep the open orders."""
        raw = update.get("order") or {}
        status = str(update.get("status") or "")
        info = hw.parse_order(raw, self.account)
        t = int(update.get("statusTimestamp") or raw.get("timestamp") or 0)
        if status == "open":
            self._orders[info.order_id] = info
            self._events.append(OrderAccepted(t, info))
            return
        known = self._orders.pop(info.order_id, info)
        if status == "filled":
            done = _with(known, OrderStatus.FILLED, None)
            self._events.append(OrderFilled(t, done))
        elif status == "triggered":
            self._events.append(OrderTriggered(t, known, ZERO))
        else:  # canceled, rejected, marginCanceled, reduceOnlyCanceled, ...
            self._events.append(OrderCanceled(t, _with(known, OrderStatus.CANCELED, status),
                                              status))  # fmt: skip

    def _user_event(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if "fills" in data:
            self._add_fills(data["fills"], live=True)
        if isinstance(data.get("funding"), dict):
            self._add_funding(hw.parse_funding(data["funding"]))
        liq = data.get("liquidation")
        if isinstance(liq, dict):
            self._events.append(liquidation_event(liq, self.account))
            self._wake.set()
        for cancel in data.get("nonUserCancel") or ():
            known = self._orders.pop(int(cancel.get("oid") or 0), None)
            if known is not None:
                self._events.append(OrderCanceled(now_ms(), _with(
                    known, OrderStatus.CANCELED, "canceled by Hyperliquid"),
                    "canceled by Hyperliquid"))  # fmt: skip


def liquidation_event(liq: dict[str, Any], account: str) -> LiquidationEvent:
    """HL's `WsLiquidation` as an event saying only what HL sent: the account value at
    liquidation, the notional, the liquidator and the liquidation id. HL sends no MMR and
    no equity after it: the MMR is None (not known), not the 0.00 → 0.00 the events tab
    showed as HL's figures (LiquidationEvent.venue). The account value is required (HL
    always sends it; without it the message is unreadable, as any other missing field)."""
    value = hw.req(liq.get("liquidated_account_value"), "liquidated_account_value")
    lid = liq.get("lid")
    liquidator = str(liq.get("liquidator") or "")
    return LiquidationEvent(
        now_ms(), str(liq.get("liquidated_user") or account), None, "liquidated", None, None,
        value, value, None, None, (liquidator,) if liquidator else (), ZERO, ZERO,
        f"liquidation id {lid}" if lid is not None else "",
        notional=hw.dec(liq.get("liquidated_ntl_pos")), venue="Hyperliquid",
    )  # fmt: skip


def now_ms() -> int:
    return int(time.time() * 1000)


def _with(info: OrderInfo, status: OrderStatus, reason: str | None) -> OrderInfo:
    return replace(info, status=status, canceled_reason=reason)
