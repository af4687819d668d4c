"""`python -m perptui.screenshots [DIR]`: regenerate the README's screenshots from seeded markets.

Why a script and not hand-made captures: the pictures then always show what the current code
draws, from the same seeds as the snapshot tests, and CI runs it so it keeps working.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.teaching import move_index_near_liquidation, teaching_venue
from perptui.venues.local import LocalVenue

D = Decimal
Scene = Callable[[PerpApp, LocalVenue], Awaitable[None]]


async def _long(app: PerpApp, venue: LocalVenue, size: Decimal) -> None:
    venue._exchange().place_order(venue.account, "BTC-PERP", "buy", size, type="market")
    await app.frame()


async def overview(app: PerpApp, venue: LocalVenue) -> None:
    await venue.advance(D(600))
    await _long(app, venue, D("0.3"))
    await venue.advance(D(300))
    app.main.query_one("#size").value = "0.25"  # type: ignore[attr-defined]
    await app.frame()


async def near_liquidation(app: PerpApp, venue: LocalVenue) -> None:
    await _long(app, venue, D(3))
    move_index_near_liquidation(venue, "BTC-PERP", D("1.01"))
    await app.frame()


async def after_liquidation(app: PerpApp, venue: LocalVenue) -> None:
    await _long(app, venue, D(3))
    move_index_near_liquidation(venue, "BTC-PERP", D("0.97"))
    await venue.advance(D(5))
    await app.frame()
    app.action_tab("events")


async def teach(app: PerpApp, venue: LocalVenue) -> None:
    await _long(app, venue, D(2))
    app.action_teach()


async def stress(app: PerpApp, venue: LocalVenue) -> None:
    await _long(app, venue, D(2))
    app.action_stress()


SCENES: dict[str, tuple[Scene, Callable[[], LocalVenue], tuple[int, int], str]] = {
    "overview": (overview, lambda: LocalVenue(clock="manual", seed=1), (160, 48), "perptui-dark"),
    "near_liquidation": (near_liquidation, teaching_venue, (160, 48), "perptui-dark"),
    "after_liquidation": (after_liquidation, teaching_venue, (160, 48), "perptui-dark"),
    "teach": (teach, teaching_venue, (160, 48), "perptui-dark"),
    "stress": (stress, teaching_venue, (160, 48), "perptui-dark"),
    "light": (near_liquidation, teaching_venue, (160, 48), "perptui-light"),
    "colour_blind": (after_liquidation, teaching_venue, (160, 48), "perptui-cb"),
    "narrow": (near_liquidation, teaching_venue, (80, 24), "perptui-dark"),
}


async def render(name: str, out: Path) -> Path:
    scene, make_venue, size, theme = SCENES[name]
    venue = make_venue()
    app = PerpApp(venue, Settings(theme=theme), frame_loop=False)
    async with app.run_test(size=size) as pilot:
        await scene(app, venue)
        for _ in range(3):
            await pilot.pause()
        await app.frame()  # what the scene typed has reached the ticket: its preview now
        await pilot.pause()
        await asyncio.sleep(0.3)  # screens poll their venue on timers: let them draw once
        await pilot.pause()
        path = app.save_screenshot(filename=f"{name}.svg", path=str(out))
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perptui.screenshots")
    parser.add_argument("out", nargs="?", default="screenshots", type=Path)
    parser.add_argument("--only", choices=sorted(SCENES), action="append")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SCENES:
        print(asyncio.run(render(name, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
