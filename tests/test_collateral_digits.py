"""QA round B on collateral: each asset on its own decimals in the account panel and the
ledger, prices that make amount x price x weight add up, and `u` converting the asset the
trader picks at the venue's spread, saying the USD it brought."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input, Select

from exchange_local import Exchange, ExchangeConfig
from exchange_local.health import CollateralLine
from perptui.teaching import DESK, requote
from perptui.trading_actions import convertible, repay_amount
from perptui.venues.local import LocalVenue
from perptui.widgets.account import account_markup, balance_amount, balance_price
from perptui.widgets.history import ledger_rows
from tests.tui_support import app_for

D = Decimal


def line(asset: str, amount: str, price: str, weight: str) -> CollateralLine:
    value = (D(amount) * D(price) * D(weight)).quantize(D("0.000001"))
    return CollateralLine(asset, D(amount), D(price), D(weight), D(weight), value)


def test_each_balance_shows_its_own_digits_and_its_row_adds_up():
    btc = line("BTC", "0.00999", "100054.0", "0.975")
    aapl = line("AAPL", "6.666667", "230.183146", "0.9")
    eur = line("EUR", "1000", "0.951234567", "0.99")
    assert balance_amount(btc) == "0.00999"  # not 0.0100
    assert balance_amount(aapl) == "6.666667"  # not 6.6667
    assert balance_price(eur) == "0.951234567"  # not 0.95
    assert balance_amount(eur) == "1,000.00" and balance_price(btc) == "100,054.00"
    for c in (btc, aapl, eur):  # what is shown, multiplied out, is the value shown
        shown = D(balance_amount(c).replace(",", "")) * D(balance_price(c).replace(",", ""))
        assert (shown * c.weight).quantize(D("0.01")) == c.value.quantize(D("0.01"))


async def test_the_account_panel_shows_the_venues_decimals():
    venue = LocalVenue(clock="manual", seed=1, living=False)
    await venue.start()
    ex = venue.ex
    assert ex is not None
    ex.deposit(venue.account, "AAPL", D("6.666667"))
    ex.deposit(venue.account, "BTC", D("0.00999"))
    snap = await venue.snapshot("BTC-PERP")
    text = account_markup(snap.health)
    assert "6.666667" in text and "0.10999" in text
    tight = account_markup(snap.health, rows=8)
    assert "6.666667" in tight and "0.10999" in tight
    await venue.stop()


def test_convert_offers_every_asset_held_largest_first_and_repays_at_the_spread():
    usdc = line("USDC", "500", "1", "1")
    btc = line("BTC", "0.1", "100000", "0.975")
    held = convertible([line("USD", "-300", "1", "1"), usdc, btc, line("ETH", "0", "3000", "1")])
    assert [c.asset for c in held] == ["BTC", "USDC"]
    need = repay_amount(D(300), usdc, D("0.002"))
    assert need * (1 - D("0.002")) >= 300 and need - D(300) / D("0.998") <= D("0.000002")
    assert repay_amount(D(10**9), btc, D("0.001")) == D("0.1")  # at most the holding


async def test_u_converts_the_asset_picked_at_the_venues_spread_and_says_the_usd():
    ex = Exchange(ExchangeConfig(mark_source="index", convert_spread=D("0.005")))
    ex.create_account(DESK)
    ex.deposit(DESK, "USD", D(100_000_000))
    requote(ex, D(100_000))
    venue = LocalVenue(exchange=ex, living=False, clock="manual")
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        me = venue.account
        ex.deposit(me, "USDC", D(5000))
        assert venue.convert_spread == D("0.005")
        ex.place_order(me, "BTC-PERP", "buy", D(1), type="market")
        ex.set_index_price("BTC", D(88_000))
        requote(ex, D(88_000))
        await venue.advance(D(30))
        owed = -ex.balances(me)["USD"]
        assert owed > 0
        await app.frame()
        await pilot.press("escape", "u")
        await pilot.pause()
        assert "0.50%" in str(app.screen.query_one("#prompt").render())
        choice = app.screen.query_one("#asset", Select)
        assert choice.value == "BTC"  # the largest value first
        choice.value = "USDC"
        await pilot.pause()
        field = app.screen.query_one("#value", Input)
        assert D(field.value) == repay_amount(owed, line("USDC", "5000", "1", "1"), D("0.005"))
        usdc_before = ex.balances(me)["USDC"]
        await pilot.press("enter")
        await pilot.pause()
        await app.frame()
        assert ex.balances(me)["USDC"] == usdc_before - D(field.value)
        assert ex.balances(me)["USD"] >= 0
        received = ex.balances(me)["USD"] + owed
        said = [str(n.message) for n in app._notifications]
        assert any(f"received {received:,.2f} USD" in s and "USDC" in s for s in said), said


async def test_a_venues_own_asset_decimals_reach_the_panel_and_the_ledger(monkeypatch):
    from exchange_local.config import AssetSpec, default_assets
    from perptui import format as fmt

    monkeypatch.setattr(fmt, "ASSET_DECIMALS", dict(fmt.ASSET_DECIMALS))  # no leak to others
    gold = AssetSpec("GOLD", D("0.9"), D("0.85"), D(0), decimals=3, price=D(2400))
    ex = Exchange(ExchangeConfig(mark_source="index", assets=(*default_assets(), gold)))
    venue = LocalVenue(exchange=ex, living=False, clock="manual")
    await venue.start()
    ex.deposit(venue.account, "GOLD", D("1.5"))
    text = account_markup((await venue.snapshot("BTC-PERP")).health)
    assert " 1.50 " in text  # trimmed to cents, on at most GOLD's three decimals
    rows = {cells[3]: cells for _, cells in ledger_rows(ex.ledger(venue.account))}
    assert str(rows["GOLD"][4]).strip() == "+1.500"  # three, not a coin's eight
    await venue.stop()
