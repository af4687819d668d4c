"""A keyboard-only tester's report, the ticket: numbers never cut, the confirmation's warnings
whole, the selects' focus, post-only back with GTC, Enter on a box sends, the untyped price
follows the mark, and the result line goes with the next action."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from textual.widgets import Checkbox, Input, Select

from perptui.screens.modals import ConfirmScreen
from perptui.ticket import fit_line, short_warning, warning_text
from perptui.widgets.order_ticket import OrderTicket
from tests.tui_support import app_for, teaching_venue

D = Decimal
SIZES = [(80, 24), (100, 30), (160, 48)]
NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?")


def rows_of(app, widget) -> list[str]:  # type: ignore[no-untyped-def]
    """What the screen shows of `widget`, row by row."""
    strips = app.screen._compositor.render_strips()
    region = widget.region
    return [strips[y].crop(region.x, region.right).text for y in range(region.y, region.bottom)]


async def settle(pilot, app) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        await pilot.pause()
        await app.frame()
    await pilot.pause()


# --- 2. the confirmation shows each warning whole -------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_confirmation_shows_the_liquidation_warning_whole(size: tuple[int, int]):
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.press("b", "4")  # near the largest size: liquidation within 10 % of the mark
        await settle(pilot, app)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        ticket = app.main.query_one(OrderTicket)
        assert ticket.market_state is not None
        request = ticket.form.request()
        preview = await venue.preview_order(request)
        [near] = [w for w in preview.warnings if "within" in w]
        whole = f"⚠ {warning_text(near, ticket.market_state.tick)}"
        assert whole in app.screen.body, app.screen.body
        assert "…" not in app.screen.body
        # and on screen, wrapped where the dialog is narrower than the warning
        body = app.screen.query_one("#body")
        shown = " ".join(row.strip() for row in rows_of(app, body))
        assert " ".join(whole.split()) in " ".join(shown.split()), shown


# --- 3. numbers in the ticket are never cut ------------------------------------------------
def test_a_figures_line_goes_on_at_its_next_figure_not_cut():
    wide = "IMR 244,000.00 → 488,000.00   Free 5,179,970.65 → 4,935,970.65"
    assert fit_line(wide, 60) == ["IMR 244,000.00 → 488,000.00", "Free 5,179,970.65 → 4,935,970.65"]
    narrow = "Est. liq 4,140,010.5 → 301,687.0 · MF → 112.00%"
    assert fit_line(narrow, 46) == ["Est. liq 4,140,010.5 → 301,687.0", "MF → 112.00%"]
    assert fit_line(narrow, 80) == [narrow]
    head = "Value 16,050.00  Est. fill 64,200.0  Fee ~7.2"
    assert fit_line(head, 30) == ["Value 16,050.00", "Est. fill 64,200.0  Fee ~7.2"]
    for text, width in ((wide, 30), (narrow, 20), (head, 12)):
        rows = fit_line(text, width)
        assert NUMBER.findall(" ".join(rows)) == NUMBER.findall(text)  # every number whole


def test_the_liquidation_warning_has_a_short_form_for_a_narrow_column():
    long = "⚠ liquidation price 97,688.0 would be within 10 % of the mark 100,325.0"
    assert short_warning(long) == "⚠ liq 97,688.0 within 10 % of mark 100,325.0"
    assert len(short_warning(long)) <= 46  # one row of the 80-column ticket
    assert short_warning("⚠ reduce-only would flip") == "⚠ reduce-only would flip"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    ("price", "amount", "asked"),
    [("99000.37", "0.1", "the tick 0.5"), ("99000", "1.23456", "the lot 0.0001")],
)
async def test_an_error_line_shows_the_tick_or_lot_it_asks_for(
    size: tuple[int, int], price: str, amount: str, asked: str
):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.press("b")
        app.main.query_one("#price", Input).value = price
        app.main.query_one("#size", Input).value = amount
        await settle(pilot, app)
        rows = rows_of(app, app.main.query_one("#preview"))
        shown = " ".join(" ".join(rows).split())
        assert "not a multiple" in shown and asked in shown, rows
        assert "…" not in shown


async def test_large_figures_are_whole_at_160_columns():
    """100 M of collateral and a 50 BTC long: "Free 99,… → …" was cut at the column's end."""
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        ex = venue.ex
        ex.deposit(venue.account, "USD", D(100_000_000))
        ex.place_order("desk", "BTC-PERP", "sell", D(50), price=D(100_000))
        ex.place_order(venue.account, "BTC-PERP", "buy", D(50), price=D(100_000))
        await app.frame()
        await pilot.press("b", "5", "0")
        await settle(pilot, app)
        preview = app.main.query_one("#preview")
        rows = rows_of(app, preview)
        whole = str(preview.tooltip)
        free = next(line for line in whole.splitlines() if "Free" in line)
        assert len(free) > preview.content_size.width  # the case: it cannot fit one row
        shown = " ".join(rows)
        for number in NUMBER.findall(free):
            assert number in shown, (number, rows)
        assert not any("…" in row for row in rows), rows


