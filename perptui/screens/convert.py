"""The convert dialog (`u`): which coin to sell to repay a negative USD balance, and how much.

Its own screen because the value dialog (screens/modals.py) asks for one number; this one
also asks which asset, and fills in that asset's amount and words when the choice changes.
"""

from __future__ import annotations

from decimal import Decimal

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from perptui.screens.modals import MODAL_CSS, ValueScreen


class ConvertScreen(ValueScreen):
    """The value dialog with the asset to sell in a Select above the amount: the largest
    holding was the only choice, and a trader keeping BTC had to sell it to repay USD.
    Choosing another asset fills in that asset's amount to repay and its words."""

    DEFAULT_CSS = (
        MODAL_CSS.format(name="ConvertScreen")
        + """
    ConvertScreen Select { margin-bottom: 1; }
    """
    )

    def __init__(self, choices: dict[str, tuple[str, str]]) -> None:
        """`choices`: asset -> (prompt, amount to repay), the default first."""
        self.choices = choices
        self.asset = next(iter(choices))
        prompt, value = choices[self.asset]
        super().__init__(self._title(), prompt, value)

    def _title(self) -> str:
        return f"Convert {self.asset} to USD"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title", id="convert-title")
            yield Select([(a, a) for a in self.choices], value=self.asset, allow_blank=False,
                         id="asset")  # fmt: skip
            yield Static(self.prompt, id="prompt")
            yield Input(self.value, restrict=r"[0-9.]*", id="value")
            yield Static("", classes="error", id="error")
            with Horizontal():
                yield Button("Cancel (esc)", id="no")
                yield Button("OK (↵)", id="yes", variant="primary")

    def kept_suggestion(self, value: Decimal) -> bool:
        """Whether `value` is the amount the dialog suggested for the asset chosen: the
        trader asked to repay the loan, so the caller works the amount out again at the price
        of the moment it converts; an amount typed is converted as typed."""
        return value == Decimal(self.choices[self.asset][1])

    @on(Select.Changed, "#asset")
    def _asset(self, event: Select.Changed) -> None:
        self.asset = str(event.value)
        prompt, value = self.choices[self.asset]
        self.query_one("#convert-title", Label).update(self._title())
        self.query_one("#prompt", Static).update(prompt)
        self.query_one("#value", Input).value = value
        self.query_one("#error", Static).update("")
