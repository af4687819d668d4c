"""A requirement is shown rounded up to the cent wherever the terminal shows it (the panel,
the explain screen, and the event log's margin calls): MMR 1,505.1815922 reads 1,505.19, never
the 1,505.18 that would make the account look a fraction safer than it is."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.events import MarginEvent
from perptui.eventtext import describe

D = Decimal


def test_a_margin_call_shows_its_requirements_rounded_up():
    event = MarginEvent(1000, "ada", "warning", D("2942.317369"), D("1505.1815922"),
                        D("2508.635987"))  # fmt: skip
    line = describe(event, "ada")
    assert line is not None
    assert "equity 2,942.32 · MMR 1,505.19 · IMR 2,508.64" in line.text
