"""The terminal as a trader uses it: keys in, the exchange's own numbers and words out."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from textual.widgets import Button, Input, TabbedContent

from perptui import format as fmt
from perptui.teaching import move_index_near_liquidation, requote
from perptui.ticket import max_size
from perptui.widgets.account import AccountPanel
from perptui.widgets.book import OrderBookView
from perptui.widgets.history import EventsLog, RowsTable
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable
from tests.tui_support import app_for, assert_snapshot, teaching_venue

D = Decimal


def text_of(widget) -> str:  # type: ignore[no-untyped-def]
    return str(widget.render())


async def type_order(pilot, app, side: str, size: str, price: str | None = None) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(side[0])
    if price is not None:
        app.main.query_one("#price", Input).value = price
    app.main.query_one("#size", Input).value = size
    await pilot.pause()
    await app.frame()
    await pilot.pause()


async def test_a_limit_order_from_the_ticket_rests_in_the_book_and_the_orders_tab():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "0.25", "99950")
        await pilot.press("enter")  # submit from the size field
        await pilot.pause()
        assert "Send this order?" in str(app.screen.query_one("Label").render())
        await pilot.press("y")
        await pilot.pause()
        await app.frame()
        orders = venue.ex.open_orders(venue.account)
        assert [(o.side, o.size, o.price) for o in orders] == [("buy", D("0.25"), D("99950"))]
        table = app.main.query_one("#orders-table", RowsTable)
        assert table.row_count == 1
        book = app.main.query_one(OrderBookView)
        assert any(r[3] == D("99950") and r[1].startswith("•") for r in book._rows)
        # cancel it from the orders tab
        await pilot.press("2")
        table.focus()
        await pilot.press("d")
        await pilot.pause()
        await app.frame()
        assert venue.ex.open_orders(venue.account) == []
        assert table.row_count == 0


async def test_the_preview_follows_the_size():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "0.5", "100000")
        preview = text_of(app.main.query_one("#preview"))
        expected = venue.ex.preview_order(venue.account, "BTC-PERP", "buy", D("0.5"),
                                          price=D(100000))  # fmt: skip
        assert f"→ {expected.imr_after:,.2f}" in preview
        await type_order(pilot, app, "buy", "1.5", "100000")
        bigger = venue.ex.preview_order(venue.account, "BTC-PERP", "buy", D("1.5"),
                                        price=D(100000))  # fmt: skip
        preview = text_of(app.main.query_one("#preview"))
        assert f"→ {bigger.imr_after:,.2f}" in preview
        assert bigger.imr_after > expected.imr_after


async def test_a_market_switch_clears_the_size_and_prices_the_new_market():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "0.5", "100000")
        await pilot.press("escape")
        await pilot.press("n")  # the next market: 0.5 BTC must not become 0.5 of it
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        ticket = app.main.query_one(OrderTicket)
        assert ticket.form.market != "BTC-PERP"
        assert app.main.query_one("#size", Input).value == "" and ticket.form.size == ""
        mark = venue.ex.market(ticket.form.market).mark
        assert app.main.query_one("#price", Input).value == str(mark)
        assert "?" in str(app.main.query_one("#submit").label)


async def test_positions_sort_as_the_trader_chooses_and_the_cursor_stays_on_its_position():
    from textual.widgets import DataTable
    from textual.widgets.data_table import ColumnKey

    from perptui.teaching import DESK

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        for market, price, size in (("ETH-PERP", 3000, "20"), ("SOL-PERP", 150, "300")):
            ex.set_index_price(market[:3], D(price))
            ex.place_order(DESK, market, "sell", D(size), price=D(price))
            ex.place_order(me, market, "buy", D(size), price=D(price), tif="ioc")
        ex.place_order(me, "BTC-PERP", "sell", D("0.3"), type="market")
        ex.set_index_price("SOL", D(140))  # SOL loses most, ETH is the biggest position
        await app.frame()
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        health = {p.market: p for p in ex.health(me).positions}
        assert all(p.distance_to_liquidation is not None for p in health.values()), health

        def rows() -> list[str]:
            return [str(r.key.value) for r in table.ordered_rows]

        def by(key, reverse=False):  # type: ignore[no-untyped-def]
            return sorted(health, key=lambda m: key(health[m]), reverse=reverse)

        assert rows() == list(health)  # the exchange's order to begin with
        table.focus()
        table.move_cursor(row=rows().index("SOL-PERP"))
        await pilot.press("o")  # nearest liquidation first
        await pilot.pause()
        assert rows() == by(lambda p: p.distance_to_liquidation)
        assert table.selected_market == "SOL-PERP"  # `x` still closes what was picked
        assert "Dist ▲" in str(table.columns[ColumnKey("Dist")].label)
        await pilot.press("o")  # biggest notional first
        await pilot.pause()
        assert rows() == by(lambda p: p.notional, reverse=True) and rows()[0] == "ETH-PERP"
        assert table.selected_market == "SOL-PERP"
        header = DataTable.HeaderSelected(table, ColumnKey("uPnL"), 10, table.columns[
            ColumnKey("uPnL")].label)  # fmt: skip
        table.post_message(header)  # a click on the uPnL header: the worst first
        await pilot.pause()
        assert rows() == by(lambda p: p.unrealized_pnl) and rows()[0] == "SOL-PERP"
        assert table.selected_market == "SOL-PERP"  # moved from the second row to the first
        table.post_message(header)  # again: the best first
        await pilot.pause()
        assert rows() == by(lambda p: p.unrealized_pnl, reverse=True)
        assert rows()[-1] == table.selected_market == "SOL-PERP"
        await app.frame()  # a new frame keeps the chosen order
        await pilot.pause()
        assert rows() == by(lambda p: p.unrealized_pnl, reverse=True)


async def test_a_market_order_from_the_ticket_previews_and_fills():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("m")  # limit -> market
        await pilot.pause()
        assert app.main.query_one(OrderTicket).form.type == "market"
        await type_order(pilot, app, "buy", "0.3")
        preview = text_of(app.main.query_one("#preview"))
        expected = venue.ex.preview_order(venue.account, "BTC-PERP", "buy", D("0.3"),
                                          type="market")  # fmt: skip
        assert f"→ {expected.imr_after:,.2f}" in preview and "refused" not in preview
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await app.frame()
        positions = venue.ex.positions(venue.account)
        assert [(p.market, p.size) for p in positions] == [("BTC-PERP", D("0.3"))]


async def test_a_refused_order_shows_the_exchanges_message_and_changes_nothing():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "50", "100000")  # 5 M notional on 22 k equity
        assert "would be refused" in text_of(app.main.query_one("#preview"))
        await pilot.press("enter")
        await pilot.pause()
        message = text_of(app.main.query_one("#message"))
        assert "refused" in message and "margin" in message.lower()
        assert venue.ex.open_orders(venue.account) == []
        assert venue.ex.positions(venue.account) == []


async def test_close_a_position_from_the_positions_table():
    venue = teaching_venue()
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        table = app.main.query_one(PositionsTable)
        assert table.row_count == 1 and table.selected_market == "BTC-PERP"
        table.focus()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        await app.frame()
        assert venue.ex.positions(venue.account) == []
        assert table.row_count == 0


async def test_a_crash_walks_the_account_through_liquidation_on_screen():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
        await app.frame()
        panel = app.main.query_one(AccountPanel)
        assert "HEALTHY" in text_of(panel) or "WATCH" in text_of(panel)
        liq = venue.ex.health(venue.account).positions[0].liquidation_price
        assert liq is not None
        move_index_near_liquidation(venue, "BTC-PERP", D("1.01"))
        await app.frame()
        near = text_of(panel)
        assert "WATCH" in near or "DANGER" in near
        crash = (liq * D("0.97")).quantize(D("0.5"))
        venue.ex.set_index_price("BTC", crash)
        requote(venue.ex, crash)
        await app.frame()
        assert "LIQUIDATING" in text_of(panel)
        positions = app.main.query_one(PositionsTable)
        assert str(positions.get_cell("BTC-PERP", "Liq")) in ("now", "bankrupt")
        await venue.advance(D(3))
        await app.frame()
        await pilot.press("6")
        await pilot.pause()
        assert app.main.query_one(TabbedContent).active == "events"
        log = app.main.query_one(EventsLog)
        stages = [line.text for line in log.lines_seen if line.kind == "liquidation" and line.mine]
        assert any("stage 1" in s for s in stages), stages
        assert any("stage 2" in s or "stage 3" in s or "stage 5" in s for s in stages), stages


async def test_main_screen_healthy_snapshot():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await venue.advance(D(61))
        await app.frame()
        await pilot.pause()
        await assert_snapshot(pilot, app, "main_healthy")


async def test_main_screen_near_liquidation_snapshot():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
        move_index_near_liquidation(venue, "BTC-PERP", D("1.01"))
        await app.frame()
        await pilot.pause()
        await assert_snapshot(pilot, app, "main_near_liquidation")


async def liquidated_with_events_shown(pilot, app, venue) -> None:  # type: ignore[no-untyped-def]
    """A 3 BTC long taken through liquidation by a 3 % fall, the events tab shown."""
    venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
    move_index_near_liquidation(venue, "BTC-PERP", D("0.97"))
    await venue.advance(D(5))
    await app.frame()
    await pilot.press("6")


async def test_main_screen_after_liquidation_snapshot():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await liquidated_with_events_shown(pilot, app, venue)
        for _ in range(3):
            await pilot.pause()
        log = app.main.query_one(EventsLog)
        log.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        await assert_snapshot(pilot, app, "main_after_liquidation")


async def test_narrow_80x24_snapshot():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        await pilot.pause()
        assert "Eq " in text_of(app.main.query_one(AccountPanel))
        await assert_snapshot(pilot, app, "narrow_80x24")


async def test_order_confirmation_snapshot():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(120, 36)) as pilot:
        await type_order(pilot, app, "sell", "0.4", "100100")
        app.main.query_one(OrderTicket).submit()
        await pilot.pause()
        await pilot.pause()
        await assert_snapshot(pilot, app, "order_confirmation")


@pytest.mark.parametrize(("key", "name"), [("t", "explain"), ("S", "stress")])
async def test_position_screen_snapshot(key: str, name: str):
    """The explain (t) and stress (S) screens over a 2 BTC long."""
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(2), type="market")
        await app.frame()
        await pilot.press(key)
        await pilot.pause()
        await pilot.pause()
        await assert_snapshot(pilot, app, name)


async def test_a_venue_that_stops_answering_is_shown_stale_not_live():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        header = app.main.query_one("#header")
        assert "● live" in text_of(header)

        async def gone(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise ConnectionError("server went away")

        venue.snapshot = gone  # type: ignore[method-assign]
        await app.frame()
        await pilot.pause()
        assert "STALE" in text_of(header) and "● live" not in text_of(header)
        mark = str(app.main.query_one(PositionsTable).get_cell("BTC-PERP", "Mark"))
        assert mark.endswith("?")


async def test_convert_repays_a_negative_usd_balance_with_coins():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        ex = venue.ex
        ex.place_order(venue.account, "BTC-PERP", "buy", D(1), type="market")
        ex.set_index_price("BTC", D(88_000))  # a 12 % fall: the loss is more than the USD
        requote(ex, D(88_000))
        await venue.advance(D(30))  # settlement turns the loss into USD
        assert ex.balances(venue.account)["USD"] < 0
        await app.frame()
        assert "USD is negative" in text_of(app.main.query_one(AccountPanel))
        await pilot.press("escape", "u")
        await pilot.pause()
        field = app.screen.query_one("#value", Input)
        assert D(field.value) > 0  # prefilled with enough coins to repay the loan
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert ex.balances(venue.account)["USD"] >= 0


async def test_a_venues_question_is_put_to_the_user_once_and_answered():
    from perptui.venues.base import Decision

    venue = teaching_venue()
    answers: list[bool] = []
    question = Decision("Prices are back with a jump", "BTC +5.00%", "Continue",
                        "Reset the paper account", True)  # fmt: skip
    venue.pending_decision = lambda: None if answers else question  # type: ignore[method-assign]

    async def decide(accept: bool) -> None:
        answers.append(accept)

    venue.decide = decide  # type: ignore[method-assign]
    app = app_for(venue)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        await app.frame()  # asked once, not once per frame
        await pilot.pause()
        assert len(app.screen_stack) == 3  # default, main, the question
        assert "Reset the paper account" in str(app.screen.query_one("#no").render())
        await pilot.press("escape")  # the refusing button: reset
        await pilot.pause()
        assert answers == [False]


async def test_a_real_venues_liquidation_price_stands_beside_ours():
    from perptui.venues.base import VenueLiquidation

    venue = teaching_venue()
    venue.venue_liquidations = lambda: {  # type: ignore[method-assign]
        "BTC-PERP": VenueLiquidation(D("60000"), D("0.0123"), True)
    }
    app = app_for(venue)
    async with app.run_test(size=(160, 48)):
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        liq = str(app.main.query_one(PositionsTable).get_cell("BTC-PERP", "Liq"))
        assert "(venue 60,000.0 ≠1.2%)" in liq


async def test_trading_keys_work_from_the_ticket_fields_and_a_send_leaves_them():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ticket = app.main.query_one(OrderTicket)
        await pilot.press("b", "0", ".", "1")  # the cursor is in the size field
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "size"
        assert ticket.form.size == "0.1"
        await pilot.press("s")  # a letter is never part of a size: it turns the ticket
        await pilot.press("m")  # limit -> market, still from the field
        await pilot.pause()
        assert (ticket.form.side, ticket.form.type, ticket.form.size) == ("sell", "market", "0.1")
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        positions = venue.ex.positions(venue.account)
        assert [(p.market, p.size) for p in positions] == [("BTC-PERP", D("-0.1"))]
        assert "filled: 0.1000 @ 99,900.0" in text_of(app.main.query_one("#message"))
        assert app.focused is None  # sent: digits switch tabs again instead of typing
        await pilot.press("2")
        await pilot.pause()
        assert app.main.query_one(TabbedContent).active == "orders"
        assert ticket.form.size == "0.1"


async def test_escape_leaves_a_field_without_switching_the_tab_and_d_needs_the_orders_tab():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "0.1", "99000")
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        [order] = venue.ex.open_orders(venue.account)
        await pilot.press("2", "b")  # orders tab shown, back in the ticket
        await pilot.press("escape")
        await pilot.pause()
        assert app.main.query_one(TabbedContent).active == "orders" and app.focused is None
        await pilot.press("1", "d")  # positions shown: the order is out of sight, so kept
        await pilot.pause()
        assert venue.ex.open_orders(venue.account) == [order]
        assert any("orders tab" in str(n.message) for n in app._notifications)
        await pilot.press("2", "d")
        await pilot.pause()
        assert venue.ex.open_orders(venue.account) == []


async def test_an_order_the_gate_refuses_is_not_put_to_the_confirmation():
    venue = teaching_venue()
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await type_order(pilot, app, "buy", "50", "100000")  # 5 M notional on 22 k equity
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ != "ConfirmScreen"
        message = text_of(app.main.query_one("#message"))
        assert "not sent" in message and "margin" in message.lower()
        await type_order(pilot, app, "buy", "0.5", "100000")  # any edit clears the message
        assert text_of(app.main.query_one("#message")) == ""


async def test_a_market_order_is_sized_at_the_mark_not_at_the_greyed_out_price():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        ticket = app.main.query_one(OrderTicket)
        await type_order(pilot, app, "buy", "0.1", "50000")  # a limit far under the mark
        at_limit = text_of(app.main.query_one("#lev"))
        await pilot.press("m")  # market: the 50,000 stays in the greyed-out field
        await pilot.pause()
        assert ticket.form.type == "market" and ticket.form.price == "50000"
        at_mark = text_of(app.main.query_one("#lev"))
        snap = app.snapshot
        assert snap is not None
        top = max_size(snap.health, snap.markets["BTC-PERP"], snap.leverage["BTC-PERP"], None)
        assert at_mark.strip() == f"max ≈ {fmt.size(top, D('0.0001'))}" and at_mark != at_limit


async def test_amend_changes_the_size_the_price_and_a_stops_trigger():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        bid = ex.place_order(me, "BTC-PERP", "buy", D("0.2"), price=D(99000))
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), type="market")
        stop = ex.place_order(me, "BTC-PERP", "sell", D("0.1"), type="stop_market",
                              trigger_price=D(95000), reduce_only=True)  # fmt: skip
        await app.frame()
        await pilot.press("2")
        table = app.main.query_one("#orders-table", RowsTable)
        table.focus()

        async def amend(order_id: int, price: str, size: str) -> None:
            keys = [str(k.value) for k in table.rows]
            table.move_cursor(row=keys.index(str(order_id)))
            await pilot.press("a")
            await pilot.pause()
            assert type(app.screen).__name__ == "AmendScreen"
            app.screen.query_one("#price", Input).value = price
            app.screen.query_one("#size", Input).value = size
            await pilot.press("enter")
            await pilot.pause()
            await app.frame()

        await amend(bid.order_id, "99000", "0.35")  # the size alone
        info = ex.order(me, bid.order_id)
        assert (info.price, info.size) == (D(99000), D("0.35"))
        await amend(bid.order_id, "98500", "0.35")  # the price alone
        assert ex.order(me, bid.order_id).price == D(98500)
        await amend(stop.order_id, "94000", "0.1")  # a stop's trigger
        assert ex.order(me, stop.order_id).trigger_price == D(94000)
        await amend(bid.order_id, "abc", "0.35")  # refused in the dialog, nothing sent
        assert "not a number" in str(app.screen.query_one("#error").render())
        await pilot.press("escape")
        assert ex.order(me, bid.order_id).price == D(98500)


async def test_a_venue_that_fails_after_its_snapshot_does_not_take_the_terminal_down():
    """Seen against a class server stopped mid-frame: the snapshot came back, the fills call
    after it did not, and perptui exited with a traceback instead of showing STALE."""
    from perptui.venues.remote import VenueUnavailable

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()

        async def unreachable(limit: int = 500) -> list:  # type: ignore[type-arg]
            raise VenueUnavailable("cannot reach 127.0.0.1:8741: All connection attempts failed")

        venue.fills = unreachable  # type: ignore[method-assign]
        app.frames = 0  # the next frame fetches fills
        await app.frame()
        await pilot.pause()
        assert app.is_running
        assert any("cannot reach" in str(n.message) for n in app._notifications)


async def test_a_tab_key_puts_the_arrows_in_its_table_so_d_cancels_the_order_picked():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        ids = [ex.place_order(me, "BTC-PERP", "buy", D("0.1"), price=D(p)).order_id
               for p in (99000, 98000, 97000)]  # fmt: skip
        await app.frame()
        await pilot.press("2", "down")  # the down arrow scrolled the right column before
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        await app.frame()
        left = [o.order_id for o in ex.open_orders(me)]
        assert sorted(left) == [ids[0], ids[2]]  # the second row, the one under the cursor


async def test_a_trigger_already_reached_is_refused_in_the_preview_not_after_sending():
    venue = teaching_venue()
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.1"), type="market")
        await app.frame()
        await pilot.press("s", "m", "m", "m")  # sell, limit -> market -> stop -> take-profit
        await pilot.pause()
        assert app.main.query_one(OrderTicket).form.type == "take_profit"
        await type_order(pilot, app, "sell", "0.1", "99000")  # a sell TP under the mark
        assert "already reached" in text_of(app.main.query_one("#preview"))
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ != "ConfirmScreen"
        assert "already reached" in text_of(app.main.query_one("#message"))
        assert [o.type for o in venue.ex.open_orders(venue.account)] == []


async def test_a_stop_is_previewed_at_its_trigger_with_the_taker_fee():
    venue = teaching_venue()
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.1"), type="market")
        await app.frame()
        await pilot.press("s", "m", "m")  # sell, limit -> market -> stop
        await pilot.pause()
        assert app.main.query_one(OrderTicket).form.type == "stop_market"
        await type_order(pilot, app, "sell", "0.1", "90000")
        text = text_of(app.main.query_one("#preview"))
        assert "Est. fill 90,000" in text and "Fee ~4.50" in text  # 0.1 x 90,000 x 0.05 %


async def test_the_100_percent_button_sizes_what_the_exchange_gate_passes():
    venue = teaching_venue()
    ex, me = venue.ex, venue.account
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        for side, held in (("buy", "0"), ("sell", "1")):  # opening; then closing and flipping
            if held != "0":
                ex.place_order(me, "BTC-PERP", "buy", D(held), type="market")
            await pilot.press(side[0], "m")  # market
            await pilot.pause()
            await app.frame()
            await pilot.pause()
            await pilot.click("#pct-100")
            await pilot.pause()
            await pilot.pause()
            size = D(app.main.query_one("#size", Input).value)
            edge = ex.preview_order(me, "BTC-PERP", side, D(1000), type="market").max_size
            assert edge is not None
            passes = ex.preview_order(me, "BTC-PERP", side, size, type="market")
            # the gate's largest size, less half a percent kept from the edge for the moves
            # between the click and the send (at the very edge one tick refused it)
            assert passes.would_reject is None and edge * D("0.994") <= size < edge, side
            if held != "0":
                assert size > D(held) * 2  # the flip: the free-collateral estimate said less
            await pilot.press("m", "m", "m")  # back round to limit
            await pilot.pause()


async def test_a_price_never_typed_follows_the_mark_when_a_side_is_chosen():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        price = app.main.query_one("#price", Input)
        assert price.value == str(venue.ex.market("BTC-PERP").mark)
        venue.ex.set_index_price("BTC", D(65000))  # a crash
        await venue.advance(D(1))
        await app.frame()
        await pilot.press("b")
        await pilot.pause()
        assert price.value == str(venue.ex.market("BTC-PERP").mark) == "65000"
        price.value = "64000"  # typed by the trader: kept
        await pilot.pause()
        venue.ex.set_index_price("BTC", D(66000))
        await venue.advance(D(1))
        await app.frame()
        await pilot.press("s")
        await pilot.pause()
        assert price.value == "64000"


async def test_stops_are_sized_and_shown_as_the_reduce_only_orders_they_are():
    from textual.widgets import Checkbox

    venue = teaching_venue()
    ex, me = venue.ex, venue.account
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("s", "m", "m")  # sell stop, no position yet
        await pilot.pause()
        box = app.main.query_one("#reduce", Checkbox)
        assert box.value and box.disabled  # it showed off while the order went reduce-only
        await pilot.click("#pct-100")
        await pilot.pause()
        await pilot.pause()
        assert app.main.query_one("#size", Input).value == ""  # nothing to reduce: no size
        assert "no size" in text_of(app.main.query_one("#message"))
        ex.place_order(me, "BTC-PERP", "buy", D("0.7"), type="market")
        await app.frame()
        app.main.query_one("#pct-100", Button).press()  # not a click: the rows above move
        size = app.main.query_one("#size", Input)
        for _ in range(100):  # the press, then the venue's answer of the largest size
            await pilot.pause()
            await app.workers.wait_for_complete()
            if size.value:
                break
        assert D(size.value) == D("0.7")  # the position, whole
        await pilot.press("m", "m")  # take-profit -> limit: the trader's own choice again
        await pilot.pause()
        assert not box.value and not box.disabled


async def test_a_reopened_market_keeps_its_index_in_the_header_at_160_columns():
    from perptui.widgets.header import MarketHeader

    venue = teaching_venue()
    venue.paused_for_s = 180.0  # reopened after three minutes
    app = app_for(venue)
    async with app.run_test(size=(160, 48)):
        await app.frame()
        header = text_of(app.main.query_one(MarketHeader))
        # the note made the line too long and the whole header fell to the short form
        assert "Index" in header and "OI" in header, header


async def test_leverage_is_a_whole_number_on_every_venue():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("l")
        await pilot.pause()
        field = app.screen.query_one("#value", Input)
        field.value = "2.5"  # the paper market took it; a class server refuses it
        await pilot.press("enter")
        await pilot.pause()
        assert "whole number" in text_of(app.screen.query_one("#error"))
        field.value = "5"
        await pilot.press("enter")
        await pilot.pause()
        assert venue.ex.leverage(venue.account)["BTC-PERP"] == 5


async def test_a_watch_only_venue_shows_why_in_the_tickets_place_and_offers_no_trading_key():
    """A read key (a demo, a replay): the ticket offered a size and "BUY ? ↵" and the footer
    Buy, Sell, Close and Cancel all, each refused when pressed."""
    venue = teaching_venue()
    venue.can_trade = False  # as a class server's read key
    venue.read_only_reason = "class: this key can only watch (scope read)"
    app = app_for(venue, confirm=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        assert not app.main.query_one(OrderTicket).display
        panel = app.main.query_one("#watch")
        assert panel.display
        words = text_of(panel)
        assert "this key can only watch (scope read)" in words
        footer = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not {"side('buy')", "cancel_all", "close_position", "submit"} & footer
        for key in ("b", "x", "c", "enter"):
            await pilot.press(key)
            await pilot.pause()
            assert type(app.screen).__name__ == "MainScreen"  # no dialog, no confirmation
        assert venue.ex.open_orders(venue.account) == []


async def test_advancing_the_clock_shows_its_progress_takes_the_keys_and_can_stop():
    from perptui.screens.advancing import AdvanceScreen

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        start = venue.ex.now_ms
        steps: list[Decimal] = []
        real_advance = venue.advance

        busy = asyncio.Event()  # the market's third minute takes until the keys are pressed

        async def one_minute_at_a_time(seconds: Decimal) -> None:
            steps.append(seconds)
            await real_advance(seconds)
            if len(steps) == 3:
                await busy.wait()

        venue.advance = one_minute_at_a_time  # type: ignore[method-assign]
        await app.run_action("advance('3600')")
        await pilot.pause()
        assert isinstance(app.screen, AdvanceScreen)
        await pilot.press("b")  # a key meant for the market while it runs: the screen has it
        await pilot.press("escape")
        busy.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, AdvanceScreen)
        ran = venue.ex.now_ms - start
        assert 0 < ran < 3_600_000 and ran % 60_000 == 0 and set(steps) == {D(60)}
        assert app.main.query_one(OrderTicket).form.side == "buy"  # the default, untouched
        assert any("stopped" in n.message for n in app._notifications)
        await app.run_action("advance('30')")
        await app.workers.wait_for_complete()
        for _ in range(20):  # the dismissed screen's answer runs a few turns later
            await pilot.pause()
            if any(n.message == "clock advanced 30 s" for n in app._notifications):
                break
        assert venue.ex.now_ms - start == ran + 30_000
        assert any(n.message == "clock advanced 30 s" for n in app._notifications)


@pytest.mark.parametrize("theme", ["ansi-dark", "ansi-light"])
async def test_the_terminals_own_colours_draw_every_screen(theme: str):
    """Textual's ansi themes name colours "ansi_green", which Rich styles do not know: the
    stress screen raised while drawing and the app hung for good."""
    from perptui.app import PerpApp
    from perptui.screens.stress import StressScreen
    from perptui.settings import Settings

    venue = teaching_venue()
    app = PerpApp(venue, Settings(theme=theme), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
        move_index_near_liquidation(venue, "BTC-PERP", D("1.01"))  # a margin call, in colour
        await venue.advance(D(1))
        await app.frame()
        await pilot.press("6")
        await pilot.pause()
        assert any(line.mine for line in app.main.query_one(EventsLog).lines_seen)
        await pilot.press("1")
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, StressScreen)
        await pilot.press("escape")
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main and app.is_running


async def test_the_main_screens_keys_stay_on_the_main_screen():
    from perptui.screens.explain import ExplainScreen
    from perptui.screens.stress import StressScreen

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await type_order(pilot, app, "buy", "0.01")
        await pilot.press("escape", "t")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        await pilot.press("enter", "x", "c", "l", "5", "S", "s")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen) and len(app.screen_stack) == 3
        assert app.main.query_one(TabbedContent).active == "positions"
        assert app.main.query_one(OrderTicket).form.side == "buy"
        assert venue.ex.open_orders(venue.account) == [] and not venue.ex.positions(venue.account)
        await pilot.press("escape", "S")
        await pilot.pause()
        assert isinstance(app.screen, StressScreen)
        await pilot.press("t", "6", "enter")
        await pilot.pause()
        assert isinstance(app.screen, StressScreen) and len(app.screen_stack) == 3
        await pilot.press("escape", "6")
        await pilot.pause()
        assert app.screen is app.main and app.main.query_one(TabbedContent).active == "events"


async def test_every_tab_key_switches_from_every_tab_and_takes_the_keyboard_there():
    from perptui.widgets.history import EventsLog as Log

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        tabs = app.main.query_one(TabbedContent)
        for start in "123456":
            for key in "123456":
                await pilot.press(start, key)
                await pilot.pause()
                wanted = ("positions", "orders", "fills", "funding-tab", "ledger", "events")
                assert tabs.active == wanted[int(key) - 1], (start, key)
                typing = app.focused is app.main.query_one("#ledger-filter")
                assert typing == (key == "5"), (start, key, app.focused)
        assert isinstance(app.focused, Log)  # the last was 6: arrows scroll the events
        assert app.main.query_one("#ledger-filter", Input).value == ""
        market = app.market
        await pilot.press("5", "f", "u", "n", "d", "6")  # letters filter, a digit moves on
        await pilot.pause()
        assert app.main.query_one("#ledger-filter", Input).value == "fund"
        assert tabs.active == "events" and app.market == market


@pytest.mark.parametrize(("width", "chart"), [(100, False), (110, False), (124, True), (160, True)])
async def test_the_chart_is_shown_only_where_it_has_room(width: int, chart: bool):
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(width, 36)) as pilot:
        await app.frame()
        await pilot.pause()
        left = app.main.query_one("#left")
        assert left.display == chart
        if chart:
            assert left.size.width >= 32
        right = app.main.query_one("#right")
        assert right.size.width >= 54


@pytest.mark.parametrize("size", [(100, 30), (130, 30)])
async def test_a_short_terminal_keeps_the_accounts_essentials_in_view(size: tuple[int, int]):
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=size) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        await app.frame()
        await pilot.pause()
        panel = app.main.query_one(AccountPanel)
        said = text_of(panel)
        assert "Eq " in said and "liq" in said and "use" in said, said
        assert app.screen.region.contains_region(panel.region)


async def test_the_events_log_wraps_again_when_the_terminal_narrows():
    """RichLog keeps each line as drawn when written: a projector plugged in mid-lesson (160
    columns to 120) cut every stage's line, the fund's before -> after at its end included."""
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await liquidated_with_events_shown(pilot, app, venue)
        await pilot.pause()
        log = app.main.query_one(EventsLog)
        longest = max((line.text for line in log.lines_seen), key=len)
        assert len(longest) > 120  # a line that must wrap at 120 columns
        await pilot.resize_terminal(120, 36)
        for _ in range(3):
            await pilot.pause()
        width = log.scrollable_content_region.width
        shown = "".join(strip.text.strip() for strip in log.lines)
        assert all(len(strip.text.rstrip()) <= width for strip in log.lines)
        assert "".join(longest.split()) in "".join(shown.split())  # every word, in order


async def test_escape_stops_the_advancing_clock_after_the_minute_it_is_in():
    """Each minute gave the screen one turn of the event loop, and a key needs several to
    reach it: Esc at the start of an hour stopped it 12-18 minutes later."""
    from textual import events

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        steps: list[Decimal] = []
        pressed_at: list[int] = []

        async def minute(seconds: Decimal) -> None:  # the engine's step: no turn inside it
            steps.append(seconds)
            if len(steps) == 2:
                app.post_message(events.Key("escape", None))
                pressed_at.append(len(steps))

        venue.advance = minute  # type: ignore[method-assign]
        await app.run_action("advance('3600')")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert pressed_at == [2] and len(steps) <= 3, len(steps)


async def test_the_confirmation_gives_the_figures_of_the_verdict_just_asked():
    """It copied the ticket's last preview, a beat older than the verdict asked on Enter: a
    class saw its Est. fill beside the ticket's newer IMR behind it."""
    from perptui.venues.base import OrderRequest

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b", "m")  # a market buy
        await pilot.pause()
        app.main.query_one("#size", Input).value = "0.4"
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        before = str(app.main.query_one("#preview").render())
        venue.ex.create_account("cheap")
        venue.ex.deposit("cheap", "USD", D(10_000_000))
        venue.ex.place_order("cheap", "BTC-PERP", "sell", D(1), price=D(99_950))  # a better ask
        fresh = await venue.preview_order(OrderRequest("BTC-PERP", "buy", D("0.4"), "market"))
        assert fresh.est_fill_price is not None
        shown = fmt.price(fresh.est_fill_price, D("0.5"))
        assert shown not in before  # the ticket's preview is from before the new ask
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        body = "\n".join(str(s.render()) for s in app.screen.query("Static"))
        assert shown in body, body


async def test_the_sort_key_steps_over_a_column_the_narrow_table_does_not_show():
    """At 80 columns the table has no Notional: `o` goes from Dist to uPnL, and every sort
    it offers carries its arrow in a header the trader can see."""
    from perptui.widgets.positions import NARROW_COLUMNS

    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 40)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.1"), type="market")
        await app.frame()
        await pilot.pause()
        table = app.main.query_one(PositionsTable)
        assert table.form[0] == NARROW_COLUMNS and "Notional" not in NARROW_COLUMNS
        table.focus()
        seen = []
        for _ in range(4):
            await pilot.press("o")
            await pilot.pause()
            seen.append(table.sort_column)
            if table.sort_column is not None:
                labels = [str(c.label) for c in table.columns.values()]
                assert any(label.startswith(table.sort_column) and label[-1] in "▲▼"
                           for label in labels), labels  # fmt: skip
        assert seen == ["Dist", "uPnL", "Market", None]
