"""An Input whose own keys (ctrl+u, backspace, ctrl+w, the arrows...) act in the order typed.

Why: Textual runs a widget's binding only once its key has bubbled from the field through
every container up to the app, and the characters a terminal delivered in the same read are
typed into the field before that. ctrl+u then 99500, typed quickly, cleared the 99500 and left
the field empty; 12, backspace, 3 read 12. The field's bindings are the first Textual would
try for such a key (the app's priority ones have run before the key reached the field), so
running them as the key arrives changes only their timing.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class KeysInOrderInput(Input):
    """Input, with its own non-printable keys handled as they arrive (see the module)."""

    async def _on_key(self, event: events.Key) -> None:
        if not event.is_printable and await self._own_binding(event.key):
            event.stop()  # done: not again at the app
            event.prevent_default()

    async def _own_binding(self, key: str) -> bool:
        """Run the field's own binding for `key` now; True if one handled it."""
        for binding in self._bindings.key_to_bindings.get(key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                return True
        return False
