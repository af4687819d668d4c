"""Display QA 2, the trade tape in a demo: a scripted account's trade read "2.0000 ▲ 00:00:00
you" beside "you are watching scripted accounts", and at 120 columns "you" stood in the
time's place. The watched account's trades are marked ▶ and with its name where there is
room, never "you", and the time always stays."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.demo import DemoVenue
from perptui.widgets.tape import TradeTape
from tests.tui_support import app_for, teaching_venue

D = Decimal
TIME = re.compile(r"\d\d:\d\d:\d\d")


def own_lines(tape: TradeTape) -> list[str]:
    return [tape.render_line(i + 1).text for i, trade_id in enumerate(tape._ids)
            if trade_id in tape._own and i + 1 < tape.size.height]  # fmt: skip


@pytest.mark.parametrize(("size", "named"), [((160, 48), True), ((120, 36), False)])
async def test_a_demo_marks_the_watched_accounts_trades_by_name_never_you(
    size: tuple[int, int], named: bool
):
    venue = DemoVenue("cascade", clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await venue.advance(D(1))
        await app.frame()
        await pilot.pause()
        tape = app.main.query_one(TradeTape)
        lines = own_lines(tape)
        assert lines, "the watched account's opening trade is on the tape"
        for line in lines:
            assert line.startswith("▶") and TIME.search(line), line
            assert "you" not in line, line
            assert line.rstrip().endswith(venue.account) == named, (line, venue.account)


async def test_your_own_trade_in_a_paper_market_says_you_after_its_time():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(160, 48)) as pilot:
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("0.1"), type="market")
        await venue.advance(D(1))
        for _ in range(11):  # fills are fetched every 10th frame, after it is drawn
            await app.frame()
            await pilot.pause()
        lines = own_lines(app.main.query_one(TradeTape))
        assert lines and all(TIME.search(x) and x.rstrip().endswith(" you") for x in lines)
