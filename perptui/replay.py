"""`perptui replay`: a recorded session played again, from its store's journal.

The paper market's store (or a class server's, `--db`) holds every command of the session;
the replay rebuilds it on a clock you control: `p` pauses, `+`/`-` change the speed, `w`
watches the next account, and the events tab shows every liquidation stage as it happened.
`--from 17:42` starts at that time as the screens show it (the session up to there is
computed first; "1d 17:42" the same time a day later).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from decimal import Decimal
from pathlib import Path

from exchange_local.errors import StoreError
from perptui import format as fmt
from perptui.cli import speed_argument
from perptui.settings import data_dir, load_settings
from perptui.venues.replay import ReplayVenue, watchable

CLOCK = re.compile(r"^(?:(\d+)d)?\s*(\d+):(\d{2})(?::(\d{2}))?$")


DAY_MS = 86_400_000


def exchange_ms(text: str) -> int:
    """ "00:42", "00:42:10" or "2d 03:00" (the time of day the screens show, and whole days
    after the session's first) in milliseconds from that day's midnight."""
    found = CLOCK.match(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an exchange time: write HH:MM or HH:MM:SS, as the screens show "
            'it ("1d 03:00" for the same time a day later)'
        )
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    if hours > 23 or minutes > 59 or seconds > 59:
        raise argparse.ArgumentTypeError(f"{text!r}: a time of day runs to 23:59:59")
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


def start_ms(first_ms: int, wanted_ms: int) -> int:
    """The exchange time `--from` names: the screens show the time of day (a class server's
    clock started at the wall time it was created, a paper market's at 0), so HH:MM is its
    first occurrence at or after the session's first command, plus any whole days given."""
    days, time_of_day = divmod(wanted_ms, DAY_MS)
    at = first_ms - first_ms % DAY_MS + time_of_day
    if at < first_ms:
        at += DAY_MS
    return at + days * DAY_MS


def from_text(first_ms: int, at_ms: int) -> str:
    """The `--from` that names `at_ms` (start_ms's inverse): "00:01:00", or "1d 00:01:00"
    when it is a later day's. Why: the error for a target past the end dropped the day and
    read "the recording ends at 00:05:32, before 00:01:00"."""
    days = (at_ms - start_ms(first_ms, at_ms % DAY_MS)) // DAY_MS
    clock = fmt.exchange_time(at_ms)
    return f"{days}d {clock}" if days > 0 else clock


def main(argv: list[str]) -> int:
    opened = open_replay(argv)
    if isinstance(opened, int):
        return opened
    from perptui.app import PerpApp
    from perptui.keys import check_keymap

    settings = load_settings()
    check_keymap(settings)
    app = PerpApp(opened, settings)
    app.run()
    return app.return_code or 0


def open_replay(argv: list[str]) -> ReplayVenue | int:
    """The replay venue the command line asks for, played to where it starts, or the exit
    status after saying on stderr what is wrong."""
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="perptui replay", description=__doc__,
                                     formatter_class=raw)  # fmt: skip
    parser.add_argument("--db", type=Path, default=None,
                        help="the session's store (default: the paper market's)")  # fmt: skip
    parser.add_argument("--account", help="the account to watch first (default: yours)")
    parser.add_argument("--from", dest="start", type=exchange_ms, default=None,
                        help="start at this exchange time, HH:MM[:SS]")  # fmt: skip
    parser.add_argument("--speed", type=speed_argument, default=Decimal(1),
                        help="exchange seconds per real second (default 1)")  # fmt: skip
    args = parser.parse_args(argv)
    db = args.db if args.db is not None else data_dir() / "paper.sqlite"
    if not db.exists():
        print(f"perptui replay: error: there is no store at {db}", file=sys.stderr)
        return 1
    from exchange_local.replay import JournalReplay

    try:
        replay = JournalReplay(str(db))
    except StoreError as problem:
        print(f"perptui replay: error: {problem}", file=sys.stderr)
        return 1
    people = watchable(replay.account_names())  # from the journal: the replay is at its start
    if args.account is not None and args.account not in people:
        replay.close()
        print(f"perptui replay: error: no account {args.account!r} in {db} (its accounts: "
              f"{', '.join(people) or 'none'})", file=sys.stderr)  # fmt: skip
        return 2
    started = time.monotonic()
    first = replay.first_time_ms()
    if args.start is not None:
        target = start_ms(first, args.start)
        if target > replay.end_ms:
            replay.close()
            print(f"perptui replay: error: the recording ends at "
                  f"{from_text(first, replay.end_ms)}, before {from_text(first, target)}",
                  file=sys.stderr)  # fmt: skip
            return 2
        print(f"replaying {db} to {from_text(first, target)}…", file=sys.stderr)
        replay.play_until(target)
    else:
        replay.play_until(first)  # the session's first moment
    # the watched account exists from here: a class's students join after the server starts
    wanted = args.account
    replay.play_until_account(lambda names: wanted in names if wanted else bool(watchable(names)))
    if args.start is not None:
        print(f"  there in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return ReplayVenue(replay, account=args.account, speed=args.speed)
