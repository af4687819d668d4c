"""A keyboard-only tester's report, tables, dialogs, help and footer: Enter on a table row never
sends the ticket's order, `n` answers every yes-or-no question, Enter on the Close dialog's
box closes, a refused amend or withdrawal keeps its dialog open, help says how to scroll the
events log and wraps, and the footer never shows half a key."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Footer, Input, Select
from textual.widgets._footer import FooterKey

from perptui.keys import footer_keys
from perptui.screens.help import HelpScreen
from perptui.screens.main import MainScreen
from perptui.screens.modals import AmendScreen, ConfirmScreen, FundsScreen, ValueScreen
from perptui.widgets.history import EventsLog, RowsTable
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable
from tests.tui_support import app_for, teaching_venue

D = Decimal


def said(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(n.message) for n in app._notifications]


# --- 7. Enter on a table row: the row's market, never a send --------------------------------
@pytest.mark.parametrize("confirm", [True, False])
async def test_enter_on_an_orders_row_shows_its_market_and_sends_nothing(confirm: bool):
    venue = teaching_venue()
    app = app_for(venue, confirm=confirm)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        await app.frame()
        eth = ex.place_order(me, "ETH-PERP", "buy", D("0.1"), price=D(1000))
        await pilot.press("b", "0", ".", "1")  # a complete order in the ticket
        await pilot.press("escape", "2")
        await pilot.pause()
        await app.frame()
        table = app.main.query_one("#orders-table", RowsTable)
        assert app.focused is table and table.selected_key == str(eth.order_id)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)  # no "Send this order?"
        assert [o.order_id for o in ex.open_orders(me)] == [eth.order_id]  # nothing sent
        assert app.market == "ETH-PERP"
        assert app.main.query_one(OrderTicket).form.market == "ETH-PERP"
        assert any("ETH-PERP in the ticket" in m for m in said(app))


async def test_enter_on_a_positions_row_shows_its_market_and_sends_nothing():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(80, 24)) as pilot:
        ex, me = venue.ex, venue.account
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), type="market")
        await app.frame()
        await pilot.press("n")  # the ticket on another market
        await pilot.pause()
        await app.frame()
        assert app.market != "BTC-PERP"
        await pilot.press("b", "0", ".", "1", "escape", "1")
        await pilot.pause()
        await app.frame()
        assert app.focused is app.main.query_one(PositionsTable)
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert app.market == "BTC-PERP"
        assert [(p.market, p.size) for p in ex.positions(me)] == [("BTC-PERP", D("0.1"))]
        assert ex.open_orders(me) == []


async def test_enter_in_the_events_log_sends_nothing():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("b", "0", ".", "1", "escape", "6")
        await pilot.pause()
        assert app.focused is app.main.query_one(EventsLog)
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert venue.ex.open_orders(venue.account) == []
        assert venue.ex.positions(venue.account) == []
        await pilot.press("escape", "enter")  # with nothing focused Enter is Send, as before
        await pilot.pause()
        await app.frame()
        assert venue.ex.positions(venue.account) or venue.ex.open_orders(venue.account)


# --- 8. `n` answers every yes-or-no question; 6. Enter on the Close box closes ------------------
async def test_n_dismisses_every_yes_or_no_dialog():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        ex, me = venue.ex, venue.account
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), type="market")
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), price=D(90000))
        await app.frame()
        for keys in (("x",), ("X",), ("c",), ("b", "0", ".", "1", "enter")):
            await pilot.press(*keys)
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen), keys
            await pilot.press("n")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen), keys
            app.screen.set_focus(None)
        assert len(ex.open_orders(me)) == 1 and len(ex.positions(me)) == 1  # nothing done


async def test_enter_on_the_close_dialogs_box_closes_and_space_ticks_it():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        ex, me = venue.ex, venue.account
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), type="market")
        ex.place_order(me, "BTC-PERP", "buy", D("0.1"), price=D(90000))
        await app.frame()
        await pilot.press("x")
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ConfirmScreen) and screen.option
        box = screen.query_one("#option", Checkbox)
        box.focus()
        await pilot.pause()
        await pilot.press("space", "space")  # untick, tick again
        await pilot.pause()
        assert box.value is True and screen.option_value is True
        await pilot.press("enter")  # Close (y/↵), the box stays as it is
        await pilot.pause()
        await app.frame()
        assert isinstance(app.screen, MainScreen)
        assert ex.positions(me) == [] and ex.open_orders(me) == []


# --- 9. a refusal keeps the dialog open, with what was typed ----------------------------------
async def test_a_refused_amend_stays_in_its_dialog_with_the_price_typed():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        ex, me = venue.ex, venue.account
        bid = ex.place_order(me, "BTC-PERP", "buy", D("0.2"), price=D(95000))
        await app.frame()
        await pilot.press("2", "a")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AmendScreen)
        field = screen.query_one("#price", Input)
        field.value = "95000.3"  # off the 0.5 tick
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is screen  # still open
        error = str(screen.query_one("#error").render())
        assert "refused" in error and "tick 0.5" in error, error
        assert field.value == "95000.3"
        assert ex.order(me, bid.order_id).price == D(95000)
        field.value = "95000.5"  # corrected in place
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert ex.order(me, bid.order_id).price == D("95000.5")


async def test_a_refused_withdrawal_stays_in_its_dialog_with_the_amount_typed():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(100, 30)) as pilot:
        ex, me = venue.ex, venue.account
        ex.place_order(me, "BTC-PERP", "buy", D(2), type="market")  # margin binds
        await app.frame()
        most = ex.max_withdrawal(me, "USD")
        balance = ex.balances(me)["USD"]
        assert 100 < most < balance
        await pilot.press("W")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FundsScreen)
        screen.query_one("#asset", Select).value = "USD"
        await pilot.pause()
        field = screen.query_one("#value", Input)
        field.value = str(most + 1)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is screen and field.value == str(most + 1)
        error = str(screen.query_one("#error").render())
        assert "refused" in error and "can be withdrawn now" in error, error
        assert ex.balances(me)["USD"] == balance
        field.value = "100"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert ex.balances(me)["USD"] == balance - 100


async def test_a_leverage_the_venue_refuses_stays_in_its_dialog():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()

        async def refuse(market: str, leverage: Decimal) -> None:
            from exchange_local.errors import InvalidOrder

            raise InvalidOrder("leverage 7 would leave the account short of margin")

        venue.set_leverage = refuse  # type: ignore[method-assign]
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ValueScreen)
        screen.query_one("#value", Input).value = "7"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert app.screen is screen
        assert "short of margin" in str(screen.query_one("#error").render())


# --- 12 and 13. help: the events log's keys, and text that wraps ------------------------------
BOX = re.compile(r"[█▀▄│┃┌┐└┘├┤┬┴┼─▁▂▃▅▆▇]")


async def help_text(app, pilot) -> str:  # type: ignore[no-untyped-def]
    """Every row help shows, scrolled through with PageDown, without its frames and table
    rules, the words one space apart."""
    await pilot.press("f1")
    await pilot.pause()
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    scroll = app.screen.query_one(VerticalScroll)
    region = scroll.region
    rows: list[str] = []
    while True:
        strips = app.screen._compositor.render_strips()
        rows += [strips[y].crop(region.x, region.right).text
                 for y in range(region.y, region.bottom)]  # fmt: skip
        before = scroll.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        if scroll.scroll_y == before:
            return " ".join(BOX.sub(" ", " ".join(rows)).split())


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_help_says_how_to_scroll_the_events_log_and_wraps_its_text(size: tuple[int, int]):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await app.frame()
        text = await help_text(app, pilot)
        assert "PgUp PgDn" in text and "Home End" in text and "events log" in text, text
        assert "6 focuses it" in text or "(6 focuses" in text, text
        # the "Not offered here" heading's words, whole (a heading was cut at 80 columns)
        assert "each can be remapped in settings.toml." in text, text
        assert all(w in text for w in ("enter on", "table", "row's market", "never")), text
        assert "y and n answer a yes-or-no question" in text, text


async def test_the_events_tab_key_puts_the_keyboard_in_the_log_so_pagedown_scrolls_it():
    from perptui.eventtext import EventLine

    app = app_for(teaching_venue())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        log = app.main.query_one(EventsLog)
        log.add([EventLine(i * 1000, f"event {i}", "info", False) for i in range(60)], "", "")
        await pilot.press("6")
        await pilot.pause()
        await pilot.pause()
        assert app.focused is log
        await pilot.press("home")
        await pilot.pause()
        top = log.scroll_y
        await pilot.press("pagedown")
        await pilot.pause()
        assert log.scroll_y > top


# --- 13. the footer drops whole keys, never half of one ---------------------------------------
@pytest.mark.parametrize(
    "size", [(80, 24), (100, 30), (120, 36), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}"
)
async def test_the_footer_shows_whole_keys_only(size: tuple[int, int]):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.pause()
        await pilot.pause()
        footer = app.main.query_one(Footer)
        keys = [k for k in footer.query(FooterKey) if k.display]
        palette = next(k for k in keys if k.has_class("-command-palette"))
        others = [k for k in keys if k is not palette]
        assert others and all(k.region.right <= palette.region.x for k in others), [
            (k.key, k.region) for k in others
        ]
        shown = {k.key for k in others}
        assert "f1" in shown  # help stays: it lists what the footer leaves out
        if size[0] >= 160:
            assert {"b", "s", "x", "c", "n", "t", "S"} <= shown


def test_footer_keys_gives_up_the_least_used_first():
    widths = {"app.quit": 9, "order.buy": 7, "screen.stress": 10, "screen.teach": 9,
              "app.help": 9}  # fmt: skip
    assert footer_keys(widths, 100) == set(widths)
    assert footer_keys(widths, 30) == {"app.quit", "order.buy", "app.help"}
    assert footer_keys(widths, 35) == {"app.quit", "order.buy", "screen.teach", "app.help"}
