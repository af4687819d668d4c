"""Class QA D4: the liquidation warning under "✓ would be accepted now" wrapped, and the mark
stood alone on a second row ("85,088.0"). README: "each preview line is one row; the whole text
is its tooltip". The refusal alone may take two rows (tests/test_ticket_qa_app.py)."""

from __future__ import annotations

import pytest

from perptui.app import PerpApp
from perptui.ticket import short_warning
from tests.test_order_ticket_layout import assert_in_view, row_text, type_size
from tests.tui_support import app_for, teaching_venue

# a market buy of 2 on the teaching desk: accepted, with the engine's warning
WARNING = "⚠ liquidation price 92,147.5 would be within 10 % of the mark 100,000.0"


def preview_rows(app: PerpApp) -> list[str]:
    preview = app.main.query_one("#preview")
    return [row_text(app, y, preview.region).rstrip()
            for y in range(preview.region.y, preview.region.bottom)]  # fmt: skip


@pytest.mark.parametrize("size", [(160, 48), (120, 36), (80, 24)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_warning_under_an_accepted_order_is_one_row_whole_or_in_its_short_form(
    size: tuple[int, int],
):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await pilot.press("m")  # market
        await type_size(pilot, app, "2")
        rows = [row.strip() for row in preview_rows(app) if row.strip()]
        verdict = rows.index("✓ would be accepted now")
        below = rows[verdict + 1 :]
        assert len(below) == 1, rows  # the warning, and nothing wrapped under it
        (warning,) = below
        # whole, or short where narrow: a number is never cut (it lost "of the mark …")
        assert warning in (WARNING, short_warning(WARNING)), rows
        tooltip = str(app.main.query_one("#preview").tooltip)
        assert WARNING in tooltip  # the whole text, where the row is cut
        assert "Est. liq" in tooltip and "IMR" in tooltip  # every line of the preview in full
        assert_in_view(app, app.main.query_one("#preview"))
        assert_in_view(app, app.main.query_one("#submit"))
