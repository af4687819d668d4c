"""The confirmation says the order in the market's digits, not as typed: "BUY 0.010 BTC-PERP
Limit @ 99000.000" read like another order than the "0.0100 @ 99,000.0" the orders tab then
listed."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from perptui.screens.modals import ConfirmScreen
from perptui.ticket import request_words
from perptui.venues.base import OrderRequest
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def test_the_confirmation_shows_size_and_price_as_the_book_does():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        app.main.query_one("#price", Input).value = "99000.000"
        app.main.query_one("#size", Input).value = "0.010"
        await pilot.pause()
        app.main.query_one("#size", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        first = app.screen.body.splitlines()[0]
        assert first == "BUY 0.0100 BTC-PERP Limit @ 99,000.0", first


def test_a_value_off_the_market_steps_is_shown_as_given_and_unknown_markets_too():
    """The gate refuses such an order; the words must not round it into one that passes."""
    ms = teaching_venue().ex.market("BTC-PERP")
    odd = OrderRequest("BTC-PERP", "sell", D("0.00005"), "stop_market", trigger_price=D("95000.05"),
                       reduce_only=True)  # fmt: skip
    assert request_words(odd, ms) == "SELL 0.00005 BTC-PERP Stop trigger 95000.05 reduce-only"
    ioc = OrderRequest("BTC-PERP", "buy", D("1.5"), price=D("100000"), tif="ioc")
    assert request_words(ioc, None) == "BUY 1.5 BTC-PERP Limit IOC @ 100000"
    assert request_words(ioc, ms) == "BUY 1.5000 BTC-PERP Limit IOC @ 100,000.0"
