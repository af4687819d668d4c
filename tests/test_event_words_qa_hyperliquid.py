"""QA (venues.md D10): a Hyperliquid `userEvents` liquidation says only what Hyperliquid sent.

The watch screen showed "liquidated on Hyperliquid · equity 100.00 → 100.00 · MMR 0.00 → 0.00
· with 0x1 · notional 6020 (liquidation 1)": HL sends no MMR and no equity after it, and the
notional came through as wire text. Now: the account value at liquidation, the notional as
money, the liquidator; the event's MMR is None (not known), not an invented 0.
"""

from __future__ import annotations

import asyncio
from collections import deque
from decimal import Decimal
from typing import Any

from exchange_local.events import Event, LiquidationEvent
from perptui.eventtext import describe
from perptui.venues.hyperliquid_live import LiveUpdates

D = Decimal
ADDRESS = "0xabababababababababababababababababababab"
LIQUIDATION = {"lid": 1, "liquidator": "0x1", "liquidated_user": ADDRESS,
               "liquidated_ntl_pos": "6020", "liquidated_account_value": "100"}  # fmt: skip
PUSH = {"liquidation": LIQUIDATION}


class Live(LiveUpdates):
    """The watch venue's push handlers on the state they need, without a network."""

    def __init__(self) -> None:
        self.account = ADDRESS
        self._events: deque[Event] = deque()
        self._orders = {}
        self._fills = {}
        self._funding = {}
        self._wake = asyncio.Event()


def pushed(data: dict[str, Any]) -> LiquidationEvent:
    live = Live()
    live._on_message("user", data)
    (event,) = live._events
    assert isinstance(event, LiquidationEvent)
    return event


def test_a_hyperliquid_liquidation_says_only_what_hyperliquid_sent():
    event = pushed(PUSH)
    assert (event.venue, event.notional, event.equity_before) == ("Hyperliquid", D(6020), D(100))
    assert event.mmr_before is None and event.mmr_after is None  # not sent: not known
    line = describe(event, ADDRESS, "YOU")
    assert line is not None and line.kind == "liquidation" and line.mine
    assert line.text == (
        "YOU: liquidated on Hyperliquid · account value 100.00 at liquidation · notional "
        "6,020.00 USD · liquidator 0x1 · liquidation id 1"
    )
    for invented in ("MMR", "→", "equity 100.00", "6020 ", "(liquidation"):
        assert invented not in line.text, invented


def test_a_liquidation_without_the_optional_fields_leaves_them_out():
    """No notional, no liquidator, no id: nothing is said of them (no "notional None")."""
    event = pushed({"liquidation": {"liquidated_user": "0xother",
                                    "liquidated_account_value": "12.5"}})  # fmt: skip
    line = describe(event, ADDRESS, "YOU")
    assert line is not None and not line.mine
    assert line.text == "0xother: liquidated on Hyperliquid · account value 12.50 at liquidation"


def test_this_exchanges_own_stages_still_show_their_figures():
    """The MMR is left out only when it is not known; a stage of ours keeps it."""
    ours = LiquidationEvent(1000, "u", "BTC-PERP", "cancel", None, None, D(900), D(900),
                            D(1000), D(1000), (), D(5), D(5), "no orders to cancel")  # fmt: skip
    line = describe(ours, "u")
    assert line is not None
    assert "equity 900.00 → 900.00 · MMR 1,000.00 → 1,000.00" in line.text
