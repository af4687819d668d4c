"""Settings files as people really save them, keymaps that clash or name nothing, the help
table that follows the keymap, and checkboxes that say on or off without colour."""

from __future__ import annotations

from decimal import Decimal

import pytest
from textual.widgets import Checkbox, Markdown

from perptui.keys import BINDINGS, check_keymap, resolve_keymap
from perptui.screens.help import HelpScreen
from perptui.settings import Settings, load_settings, remember_server
from perptui.widgets.order_ticket import OrderTicket
from tests.tui_support import app_for, teaching_venue

D = Decimal


@pytest.mark.parametrize(
    "raw, hint",
    [
        (b"# caf\xe9\nconfirm_orders = false\n", "not UTF-8"),  # Latin-1 from an old editor
        ("confirm_orders = false\n".encode("utf-16"), "UTF-16"),  # Windows, with a BOM
    ],
)
def test_a_settings_file_that_is_not_utf8_is_reported_and_the_defaults_used(tmp_path, raw, hint):
    """It crashed perptui at start with UnicodeDecodeError."""
    path = tmp_path / "settings.toml"
    path.write_bytes(raw)
    settings = load_settings(path)
    assert settings.confirm_orders is True  # the defaults
    assert settings.problem is not None and hint in settings.problem
    assert str(path) in settings.problem and "UTF-8" in settings.problem
    remember_server(settings, "http://127.0.0.1:8700")  # connecting does not crash on it
    assert path.read_bytes() == raw  # nor rewrites what it could not read


def test_a_utf8_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_bytes("\ufeffconfirm_orders = false\n".encode())
    settings = load_settings(path)
    assert settings.problem is None and settings.confirm_orders is False


def test_a_remap_onto_a_key_still_in_use_and_an_unknown_id_are_left_out_and_said():
    kept, problems = resolve_keymap({"order.sell": "b", "order.bogus": "z", "order.type": "M"})
    assert kept == {"order.type": "M"}  # the good one stays
    said = " | ".join(problems)
    assert "order.bogus" in said and "no such binding id" in said
    assert '"order.sell" = "b"' in said and "order.buy" in said and len(problems) == 2


def test_remaps_that_free_each_others_keys_are_fine():
    swap = {"order.buy": "s", "order.sell": "b"}
    assert resolve_keymap(swap) == (swap, [])
    assert resolve_keymap({"order.buy": "B", "order.sell": "b"})[1] == []
    # two remaps onto one key: the first keeps it, the second is said
    kept, problems = resolve_keymap({"order.buy": "z", "order.sell": "z"})
    assert kept == {"order.buy": "z"} and "order.sell" in problems[0]
    # a screen's binding ids are known too, and clash only within their screen
    assert resolve_keymap({"explain.digits": "D"}) == ({"explain.digits": "D"}, [])


async def test_keymap_problems_are_shown_once_at_start_and_every_binding_keeps_a_key():
    """order.sell = "b" left Buy with no key; order.bogus was silently ignored."""
    settings = Settings(confirm_orders=False, keymap={"order.sell": "b", "order.bogus": "z"})
    check_keymap(settings)
    app = app_for(teaching_venue())
    app.settings = settings
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
        assert len([m for m in said if "keymap" in m]) == 1
        assert any("order.bogus" in m and '"order.sell" = "b"' in m for m in said)
        ticket = app.main.query_one(OrderTicket)
        await pilot.press("s")
        assert ticket.form.side == "sell"
        await pilot.press("b")
        assert ticket.form.side == "buy"


async def test_help_lists_the_keys_the_keymap_gave():
    """With "order.buy" = "B" the footer said `B Buy` and help still said `b  Buy`."""
    settings = Settings(confirm_orders=False, keymap={"order.buy": "B", "chart.mode": "V"})
    app = app_for(teaching_venue())
    app.settings = settings
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.query_one(Markdown).source
        assert "| `B` | Buy | order.buy |" in source
        assert "| `V` | Candle/line | chart.mode |" in source
        assert "| `s` | Sell | order.sell |" in source  # not remapped: its default
        ids = [b.id for b in BINDINGS]
        assert all(f"| {i} |" in source for i in ids)


def _box(widget: Checkbox) -> str:
    return str(widget.render())[:3]


async def test_reduce_only_and_post_only_show_off_without_colour():
    """Both drew ▐X▌ on and off; only the X's colour differed."""
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        for name in ("#reduce", "#post"):
            box = app.main.query_one(name, Checkbox)
            off = _box(box)
            box.value = True
            await pilot.pause()
            on = _box(box)
            assert (off, on) == ("▐ ▌", "▐X▌")
            box.value = False
            await pilot.pause()
            assert _box(box) == off
        ticket = app.main.query_one(OrderTicket)
        app.main.query_one("#reduce", Checkbox).value = True
        await pilot.pause()
        assert ticket.form.reduce_only is True  # still the ticket's Checkbox.Changed


async def test_help_lists_every_screens_keys_the_one_it_was_opened_from_first():
    from perptui.screens.explain import ExplainScreen

    settings = Settings(confirm_orders=False, keymap={"explain.price_input": "P"})
    app = app_for(teaching_venue())
    app.settings = settings
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        await pilot.press("f1")
        await pilot.pause()
        source = app.screen.query_one(Markdown).source
        headings = [line for line in source.splitlines() if line.startswith("## ")]
        assert headings == ["## Explain (t)", "## Main screen", "## Stress (S)", "## Dialogs",
                            "## This help"]  # fmt: skip
        assert "| `P` | Exact price | explain.price_input |" in source
        assert "| `y` | Yes | modal.yes |" in source and "| stress.close |" in source
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)


async def test_a_remapped_help_key_opens_and_closes_help():
    app = app_for(teaching_venue())
    app.settings = Settings(confirm_orders=False, keymap={"app.help": "h"})
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("h")
        await pilot.pause()
        assert app.screen is app.main


async def test_a_remapped_teach_key_opens_and_closes_explain_and_says_itself():
    from perptui.screens.explain import ExplainScreen

    app = app_for(teaching_venue())
    app.settings = Settings(confirm_orders=False, keymap={"screen.teach": "e"})
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExplainScreen)
        said = str(app.screen.query_one("#no-position").render())
        assert "come back with e;" in said
        await pilot.press("f1")
        await pilot.pause()
        source = app.screen.query_one(Markdown).source
        explain = source.split("## Explain (t)")[1].split("##")[0]
        assert "| `e` | Back | screen.teach |" in explain  # the key that closes it here
        assert "| `t` | Back | explain.close_t |" in explain  # and explain's own
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert app.screen is app.main and len(app.screen_stack) == 2


async def test_help_lists_a_key_that_closes_a_screen_once():
    """F1 on explain listed "t Back" and "t Teach", on stress "S Back" and "S Stress"."""
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        source = app.screen.query_one(Markdown).source
        explain = source.split("## Explain (t)")[1].split("##")[0]
        stress = source.split("## Stress (S)")[1].split("##")[0]
        assert explain.count("| `t` |") == 1 and "Teach" not in explain
        assert stress.count("| `S` |") == 1 and "| Stress |" not in stress
