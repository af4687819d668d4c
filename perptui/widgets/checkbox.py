"""A checkbox whose box says on or off by its glyph, not only by its colour.

Textual's Checkbox draws `▐X▌` both ways and colours the X; README promises colour never
carries meaning alone. Textual's idiom is BUTTON_INNER (ToggleButton's character inside the
box): here it follows the value, `▐X▌` when on and an empty `▐ ▌` when off.
"""

from __future__ import annotations

from textual.content import ContentText
from textual.widgets import Checkbox


class TickBox(Checkbox):
    """Checkbox with an empty box when off; posts Checkbox.Changed like any Checkbox."""

    BUTTON_ON = "X"
    BUTTON_OFF = " "

    def __init__(self, label: ContentText = "", value: bool = False, *, compact: bool = False,
                 id: str | None = None, disabled: bool = False) -> None:  # fmt: skip
        super().__init__(label, value, compact=compact, id=id, disabled=disabled)
        self.BUTTON_INNER = self.BUTTON_ON if value else self.BUTTON_OFF

    def watch_value(self) -> None:
        self.BUTTON_INNER = self.BUTTON_ON if self.value else self.BUTTON_OFF
        super().watch_value()
