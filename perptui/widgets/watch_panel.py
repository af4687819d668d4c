"""In the ticket's place where nothing can be traded: a demo, a replay, a key that only reads.

Why: there the ticket offered a price, a size, a "max" and "BUY / LONG ? ↵" that no key could
send, and the footer listed Buy, Sell, Close and Cancel all, each refused when pressed; the
keys that do work there (pause, speed, the next account) were listed nowhere but in help. A
viewer is shown whom they watch, why they cannot trade, and those keys with the clock's state.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.markup import escape

from perptui.venues.base import ClockInfo
from perptui.widgets.cached import CachedStatic


@dataclass(frozen=True, slots=True)
class WatchState:
    """What the panel shows; `keys` maps a binding id to the keys it has now (the keymap's)."""

    account: str
    reason: str
    clock: ClockInfo | None
    can_watch_next: bool
    keys: dict[str, str]
    ended: bool = False  # a demo's script or a replay's recording has run to its end


def watch_markup(state: WatchState) -> str:
    """The panel's lines as content markup: whom, why, the clock and its keys, where to look.

    Each line fits the 52 columns the right-hand column has in the medium layout."""
    keys = state.keys

    def key(binding_id: str, words: str) -> str:
        shown = keys.get(binding_id, "")
        return f"[b]{escape(shown)}[/b] {words}" if shown else ""

    who = escape(state.account) if state.account else "the market"
    lines = [f"[b]Watching {who}[/b]", f"[$text-muted]{escape(state.reason)}[/]"]
    clock = state.clock
    if state.ended:  # its clock has nothing left to play: p and + only toggled the words
        lines.append(f"■ ended   {key('app.quit', 'quits')}")
    elif clock is not None and clock.adjustable:
        if clock.speed == 0:  # `--speed 0`: still until a faster speed is chosen
            lines.append(f"⏸ still (speed 0)   {key('clock.faster', 'plays')}")
        elif clock.paused:
            lines.append(f"⏸ paused at {clock.speed}x   {key('clock.pause', 'play')}")
        else:
            lines.append(f"▶ playing at {clock.speed}x   {key('clock.pause', 'pause')}")
        lines.append("  ".join(k for k in (key("clock.faster", "faster"),
                                           key("clock.slower", "slower")) if k))  # fmt: skip
    looks = [key("screen.teach", "explain"), key("tab.events", "events")]
    if state.can_watch_next:
        looks.insert(0, key("demo.watch_next", "next account"))
    lines.append("  ".join(k for k in looks if k))
    return "\n".join(lines)


class WatchPanel(CachedStatic):
    DEFAULT_CSS = """
    WatchPanel { height: auto; padding: 0 1; border-top: solid $panel-lighten-2; }
    """

    def show(self, state: WatchState) -> None:
        self.show_markup(watch_markup(state))
