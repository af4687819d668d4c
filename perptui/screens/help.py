"""F1 / ?: every key and what it does, built from the bindings themselves so it cannot drift,
with the keys the keymap in settings.toml gave them (as the footer shows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Markdown

from perptui.keys import BINDINGS, key_display, keys_of

INTRO = """\
# perptui keys

The gauge is **margin usage = MMR / E_mm**: 50 % is the margin-call warning (equity = 2 × MMR),
100 % is where liquidation starts, the backstop mark is MMR / ACMR. The health word says the
same: HEALTHY, WATCH, DANGER (reduce-only), LIQUIDATING.

Liquidation prices assume every other price stays where it is; "now" means the account is
already below its maintenance requirement, "bankrupt" below zero.
"""


Section = tuple[str, list[Binding]]  # a heading and the keys of one screen
MAIN = "Main screen"
# the main screen's keys this venue does not offer: under their own heading, not among the
# keys that work, and still listed, since each id can be remapped in settings.toml. A short
# heading and the why as a paragraph: a Markdown heading is one row, cut at 80 columns
NOT_HERE = "Not offered here"
NOT_HERE_WHY = "Listed for their ids: each can be remapped in settings.toml."
DIALOGS = "Dialogs"
# Textual's own keys where perptui gives them a meaning: not bindings of ours (no id to
# remap), so listed apart; without them the events log's scrolling was found by chance
IN_PLACE = """\
### In the tabs, the ticket and the events log

| key | does |
|---|---|
| `↑` `↓` | move the cursor of a tab's table (`x`, `d` and `a` act on its row) |
| `enter` on a table row | that row's market in the ticket and the chart; never sends |
| `PgUp` `PgDn` `Home` `End` | scroll a tab's table or the events log (`6` focuses it) |
| `tab` `shift+tab` | the ticket's fields, buttons and boxes in turn |
| `space` | tick or untick reduce-only, post-only or a dialog's box (`enter` sends) |

In the ticket's Price and Size fields a key is typed, never a command: a letter is refused
there (the ticket says so). `esc` leaves the field; then every key above acts.
"""
DIALOGS_WHY = (
    "`y` and `n` answer a yes-or-no question (send, close, cancel all, quit); `enter` is the "
    "highlighted button. In a dialog with a field, `enter` is OK; a refusal stays in the "
    "dialog, with what was typed."
)


def _action(binding: Binding) -> str:
    return binding.action.split("(")[0]


def not_offered(offered: Callable[[str], bool]) -> list[Binding]:
    """The main screen's keys that do nothing on this venue (`offered`: the app's rule)."""
    return [b for b in BINDINGS if not offered(_action(b))]


def help_sections(first: type | None = None,
                  offered: Callable[[str], bool] | None = None) -> list[Section]:  # fmt: skip
    """Every screen's keys under its name, the screen help was opened from first. Why all of
    them: each id can be remapped in settings.toml, and help listed only the main screen's,
    so the explain screen's `p` (explain.price_input) or a dialog's `y` had no place.

    `offered(action)`: whether this venue has a main-screen action at all (the app's rule,
    as the footer and the palette ask it); help listed `w` (watch next) on the paper market
    and in lessons with no other account, where the key does nothing."""
    from perptui.screens.advancing import AdvanceScreen
    from perptui.screens.explain import ExplainScreen
    from perptui.screens.modals import (
        AmendScreen,
        ConfirmScreen,
        FundsScreen,
        QuitScreen,
        ValueScreen,
    )
    from perptui.screens.stress import StressScreen

    dialogs: dict[str, Binding] = {}
    if first in (ValueScreen, AmendScreen, AdvanceScreen, FundsScreen, QuitScreen):
        first = ConfirmScreen  # one section for every dialog
    for screen in (ConfirmScreen, QuitScreen, ValueScreen, AmendScreen, FundsScreen,
                   AdvanceScreen):  # fmt: skip
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.id:
                dialogs.setdefault(binding.id, binding)
    by_id = {b.id: b for b in BINDINGS}

    def keys(screen: type[DOMNode], opened_by: str) -> list[Binding]:
        """The screen's own keys and the main screen's key that opened it, which closes it
        too (a remapped one as well), as "Back": it read "Teach" beside "t Back", two
        meanings of one key. Where it is the same key as the screen's own Back, the help
        screen lists it once (HelpScreen.compose)."""
        opener = dataclasses.replace(by_id[opened_by], description="Back")
        return [*_own(screen), opener]

    main = [b for b in BINDINGS if offered is None or offered(_action(b))]
    screens: list[tuple[type | None, Section]] = [
        (None, (MAIN, main)),
        (ExplainScreen, ("Explain (t)", keys(ExplainScreen, "screen.teach"))),
        (StressScreen, ("Stress (S)", keys(StressScreen, "screen.stress"))),
        (ConfirmScreen, (DIALOGS, list(dialogs.values()))),
        (HelpScreen, ("This help", keys(HelpScreen, "app.help"))),
    ]
    return [section for cls, section in screens if cls is first and first is not None] + [
        section for cls, section in screens if cls is not first or first is None
    ]


def _own(screen: type[DOMNode]) -> list[Binding]:
    return [b for b in screen.BINDINGS if isinstance(b, Binding)]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%; border: thick $primary;
                                  background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,f1,question_mark", "app.pop_screen", "Close", id="help.close")]

    def __init__(self, sections: list[Section], not_here: list[Binding] | None = None) -> None:
        """`not_here`: the main screen's keys this venue does not offer (not_offered)."""
        super().__init__()
        self.sections = sections
        self.not_here = not_here or []

    def on_key(self, event: events.Key) -> None:
        """A help key remapped in settings.toml closes help as f1 and ? do: a modal screen
        shuts the app's own bindings out, so "app.help" = "h" opened help and could not
        close it."""
        remapped = self.app._keymap.get("app.help", "")
        if remapped and event.key in keys_of(remapped):
            event.stop()
            self.app.pop_screen()

    def compose(self) -> ComposeResult:
        parts = [INTRO]
        for title, bindings in self.sections:
            rows = self._table(bindings)
            if title == MAIN and self.app.ENABLE_COMMAND_PALETTE:  # Textual's key, not a binding
                palette = self.app.COMMAND_PALETTE_BINDING  # of ours, and was missing here
                rows.append(f"| `{palette}` | Palette: every action by name | (Textual) |")
            parts += [f"## {title}", "", *rows, ""]
            if title == DIALOGS:
                parts += [DIALOGS_WHY, ""]
            if title == MAIN:
                parts += [IN_PLACE, ""]
            if title == MAIN and self.not_here:
                parts += [f"### {NOT_HERE}", "", NOT_HERE_WHY, "", *self._table(self.not_here),
                          ""]  # fmt: skip
        with VerticalScroll():
            yield Markdown("\n".join(parts))

    def _table(self, bindings: list[Binding]) -> list[str]:
        """The rows of one table of keys, each with the key the keymap gave it."""
        keymap = self.app._keymap  # what Textual applies: set_keymap's, normalised
        rows = ["| key | action | id |", "|---|---|---|"]
        said: set[tuple[str, str]] = set()  # a key listed twice for one action: once
        for b in bindings:
            key = key_display(self.app, b, keymap)
            if (key, b.description) not in said:
                said.add((key, b.description))
                rows.append(f"| `{key}` | {b.description} | {b.id} |")
        return rows
