"""`perptui` command line: the local paper market by default, a server with --connect.

Why the paper account lives in the user's data directory: a student's positions and ledger
must still be there tomorrow; `--memory` is for a throwaway session, `--db` for a named one.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from perptui.settings import data_dir, load_settings


def _speed(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    if not value.is_finite() or value < 0 or value > 10_000:
        raise argparse.ArgumentTypeError("speed must be between 0 and 10000")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perptui",
        description="Terminal trading client for perpetual futures. With no arguments it opens "
        "a live local paper market with a funded paper account.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--memory", action="store_true", help="keep the paper market in memory only")
    where.add_argument(
        "--db", type=Path, help="paper market store (default: in the data directory)"
    )
    where.add_argument(
        "--connect", metavar="URL", help="an exchange-local server, e.g. http://127.0.0.1:8700"
    )
    parser.add_argument("--key", help="API key for --connect")
    parser.add_argument(
        "--reset", action="store_true", help="start the paper market afresh (asks first)"
    )
    parser.add_argument("--yes", action="store_true", help="answer yes to --reset's question")
    parser.add_argument(
        "--speed", type=_speed, default=Decimal(1), help="exchange seconds per real second"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of a new paper market")
    parser.add_argument("--market", default="BTC-PERP", help="market to show first")
    return parser


def default_db() -> Path:
    return data_dir() / "paper.sqlite"


def reset_store(path: Path, assume_yes: bool) -> bool:
    """Delete the paper store after asking; False when the user said no."""
    if not path.exists():
        return True
    if not assume_yes:
        if not sys.stdin.isatty():
            print("perptui: --reset needs a yes; add --yes when there is no terminal to ask",
                  file=sys.stderr)  # fmt: skip
            return False
        answer = input(f"Delete the paper market in {path} (positions, ledger, everything)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("kept it")
            return False
    for suffix in ("", "-wal", "-shm", ".perptui.json"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["demo"]:
        from perptui.demo import main as demo_main

        return demo_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    settings = load_settings()
    from perptui.app import PerpApp

    if args.connect:
        if not args.key:
            print("perptui: --connect needs --key (ask your teacher for one)", file=sys.stderr)
            return 2
        try:
            from perptui.venues.remote import RemoteVenue
        except ImportError:
            print("perptui: the remote venue is not available in this build", file=sys.stderr)
            return 2
        venue = RemoteVenue(args.connect, args.key)
    else:
        from perptui.venues.local import LocalVenue

        db = None if args.memory else (args.db or default_db())
        if args.reset and db is not None and not reset_store(db, args.yes):
            return 1
        venue = LocalVenue(db, speed=args.speed, seed=args.seed)  # type: ignore[assignment]
    PerpApp(venue, settings, market=args.market).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
