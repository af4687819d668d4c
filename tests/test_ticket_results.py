"""QA round B on order entry: post-only only where it is taken, results that say what
happened (nothing filled is no success, a crossing amend says it filled), prices on the
market's tick and sizes on its lot, cancel reasons as words, Tab through the whole ticket."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from textual.widgets import Checkbox, Input, Select

from exchange_local import Exchange, ExchangeConfig
from exchange_local.events import OrderCanceled
from exchange_local.orders import OrderResult, OrderStatus
from perptui.eventtext import describe, reason_words
from perptui.ticket import TicketForm, amend_words, post_only_allowed, result_words
from perptui.widgets.history import RowsTable, order_rows
from perptui.widgets.order_ticket import OrderTicket
from tests.tui_support import app_for, teaching_venue

D = Decimal
BTC = "BTC-PERP"


def btc() -> object:
    return Exchange(ExchangeConfig(mark_source="index")).market(BTC)


# --- 1. post-only ---------------------------------------------------------------------------
def test_the_ticket_never_sends_post_only_off_a_gtc_limit():
    assert post_only_allowed("limit", "gtc")
    assert not post_only_allowed("limit", "ioc") and not post_only_allowed("limit", "fok")
    assert not post_only_allowed("market", "gtc")
    for tif in ("ioc", "fok"):
        form = TicketForm(BTC, "buy", "limit", "100000", "0.1", tif, post_only=True)
        assert form.request().post_only is False
    form = TicketForm(BTC, "buy", "limit", "100000", "0.1", "gtc", post_only=True)
    assert form.request().post_only is True


async def test_post_only_is_shown_off_and_disabled_with_ioc_or_fok_and_sent_off():
    """The box reads off while IOC/FOK is chosen and the order goes without it; the trader's
    choice is kept for GTC (tests/test_keys_qa2_ticket.py: it comes back ticked)."""
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        box = app.main.query_one("#post", Checkbox)
        box.value = True
        await pilot.pause()
        ticket = app.main.query_one(OrderTicket)
        assert ticket.form.post_only and not box.disabled
        app.main.query_one("#tif", Select).value = "ioc"
        await pilot.pause()
        assert box.disabled and box.value is False
        sized = replace(ticket.form, size="0.1")
        assert sized.post_only and sized.request().post_only is False  # IOC: never sent so
        app.main.query_one("#tif", Select).value = "gtc"
        await pilot.pause()
        assert not box.disabled
        app.main.query_one("#type", Select).value = "market"
        await pilot.pause()
        assert box.disabled and box.value is False


# --- 3. results that filled nothing, or part ---------------------------------------------------
def test_a_result_with_nothing_filled_is_a_warning_not_a_tick():
    ms = btc()
    fok = OrderResult(81, OrderStatus.CANCELED, D(0), None, "fok_not_fillable")
    text, level = result_words(fok, D(5), ms)
    assert level == "warn" and "✓" not in text
    assert text == "⚠ order 81 canceled, nothing filled (FOK: not fillable in full at once)"
    market = OrderResult(82, OrderStatus.CANCELED, D(0), None, "no_liquidity")
    assert result_words(market, D(1), ms) == (
        "⚠ order 82 canceled, nothing filled (no liquidity in the book)", "warn")  # fmt: skip
    ioc = OrderResult(83, OrderStatus.CANCELED, D("0.5"), D(100100), "ioc_remainder")
    text, level = result_words(ioc, D("0.8"), ms)
    assert level == "partial"
    assert text == ("◐ order 83 partly filled: 0.5000 @ 100,100.0; the rest 0.3000 canceled "
                    "(IOC: not filled at once)")  # fmt: skip
    resting = OrderResult(84, OrderStatus.PARTIALLY_FILLED, D("0.5"), D(100100), None)
    assert result_words(resting, D("0.8"), ms) == (
        "◐ order 84 partly filled: 0.5000 @ 100,100.0; the rest 0.3000 resting",
        "partial",
    )
    done = OrderResult(85, OrderStatus.FILLED, D("0.3"), D(100100), None)
    assert result_words(done, D("0.3"), ms) == ("✓ order 85 filled: 0.3000 @ 100,100.0", "ok")
    between = OrderResult(86, OrderStatus.FILLED, D("1"), D("100150.25"), None)
    assert result_words(between, D("1"), ms)[0].endswith("1.0000 @ 100,150.25")


async def test_a_fok_that_cannot_fill_reads_as_a_warning_on_the_ticket():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b")
        app.main.query_one("#price", Input).value = "100100"
        app.main.query_one("#tif", Select).value = "fok"
        app.main.query_one("#size", Input).value = "3"  # more than the 0.5 at 100,100
        await pilot.pause()
        await app.frame()
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        ticket = app.main.query_one(OrderTicket)
        assert ticket.message.startswith("⚠ order") and "✓" not in ticket.message
        assert "nothing filled (FOK: not fillable in full at once)" in ticket.message
        app.main.query_one("#tif", Select).value = "ioc"
        app.main.query_one("#size", Input).value = "0.8"
        await pilot.pause()
        await app.frame()
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert ticket.message.startswith("◐ order") and "partly filled: 0.5000 @ 100,100.0" in (
            ticket.message
        )


# --- 2. amend ---------------------------------------------------------------------------------
def test_amend_words_say_the_fill_and_the_queue():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name in ("a", "desk"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(10_000_000))
    ex.place_order("desk", BTC, "sell", D("0.5"), price=D(100100))
    ex.place_order("desk", BTC, "sell", D("0.5"), price=D(100200))
    ms = ex.market(BTC)
    bid = ex.place_order("a", BTC, "buy", D("0.2"), price=D(99000))
    before = ex.order("a", bid.order_id)
    ex.amend_order("a", bid.order_id, size=D("0.1"))
    after = ex.order("a", bid.order_id)
    assert amend_words(before, after, ms) == (
        "✓ order 3 amended (size 0.2000 → 0.1000); keeps its place in the queue: only the "
        "size shrank", "ok")  # fmt: skip
    before = after
    ex.amend_order("a", bid.order_id, price=D("99000.5"))
    after = ex.order("a", bid.order_id)
    text, level = amend_words(before, after, ms)
    assert "price 99,000.0 → 99,000.5" in text and "back of the queue" in text
    before = after
    ex.amend_order("a", bid.order_id, price=D(100200), size=D("1.2"))
    after = ex.order("a", bid.order_id)
    text, level = amend_words(before, after, ms)
    assert level == "partial"
    assert "it crossed, partly filled 1.0000 @ 100,150.0" in text  # 0.5 @ 100,100 and 100,200
    assert "the rest 0.2000 rests at 100,200.0" in text and "back of the queue" in text


async def test_an_amend_that_crosses_says_what_it_filled():
    venue = teaching_venue()
    app = app_for(venue, confirm=False)
    async with app.run_test(size=(160, 48)) as pilot:
        ex, me = venue.ex, venue.account
        bid = ex.place_order(me, BTC, "buy", D("0.2"), price=D(99000))
        await app.frame()
        await pilot.press("2")
        table = app.main.query_one("#orders-table", RowsTable)
        table.focus()
        keys = [str(k.value) for k in table.rows]
        table.move_cursor(row=keys.index(str(bid.order_id)))
        await pilot.press("a")
        await pilot.pause()
        app.screen.query_one("#price", Input).value = "100100"
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        said = [str(n.message) for n in app._notifications]
        assert any("it crossed and filled 0.2000 @ 100,100.0" in s for s in said), said
        assert not any(s == f"order {bid.order_id} amended" for s in said)


# --- 4. formatting --------------------------------------------------------------------------
def test_the_orders_tab_uses_the_markets_tick_and_lot():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("a")
    ex.deposit("a", "USD", D(1_000_000))
    ex.place_order("a", BTC, "buy", D("0.1"), price=D(99091))
    ex.place_order("a", "SOL-PERP", "buy", D("2"), price=D("140.25"))
    markets = {m: ex.market(m) for m in ex.markets()}
    for given in (markets, None):  # the venue's markets, or the exchange's defaults
        rows = [cells for _, cells in order_rows(ex.open_orders("a"), given)]
        btc_row, sol_row = rows
        assert [str(c).strip() for c in btc_row[4:7]] == ["0.1000", "0.0000", "99,091.0"]
        assert [str(c).strip() for c in sol_row[4:7]] == ["2.00", "0.00", "140.250"]
    # off the default lot (another venue's BTC-PERP): its digits kept, never rounded away
    finer = replace(ex.open_orders("a")[0], size=D("0.00001"))
    assert str(order_rows([finer])[0][1][4]).strip() == "0.00001"


def test_cancel_reasons_read_as_words_in_the_events_tab():
    assert reason_words("self_trade_prevention") == "self-trade prevention"
    assert reason_words("reduce_only_position_gone") == "reduce-only: position gone"
    assert reason_words("something_new") == "something new"
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("a")
    ex.deposit("a", "USD", D(1_000_000))
    ex.place_order("a", BTC, "buy", D("0.1"), price=D(99000))
    order = ex.open_orders("a")[0]
    for reason, words in (("self_trade_prevention", "self-trade prevention"),
                          ("reduce_only_position_gone", "reduce-only: position gone")):  # fmt: skip
        line = describe(OrderCanceled(0, order, reason), "a")
        assert line is not None and line.text.endswith(f"canceled: {words}"), line


# --- 7. keyboard -----------------------------------------------------------------------------
async def test_tab_from_the_size_reaches_every_field_of_the_ticket():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert app.focused is app.main.query_one("#size")
        seen = []
        for _ in range(13):
            await pilot.press("tab")
            await pilot.pause()
            assert app.focused is not None
            seen.append(app.focused.id)
        assert seen == ["pct-25", "pct-50", "pct-75", "pct-100", "reduce", "post", "submit",
                        "side-buy", "side-sell", "type", "tif", "price", "size"]  # fmt: skip
        await pilot.press("shift+tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "price"
        await pilot.press("m")  # m still cycles the type, and Tab then skips the hidden price
        await pilot.pause()
        assert app.main.query_one(OrderTicket).form.type == "market"
        await pilot.press("shift+tab", "shift+tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "side-sell"
