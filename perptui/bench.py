"""`python -m perptui.bench`: the terminal's own figures, measured headless.

- start: from constructing the app to its first full frame (LocalVenue in memory, 160x48);
- cpu: CPU time of the process over a live calm market at 160x48 with the 10 Hz frame loop,
  as a share of one core (the exchange's bots and feed run in the same process and count);
- events: how many exchange events a frame absorbs per second (describe + events log).
Flags: --seconds N for the CPU window (default 60), --smoke for a quick proof that it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import resource
import time
from decimal import Decimal

from perptui.app import PerpApp
from perptui.settings import Settings
from perptui.venues.local import LocalVenue


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bench_start() -> float:
    started = time.perf_counter()
    app = PerpApp(LocalVenue(clock="manual"), Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        assert app.first_frame_at is not None
        return app.first_frame_at - started


async def bench_cpu(seconds: float) -> tuple[float, int]:
    venue = LocalVenue(clock="real")
    app = PerpApp(venue, Settings())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        cpu0, wall0, frames0 = _cpu(), time.perf_counter(), app.frames
        await asyncio.sleep(seconds)
        cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
        return cpu / wall, app.frames - frames0


async def bench_events(exchange_seconds: int) -> tuple[int, float]:
    venue = LocalVenue(clock="manual")
    app = PerpApp(venue, Settings(), frame_loop=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        venue.drain_events()
        await venue.advance(Decimal(exchange_seconds))  # the market's events pile up
        pending = len(venue._events)
        t0 = time.perf_counter()
        await app.frame()
        elapsed = time.perf_counter() - t0
        return pending, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m perptui.bench")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    seconds = 2.0 if args.smoke else args.seconds
    print(f"machine: {platform.machine()}, {platform.python_implementation()} "
          f"{platform.python_version()}")  # fmt: skip
    start = asyncio.run(bench_start())
    print(f"start to first full frame: {start:.2f} s (target <= 1.0 s)")
    share, frames = asyncio.run(bench_cpu(seconds))
    print(f"CPU over {seconds:.0f} s of a live calm market at 160x48: {share:.1%} of one core, "
          f"{frames / seconds:.1f} frames/s (target <= 15 %)")  # fmt: skip
    n, elapsed = asyncio.run(bench_events(10 if args.smoke else 120))
    print(f"events absorbed: {n} in one frame of {elapsed * 1000:.0f} ms = "
          f"{n / elapsed:,.0f} events/s (target >= 2,000)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
