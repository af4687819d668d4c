"""ctrl+u in the ticket's price field, then typing at once: the digits went missing.

A terminal delivers what was typed quickly as one read, so the keys reach the app together.
Input's own keys (ctrl+u, backspace, ctrl+w...) are bindings, and Textual runs a binding only
when the key has bubbled from the field up through every container to the app: the digits
after it were in the field by then, and ctrl+u cleared them instead of the old price."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from tests.tui_support import app_for, teaching_venue


def burst(app, *keys: str) -> None:  # type: ignore[no-untyped-def]
    """Keys as one read of the terminal delivers them: queued together, none waited for."""
    for key in keys:
        character = {"ctrl+u": "\x15", "backspace": "\x7f", "ctrl+w": "\x17"}.get(key, key)
        app.post_message(events.Key(key, character))


async def test_ctrl_u_then_digits_typed_at_once_keeps_the_digits():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        price = app.main.query_one("#price", Input)
        price.focus()
        await pilot.pause()
        assert price.value  # the mark, filled in
        burst(app, "ctrl+u", "9", "9", "5", "0", "0")
        await pilot.pause()
        await pilot.pause()
        assert price.value == "99500"
        assert app.main.query_one("OrderTicket").form.price == "99500"  # type: ignore[attr-defined]


async def test_backspace_in_a_burst_deletes_the_digit_before_it():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        size = app.main.query_one("#size", Input)
        size.focus()
        await pilot.pause()
        burst(app, "1", "2", "backspace", "3")
        await pilot.pause()
        await pilot.pause()
        assert size.value == "13"  # it was 12: the backspace took the 3 typed after it
        burst(app, "ctrl+w", "0", ".", "5", "backspace", "2")
        await pilot.pause()
        await pilot.pause()
        assert size.value == "0.2"


async def test_enter_in_the_field_still_sends_the_ticket():
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.press("b")
        await pilot.press(*"0.1")
        await pilot.press("enter")
        await pilot.pause()
        assert "Send this order?" in str(app.screen.query_one("Label").render())


async def test_the_dialogs_fields_take_their_keys_in_order_too():
    """The value dialogs (leverage, convert, withdraw) and the explain screen's price."""
    from perptui.screens.modals import ValueScreen

    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        app.push_screen(ValueScreen("Leverage", "a whole number", value="10"))
        await pilot.pause()
        field = app.screen.query_one("#value", Input)
        field.focus()
        await pilot.pause()
        burst(app, "ctrl+u", "2", "5", "backspace", "0")
        await pilot.pause()
        await pilot.pause()
        assert field.value == "20"
