"""The Ledger tab's filter: a field for a type's name that lets digits reach the tab keys.

Why: a ledger type is letters (FUNDING, LIQ_FILL, ...), and a plain Input claims every
printable key, so with the cursor in the filter `6` typed "fund6" instead of showing the
events; left outside it, the letters of "fund" ran main-screen commands (`n` switched the
market, `u` and `d` answered with notices). The tab puts the cursor here, letters go in, and
digits pass on to the tab keys as they do from anywhere else.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input

TYPE_CHARACTERS = r"[A-Za-z_ ]*"


def _is_type_character(character: str | None) -> bool:
    return character is not None and ((character.isascii() and character.isalpha())
                                      or character in "_ ")  # fmt: skip


class TypeFilter(Input):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(restrict=TYPE_CHARACTERS, **kwargs)  # type: ignore[arg-type]

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return _is_type_character(character)

    async def _on_key(self, event: events.Key) -> None:
        if event.is_printable and not _is_type_character(event.character):
            event.prevent_default()  # not Input's either: it bubbles on to the bindings
