"""F1 / ?: every key and what it does, built from the bindings themselves so it cannot drift,
with the keys the keymap in settings.toml gave them (as the footer shows)."""

from __future__ import annotations

import dataclasses

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


def help_sections(first: type | None = None) -> list[Section]:
    """Every screen's keys under its name, the screen help was opened from first. Why all of
    them: each id can be remapped in settings.toml, and help listed only the main screen's,
    so the explain screen's `p` (explain.price_input) or a dialog's `y` had no place."""
    from perptui.screens.advancing import AdvanceScreen
    from perptui.screens.explain import ExplainScreen
    from perptui.screens.modals import AmendScreen, ConfirmScreen, ValueScreen
    from perptui.screens.stress import StressScreen

    dialogs: dict[str, Binding] = {}
    if first in (ValueScreen, AmendScreen, AdvanceScreen):
        first = ConfirmScreen  # one section for every dialog
    for screen in (ConfirmScreen, ValueScreen, AmendScreen, AdvanceScreen):
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

    screens: list[tuple[type | None, Section]] = [
        (None, ("Main screen", list(BINDINGS))),
        (ExplainScreen, ("Explain (t)", keys(ExplainScreen, "screen.teach"))),
        (StressScreen, ("Stress (S)", keys(StressScreen, "screen.stress"))),
        (ConfirmScreen, ("Dialogs", list(dialogs.values()))),
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

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def on_key(self, event: events.Key) -> None:
        """A help key remapped in settings.toml closes help as f1 and ? do: a modal screen
        shuts the app's own bindings out, so "app.help" = "h" opened help and could not
        close it."""
        remapped = self.app._keymap.get("app.help", "")
        if remapped and event.key in keys_of(remapped):
            event.stop()
            self.app.pop_screen()

    def compose(self) -> ComposeResult:
        keymap = self.app._keymap  # what Textual applies: set_keymap's, normalised
        parts = [INTRO]
        for title, bindings in self.sections:
            parts += [f"## {title}", "", "| key | action | id |", "|---|---|---|"]
            said: set[tuple[str, str]] = set()  # a key listed twice for one action: once
            for b in bindings:
                key = key_display(self.app, b, keymap)
                if (key, b.description) not in said:
                    said.add((key, b.description))
                    parts.append(f"| `{key}` | {b.description} | {b.id} |")
            parts.append("")
        with VerticalScroll():
            yield Markdown("\n".join(parts))
