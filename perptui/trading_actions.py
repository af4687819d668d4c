"""What the keys that trade do: send an order, close, cancel, amend, leverage, convert.

A mixin of PerpApp (it uses the app's venue, settings, snapshot and main screen): kept apart
so the app file holds the frame loop and this one what a trader's keys change.
"""

from __future__ import annotations

import time
from decimal import Decimal

from textual.widgets import Input

from exchange_local.errors import ExchangeError
from perptui import format as fmt
from perptui.app_state import AppState
from perptui.screens.modals import ConfirmScreen, ValueScreen
from perptui.ticket import TYPE_LABELS, TicketError, TicketForm
from perptui.venues.base import TradingDisabled
from perptui.widgets.history import RowsTable
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable


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
        if self.settings.confirm_orders:
            preview_text = str(self.main.query_one("#preview").render())
            what = (f"{request.side.upper()} {request.size} {request.market} "
                    f"{TYPE_LABELS[request.type]}"
                    + (f" @ {request.price}" if request.price else "")
                    + (f" trigger {request.trigger_price}" if request.trigger_price else "")
                    + (" reduce-only" if request.reduce_only else "")
                    + (" post-only" if request.post_only else ""))  # fmt: skip
            body = f"{what}\n\n{preview_text}"

            async def answer(ok: bool | None) -> None:
                if ok:
                    await self._place(request)

            self.push_screen(ConfirmScreen("Send this order?", body, "Send"), answer)
            return
        await self._place(request)

    async def _place(self, request: object) -> None:
        ticket = self.main.query_one(OrderTicket)
        try:
            result = await self.venue.place_order(request)  # type: ignore[arg-type]
        except (ExchangeError, TradingDisabled) as refusal:
            ticket.show_message(f"✗ refused: {refusal}", ok=False)
            self.notify(str(refusal), title="Order refused", severity="error")
            return
        status = result.status.value if hasattr(result.status, "value") else result.status
        text = f"✓ order {result.order_id} {status}"
        if result.filled:
            text += f", filled {result.filled} @ {result.avg_price}"
        if result.canceled_reason:
            text += f" ({result.canceled_reason})"
        ticket.show_message(text, ok=True)
        await self.frame()

    # --- actions ----------------------------------------------------------------------------
    def action_side(self, side: str) -> None:
        ticket = self.main.query_one(OrderTicket)
        ticket.set_side(side)
        self.main.query_one("#size", Input).focus()

    def action_cycle_type(self) -> None:
        self.main.query_one(OrderTicket).cycle_type()

    def action_submit(self) -> None:
        self.main.query_one(OrderTicket).submit()

    def action_leave_input(self) -> None:
        self.main.query_one(PositionsTable).focus()

    async def _guard(self, coro: object, what: str) -> bool:
        try:
            await coro  # type: ignore[misc]
        except (ExchangeError, TradingDisabled) as refusal:
            self.notify(str(refusal), title=f"{what} refused", severity="error")
            return False
        await self.frame()
        return True

    def action_leverage(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        ms = snap.markets[self.market]
        current = snap.leverage.get(self.market, ms.max_leverage)

        async def chosen(value: Decimal | None) -> None:
            ok = value is not None and await self._guard(
                self.venue.set_leverage(self.market, value), "Leverage"
            )
            if ok:
                self.notify(f"{self.market} leverage {value}x")

        prompt = f"1 to {ms.max_leverage} (IMF = max(1/leverage, size-scaled))"
        screen = ValueScreen(f"Leverage for {self.market}", prompt, str(current), Decimal(1),
                             ms.max_leverage)  # fmt: skip
        self.push_screen(screen, chosen)

    def action_close_position(self) -> None:
        market = self.main.query_one(PositionsTable).selected_market or self.market
        snap = self.snapshot
        pos = next((p for p in snap.health.positions if p.market == market), None) if snap else None
        if pos is None:
            self.notify(f"no {market} position to close", severity="warning")
            return
        screen = ConfirmScreen(
            f"Close {market}?",
            f"A reduce-only market order for {abs(pos.size)} at about the mark {pos.mark_price}; "
            f"unrealised PnL {fmt.usd(pos.unrealized_pnl, sign=True)}.",
            "Close", danger=True, option="also cancel this market's open orders",
        )  # fmt: skip

        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.close_position(market, screen.option_value), "Close")

        if self.settings.confirm_orders:
            self.push_screen(screen, answer)
        else:
            self.run_worker(answer(True))

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

        self.push_screen(ConfirmScreen("Close every position?", ", ".join(markets), "Close all",
                                       danger=True), answer)  # fmt: skip

    def action_cancel_all(self) -> None:
        async def answer(ok: bool | None) -> None:
            if ok:
                await self._guard(self.venue.cancel_all(None), "Cancel all")

        n = len(self.snapshot.open_orders) if self.snapshot else 0
        if self.settings.confirm_orders:
            self.push_screen(ConfirmScreen("Cancel all orders?", f"{n} open orders", "Cancel all",
                                           danger=True), answer)  # fmt: skip
        else:
            self.run_worker(answer(True))

    async def action_cancel_selected(self) -> None:
        key = self.main.query_one("#orders-table", RowsTable).selected_key
        if key is None:
            self.notify("no order selected (tab 2)", severity="warning")
            return
        await self._guard(self.venue.cancel_order(int(key)), "Cancel")

    def action_amend_selected(self) -> None:
        key = self.main.query_one("#orders-table", RowsTable).selected_key
        order = next((o for o in self.snapshot.open_orders if str(o.order_id) == key),
                     None) if self.snapshot and key else None  # fmt: skip
        if order is None:
            self.notify("no order selected (tab 2)", severity="warning")
            return

        async def chosen(value: Decimal | None) -> None:
            if value is not None:
                await self._guard(self.venue.amend_order(order.order_id, price=value), "Amend")

        self.push_screen(ValueScreen(f"Amend order {order.order_id}", "new price",
                                     str(order.price or "")), chosen)  # fmt: skip

    def action_convert(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        usd = next((c for c in snap.health.collateral if c.asset == "USD"), None)
        coins = [
            c for c in snap.health.collateral if c.asset not in ("USD", "USDC") and c.amount > 0
        ]
        if not coins:
            self.notify("no collateral to convert", severity="warning")
            return
        coin = max(coins, key=lambda c: c.value)
        need = (
            -usd.amount / coin.price * Decimal("1.002") if usd and usd.amount < 0 else coin.amount
        )
        need = min(need, coin.amount).quantize(Decimal("0.0001"))

        async def chosen(value: Decimal | None) -> None:
            if value is not None and await self._guard(
                self.venue.convert(coin.asset, "USD", value), "Convert"
            ):
                self.notify(f"converted {value} {coin.asset} to USD")

        self.push_screen(ValueScreen(f"Convert {coin.asset} to USD",
                                     f"{coin.asset} to sell at the index ({coin.price}) less 0.1 %",
                                     str(need)), chosen)  # fmt: skip
