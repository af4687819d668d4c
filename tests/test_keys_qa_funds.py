"""Deposit and withdraw paper money (D / W and the palette): a student liquidated on the paper
market had no way back, since no key or palette entry paid money in (`u` only repays a USD
loan). The dialog takes a collateral asset and an amount parsed from text; bad input is said
in the dialog and changes nothing; a withdrawal the margin rule stops is refused with the
exchange's words (the most that can go). A class server's student is offered neither."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input, Select

from perptui.app import PerpApp
from perptui.screens.modals import FundsScreen
from perptui.venues.remote import RemoteVenue
from tests.test_remote_states import wait_for
from tests.test_server_support import live_server, make_class
from tests.tui_support import app_for, teaching_venue

D = Decimal


def palette_titles(app: PerpApp) -> list[str]:
    return [c.title for c in app.get_system_commands(app.screen)]


def said(app: PerpApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def fill_in(pilot, app: PerpApp, asset: str, amount: str) -> None:  # type: ignore[no-untyped-def]
    screen = app.screen
    assert isinstance(screen, FundsScreen)
    screen.query_one("#asset", Select).value = asset
    await pilot.pause()
    screen.query_one("#value", Input).value = amount
    await pilot.press("enter")
    await pilot.pause()
    await app.frame()


async def test_the_paper_market_deposits_and_withdraws_by_the_exchanges_rule():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        ex, me = venue.ex, venue.account
        titles = palette_titles(app)
        assert "Deposit (paper)… (D)" in titles and "Withdraw… (W)" in titles
        usd = ex.balances(me)["USD"]

        await pilot.press("D")
        await pilot.pause()
        assert isinstance(app.screen, FundsScreen)
        await fill_in(pilot, app, "USD", "1.2.3")  # bad input: said, nothing changes
        assert "not a number" in str(app.screen.query_one("#error").render())
        await fill_in(pilot, app, "USD", "0")
        assert "positive" in str(app.screen.query_one("#error").render())
        assert ex.balances(me)["USD"] == usd
        await fill_in(pilot, app, "BTC", "0.25")
        assert app.screen is app.main
        assert ex.balances(me)["BTC"] == D("0.35")
        assert "deposited 0.25 BTC" in said(app)

        ex.place_order(me, "BTC-PERP", "buy", D(4), type="market")  # margin now binds
        await app.frame()
        most = ex.max_withdrawal(me, "USD")
        balance = ex.balances(me)["USD"]
        assert 0 < most < balance
        await pilot.press("W")
        await pilot.pause()
        assert isinstance(app.screen, FundsScreen)
        prompt = str(app.screen.query_one("#prompt").render())
        assert "can be withdrawn now" in prompt
        await fill_in(pilot, app, "USD", str(most + 1))
        assert ex.balances(me)["USD"] == balance  # refused: nothing left
        assert isinstance(app.screen, FundsScreen)  # the dialog stays, with the refusal in it
        refusal = str(app.screen.query_one("#error").render())
        assert "cannot withdraw" in refusal, refusal
        assert f"at most {most.normalize():f} USD" in refusal.replace("\n", " "), refusal

        await fill_in(pilot, app, "USD", "100")
        assert ex.balances(me)["USD"] == balance - 100


async def test_a_class_servers_student_is_not_offered_paper_money():
    c = make_class()
    key, _ = c.keys.create("laptop", "alice", ["trade"])
    with live_server(c.app) as live:
        venue = RemoteVenue(live.base_url, key, refresh_s=0)
        app = PerpApp(venue, frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(lambda: venue.connection().state == "live" and venue._books)
            await app.frame()
            titles = palette_titles(app)
            assert not any(t.startswith(("Deposit", "Withdraw")) for t in titles), titles
            before = c.ex.balances("alice")["USD"]
            await pilot.press("D")
            await pilot.pause()
            assert app.screen is app.main  # the key is off: no dialog
            await app.action_deposit()  # run directly: refused, said why
            await pilot.pause()
            assert app.screen is app.main
            assert any("ask the teacher" in s for s in said(app)), said(app)
            assert c.ex.balances("alice")["USD"] == before
