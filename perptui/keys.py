"""Every key of the main screen, each with a binding id (remappable in settings.toml).

No ctrl+enter, ctrl+h, ctrl+i or ctrl+m: terminals swallow them (shared/TUI.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.keys import _normalize_key_list
from textual.markup import escape

from perptui.screens.main import TABS
from perptui.settings import Settings

SPEEDS = (Decimal(0), Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5), Decimal(10),
          Decimal(30), Decimal(60), Decimal(120), Decimal(300), Decimal(600))  # fmt: skip

BINDINGS = [
    Binding("b", "side('buy')", "Buy", id="order.buy"),
    Binding("s", "side('sell')", "Sell", id="order.sell"),
    Binding("m", "cycle_type", "Type", id="order.type"),
    Binding("l", "leverage", "Leverage", id="order.leverage"),
    Binding("enter", "submit", "Send (from the ticket)", id="order.submit", show=False),
    Binding("x", "close_position", "Close", id="position.close"),
    Binding("X", "close_all", "Close all", id="position.close_all", show=False),
    Binding("c", "cancel_all", "Cancel all", id="order.cancel_all"),
    Binding("d", "cancel_selected", "Cancel order", id="order.cancel", show=False),
    Binding("a", "amend_selected", "Amend order", id="order.amend", show=False),
    Binding("u", "convert", "Repay USD", id="account.convert", show=False),
    Binding("D", "deposit", "Deposit (paper)…", id="account.deposit", show=False),
    Binding("W", "withdraw", "Withdraw…", id="account.withdraw", show=False),
    Binding("n", "next_market", "Market", id="market.next"),
    Binding("o", "sort_positions", "Sort positions", id="positions.sort", show=False),
    Binding("w", "watch_next", "Watch next", id="demo.watch_next", show=False),
    Binding("t", "teach", "Teach", id="screen.teach"),
    Binding("S", "stress", "Stress", id="screen.stress"),
    Binding("g", "grouping", "Group", id="book.grouping", show=False),
    Binding("left_square_bracket", "timeframe(-1)", "Frame −", id="chart.frame_down", show=False),
    Binding("right_square_bracket", "timeframe(1)", "Frame +", id="chart.frame_up", show=False),
    Binding("v", "chart_mode", "Candle/line", id="chart.mode", show=False),
    Binding("plus,equals_sign", "speed(1)", "Faster", id="clock.faster", show=False),
    Binding("minus", "speed(-1)", "Slower", id="clock.slower", show=False),
    Binding("p", "pause", "Pause", id="clock.pause", show=False),
    Binding("escape", "leave_input", "Leave field", id="focus.leave", show=False),
    Binding("f1,question_mark", "help", "Help", id="app.help"),
    Binding("f8", "screenshot", "Screenshot", id="app.screenshot", show=False),
    Binding("q,ctrl+q", "quit", "Quit", id="app.quit"),
] + [
    Binding(str(i + 1), f"tab('{tab}')", tab.title(), id=f"tab.{tab}", show=False)
    for i, tab in enumerate(TABS)
]


# The footer's keys, the first given up first where the terminal is too narrow for all of
# them (Quit and Help always stay: help lists the rest). Why: Textual's footer clips what
# does not fit, and at 100 columns it ended "t Teach  S▏", a key cut in half.
FOOTER_GIVEN_UP_FIRST = ("screen.stress", "screen.teach", "market.next", "order.cancel_all",
                         "position.close", "order.leverage", "order.type", "order.sell",
                         "order.buy")  # fmt: skip
# the command palette's key, docked at the footer's right ("▏^p palette ", measured)
FOOTER_PALETTE_WIDTH = 12


def footer_key_width(key: str, description: str) -> int:
    """The columns Textual 8's footer gives one key: " key " and "description "."""
    return len(key) + len(description) + 3


def footer_keys(widths: dict[str, int], room: int) -> set[str]:
    """The ids of the footer's keys that fit in `room` columns whole (`widths`: id -> the
    columns each takes), giving up FOOTER_GIVEN_UP_FIRST's first while they do not."""
    kept = dict(widths)
    for binding_id in FOOTER_GIVEN_UP_FIRST:
        if sum(kept.values()) <= room:
            break
        kept.pop(binding_id, None)
    return set(kept)


