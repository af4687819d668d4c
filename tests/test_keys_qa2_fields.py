"""A keyboard-only tester's report, the ticket's fields: a printable key pressed in the Price
or Size field is the field's (typed, or refused by it with the bell), never a command of the
main screen. `-` there slowed the clock, `n` switched the market and cleared the size being
typed, `t`, `x` and `c` opened screens and dialogs. Function keys, Escape and Enter still act.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Input

from perptui.screens.help import HelpScreen
from perptui.screens.main import MainScreen
from perptui.widgets.order_ticket import OrderTicket
from tests.tui_support import app_for, living_venue, teaching_venue

D = Decimal


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_printable_keys_in_the_price_field_are_never_commands(size: tuple[int, int]):
    venue = living_venue()  # a clock of ours: `-`, `+` and `p` would change it
    app = app_for(venue)
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.pause()
        speed = app.snapshot.clock.speed  # type: ignore[union-attr]
        await pilot.press("b", "shift+tab")  # from Size back to Price, as the tester did
        await pilot.pause()
        price = app.main.query_one("#price", Input)
        assert app.focused is price
        app.main.query_one("#size", Input).value = "0.5"
        typed = price.value
        market = app.market
        for key in ("minus", "plus", "equals_sign", "p", "n", "t", "x", "c", "S", "question_mark"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, MainScreen), (key, app.screen)
            assert app.focused is price, key
        await app.frame()
        assert price.value == typed
        assert app.market == market
        assert app.main.query_one("#size", Input).value == "0.5"
        assert app.snapshot.clock.speed == speed and not app.snapshot.clock.paused  # type: ignore[union-attr]
        assert not any("clock" in str(n.message) for n in app._notifications)
        # the ticket says why nothing happened, and how to use the key
        message = str(app.main.query_one("#message").render())
        assert "does not go in a number" in message and "Esc" in message, message
        # the field's own digits still go in, and a key of the field's own still acts
        await pilot.press("end", "5")
        assert price.value == typed + "5"


async def test_function_keys_escape_and_enter_still_act_from_a_field():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.frame()
        await pilot.press("b", "0", ".", "1")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "size"
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        app.main.query_one("#size", Input).focus()
        await pilot.pause()
        await pilot.press("enter")  # sends from the field
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmScreen"
        await pilot.press("escape")
        await pilot.pause()
        app.main.query_one("#size", Input).focus()
        await pilot.pause()
        await pilot.press("escape", "n")  # out of the field: `n` is the next market again
        await pilot.pause()
        await app.frame()
        assert app.focused is None
        assert app.main.query_one(OrderTicket).form.market != "BTC-PERP"


async def test_the_footer_offers_no_letter_key_while_a_field_takes_the_keys():
    """What the footer shows is what the keys do: in a field, the letter keys are the field's
    (refused), but for the ticket's own (b, s, m: this order's side and type)."""
    from textual.widgets._footer import FooterKey

    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("b")
        await pilot.pause()
        await pilot.pause()
        shown = {k.key for k in app.main.query(FooterKey)}
        assert not {"x", "c", "n", "t"} & shown, shown
        assert {"b", "s"} <= shown, shown
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        shown = {k.key for k in app.main.query(FooterKey)}
        assert {"b", "s", "x"} <= shown, shown
