"""Every key of the main screen, each with a binding id (remappable in settings.toml).

No ctrl+enter, ctrl+h, ctrl+i or ctrl+m: terminals swallow them (shared/TUI.md).
"""

from __future__ import annotations

from decimal import Decimal

from textual.binding import Binding

from perptui.screens.main import TABS

SPEEDS = (Decimal(0), Decimal("0.5"), Decimal(1), Decimal(2), Decimal(5), Decimal(10),
          Decimal(30), Decimal(60), Decimal(120), Decimal(300), Decimal(600))  # fmt: skip

BINDINGS = [
    Binding("b", "side('buy')", "Buy", id="order.buy"),
    Binding("s", "side('sell')", "Sell", id="order.sell"),
    Binding("m", "cycle_type", "Type", id="order.type"),
    Binding("l", "leverage", "Leverage", id="order.leverage"),
    Binding("enter", "submit", "Send", id="order.submit", show=False),
    Binding("x", "close_position", "Close", id="position.close"),
    Binding("X", "close_all", "Close all", id="position.close_all", show=False),
    Binding("c", "cancel_all", "Cancel all", id="order.cancel_all"),
    Binding("d", "cancel_selected", "Cancel order", id="order.cancel", show=False),
    Binding("a", "amend_selected", "Amend order", id="order.amend", show=False),
    Binding("u", "convert", "Repay USD", id="account.convert", show=False),
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
