"""Static text that re-renders only when its text changed.

Why: at 10 frames a second most numbers are unchanged, and `Static.update` costs a parse, a
layout and a repaint each time; skipping identical updates is most of the TUI's CPU budget.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class CachedStatic(Static):
    """A Static fed content markup; an identical string is a no-op."""

    _last_markup: str | None = None

    def show_markup(self, markup: str) -> None:
        if markup == self._last_markup:
            return
        self._last_markup = markup
        self.update(Content.from_markup(markup))


def update_static(widget: Static, markup: str) -> None:
    """The same for a Static that is not a CachedStatic (remembered on the widget)."""
    if getattr(widget, "_perptui_markup", None) == markup:
        return
    widget._perptui_markup = markup  # type: ignore[attr-defined]
    widget.update(Content.from_markup(markup))
