"""Class QA D6: `x` asked "A reduce-only market order for 0.2000 at about the mark 88,126.5;
unrealised PnL +68.60" while the book would fill 0.7 % away (the close filled at 87,489.5,
about +196). The question now asks the venue's preview, as the ticket does, and says the
estimated fill, the PnL at that price and the fee; the mark only where no preview came."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from perptui import format as fmt
from perptui.app import PerpApp
from perptui.screens.modals import ConfirmScreen
from perptui.settings import Settings
from perptui.venues.remote import RemoteVenue, VenueUnavailable
from perptui.widgets.positions import PositionsTable
from tests.test_remote_states import wait_for
from tests.test_server_support import live_server, make_class
from tests.tui_support import app_for, teaching_venue

D = Decimal


async def asked_to_close(pilot: Any, app: PerpApp) -> str:
    """`x` on the positions table: the question's body."""
    await app.frame()
    app.main.query_one(PositionsTable).focus()
    await pilot.press("x")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    return app.screen.body


async def test_the_close_question_prices_the_close_where_the_book_would_fill_it():
    venue = teaching_venue()  # the desk: 0.5 every 100 USD around 100,000, mark = index
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        body = await asked_to_close(pilot, app)
        # bought at 100,100; the close sells into the desk's 99,900 bid, not at the mark
        assert "the book would fill it at about 99,900.0 (mark 100,000.0)" in body, body
        fee = D("0.5") * D(99_900) * D("0.0005")  # taker
        assert f"estimated PnL -100.00 at that price, fee {fee:.2f}" in body, body
        assert f"net {D(-100) - fee:,.2f}" in body, body
        assert "unrealised PnL -50.00" not in body and "at about the mark" not in body


async def test_on_a_class_server_the_close_fills_where_the_question_said():
    """The QA repro on a server: alice short, the mark under the book's ask she buys back
    at (the mark 100,000, the ask 100,100): the PnL at the mark said -100, the close -200."""
    c = make_class()
    c.ex.place_order("alice", "BTC-PERP", "sell", D(1), type="market")  # at the 99,900 bid
    with live_server(c.app) as live:
        app = PerpApp(RemoteVenue(live.base_url, c.key["alice"]), Settings(), frame_loop=False)
        async with app.run_test(size=(160, 48)) as pilot:
            body = await asked_to_close(pilot, app)
            assert "for 1.0000: the book would fill it at about 100,100.0 (mark 100,000.0)" in body
            assert "estimated PnL -200.00 at that price, fee 50.05, net -250.05." in body, body
            await pilot.press("y")
            await wait_for(lambda: not c.ex.positions("alice"))  # the server's thread fills it
    (close,) = [f for f in c.ex.fills("alice") if f.taker_side == "buy"]
    assert (close.price, close.taker_fee) == (D(100_100), D("50.05"))  # as the question said


async def test_without_a_preview_the_question_falls_back_to_the_mark():
    venue = teaching_venue()
    app = app_for(venue)

    async def unreachable(request: Any) -> Any:
        raise VenueUnavailable("cannot reach 127.0.0.1:8811")

    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        venue.preview_order = unreachable  # type: ignore[method-assign]
        body = await asked_to_close(pilot, app)
        assert body == ("A reduce-only market order for 0.5000 at about the mark 100,000.0; "
                        "unrealised PnL -50.00."), body  # fmt: skip


async def test_a_preview_that_does_not_come_does_not_hold_the_question(
    monkeypatch: pytest.MonkeyPatch,
):
    from perptui import trading_actions

    monkeypatch.setattr(trading_actions, "CLOSE_PREVIEW_WAIT_S", 0)
    venue = teaching_venue()
    app = app_for(venue)
    never = asyncio.Event()

    async def hung(request: Any) -> Any:
        await never.wait()

    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.5"), type="market")
        venue.preview_order = hung  # type: ignore[method-assign]
        body = await asked_to_close(pilot, app)
        assert "at about the mark 100,000.0" in body, body


async def test_the_words_for_a_thin_book_and_a_refusal():
    from perptui.trading_actions import close_request, close_words

    venue = teaching_venue()
    await venue.start()
    ex = venue.ex
    ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
    ex.cancel_all("desk", "BTC-PERP")
    ex.place_order("desk", "BTC-PERP", "buy", D(1), price=D(99_000))  # one coin of bids left
    pos = ex.health(venue.account).positions[0]
    ms = ex.market("BTC-PERP")
    preview = await venue.preview_order(close_request(pos))
    words = close_words(pos, ms, preview)
    assert "at about 99,000.0" in words and "only 1.0000 fills now, the rest is canceled" in words
    pnl = D(99_000) - pos.entry_price  # on the one coin that fills
    assert f"estimated PnL {fmt.usd(pnl, sign=True)} at that price" in words, words
    halted = dataclasses.replace(preview, would_reject="market halted")
    refused = close_words(pos, ms, halted)
    assert refused.endswith("the exchange would refuse it now: market halted"), refused
    await venue.stop()