def _class_bindings(cls: type) -> list[Binding]:
    """A screen's or app's bindings as Textual merges them: its own and its bases'."""
    found: list[Binding] = []
    for base in reversed(cls.__mro__):
        for item in base.__dict__.get("BINDINGS", ()):
            found.append(item if isinstance(item, Binding) else Binding(*item))
    return found


def binding_groups() -> list[list[Binding]]:
    """Every set of keys that share one place (an app or a screen): a keymap clash is two
    bindings of one group on one key. Imported here, when asked, to keep keys.py light."""
    from perptui.projector import ProjectorApp
    from perptui.screens.connect import ConnectApp
    from perptui.screens.explain import ExplainScreen
    from perptui.screens.help import HelpScreen
    from perptui.screens.modals import (
        AmendScreen,
        ConfirmScreen,
        FundsScreen,
        QuitScreen,
        ValueScreen,
    )
    from perptui.screens.stress import StressScreen

    screens = (ExplainScreen, StressScreen, HelpScreen, ConfirmScreen, QuitScreen, ValueScreen,
               AmendScreen, FundsScreen, ProjectorApp, ConnectApp)  # fmt: skip
    return [_class_bindings(App) + BINDINGS] + [_class_bindings(cls) for cls in screens]


def keys_of(keys: str) -> list[str]:
    """A binding's keys as Textual names them ("h,F1" -> ["h", "f1"])."""
    return [key for key in _normalize_key_list(keys).split(",") if key]


def _name(binding: Binding) -> str:
    return f"{binding.id} ({binding.description})" if binding.id else f"Textual's {binding.action}"


def resolve_keymap(
    keymap: dict[str, str], groups: list[list[Binding]] | None = None
) -> tuple[dict[str, str], list[str]]:
    """The keymap Textual can apply without surprises, and what was left out and why.

    Textual drops an unknown id silently, and a remap onto a key another binding still uses
    takes that key away from it (order.sell = "b" leaves Buy with no key). Both are left
    out here, so every binding keeps a key, and said once, by id and key.
    """
    groups = binding_groups() if groups is None else groups
    known = {b.id for group in groups for b in group if b.id}
    problems: list[str] = []
    kept: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            problems.append(f'keymap "{binding_id}": no such binding id (F1 lists them); ignored')
        elif not keys_of(keys):
            problems.append(f'keymap "{binding_id}": no key given; ignored')
        else:
            kept[binding_id] = keys
    changed = True
    while changed:  # dropping one remap gives its binding its default keys back: look again
        changed = False
        for group in groups:
            owner: dict[str, Binding] = {}
            for b in group:
                if b.id not in kept:
                    for key in keys_of(b.key):
                        owner.setdefault(key, b)
            for binding_id, keys in list(kept.items()):
                mine = next((b for b in group if b.id == binding_id), None)
                if mine is None:
                    continue
                taken = next((key for key in keys_of(keys) if key in owner), None)
                if taken is None:
                    for key in keys_of(keys):
                        owner[key] = mine
                    continue
                problems.append(
                    f'keymap "{binding_id}" = "{keys}": {taken} is already the key of '
                    f"{_name(owner[taken])}; remap that one too or choose another key; "
                    f"{binding_id} keeps {mine.key}"
                )
                del kept[binding_id]
                changed = True
                break
            if changed:
                break
    return kept, problems


def check_keymap(settings: Settings) -> None:
    """Keep only the remaps that work, and add what was left out to the settings' problem,
    which the terminal shows once at start, as it does a broken settings file."""
    if not settings.keymap:
        return
    settings.keymap, problems = resolve_keymap(settings.keymap)
    if problems:
        said = [settings.problem] if settings.problem else []
        settings.problem = "; ".join(said + [escape(p) for p in problems])


def key_display(app: App[Any], binding: Binding, keymap: Mapping[str, str]) -> str:
    """The keys a binding has now (its keymap remap, else its defaults), as the footer shows
    them."""
    keys = keymap.get(binding.id or "", "") or binding.key
    return ", ".join(app.get_key_display(binding.with_key(key, key_display=None))
                    for key in keys_of(keys))  # fmt: skip
