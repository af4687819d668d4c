"""Order entry and matching: validate -> (risk gate) -> match -> fills -> ledger -> events.

Why a mixin of Exchange: these methods are the facade's order calls and share the engine's
state; living in their own file keeps engine.py about accounts, prices and time.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Protocol

from exchange_local.book import MatchResult
from exchange_local.clock import seconds_to_ms
from exchange_local.engine import ExchangeCore
from exchange_local.errors import (
    InvalidOrder,
    InvalidRequest,
    NotAuthorized,
    TooManyOrders,
    UnknownOrder,
)
from exchange_local.events import (
    BookDelta,
    FillEvent,
    OrderAccepted,
    OrderAmended,
    OrderCanceled,
    OrderFilled,
    OrderTriggered,
    PositionChanged,
)
from exchange_local.ledger import FEES, SETTLEMENT_CLEARING, TxType
from exchange_local.marketdata import Trade
from exchange_local.money import (
    MAX_NOTIONAL,
    MAX_PRICE,
    MAX_SIZE,
    ZERO,
    above_maximum,
    quantize_usd_up,
    to_decimal,
)
from exchange_local.orders import (
    ORDER_TYPES,
    SIDES,
    TIFS,
    TRIGGER_TYPES,
    CancelReason,
    Fill,
    Order,
    OrderInfo,
    OrderResult,
    OrderStatus,
)
from exchange_local.state import Account, MarketRuntime

USD = "USD"
MAX_CLIENT_ORDER_ID = 64
_OPEN = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED})
_CLOSED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED})
ORDER_STATUS_GROUPS: dict[str, frozenset[OrderStatus]] = {
    "open": _OPEN,
    "closed": _CLOSED,
    "filled": frozenset({OrderStatus.FILLED}),
    "canceled": frozenset({OrderStatus.CANCELED}),
    "all": _OPEN | _CLOSED,
}


class FillGate(Protocol):
    """A per-fill veto passed to the book: returns how many lots may fill (0 stops matching).

    When it stops a match it sets `blocked` and names the cancel `reason` for the remainder.
    """

    blocked: bool
    reason: str

    def __call__(self, maker_owner: str, price: int, lots: int) -> int: ...


_MAXIMUM = {"lot": MAX_SIZE, "tick": MAX_PRICE}


def _units(value: Decimal, step: Decimal, field: str, what: str) -> int:
    """Value as an integer count of step (tick or lot); refuse values between steps and
    values above the maximum of sizes (lot) or prices (tick), before dividing: past them the
    34-digit context is no longer exact (money.MAX_SIZE)."""
    refusal = above_maximum(value, field, _MAXIMUM[what])
    if refusal is not None:
        raise InvalidOrder(refusal)
    units = value / step
    integral = units.to_integral_value()
    if units != integral:
        raise InvalidOrder(f"{field} {value} is not a multiple of the {what} {step}")
    return int(integral)


class Trading(ExchangeCore):
    """The order half of the facade."""

    # --- placing -------------------------------------------------------------------------

    def place_order(
        self,
        account: str,
        market: str,
        side: str,
        size: Any,
        price: Any = None,
        type: str = "limit",
        tif: str = "gtc",
        post_only: bool = False,
        reduce_only: bool = False,
        trigger_price: Any = None,
        client_order_id: str | None = None,
    ) -> OrderResult:
        """Place an order; returns OrderResult(order_id, status, filled, avg_price, reason).

        type: "limit" | "market" | "stop_market" | "take_profit" (the last two rest untriggered
        until the mark reaches trigger_price, then execute as market orders). tif: "gtc" |
        "ioc" | "fok" for limits. post_only: refused if it would take. reduce_only: never
        increases |position|; clipped to it. client_order_id: the same id from the same account
        returns the original result instead of placing a second order.
        A malformed or disallowed request raises an ExchangeError and stores nothing.
        """
        acct = self._account(account)
        if client_order_id is not None:
            if (
                not isinstance(client_order_id, str)
                or not 0 < len(client_order_id) <= MAX_CLIENT_ORDER_ID
            ):
                raise InvalidOrder("client_order_id must be a string of 1 to 64 characters")
            previous = acct.client_orders.get(client_order_id)
            if previous is not None:
                return previous
        m = self._market(market)
        order = self._validate_new_order(
            acct, m, side, size, price, type, tif, post_only, reduce_only, trigger_price,
            client_order_id,
        )  # fmt: skip
        self._check_new_order(acct, m, order)
        # accepted from here on: nothing below raises for the caller's input
        self._accept(acct, order)
        if order.status is OrderStatus.UNTRIGGERED:
            self._arm_trigger(m, order)
        else:
            self._execute(acct, m, order)
        self._flush_book(m)
        self._after_command()
        result = order.result()
        if client_order_id is not None:
            acct.client_orders[client_order_id] = result
        return result

    def _parse_order_inputs(
        self,
        m: MarketRuntime,
        side: str,
        size: Any,
        price: Any,
        type: str,
        tif: str,
        post_only: bool,
        reduce_only: bool,
        trigger_price: Any,
    ) -> tuple[Decimal, Decimal | None, Decimal | None]:
        """The checks of an order's inputs that hold whatever the state (size, limit price,
        trigger price), in one order and one set of words: placing and the preview share them,
        so the preview never refuses in other words than placing, or passes what it refuses."""
        if side not in SIDES:
            raise InvalidOrder(f"side must be 'buy' or 'sell', got {side!r}")
        if type not in ORDER_TYPES:
            raise InvalidOrder(f"type must be one of {', '.join(ORDER_TYPES)}, got {type!r}")
        if tif not in TIFS:
            raise InvalidOrder(f"tif must be one of {', '.join(TIFS)}, got {tif!r}")
        if not isinstance(post_only, bool) or not isinstance(reduce_only, bool):
            raise InvalidOrder("post_only and reduce_only must be true or false")
        qty = to_decimal(size, "size")
        if qty <= 0:
            raise InvalidOrder(f"size must be positive, got {qty}")
        _units(qty, m.lot, "size", "lot")  # first: also refuses a size above MAX_SIZE
        limit: Decimal | None = None
        if type == "limit":
            if price is None:
                raise InvalidOrder("a limit order needs a price")
            limit = self._parse_price(m, price, "price")
        elif price is not None:
            raise InvalidOrder(f"a {type} order takes no price (it executes at the market)")
        if type != "limit" and tif != "gtc":
            raise InvalidOrder(f"tif {tif!r} applies to limit orders only")
        if post_only and (type != "limit" or tif != "gtc"):
            raise InvalidOrder("post_only applies to GTC limit orders only")
        trigger: Decimal | None = None
        if type in TRIGGER_TYPES:
            if trigger_price is None:
                raise InvalidOrder(f"a {type} order needs a trigger_price")
            trigger = self._parse_price(m, trigger_price, "trigger_price")
        elif trigger_price is not None:
            raise InvalidOrder("trigger_price applies to stop_market and take_profit orders only")
        return qty, limit, trigger

    def _validate_new_order(
        self,
        acct: Account,
        m: MarketRuntime,
        side: str,
        size: Any,
        price: Any,
        type: str,
        tif: str,
        post_only: bool,
        reduce_only: bool,
        trigger_price: Any,
        client_order_id: str | None,
    ) -> Order:
        qty, limit, trigger = self._parse_order_inputs(
            m, side, size, price, type, tif, post_only, reduce_only, trigger_price
        )
        if trigger is not None and self._trigger_reached(type, side == "buy", trigger, m.mark):
            raise InvalidOrder(
                f"trigger_price {trigger} is already reached (mark {m.mark}); "
                "it would trigger immediately"
            )
        if reduce_only:
            qty = self._clip_reduce_only(acct, m, side == "buy", qty)
        self._check_notional(m, qty, limit if limit is not None else trigger)
        if post_only:
            touch = self._post_only_takes(m, side == "buy", limit)  # type: ignore[arg-type]
            if touch is not None:
                raise InvalidOrder(
                    f"post-only order at {limit} would take liquidity ({touch}); not placed"
                )
        self._check_open_orders(acct, type, tif)
        status = OrderStatus.UNTRIGGERED if type in TRIGGER_TYPES else OrderStatus.OPEN
        order = Order(
            self._next_order_id, acct.account_id, m.symbol, side, type, tif, qty, limit, trigger,
            post_only, reduce_only, client_order_id, self.now_ms, status,
        )  # fmt: skip
        order.updated_ms = self.now_ms
        return order

    def _check_open_orders(self, acct: Account, type: str, tif: str) -> None:
        """The per-account cap of open orders, for an order that may rest (a GTC limit or a
        trigger order); placing and the preview ask alike, so the preview never passes the
        201st order that placing refuses."""
        may_rest = type in TRIGGER_TYPES or (type == "limit" and tif == "gtc")
        cap = self.config.max_open_orders
        if may_rest and len(acct.open_orders) >= cap:
            raise TooManyOrders(
                f"account {acct.account_id} already has {len(acct.open_orders)} open orders, "
                f"the maximum is {cap}"
            )

    def _parse_price(self, m: MarketRuntime, value: Any, field: str) -> Decimal:
        price = to_decimal(value, field)
        if price <= 0:
            raise InvalidOrder(f"{field} must be positive, got {price}")
        _units(price, m.tick, field, "tick")  # also refuses a price above MAX_PRICE
        return price

    @staticmethod
    def _check_notional(m: MarketRuntime, qty: Decimal, price: Decimal | None) -> None:
        """Refuse an order worth more than MAX_NOTIONAL USD at its price (limit or trigger),
        or at the mark for a market order: size and price are each bounded, but their
        product is what the ledger books (fees, cash), so it has its own bound."""
        at = price if price is not None else m.mark
        notional = qty * at
        if notional > MAX_NOTIONAL:
            raise InvalidOrder(
                f"order notional {notional:f} USD (size {qty} x price {at}) is above the "
                f"maximum of {MAX_NOTIONAL:f} USD"
            )

    @staticmethod
    def _post_only_takes(m: MarketRuntime, is_buy: bool, price: Decimal) -> str | None:
        """The touch (`best ask 100000.0`) a post-only order at `price` would take from, or
        None: the one crossing test of placing, amending and previewing such an order."""
        best = m.book.best_ask() if is_buy else m.book.best_bid()
        if best is None:
            return None
        ticks = int(price / m.tick)
        if ticks >= best if is_buy else ticks <= best:
            return f"best {'ask' if is_buy else 'bid'} {best * m.tick}"
        return None

    @staticmethod
    def _trigger_reached(type: str, is_buy: bool, trigger: Decimal, mark: Decimal) -> bool:
        """Stops fire on a move against the position, take-profits on a move in its favour."""
        fires_on_rise = (type == "stop_market") == is_buy
        return mark >= trigger if fires_on_rise else mark <= trigger

    def _clip_reduce_only(
        self, acct: Account, m: MarketRuntime, is_buy: bool, qty: Decimal
    ) -> Decimal:
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos is not None else ZERO
        if s == 0 or (s > 0) == is_buy:
            raise InvalidOrder(
                f"reduce-only {'buy' if is_buy else 'sell'} would not reduce the position in "
                f"{m.symbol} (size {s})"
            )
        return min(qty, abs(s))

    def _check_new_order(self, acct: Account, m: MarketRuntime, order: Order) -> None:
        """Pre-trade gates (risk engine): raise to refuse. The core accepts everything valid."""

    def _accept(self, acct: Account, order: Order) -> None:
        self._next_order_id += 1
        self._margin_dirty.add(acct.account_id)  # IMR moved: margin-call levels re-checked
        self._orders[order.order_id] = order
        acct.open_orders[order.order_id] = order
        acct.rest(order, order.size - order.filled)
        if order.reduce_only:
            acct.reduce_only_orders += 1
        if self._subscribers:
            self._emit(OrderAccepted(self.now_ms, order.snapshot()))

    # --- matching --------------------------------------------------------------------------

    def _execute(self, acct: Account, m: MarketRuntime, order: Order) -> None:
        """Match an accepted order against the book; rest or cancel what remains."""
        is_buy = order.is_buy
        lots = int(order.remaining / m.lot)
        book = m.book
        if order.type == "limit":
            limit = int(order.price / m.tick)  # type: ignore[operator]
        else:
            limit = self._protection_limit(m, is_buy)
        if order.tif == "fok" and book.fillable(is_buy, limit, lots, acct.account_id) < lots:
            self._finish_cancel(order, CancelReason.FOK_NOT_FILLABLE)
            return
        allow = self._fill_allowance(acct, m, order)
        res: MatchResult = book.match(is_buy, limit, lots, acct.account_id, allow)
        for oid in res.stp_canceled:
            self._finish_cancel(self._orders[oid], CancelReason.SELF_TRADE, in_book=False)
        for maker_oid, _owner, price_ticks, fill_lots, maker_left in res.fills:
            self._apply_fill(m, order, self._orders[maker_oid], price_ticks, fill_lots, maker_left)
        if order.status is OrderStatus.FILLED or not order.is_open:
            return
        left = lots - res.filled
        blocked = allow is not None and allow.blocked
        if order.type == "limit" and order.tif == "gtc" and not blocked:
            book.add(order.order_id, is_buy, limit, left, acct.account_id)
            return
        if allow is not None and blocked:
            reason = allow.reason
        elif order.type == "limit":
            reason = CancelReason.IOC_REMAINDER
        elif book.fillable(is_buy, None, 1, acct.account_id) > 0:  # liquidity beyond the band
            reason = CancelReason.MARKET_PROTECTION
        else:
            reason = CancelReason.NO_LIQUIDITY
        self._finish_cancel(order, reason, in_book=False)

    def _protection_limit(self, m: MarketRuntime, is_buy: bool) -> int:
        """Market orders fill no worse than the mark by more than the protection band."""
        band = self.config.market_protection
        if is_buy:
            worst = m.mark * (1 + band) / m.tick
            return int(worst.to_integral_value(rounding=ROUND_FLOOR))
        worst = m.mark * (1 - band) / m.tick
        return max(1, int(worst.to_integral_value(rounding=ROUND_CEILING)))

    def _fill_allowance(self, acct: Account, m: MarketRuntime, order: Order) -> FillGate | None:
        """Per-fill veto (open-interest caps live in the risk engine); None = no check."""
        return None

    def _apply_fill(
        self,
        m: MarketRuntime,
        taker_order: Order,
        maker_order: Order,
        price_ticks: int,
        lots: int,
        maker_left: int,
    ) -> None:
        """Book one fill: positions, TRADE and FEE transactions, orders, OI, tape, events."""
        price = price_ticks * m.tick
        qty = lots * m.lot
        notional = price * qty
        taker = self._accounts[taker_order.account]
        maker = self._accounts[maker_order.account]
        q = qty if taker_order.is_buy else -qty
        t_pos = taker.position(m.symbol)
        m_pos = maker.position(m.symbol)
        t_before, m_before = t_pos.size, m_pos.size
        cash_t = t_pos.apply_fill(q, price)
        cash_m = m_pos.apply_fill(-q, price)
        m.oi_long += (
            max(t_pos.size, ZERO)
            - max(t_before, ZERO)
            + max(m_pos.size, ZERO)
            - max(m_before, ZERO)
        )
        spec = m.spec
        liquidation = taker_order.liquidation  # pays only the liquidation fee (MECHANICS 2)
        fee_t = ZERO if liquidation else quantize_usd_up(notional * spec.taker_fee)
        fee_m = quantize_usd_up(notional * spec.maker_fee)
        fill_id = self._next_fill_id
        self._next_fill_id += 1
        ref = f"fill:{fill_id}"
        now = self.now_ms
        t_id, m_id = taker.account_id, maker.account_id
        clearing = -cash_t - cash_m
        self._post_tx(
            TxType.LIQ_FILL if liquidation else TxType.TRADE,
            [(t_id, USD, cash_t), (m_id, USD, cash_m), (SETTLEMENT_CLEARING, USD, clearing)],
            ref,
        )
        # a leg per fee paid: a liquidation's taker pays none, and had a "FEE 0.000000" row
        paid = [(who, USD, -fee) for who, fee in ((t_id, fee_t), (m_id, fee_m)) if fee]
        if paid:
            self._post_tx(TxType.FEE, [*paid, (FEES, USD, fee_t + fee_m)], ref)
        for acct, order in ((taker, taker_order), (maker, maker_order)):
            order.filled += qty
            order.filled_notional += notional
            order.updated_ms = now
            acct.rest(order, -qty)
        taker_order.status = (
            OrderStatus.FILLED
            if taker_order.filled == taker_order.size
            else OrderStatus.PARTIALLY_FILLED
        )
        if maker_left == 0:
            maker_order.status = OrderStatus.FILLED
            self._close_order(maker_order)
        else:
            maker_order.status = OrderStatus.PARTIALLY_FILLED
        if taker_order.status is OrderStatus.FILLED:
            self._close_order(taker_order)
        side = taker_order.side
        m.data.record_trade(Trade(fill_id, now, price, qty, side))
        fill = Fill(fill_id, now, m.symbol, price, qty, side, t_id, m_id,
                    taker_order.order_id, maker_order.order_id, fee_t, fee_m)  # fmt: skip
        self._fills.append(fill)  # for operator rollbacks (MECHANICS section 4, stage 6)
        if self._subscribers:
            self._emit(FillEvent(now, fill))
            for acct_id, pos in ((t_id, t_pos), (m_id, m_pos)):
                self._emit(PositionChanged(now, acct_id, m.symbol, pos.size, pos.entry_price,
                                           pos.settle_price, pos.realized_pnl))  # fmt: skip
            for order in (taker_order, maker_order):
                if order.status is OrderStatus.FILLED:
                    self._emit(OrderFilled(now, order.snapshot()))
        for acct, before, pos in ((taker, t_before, t_pos), (maker, m_before, m_pos)):
            if acct.reduce_only_orders and abs(pos.size) < abs(before):
                self._reclip_reduce_only(acct, m)
        if self._adl_cache:  # only within a liquidation tick that ranked for ADL
            self._forget_adl_rankings((t_id, m_id), m.symbol)
        self._after_fill(m, taker, maker)

    def _after_fill(self, m: MarketRuntime, taker: Account, maker: Account) -> None:
        """Hook for the risk engine (margin-call levels) after each fill."""

    def _triggered_order_allowed(self, acct: Account, m: MarketRuntime, order: Order) -> str | None:
        """Hook: a cancel reason if a triggered (not reduce-only) order may not execute."""
        return None

    # --- order life cycle ------------------------------------------------------------------

    def _close_order(self, order: Order) -> None:
        acct = self._accounts[order.account]
        if acct.open_orders.pop(order.order_id, None) is not None:
            acct.rest(order, order.filled - order.size)
            if order.reduce_only:
                acct.reduce_only_orders -= 1
            self._order_closed(acct, order)  # the account's oldest closed order may go

    def _finish_cancel(self, order: Order, reason: str, in_book: bool = True) -> None:
        """Cancel an accepted order (from the book or the trigger lists) with a reason."""
        if in_book and order.order_id in self._markets[order.market].book:
            self._markets[order.market].book.cancel(order.order_id)
        if order.status is OrderStatus.UNTRIGGERED:
            self._disarm_trigger(self._markets[order.market], order)
        order.status = OrderStatus.CANCELED
        self._margin_dirty.add(order.account)
        order.canceled_reason = str(reason)
        order.updated_ms = self.now_ms
        self._close_order(order)
        if self._subscribers:
            self._emit(OrderCanceled(self.now_ms, order.snapshot(), str(reason)))

    def _reclip_reduce_only(self, acct: Account, m: MarketRuntime) -> None:
        """Keep reduce-only orders within the position; cancel them when it is gone."""
        pos = acct.positions.get(m.symbol)
        s = pos.size if pos is not None else ZERO
        for order in [
            o for o in acct.open_orders.values() if o.reduce_only and o.market == m.symbol
        ]:
            if s == 0 or (s > 0) == order.is_buy:
                self._finish_cancel(order, CancelReason.REDUCE_ONLY_NO_POSITION)
            elif order.remaining > abs(s):
                acct.rest(order, order.filled + abs(s) - order.size)
                order.size = order.filled + abs(s)
                if order.order_id in m.book:
                    m.book.reduce(order.order_id, int(abs(s) / m.lot))

    def cancel_order(self, account: str, order_id: int) -> OrderResult:
        """Cancel one of the account's open orders (another account's order is refused)."""
        order = self._owned_order(account, order_id)
        if not order.is_open:
            raise InvalidOrder(f"order {order_id} is already {order.status.value}")
        self._finish_cancel(order, CancelReason.USER)
        self._flush_book(self._markets[order.market])
        return order.result()

    def cancel_all(self, account: str, market: str | None = None) -> list[int]:
        """Cancel every open order of the account (in one market if given); returns their ids."""
        acct = self._account(account)
        m = self._market(market) if market is not None else None
        ids = [o.order_id for o in acct.open_orders.values() if m is None or o.market == m.symbol]
        for oid in ids:
            self._finish_cancel(self._orders[oid], CancelReason.USER)
        for rt in [m] if m is not None else self._markets.values():
            self._flush_book(rt)
        return ids

    def amend_order(
        self,
        account: str,
        order_id: int,
        price: Any = None,
        size: Any = None,
        trigger_price: Any = None,
    ) -> OrderResult:
        """Change an open order's price, size or trigger price.

        Time priority is kept when only the size shrinks; moving the price or growing the size
        sends it to the back of its (new) level, and a new price that crosses takes liquidity.
        """
        order = self._owned_order(account, order_id)
        if not order.is_open:
            raise InvalidOrder(f"order {order_id} is already {order.status.value}")
        if price is None and size is None and trigger_price is None:
            raise InvalidOrder("amend needs a new price, size or trigger_price")
        m = self._markets[order.market]
        acct = self._accounts[order.account]
        new_price = order.price
        if price is not None:
            if order.type != "limit":
                raise InvalidOrder(f"a {order.type} order has no limit price to amend")
            new_price = self._parse_price(m, price, "price")
        new_trigger = order.trigger_price
        if trigger_price is not None:
            if order.status is not OrderStatus.UNTRIGGERED:
                raise InvalidOrder("only an untriggered stop or take-profit has a trigger price")
            new_trigger = self._parse_price(m, trigger_price, "trigger_price")
            if self._trigger_reached(order.type, order.is_buy, new_trigger, m.mark):
                raise InvalidOrder(
                    f"trigger_price {new_trigger} is already reached (mark {m.mark})"
                )
        new_size = order.size
        if size is not None:
            new_size = to_decimal(size, "size")
            _units(new_size, m.lot, "size", "lot")
            if new_size <= order.filled:
                raise InvalidOrder(
                    f"new size {new_size} must exceed the filled {order.filled}; cancel instead"
                )
            if order.reduce_only:
                pos = acct.positions.get(m.symbol)
                new_size = min(new_size, order.filled + (abs(pos.size) if pos else ZERO))
        self._check_notional(m, new_size, new_price if new_price is not None else new_trigger)
        if (
            order.post_only
            and new_price is not None
            and self._post_only_takes(m, order.is_buy, new_price) is not None
        ):
            raise InvalidOrder(f"post-only order amended to {new_price} would take liquidity")
        draft = Order(**{f: getattr(order, f) for f in Order.__slots__})
        draft.price, draft.size, draft.trigger_price = new_price, new_size, new_trigger
        self._check_amend(acct, m, order, draft)
        lost_priority = new_price != order.price or new_size > order.size
        order.updated_ms = self.now_ms
        if order.status is OrderStatus.UNTRIGGERED:
            self._disarm_trigger(m, order)
            order.size, order.trigger_price = new_size, new_trigger
            self._arm_trigger(m, order)
        elif not lost_priority:
            acct.rest(order, new_size - order.size)
            order.size = new_size
            m.book.reduce(order.order_id, int(order.remaining / m.lot))
        else:
            m.book.cancel(order.order_id)
            acct.rest(order, new_size - order.size)
            order.price, order.size = new_price, new_size
            self._execute(acct, m, order)
        if self._subscribers:
            self._emit(OrderAmended(self.now_ms, order.snapshot(), lost_priority))
        self._flush_book(m)
        return order.result()

    def _check_amend(self, acct: Account, m: MarketRuntime, order: Order, draft: Order) -> None:
        """Pre-trade gates for an amended order (risk engine)."""

    def _owned_order(self, account: str, order_id: int) -> Order:
        acct = self._account(account)
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            raise InvalidOrder(f"order_id must be an integer, got {order_id!r}")
        order = self._orders.get(order_id)
        if order is None:
            raise UnknownOrder(f"there is no order {order_id}")
        if order.account != acct.account_id:
            raise NotAuthorized(f"order {order_id} belongs to another account")
        return order

    def order(self, account: str, order_id: int) -> OrderInfo | None:
        """Look up one of the account's orders (None for an unknown id or another's order).

        Open and untriggered orders are always found; each account keeps its newest 1,000
        closed ones (engine.CLOSED_ORDERS_KEPT), and an older closed order is unknown, as if
        never placed (its fills are in the ledger)."""
        acct = self._account(account)
        if isinstance(order_id, bool) or not isinstance(order_id, int):
            # a list or dict is unhashable: the dict look-up raised a bare TypeError
            raise InvalidOrder(f"order_id must be an integer, got {order_id!r}")
        order = self._orders.get(order_id)
        if order is None or order.account != acct.account_id:
            return None
        return order.snapshot()

    def order_by_client_id(self, account: str, client_order_id: str) -> OrderInfo | None:
        """Look up one of the account's orders by its client order id (None if the account
        never placed one with it, or the order is closed and older than the closed orders the
        account keeps: see `order`). An open order placed with an id is always found, whoever
        placed it (the TUI in process, a server, a script), also after a restart; the id stays
        taken for the exchange's lifetime (placing it again answers the original result)."""
        acct = self._account(account)
        coid = client_order_id
        if not isinstance(coid, str) or not 0 < len(coid) <= MAX_CLIENT_ORDER_ID:
            raise InvalidOrder("client_order_id must be a string of 1 to 64 characters")
        result = acct.client_orders.get(coid)
        order = self._orders.get(result.order_id) if result is not None else None
        return order.snapshot() if order is not None else None

    def orders(
        self, account: str, status: str = "all", market: str | None = None, limit: int = 100
    ) -> list[OrderInfo]:
        """The account's orders, newest first, at most `limit` (1-1000). status: "open" (open,
        partially filled, untriggered), "closed" (filled or canceled), "filled", "canceled"
        or "all". Closed orders: those the exchange keeps (see `order`)."""
        acct = self._account(account)
        wanted = ORDER_STATUS_GROUPS.get(status) if isinstance(status, str) else None
        if wanted is None:
            raise InvalidRequest(
                f"status must be one of {', '.join(ORDER_STATUS_GROUPS)}, got {status!r}"
            )
        symbol = self._market(market).symbol if market is not None else None
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise InvalidRequest(f"limit must be an integer from 1 to 1000, got {limit!r}")
        rows: Iterable[Order]
        if status == "open":  # the account's own index: no scan of the exchange's orders
            rows = sorted(acct.open_orders.values(), key=lambda o: -o.order_id)
        else:
            rows = reversed(self._orders.values())
        out: list[OrderInfo] = []
        for o in rows:
            mine = o.account == acct.account_id and o.status in wanted
            if mine and (symbol is None or o.market == symbol):
                out.append(o.snapshot())
                if len(out) == limit:
                    break
        return out

    def fills(
        self,
        account: str,
        market: str | None = None,
        since: Any = None,
        before_id: int | None = None,
        limit: int | None = None,
    ) -> list[Fill]:
        """The account's fills (as taker or maker), newest first: those the exchange still
        keeps (its last 20,000 fills, which operator rollbacks can reach). `since`: exchange
        seconds (fills at or after it); `before_id`: only fills with a smaller id (paging);
        `limit`: at most this many. Fills are records: read them, never change them."""
        acct = self._account(account)
        symbol = self._market(market).symbol if market is not None else None
        since_ms = seconds_to_ms(since, "since") if since is not None else None
        for name, value in (("before_id", before_id), ("limit", limit)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidRequest(f"{name} must be a positive integer, got {value!r}")
        me = acct.account_id
        out: list[Fill] = []
        for f in reversed(self._fills):
            if before_id is not None and f.fill_id >= before_id:
                continue
            if since_ms is not None and f.time_ms < since_ms:
                break  # fills are kept in time order
            if (f.taker == me or f.maker == me) and (symbol is None or f.market == symbol):
                out.append(f)
                if limit is not None and len(out) == limit:
                    break
        return out

    def open_orders(self, account: str, market: str | None = None) -> list[OrderInfo]:
        """The account's open and untriggered orders, oldest first."""
        acct = self._account(account)
        symbol = self._market(market).symbol if market is not None else None
        return [
            o.snapshot()
            for o in sorted(acct.open_orders.values(), key=lambda o: o.order_id)
            if symbol is None or o.market == symbol
        ]

    # --- triggers --------------------------------------------------------------------------

    def _trigger_list(self, m: MarketRuntime, order: Order) -> Any:
        fires_on_rise = (order.type == "stop_market") == order.is_buy
        return m.triggers_up if fires_on_rise else m.triggers_down

    def _arm_trigger(self, m: MarketRuntime, order: Order) -> None:
        self._trigger_list(m, order).add((order.trigger_price, order.order_id))

    def _disarm_trigger(self, m: MarketRuntime, order: Order) -> None:
        self._trigger_list(m, order).discard((order.trigger_price, order.order_id))

    def _run_triggers(self, m: MarketRuntime) -> None:
        """Fire every untriggered order the mark has reached, oldest order first."""
        mark = m.mark
        fired: list[int] = []
        down, up = m.triggers_down, m.triggers_up
        while down and down[-1][0] >= mark:
            fired.append(down.pop()[1])
        while up and up[0][0] <= mark:
            fired.append(up.pop(0)[1])
        for oid in sorted(fired):
            order = self._orders.get(oid)  # an armed order is open, so kept; never a KeyError
            if order is None or order.status is not OrderStatus.UNTRIGGERED:
                continue
            acct = self._accounts[order.account]
            order.status = OrderStatus.OPEN
            order.updated_ms = self.now_ms
            if self._subscribers:
                self._emit(OrderTriggered(self.now_ms, order.snapshot(), mark))
            if order.reduce_only:
                pos = acct.positions.get(m.symbol)
                s = pos.size if pos is not None else ZERO
                if s == 0 or (s > 0) == order.is_buy:
                    self._finish_cancel(order, CancelReason.REDUCE_ONLY_NO_POSITION, in_book=False)
                    continue
                order.size = min(order.size, abs(s))
            else:
                refusal = self._triggered_order_allowed(acct, m, order)
                if refusal is not None:
                    self._finish_cancel(order, refusal, in_book=False)
                    continue
            self._execute(acct, m, order)
        if fired:
            self._flush_book(m)

    # --- book deltas -----------------------------------------------------------------------

    def _flush_book(self, m: MarketRuntime) -> None:
        """Turn the book's changed levels into one numbered BookDelta event."""
        deltas = m.book.take_deltas()
        if not deltas:
            return
        m.seq += 1
        if self._subscribers:
            tick, lot = m.tick, m.lot
            changes = tuple(
                ("bid" if is_buy else "ask", p * tick, lots * lot) for is_buy, p, lots in deltas
            )
            self._emit(BookDelta(self.now_ms, m.symbol, m.seq, changes))
