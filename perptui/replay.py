"""`perptui replay`: a recorded session played again, from its store's journal.

The paper market's store (or a class server's, `--db`) holds every command of the session;
the replay rebuilds it on a clock you control: `p` pauses, `+`/`-` change the speed, `w`
watches the next account, and the events tab shows every liquidation stage as it happened.
`--from 00:42:00` starts at that exchange time (the session up to there is computed first).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from exchange_local.errors import StoreError
from perptui.settings import data_dir, load_settings

CLOCK = re.compile(r"^(?:(\d+)d)?\s*(\d+):(\d{2})(?::(\d{2}))?$")


def exchange_ms(text: str) -> int:
    """ "00:42", "00:42:10" or "2d 03:00:00" (an exchange time, as the screens show it) in
    exchange milliseconds."""
    found = CLOCK.match(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an exchange time: write HH:MM or HH:MM:SS, as the screens show "
            'it ("2d 03:00:00" for a later day)'
        )
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    if minutes > 59 or seconds > 59:
        raise argparse.ArgumentTypeError(f"{text!r}: minutes and seconds run to 59")
    return (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000


def _speed(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not value.is_finite() or value <= 0 or value > 10_000:
        raise argparse.ArgumentTypeError("speed must be above 0 and at most 10000")
    return value


def main(argv: list[str]) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="perptui replay", description=__doc__,
                                     formatter_class=raw)  # fmt: skip
    parser.add_argument("--db", type=Path, default=None,
                        help="the session's store (default: the paper market's)")  # fmt: skip
    parser.add_argument("--account", help="the account to watch first (default: yours)")
    parser.add_argument("--from", dest="start", type=exchange_ms, default=None,
                        help="start at this exchange time, HH:MM[:SS]")  # fmt: skip
    parser.add_argument("--speed", type=_speed, default=Decimal(1),
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
    if args.account is not None and args.account not in replay.ex.accounts():
        replay.play_until(replay.end_ms)  # accounts created later in the session count too
        known = [a for a in replay.ex.accounts() if not a.startswith("bot-")]
        replay.close()
        print(f"perptui replay: error: no account {args.account!r} in {db} (its accounts: "
              f"{', '.join(known) or 'none'})", file=sys.stderr)  # fmt: skip
        return 2
    started = time.monotonic()
    if args.start is not None:
        print(f"replaying {db} to {args.start // 1000} s of exchange time…", file=sys.stderr)
        replay.play_until(args.start)
        print(f"  there in {time.monotonic() - started:.1f} s", file=sys.stderr)
    else:
        replay.play_until(replay.next_time_ms() or 0)  # the session's first moment
    from perptui.app import PerpApp
    from perptui.keys import check_keymap
    from perptui.venues.replay import ReplayVenue

    venue = ReplayVenue(replay, account=args.account, speed=args.speed)
    settings = load_settings()
    check_keymap(settings)
    app = PerpApp(venue, settings)
    app.run()
    return app.return_code or 0
