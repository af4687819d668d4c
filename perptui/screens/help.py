"""F1 / ?: every key and what it does, built from the bindings themselves so it cannot drift,
with the keys the keymap in settings.toml gave them (as the footer shows)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from perptui.keys import BINDINGS, key_display

INTRO = """\
# perptui keys

The gauge is **margin usage = MMR / E_mm**: 50 % is the margin-call warning (equity = 2 × MMR),
100 % is where liquidation starts, the backstop mark is MMR / ACMR. The health word says the
same: HEALTHY, WATCH, DANGER (reduce-only), LIQUIDATING.

Liquidation prices assume every other price stays where it is; "now" means the account is
already below its maintenance requirement, "bankrupt" below zero.
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 90%; border: thick $primary;
                                  background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,q,f1,question_mark", "app.pop_screen", "Close", id="help.close")]

    def __init__(self, bindings: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = bindings

    def compose(self) -> ComposeResult:
        keymap = self.app._keymap  # what Textual applies: set_keymap's, normalised
        by_id = {b.id: b for b in BINDINGS if b.id}
        rows = [(key_display(self.app, by_id[i], keymap) if i in by_id else k, d, i)
                for k, d, i in self.rows]  # fmt: skip
        table = ["| key | action | id |", "|---|---|---|"]
        table += [f"| `{k}` | {d} | {i} |" for k, d, i in rows]
        with VerticalScroll():
            yield Markdown(INTRO + "\n" + "\n".join(table))
