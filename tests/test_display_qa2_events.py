"""The events log keeps full-width lines when they are written, or re-marked, while another
tab is open (RichLog drew them at its 78-column min_width then, and the reflow on showing
the tab again was skipped as "no change of width")."""

from __future__ import annotations

from decimal import Decimal

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue
from perptui.widgets.history import EventsLog


async def test_lines_written_while_the_events_tab_is_hidden_take_the_full_width():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        log = app.main.query_one(EventsLog)
        width = log.scrollable_content_region.width
        assert width > 150
        await pilot.press("1")  # the positions tab: the log is hidden
        await pilot.pause()
        for _ in range(8):
            await venue.advance(Decimal(50))
            await app.frame()
        await pilot.pause()
        assert any("stage 2" in line.text for line in log.lines_seen)
        await pilot.press("6")
        for _ in range(3):
            await pilot.pause()
        assert {strip.cell_length for strip in log.lines} == {width}
        # a stage line longer than 78 columns takes one row where it fits in one
        stage = next(line.text for line in log.lines_seen if 90 < len(line.text) < width - 12)
        rows = [s.text for s in log.lines if stage[:40] in s.text]
        assert rows and stage in rows[0], rows


async def test_w_with_another_tab_open_lays_the_lines_out_at_the_full_width():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        for _ in range(8):
            await venue.advance(Decimal(50))
            await app.frame()
        await pilot.pause()
        log = app.main.query_one(EventsLog)
        width = log.scrollable_content_region.width
        await pilot.press("1", "w")  # watch the next account from the positions tab
        await pilot.pause()
        await pilot.press("6")
        for _ in range(3):
            await pilot.pause()
        assert {strip.cell_length for strip in log.lines} == {width}


async def test_a_terminal_resized_while_the_tab_was_hidden_is_laid_out_again_when_shown():
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.frame()
        await pilot.pause()
        await pilot.press("1")
        for _ in range(8):
            await venue.advance(Decimal(50))
            await app.frame()
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        await pilot.press("6")
        for _ in range(3):
            await pilot.pause()
        log = app.main.query_one(EventsLog)
        width = log.scrollable_content_region.width
        assert width < 120 and {strip.cell_length for strip in log.lines} == {width}
