"""What the keys that trade do: send an order, close, cancel, amend, leverage, convert.

A mixin of PerpApp (it uses the app's venue, settings, snapshot and main screen): kept apart
so the app file holds the frame loop and this one what a trader's keys change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import ROUND_CEILING, Decimal
from typing import Any

from textual.css.query import NoMatches
from textual.widgets import Input, TabbedContent

from exchange_local.engine import MarketState
from exchange_local.errors import ExchangeError
from exchange_local.health import CollateralLine, OrderPreview, PositionRisk
from exchange_local.orders import OrderInfo
from perptui import format as fmt
from perptui.app_state import AppState
from perptui.screens.convert import ConvertScreen
from perptui.screens.modals import AmendScreen, ConfirmScreen, FundsScreen, ValueScreen
from perptui.ticket import (
    TicketError,
    TicketForm,
    amend_words,
    describe_arithmetic,
    killed_unfilled,
    request_words,
    result_words,
)
from perptui.venues.base import NotAsked, OrderRequest, TradingDisabled
from perptui.widgets.history import RowsTable
from perptui.widgets.keyed_table import KeyedTable
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable


def repay_amount(owed: Decimal, coin: CollateralLine, spread: Decimal) -> Decimal:
    """How much of `coin` brings a USD balance of -`owed` back to at least 0 after the
    venue's spread and the exchange's rounding: on the coin's own decimals plus one step,
    at most the holding."""
    step = Decimal(1).scaleb(-fmt.asset_decimals(coin.asset))
    need = owed / (coin.price * (1 - spread))
    return min(need.quantize(step, rounding=ROUND_CEILING) + step, coin.amount)


def convertible(collateral: list[CollateralLine]) -> list[CollateralLine]:
    """What can repay a USD loan: every asset held but USD (USDC too), largest value first,
    the dialog's default."""
    held = [c for c in collateral if c.asset != "USD" and c.amount > 0]
    return sorted(held, key=lambda c: c.value, reverse=True)


def _price_on_tick(value: Decimal, ms: MarketState | None) -> str:
    """A price in a dialog as the book shows it: on the market's tick's decimals (BTC's mark
    99,794.0, not 99,794.00), every digit it has where the market is not at hand."""
    return fmt.price(value, ms.tick) if ms is not None else fmt.tick_price(value)


def _size_on_lot(value: Decimal, ms: MarketState | None) -> str:
    return fmt.size(value, ms.lot) if ms is not None else fmt.plain(value)


CLOSE_PREVIEW_WAIT_S = 2.0  # the close question waits this long for the venue's preview


def close_request(pos: PositionRisk) -> OrderRequest:
    """The order `x` sends for a position, as the venue's close_position places it: a
    reduce-only market order for the whole size, on the other side."""
    side = "sell" if pos.size > 0 else "buy"
    return OrderRequest(pos.market, side, abs(pos.size), "market", reduce_only=True)


def close_words(pos: PositionRisk, ms: MarketState | None, preview: OrderPreview | None) -> str:
    """The close question's body: where the venue's preview says the book would fill the
    order, the estimated PnL at that price and the fee; the mark only without a preview.

    Why not the mark: a close is a market order, and right after a whale's bid was withdrawn
    the book was 0.7 % under the mark, so "about the mark 88,126.5; unrealised PnL +68.60"
    was a close that filled at 87,489.5 for about +196 before fees."""
    size = abs(pos.size)
    head = f"A reduce-only market order for {_size_on_lot(size, ms)}"
    mark = _price_on_tick(pos.mark_price, ms)
    if preview is None:  # the venue could not be asked: the mark is all there is
        return (
            f"{head} at about the mark {mark}; "
            f"unrealised PnL {fmt.usd(pos.unrealized_pnl, sign=True)}."
        )
    if preview.would_reject:
        return f"{head}; the exchange would refuse it now: {preview.would_reject}"
    est = preview.est_fill_price
    filled = min(preview.fillable_now, size)
    if est is None or filled <= 0:
        return f"{head}; the book has nothing to fill it now (mark {mark}): it would be canceled."
    # s × (fill − entry) for the part that fills: the unrealised PnL moved from mark to fill
    pnl = (pos.unrealized_pnl + pos.size * (est - pos.mark_price)) * filled / size
    at = fmt.fill_price(est, ms.tick) if ms is not None else fmt.tick_price(est)
    part = "" if filled >= size else (
        f"; only {_size_on_lot(filled, ms)} fills now, the rest is canceled")  # fmt: skip
    return (
        f"{head}: the book would fill it at about {at} (mark {mark}){part}; estimated "
        f"PnL {fmt.usd(pnl, sign=True)} at that price, fee {fmt.usd_up(preview.fee)}, "
        f"net {fmt.usd(pnl - preview.fee, sign=True)}."
    )