# --- 4. the selects show their focus -------------------------------------------------------
@pytest.mark.parametrize("which", ["#type", "#tif"])
async def test_the_type_and_tif_selects_show_their_focus(which: str):
    app = app_for(teaching_venue())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        select = app.main.query_one(which, Select)
        app.screen.set_focus(None)
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        region = select.region
        before = list(strips[region.y].crop(region.x, region.right))
        select.focus()
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        after = list(strips[region.y].crop(region.x, region.right))
        assert [s.text for s in before] == [s.text for s in after]  # the same words
        # drawn focused, visibly: Textual's own focus was a 5 % tint (#151b22 to #1f252b),
        # the same colour once a terminal rounds it to its palette
        label = next(i for i, s in enumerate(before) if s.text.strip())
        was, now = before[label].style, after[label].style
        assert was is not None and now is not None
        assert (now.bold and not was.bold) or colour_gap(was.bgcolor, now.bgcolor) >= 64, (was, now)


def colour_gap(a, b) -> int:  # type: ignore[no-untyped-def]
    """The largest difference of one channel between two colours (255: black and white)."""
    ta, tb = a.get_truecolor(), b.get_truecolor()
    return max(abs(x - y) for x, y in zip(ta, tb, strict=True))


# --- 5. post-only comes back with GTC ------------------------------------------------------
async def test_post_only_comes_back_when_gtc_does_and_ioc_says_why_it_is_off():
    app = app_for(teaching_venue())
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        await pilot.press("b", "0", ".", "1")
        box = app.main.query_one("#post", Checkbox)
        box.value = True
        await pilot.pause()
        ticket = app.main.query_one(OrderTicket)
        tif = app.main.query_one("#tif", Select)
        for choice in ("ioc", "fok"):
            tif.value = choice
            await pilot.pause()
            assert box.disabled and box.value is False
            assert "GTC only" in str(box.label)
            assert ticket.form.request().post_only is False  # not sent with IOC / FOK
        tif.value = "gtc"
        await pilot.pause()
        assert not box.disabled and box.value is True and "GTC only" not in str(box.label)
        assert ticket.form.request().post_only is True
        app.main.query_one("#type", Select).value = "market"
        await pilot.pause()
        app.main.query_one("#type", Select).value = "limit"
        await pilot.pause()
        assert box.value is True and ticket.form.request().post_only is True
        box.value = False  # the trader's own untick is kept too
        await pilot.pause()
        tif.value = "ioc"
        await pilot.pause()
        assert "GTC only" not in str(box.label)
        tif.value = "gtc"
        await pilot.pause()
        assert box.value is False and ticket.form.request().post_only is False


# --- 6. Enter on a box sends; Space ticks ---------------------------------------------------
@pytest.mark.parametrize("which", ["#reduce", "#post"])
async def test_enter_on_a_ticket_box_sends_and_space_ticks_it(which: str):
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        await pilot.press("b", "0", ".", "1")
        await settle(pilot, app)
        box = app.main.query_one(which, Checkbox)
        box.focus()
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
        assert box.value is True
        await pilot.press("space")
        await pilot.pause()
        assert box.value is False
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert box.value is False  # not toggled
        assert isinstance(app.screen, ConfirmScreen)  # Send, as help says
        assert "Send this order?" in app.screen.title_text


# --- 10. the untyped price follows the mark -------------------------------------------------
async def test_a_price_never_typed_follows_the_mark_without_b_or_s_and_a_typed_one_stays():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        await pilot.pause()
        price = app.main.query_one("#price", Input)
        ticket = app.main.query_one(OrderTicket)
        venue.ex.set_index_price("BTC", D(100_107))
        await venue.advance(D(1))
        await app.frame()
        await pilot.pause()
        mark = venue.ex.market("BTC-PERP").mark
        assert mark == D(100_107)
        assert price.value == str(mark) and ticket.form.price == str(mark)
        # Tab into the ticket (no b / s): the order previewed and sent is at the mark now
        app.main.query_one("#size", Input).focus()
        await pilot.press("0", ".", "1")
        await settle(pilot, app)
        assert ticket.form.request().price == mark
        price.focus()
        await pilot.press("end", "backspace", "backspace", "backspace", "5", ".", "5")
        await pilot.pause()
        typed = price.value
        venue.ex.set_index_price("BTC", D(99_000))
        await venue.advance(D(1))
        await app.frame()
        await pilot.press("escape", "s")
        await pilot.pause()
        assert price.value == typed == ticket.form.price  # typed: never changed


async def test_following_the_mark_keeps_the_result_line():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("b", "0", ".", "1", "enter")  # a limit at the mark, resting or filled
        await settle(pilot, app)
        message = str(app.main.query_one("#message").render())
        assert message.startswith("✓ order"), message
        venue.ex.set_index_price("BTC", D(100_050))
        await venue.advance(D(1))
        await settle(pilot, app)
        assert str(app.main.query_one("#message").render()) == message


# --- 11. the result line goes with the next action ------------------------------------------
async def test_the_result_line_goes_with_the_next_order_action():
    """ "✓ order 1299 open" stayed after 1299 was amended and canceled: the line is about the
    order just sent, and the next action (here a cancel from the orders tab) takes it away;
    that action's own result is its toast."""
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("b")
        app.main.query_one("#price", Input).value = "99000"
        await pilot.press("0", ".", "1", "enter")
        await settle(pilot, app)
        [order] = venue.ex.open_orders(venue.account)
        message = app.main.query_one("#message")
        assert f"order {order.order_id} open" in str(message.render())
        await pilot.press("2", "d")
        await settle(pilot, app)
        assert venue.ex.open_orders(venue.account) == []
        assert str(message.render()) == ""
        assert any(f"order {order.order_id} canceled" in str(n.message) for n in app._notifications)
