"""The clock run forward on request (the palette's "Advance clock"), shown while it runs.

Why a screen of its own and a worker: an hour of the living market takes seconds to compute
(20-30 s on a busy machine), and run inside the palette's command it froze the terminal with
no sign of life; the keys typed meanwhile ran afterwards (an Enter opened an order's
confirmation, which with confirmations off would have sent it). Here the market runs a minute
at a time in a worker, the screen counts the minutes, takes every key (Esc stops at the next
minute) and closes with what was done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, ProgressBar, Static

from exchange_local.errors import ExchangeError
from perptui import format as fmt
from perptui.screens.modals import MODAL_CSS
from perptui.venues.base import TradingDisabled

STEP = Decimal(60)  # exchange seconds run between two looks at the screen
TURN_S = 0.02  # wall seconds given to the screen's messages (keys, redraws) after each step


@dataclass(frozen=True)
class Advanced:
    """What the screen did: the exchange seconds run, and why it stopped short if it did."""

    seconds: Decimal
    refusal: str | None = None


class AdvanceScreen(ModalScreen[Advanced]):
    """Runs `advance` over `seconds` a minute at a time; dismissed with what it ran."""

    DEFAULT_CSS = MODAL_CSS.format(name="AdvanceScreen")
    BINDINGS = [Binding("escape", "stop", "Stop", id="modal.cancel")]

    def __init__(self, seconds: Decimal, advance: Callable[[Decimal], Awaitable[None]]) -> None:
        super().__init__()
        self.seconds, self.advance = seconds, advance
        self.done = Decimal(0)
        self.stopping = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Advancing the clock {fmt.duration(float(self.seconds))}",
                        classes="title")  # fmt: skip
            yield Static("the market runs through it now: funding, settlements, liquidations",
                         id="what")  # fmt: skip
            yield ProgressBar(total=float(self.seconds), show_eta=False, id="progress")
            yield Static("esc stops at the next minute", id="hint")

    def on_mount(self) -> None:
        self.run()

    def action_stop(self) -> None:
        self.stopping = True
        self.query_one("#hint", Static).update("stopping at the end of this minute…")

    @work(exclusive=True, group="advance", exit_on_error=False)
    async def run(self) -> None:
        refusal = None
        try:
            while self.done < self.seconds and not self.stopping:
                step = min(STEP, self.seconds - self.done)
                await self.advance(step)
                self.done += step
                # a key needs several turns of the event loop to reach this screen, and each
                # minute gave it one: Esc at the start of an hour stopped it 12-18 minutes on.
                # A short real pause lets every waiting message through (about 1 % of an
                # hour's computing time, at 60 pauses an hour)
                if self.done < self.seconds:
                    await asyncio.sleep(TURN_S)
                self.query_one("#progress", ProgressBar).update(progress=float(self.done))
                self.query_one("#what", Static).update(
                    f"{fmt.duration(float(self.done))} of {fmt.duration(float(self.seconds))} run"
                )
        except (TradingDisabled, ExchangeError) as error:
            refusal = str(error)
        finally:
            self.dismiss(Advanced(self.done, refusal))
