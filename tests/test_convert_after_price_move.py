"""`u` (repay USD with coins) when the coin's price moves while the dialog is open: the living
market moves every second, and the amount the dialog suggested was worked out at the price of
the frame that opened it, so a fall before OK left USD below zero, a loan the trader had asked
to repay. Asking to repay the loan must not leave USD below zero because of a move."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input

from perptui.app import PerpApp
from perptui.teaching import requote, teaching_venue
from perptui.venues.local import LocalVenue
from tests.tui_support import app_for

D = Decimal


def owing() -> tuple[LocalVenue, PerpApp]:
    return (venue := teaching_venue()), app_for(venue)


async def borrow(venue: LocalVenue, app: PerpApp, usdc: bool = True) -> None:
    """A 1 BTC long through a 12 % fall, settled: USD goes below zero. USDC keeps enough
    margin for the convert rule after a further small fall (BTC stays the default choice)."""
    ex = venue.ex
    assert ex is not None
    if usdc:
        ex.deposit(venue.account, "USDC", D(5000))
    ex.place_order(venue.account, "BTC-PERP", "buy", D(1), type="market")
    ex.set_index_price("BTC", D(88_000))
    requote(ex, D(88_000))
    await venue.advance(D(30))  # settlement turns the loss into a USD loan
    assert ex.balances(venue.account)["USD"] < 0
    await app.frame()


def said(app: PerpApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_suggested_amount_repays_the_loan_after_the_coin_falls():
    venue, app = owing()
    async with app.run_test(size=(160, 48)) as pilot:
        await borrow(venue, app)
        ex, me = venue.ex, venue.account
        assert ex is not None
        await pilot.press("escape", "u")
        await pilot.pause()
        suggested = D(app.screen.query_one("#value", Input).value)
        assert suggested < ex.balances(me)["BTC"]  # a part of the coins, not all of them
        ex.set_index_price("BTC", D(87_800))  # the market moves while the dialog is open
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert ex.balances(me)["USD"] >= 0, ex.balances(me)  # it was -4.999132
        assert ex.balances(me)["BTC"] < D("0.1") - suggested  # more coins at the lower price
        assert any("converted" in s for s in said(app)), said(app)


async def test_an_amount_the_trader_typed_is_converted_as_typed():
    venue, app = owing()
    async with app.run_test(size=(160, 48)) as pilot:
        await borrow(venue, app)
        ex, me = venue.ex, venue.account
        assert ex is not None
        await pilot.press("escape", "u")
        await pilot.pause()
        app.screen.query_one("#value", Input).value = "0.001"
        btc = ex.balances(me)["BTC"]
        ex.set_index_price("BTC", D(87_800))
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert ex.balances(me)["BTC"] == btc - D("0.001")  # what was typed, not a new amount


async def test_a_move_the_venue_saw_after_the_read_is_said_with_what_is_left():
    """A server converts a beat after the read (its market moved in between): what is still
    owed is said, with the key that repays it, not left as a silent loan."""
    venue, app = owing()
    async with app.run_test(size=(160, 48)) as pilot:
        await borrow(venue, app)
        ex, me = venue.ex, venue.account
        assert ex is not None
        convert = venue.convert

        async def late(from_asset: str, to_asset: str, amount: Decimal) -> None:
            ex.set_index_price("BTC", D(87_800))  # the server's market moved meanwhile
            await convert(from_asset, to_asset, amount)

        venue.convert = late  # type: ignore[method-assign]
        await pilot.press("escape", "u")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        left = ex.balances(me)["USD"]
        assert left < 0
        assert any(f"USD is still {left:,.2f}" in s and "press u" in s for s in said(app))


async def test_nothing_is_converted_when_the_loan_was_repaid_meanwhile():
    venue, app = owing()
    async with app.run_test(size=(160, 48)) as pilot:
        await borrow(venue, app, usdc=False)
        ex, me = venue.ex, venue.account
        assert ex is not None
        await pilot.press("escape", "u")
        await pilot.pause()
        ex.deposit(me, "USD", D(10_000))  # repaid another way while the dialog was open
        btc = ex.balances(me)["BTC"]
        await pilot.press("enter")
        await pilot.pause()
        assert ex.balances(me)["BTC"] == btc
        assert any("USD is no longer negative" in s for s in said(app)), said(app)
