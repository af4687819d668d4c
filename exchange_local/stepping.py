"""Run a teaching scenario one exchange second at a time, so a UI can show it as it happens.

Why a thread and two semaphores: the scenarios are plain scripts (set up accounts, run 60 s,
gap the index, run 300 s...), clearer as straight-line code than as a state machine. The
script runs in its own thread and stops before every second of exchange time until the UI
grants it; while it is stopped the UI alone touches the exchange, so the single-threaded
engine is never used by two threads at once.
"""

from __future__ import annotations

import threading
from typing import Any

from exchange_local.errors import InvalidRequest

_local = threading.local()


def current() -> SteppedScenario | None:
    return getattr(_local, "pacer", None)


class SteppedScenario:
    """`start()` runs the script up to its first second; each `step()` runs one more second
    (and any scripted action that follows it) and returns False once the script has ended."""

    def __init__(self, name: str, seed: int = 1) -> None:
        from exchange_local.scenarios import SCENARIOS

        if name not in SCENARIOS:
            raise InvalidRequest(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
        self.name, self.seed = name, seed
        self.run: Any = None  # the scenario's current Run (squeeze has two, one after another)
        self.runs = 0
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = False
        self.seconds = 0
        self._grant = threading.Semaphore(0)
        self._idle = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._main, name=f"scenario {name}", daemon=True)

    @property
    def exchange(self) -> Any:
        return self.run.ex if self.run is not None else None

    def start(self) -> None:
        self._thread.start()
        self._idle.acquire()

    def step(self) -> bool:
        if self.finished:
            return False
        self._grant.release()
        self._idle.acquire()
        self.seconds += 1
        return not self.finished

    def close(self) -> None:
        """Let an unfinished script run to its end in the background (a daemon thread)."""
        self._abandoned = True
        if not self.finished:
            self._grant.release()

    # --- the scenario thread's side ---------------------------------------------------------
    def _main(self) -> None:
        from exchange_local.scenarios import run_scenario

        _local.pacer = self
        try:
            self.result = run_scenario(self.name, self.seed)
        except BaseException as problem:  # shown to the user, never lost in a thread
            self.error = problem
        finally:
            self.finished = True
            self._idle.release()

    def attach(self, run: Any) -> None:
        self.run = run
        self.runs += 1

    def turn(self) -> None:
        if getattr(self, "_abandoned", False):
            _local.pacer = None
            return
        self._idle.release()
        self._grant.acquire()
        if getattr(self, "_abandoned", False):
            _local.pacer = None
