"""`perptui demo NAME`: a teaching scenario in the terminal, on a clock you can speed up or pause.

Keys as in the paper market, plus: `+`/`-` speed, `p` pause, `w` watch the lesson's next
account; the events tab follows every liquidation stage.
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from exchange_local.scenarios import SCENARIOS
from perptui.cli import speed_argument
from perptui.settings import load_settings


def build_parser() -> argparse.ArgumentParser:
    """`--speed` takes the paper market's and the replay's rule (speed_argument): a bare
    Decimal let "abc" and "nan" crash with a traceback and "inf" freeze the lesson."""
    parser = argparse.ArgumentParser(prog="perptui demo", description=__doc__)
    parser.add_argument("name", nargs="?", choices=sorted(SCENARIOS))
    parser.add_argument("--list", action="store_true", help="describe each scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=speed_argument, default=Decimal(5),
                        help="exchange seconds per real second (default 5)")  # fmt: skip
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if args.list or args.name is None:
        for name, (description, _) in SCENARIOS.items():
            print(f"{name:<11} {description}")
        return 0 if args.list else 2
    from perptui.app import PerpApp
    from perptui.keys import check_keymap
    from perptui.venues.demo import DemoVenue

    venue = DemoVenue(args.name, seed=args.seed, speed=args.speed)
    settings = load_settings()
    check_keymap(settings)  # as the paper market does: a bad remap is said, not silently lost
    app = PerpApp(venue, settings)
    app.run()
    return app.return_code or 0