def clipped_words(before: OrderInfo, after: OrderInfo, asked: Decimal | None,
                  ms: MarketState | None) -> str:  # fmt: skip
    """What became of a size the exchange did not take as asked: a reduce-only order never
    exceeds the position it reduces, so the engine cuts a larger size to the position (plus
    what filled) and says nothing; "✓ amended (trigger …)" with the size left at 10 read as
    if the 12 had been taken. Empty when the size is as asked (or none was asked)."""
    if asked is None or after.size == asked:
        return ""
    why = ("a reduce-only order is never larger than the position it reduces"
           if before.reduce_only else "the exchange kept another size")  # fmt: skip
    return (
        f"size {_size_on_lot(asked, ms)} asked, clipped to {_size_on_lot(after.size, ms)} ({why})"
    )


def funds_words(line: CollateralLine | None, asset: str, most: Decimal | None = None) -> str:
    """The line under an asset in the deposit or withdraw dialog: what is held and, for a
    withdrawal, the most the margin rule lets leave now."""
    held = fmt.trimmed(line.amount, 18) if line is not None else "0"
    words = f"{asset} held {held}"
    if most is not None:
        words += f"; at most {fmt.trimmed(most, 18)} {asset} can be withdrawn now (margin rule)"
    return words


class TradingActions(AppState):
    """Order entry and position actions; every refusal is shown with the exchange's message."""

    def _next_client_id(self) -> str:
        self._order_seq += 1
        return f"perptui-{int(time.time() * 1000)}-{self._order_seq}"

    async def send_order(self, form: TicketForm) -> None:
        ticket = self.main.query_one(OrderTicket)
        try:
            request = form.request(self._next_client_id())
        except TicketError as problem:
            ticket.show_message(str(problem), ok=False)
            return
        try:
            refusal, preview = await self._judged(request)
        except NotAsked as problem:  # the venue did not answer: not a verdict on the order
            ticket.show_message(f"✗ not sent: {problem}", ok=False)
            self.notify(str(problem), title="Order not sent", severity="error")
            return
        if refusal is not None:  # nothing to confirm: say why, send nothing
            ticket.show_message(f"✗ would be refused, not sent: {refusal}", ok=False)
            self.notify(refusal, title="Order not sent", severity="error")
            return
        if self.settings.confirm_orders:
            # the figures of the verdict just asked, on the ticket and in the question: the
            # ticket's last preview could be a beat older than the ticket's refreshed lines
            # behind the question (its Est. fill beside a newer IMR); in the question every
            # line whole, not the ticket's rows cut to its column (the liquidation warning
            # lost the mark it names)
            if preview is not None:
                ticket.show_preview(preview)
                preview_text = ticket.confirm_text(preview)
            else:
                preview_text = str(self.main.query_one("#preview").render())
            ms = self.snapshot.markets.get(request.market) if self.snapshot else None
            body = f"{request_words(request, ms)}\n\n{preview_text}"

            async def answer(ok: bool | None) -> None:
                if ok:
                    await self._place(request)

            # an IOC, FOK or market order the book cannot fill is canceled on arrival: the
            # question says so (it read "Send this order?" over "would be canceled unfilled")
            doomed = preview is not None and killed_unfilled(preview, form)
            title = "Send an order that would be canceled unfilled?" if doomed else (
                "Send this order?")  # fmt: skip
            self.push_screen(ConfirmScreen(title, body, "Send anyway" if doomed else "Send",
                                           danger=doomed), answer)  # fmt: skip
            return
        await self._place(request)

    async def _refusal(self, request: OrderRequest) -> str | None:
        """Why the exchange's own gate would refuse this order now, or None."""
        return (await self._judged(request))[0]

    async def _judged(self, request: OrderRequest) -> tuple[str | None, OrderPreview | None]:
        """(why the exchange's own gate would refuse this order now or None, the preview it
        judged by): the preview and the decision are one computation, so an order it refuses
        is never put to the user. A venue that could not be asked raises NotAsked: that is
        no verdict."""
        if not self.venue.can_trade:  # a read key: say so before the confirmation, not after
            return f"{self.venue.name} is read-only here: watching, not trading", None
        try:
            preview = await self.venue.preview_order(request)
        except NotAsked:
            raise
        except (ExchangeError, TradingDisabled) as refusal:
            return str(refusal), None
        except ArithmeticError as problem:  # a venue that overflowed on it: refused, not a crash
            return describe_arithmetic(problem), None
        return preview.would_reject, preview

    async def _place(self, request: OrderRequest) -> None:
        ticket = self.main.query_one(OrderTicket)
        try:
            result = await self.venue.place_order(request)
        except (ExchangeError, TradingDisabled) as refusal:
            settle = getattr(refusal, "settle", None)
            if settle is not None:  # the answer was lost: not a refusal, a question for later
                text = f"? unknown: {refusal}"
                ticket.show_message(text, ok=False)
                self.notify(str(refusal), title="Order: no answer", severity="warning")
                self.run_worker(self._settle(settle, request, text), exit_on_error=False)
                return
            ticket.show_message(f"✗ refused: {refusal}", ok=False)
            self.notify(str(refusal), title="Order refused", severity="error")
            return
        except ArithmeticError as problem:  # a venue that overflowed on it: nothing was placed
            ticket.show_message(f"✗ refused: {describe_arithmetic(problem)}", ok=False)
            self.notify(describe_arithmetic(problem), title="Order refused", severity="error")
            return
        ms = self.snapshot.markets.get(request.market) if self.snapshot else None
        text, level = result_words(result, request.size, ms)
        ticket.show_message(text, ok=level == "ok", warn=level != "ok")
        if level == "warn":  # nothing filled: said where the eye is too, not only in the line
            self.notify(text, title="Order: nothing filled", severity="warning")
        self.screen.set_focus(None)  # digits switch tabs again; b / s come back to the ticket
        await self.frame()

    async def _settle(self, settle: Any, request: OrderRequest, shown: str) -> None:
        """Once the venue answers again: what became of an order whose answer was lost
        (`settle()` looks it up by its client order id). The ticket's "may or may not have
        been placed" stayed after the server was back although the order rested in the
        book; now it is replaced by the truth (unless the ticket has moved on: a toast then)."""
        coid = request.client_order_id or "?"
        try:
            info = await settle()
        except (ExchangeError, TradingDisabled) as problem:
            text, ok = f"? order {coid}: still unknown ({problem})", False
        else:
            if info is None:
                text, ok = (f"✗ order {coid} was not placed (the server never got it); "
                            "send it again if you still want it"), False  # fmt: skip
            else:
                status = info.status.value if hasattr(info.status, "value") else info.status
                text = (f"✓ order {info.order_id} {str(status).replace('_', ' ')} "
                        f"(placed; its answer had been lost)")  # fmt: skip
                ok = True
        ticket = self.main.query_one(OrderTicket)
        if ticket.message == shown:
            ticket.show_message(text, ok=ok)
        self.notify(text, title=f"Order {coid}", severity="information" if ok else "warning")
        await self.frame()

    # --- actions ----------------------------------------------------------------------------
    def action_side(self, side: str) -> None:
        ticket = self.main.query_one(OrderTicket)
        ticket.set_side(side)
        self.main.query_one("#size", Input).focus()

    def action_cycle_type(self) -> None:
        self.main.query_one(OrderTicket).cycle_type()

    def action_submit(self) -> None:
        """Enter: the ticket's Send, from the ticket or with nothing focused (after Esc or
        a send). Elsewhere (the events log, the tab bar) it sends nothing: an order the
        trader is not looking at is never sent by the key that confirms everything else."""
        ticket = self.main.query_one(OrderTicket)
        focused = self.main.focused
        if focused is not None and ticket not in focused.ancestors_with_self:
            self.notify("Enter sends the ticket's order from the ticket (b or s), or after "
                        "Esc; not from here", severity="warning")  # fmt: skip
            return
        ticket.submit()

    async def on_keyed_table_row_chosen(self, message: KeyedTable.RowChosen) -> None:
        """Enter on a row of a bottom tab: that row's market in the ticket and the chart
        (a position to add to or reduce, an order's market to trade again); never a send."""
        markets = self.venue.markets()
        market = next((m for m in (message.market, message.key) if m in markets), None)
        if market is None:
            self.notify("this row names no market; Enter on a row shows its market",
                        severity="warning")  # fmt: skip
            return
        if market != self.market:
            self.market = market
            await self.frame()
        self.notify(f"{market} in the ticket and the chart")

    def action_leave_input(self) -> None:
        """Out of the field, focus nowhere: focusing a table would switch the bottom tab,
        and with nothing focused Enter sends the ticket and digits switch tabs."""
        self.screen.set_focus(None)

    async def _guard(self, coro: object, what: str) -> bool:
        return (await self._attempt(coro, what))[0]

    async def _attempt(self, coro: object, what: str) -> tuple[bool, Any]:
        """(done, the venue's answer): a refusal is a toast with the exchange's words."""
        refusal, answer = await self._asked(coro)
        if refusal is not None:
            self.notify(refusal, title=f"{what} refused", severity="error")
            return False, None
        return True, answer

    async def _asked(self, coro: object) -> tuple[str | None, Any]:
        """(the exchange's words if it refused, else None; its answer): said by the caller,
        a toast or a dialog's own error line. The ticket's result line goes either way: it
        is about the order sent before this action ("✓ order 1299 open" stayed after 1299
        was amended and canceled), and this action's result is its own toast."""
        self._clear_result()
        try:
            answer = await coro  # type: ignore[misc]
        except (ExchangeError, TradingDisabled) as refusal:
            return str(refusal), None
        except ArithmeticError as problem:  # an amend to 1e40: refused, never a crash
            return describe_arithmetic(problem), None
        await self.frame()
        return None, answer

    def _clear_result(self) -> None:
        with contextlib.suppress(LookupError, NoMatches):  # no main screen: no result line
            self.main.query_one(OrderTicket).show_message("", ok=True)

    def action_leverage(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        ms = snap.markets[self.market]
        current = snap.leverage.get(self.market, ms.max_leverage)

        market = self.market

        async def chosen(value: Decimal) -> str | None:
            refusal, _ = await self._asked(self.venue.set_leverage(market, value))
            if refusal is None:
                self.notify(f"{market} leverage {value}x")
            return refusal

        prompt = f"a whole number, 1 to {ms.max_leverage} (IMF = max(1/leverage, size-scaled))"
        screen = ValueScreen(f"Leverage for {market}", prompt, str(current), Decimal(1),
                             ms.max_leverage, whole=True, act=chosen)  # fmt: skip
        self.push_screen(screen)

    async def action_close_position(self) -> None:
        market = self.main.query_one(PositionsTable).selected_market or self.market
        snap = self.snapshot
        pos = next((p for p in snap.health.positions if p.market == market), None) if snap else None
        if pos is None:
            self.notify(f"no {market} position to close", severity="warning")
            return
        if not self.settings.confirm_orders:
            # as "Close" with the box ticked
            self.run_worker(self._guard(self.venue.close_position(market, True), "Close"))
            return
        ms = snap.markets.get(market) if snap else None
        preview = await self._close_preview(pos)
        screen = ConfirmScreen(
            f"Close {market}?", close_words(pos, ms, preview),
            "Close", danger=True, option="also cancel this market's open orders",
        )  # fmt: skip

        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.close_position(market, screen.option_value), "Close")

        self.push_screen(screen, answer)

    async def _close_preview(self, pos: PositionRisk) -> OrderPreview | None:
        """The venue's preview of the close, as the ticket asks it; None where the venue
        cannot say (not reachable, not answering within CLOSE_PREVIEW_WAIT_S, no trading):
        the question then falls back to the mark rather than wait on a dead server."""
        try:
            return await asyncio.wait_for(self.venue.preview_order(close_request(pos)),
                                          CLOSE_PREVIEW_WAIT_S)  # fmt: skip
        except (ExchangeError, TradingDisabled, ArithmeticError, TimeoutError):
            return None

    def action_close_all(self) -> None:
        snap = self.snapshot
        markets = [p.market for p in snap.health.positions] if snap else []
        if not markets:
            self.notify("no positions to close", severity="warning")
            return

        async def answer(ok: bool | None) -> None:
            if ok:
                for m in markets:
                    await self._guard(self.venue.close_position(m, True), "Close")

        body = (f"{', '.join(markets)}: a reduce-only market order for each, and every open "
                "order in those markets is canceled.")  # fmt: skip
        self.push_screen(ConfirmScreen("Close every position?", body, "Close all", danger=True),
                         answer)  # fmt: skip

    def action_cancel_all(self) -> None:
        """`c`: every open order, after a question. With none open there is nothing to ask:
        "Cancel all orders? 0 open orders" put a decision to the trader that decides nothing."""

        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.cancel_all(None), "Cancel all")

        n = len(self.snapshot.open_orders) if self.snapshot else 0
        if n == 0:
            self.notify("no open orders to cancel", severity="warning")
            return
        if self.settings.confirm_orders:
            body = f"{n} open order{'' if n == 1 else 's'}"
            self.push_screen(ConfirmScreen("Cancel all orders?", body, "Cancel all", danger=True),
                             answer)  # fmt: skip
        else:
            self.run_worker(answer(True))

    def _selected_order_key(self) -> str | None:
        """The order under the cursor of the orders tab, only while that tab is shown: an
        order the trader cannot see is never the one a key acts on."""
        if self.main.query_one(TabbedContent).active != "orders":
            self.notify("open the orders tab (2) and pick an order", severity="warning")
            return None
        key = self.main.query_one("#orders-table", RowsTable).selected_key
        if key is None:
            self.notify("no order selected (tab 2)", severity="warning")
        return key

    async def action_cancel_selected(self) -> None:
        key = self._selected_order_key()
        if key is None:
            return
        if await self._guard(self.venue.cancel_order(int(key)), "Cancel"):
            self.notify(f"order {key} canceled")

    def action_amend_selected(self) -> None:
        key = self._selected_order_key()
        if key is None:
            return
        order = next((o for o in self.snapshot.open_orders if str(o.order_id) == key),
                     None) if self.snapshot else None  # fmt: skip
        if order is None:
            self.notify(f"order {key} is no longer open", severity="warning")
            return

        is_trigger = order.type in ("stop_market", "take_profit")
        current = (order.trigger_price if is_trigger else order.price) or Decimal(0)

        async def chosen(values: tuple[Decimal, Decimal]) -> str | None:
            """The amend, asked from the dialog: a refusal is said there and the dialog
            stays, with what was typed (it closed, and a price off the tick was lost)."""
            price, size = values
            changes: dict[str, Decimal] = {}
            if price != current:
                changes["trigger_price" if is_trigger else "price"] = price
            if size != order.size:
                changes["size"] = size
            if not changes:
                self.notify("nothing changed", severity="warning")
                return None
            refusal, after = await self._asked(self.venue.amend_order(order.order_id, **changes))
            if refusal is not None:
                return f"refused: {refusal}"
            if after is None:  # a venue that answered nothing: what was asked, no more
                self.notify(f"order {order.order_id} amended")
                return None
            ms = self.snapshot.markets.get(order.market) if self.snapshot else None
            text, level = amend_words(order, after, ms)
            clipped = clipped_words(order, after, changes.get("size"), ms)
            if clipped:
                text, level = f"{text}; {clipped}", "warn"
            self.notify(text, title="Amend",
                        severity="information" if level == "ok" else "warning")  # fmt: skip
            return None

        label = "trigger price" if is_trigger else "limit price"
        self.push_screen(AmendScreen(f"Amend order {order.order_id} ({order.side} "
                                     f"{order.market})", label, current, order.size,
                                     order.filled, act=chosen))  # fmt: skip

    def _funding_refused(self) -> bool:
        """True, said, where money cannot be paid in or out from here: a class server's
        deposits are the teacher's (a student funding themselves would be no lesson), and
        a watched account is not ours. The keys and the palette do not offer it there; a
        direct call says why."""
        if self.venue.can_trade and self.venue.paper_funding:
            return False
        self.notify(f"{self.venue.name}: deposits and withdrawals are made on the local paper "
                    "market only (on a class server, ask the teacher)",
                    title="Funds", severity="warning")  # fmt: skip
        return True

    async def _funds_choices(self, withdraw: bool) -> dict[str, str]:
        """Each collateral asset's line for the dialog: held and, to withdraw, the most
        that can go now, by the exchange's own rule."""
        collateral = self.snapshot.health.collateral if self.snapshot else []
        choices: dict[str, str] = {}
        for asset in self.venue.collateral_assets():
            line = next((c for c in collateral if c.asset == asset), None)
            most = await self.venue.max_withdrawal(asset) if withdraw else None
            choices[asset] = funds_words(line, asset, most)
        return choices

    async def action_deposit(self) -> None:
        """Deposit paper money: the way back for a student liquidated on the paper market."""
        await self._funds(withdraw=False)

    async def action_withdraw(self) -> None:
        """Withdraw paper money, held to the exchange's margin rule (its refusal names the
        most that can go)."""
        await self._funds(withdraw=True)

    async def _funds(self, withdraw: bool) -> None:
        if self._funding_refused():
            return
        try:
            choices = await self._funds_choices(withdraw)
        except (ExchangeError, TradingDisabled) as problem:
            self.notify(str(problem), title="Funds", severity="error")
            return
        if not choices:
            self.notify(f"{self.venue.name} takes no collateral here", severity="warning")
            return
        verb = "Withdraw" if withdraw else "Deposit"
        title = "Withdraw from the paper account" if withdraw else "Deposit paper money"

        async def chosen(value: tuple[str, Decimal]) -> str | None:
            """Asked from the dialog: a refusal (the margin rule) is said there and the
            dialog stays with the amount typed."""
            asset, amount = value
            move = self.venue.withdraw if withdraw else self.venue.deposit
            refusal, _ = await self._asked(move(asset, amount))
            if refusal is not None:
                return f"refused: {refusal}"
            done = "withdrew" if withdraw else "deposited"
            self.notify(f"{done} {fmt.plain(amount)} {asset}", title=verb)
            return None

        self.push_screen(FundsScreen(title, verb, choices, "USD", act=chosen))

    def action_convert(self) -> None:
        """`u`: sell collateral for USD to repay a negative USD balance. The dialog offers
        every asset held (USDC too), the largest value first, at the venue's own spread, and
        the result says how much USD came in."""
        snap = self.snapshot
        if snap is None:
            return
        usd = next((c for c in snap.health.collateral if c.asset == "USD"), None)
        coins = convertible(snap.health.collateral)
        if not coins:
            self.notify("no collateral to convert", severity="warning")
            return
        if usd is None or usd.amount >= 0:
            self.notify("USD is not negative: there is no loan to repay", severity="warning")
            return
        spread = self.venue.convert_spread
        choices = {
            c.asset: (f"{c.asset} held {fmt.trimmed(c.amount, 18)}, sold at the index "
                      f"({fmt.trimmed(c.price, 18)} USD) less the {fmt.pct(spread)} spread; "
                      f"USD is {fmt.usd(usd.amount)}",
                      fmt.plain(repay_amount(-usd.amount, c, spread)))
            for c in coins
        }  # fmt: skip
        screen = ConvertScreen(choices)

        async def chosen(value: Decimal | None) -> None:
            if value is None:
                return
            asset = screen.asset
            owed: Decimal | None = None
            if screen.kept_suggestion(value):  # "repay the loan", not an amount of coins
                fresh = await self._repay_now(asset)
                if fresh is None:
                    return
                value, owed = fresh
            if await self._guard(self.venue.convert(asset, "USD", value), "Convert"):
                received = await self._converted_usd()
                got = f": received {fmt.usd(received)} USD" if received is not None else ""
                self.notify(f"converted {fmt.plain(value)} {asset} to USD{got}")
                if owed is not None and received is not None and received < owed:
                    self.notify(f"USD is still {fmt.usd(received - owed)}: the {asset} price "
                                "moved between the price read and the conversion; press u "
                                "to repay the rest", title="Convert",
                                severity="warning")  # fmt: skip

        self.push_screen(screen, chosen)

    async def _repay_now(self, asset: str) -> tuple[Decimal, Decimal | None] | None:
        """(amount of `asset`, USD owed) that repays the loan at the venue's price now, or
        None, said, when there is nothing to repay or nothing to read; the USD owed is None
        when the whole holding is too little to repay it (no move to blame then).

        Why read again: the dialog's suggestion was worked out at the price of the frame that
        opened it, and the living market moves every second; converted after a fall, that
        amount left USD below zero, a loan the trader had asked to repay. On the local venue
        the read and the conversion run with no pause between them, so no tick falls between."""
        try:
            snap = await self.venue.snapshot(self.market)
        except Exception as problem:  # as in a frame: a venue hiccup, said, is no crash
            self.notify(f"nothing converted: the balances could not be read ({problem})",
                        title="Convert refused", severity="error")  # fmt: skip
            return None
        usd = next((c for c in snap.health.collateral if c.asset == "USD"), None)
        coin = next((c for c in snap.health.collateral if c.asset == asset), None)
        if usd is None or usd.amount >= 0:
            self.notify("nothing converted: USD is no longer negative", title="Convert")
            return None
        if coin is None or coin.amount <= 0:
            self.notify(f"nothing converted: no {asset} is held any more",
                        title="Convert refused", severity="error")  # fmt: skip
            return None
        amount = repay_amount(-usd.amount, coin, self.venue.convert_spread)
        return amount, (-usd.amount if amount < coin.amount else None)

    async def _converted_usd(self) -> Decimal | None:
        """The USD the newest conversion credited, from its ledger leg (None: the venue's
        ledger did not say): the net after the spread, not the coins' value at the index."""
        try:
            legs = await self.venue.ledger(10, "convert")
        except (ExchangeError, TradingDisabled):
            return None
        if not legs:
            return None
        newest = max(leg.txid for leg in legs)
        usd = [leg.amount for leg in legs if leg.txid == newest and leg.asset == "USD"]
        return usd[0] if usd else None
