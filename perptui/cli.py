"""`perptui` command line: the local paper market by default, a server with --connect.

Why the paper account lives in the user's data directory: a student's positions and ledger
must still be there tomorrow; `--memory` is for a throwaway session, `--db` for a named one.
"""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App

from perptui.settings import Settings, data_dir, load_settings
from perptui.venues.base import Venue

if TYPE_CHECKING:
    from perptui.venues.local import LocalVenue


def speed_argument(text: str) -> Decimal:
    """`--speed`: exchange seconds per real second, 0 (start still) to 10,000; one rule for
    the paper market, a demo and a replay, the one `+`/`-` keep to (speed_problem)."""
    from perptui.venues.local import speed_problem

    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"speed {text!r} is not a number") from None
    problem = speed_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def path_argument(text: str) -> Path:
    """A path from the command line with `~` expanded: after `--db=` the shell leaves it as
    it is, and `--db=~/x.sqlite` made a directory named `~` here."""
    return Path(text).expanduser()


def expand_db_paths(argv: list[str]) -> list[str]:
    """`--db PATH` and `--db=PATH` with `~` expanded, for the subcommands that parse their
    own arguments (perptui replay)."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg.startswith("--db="):
            arg = "--db=" + os.path.expanduser(arg[len("--db=") :])
        elif i > 0 and argv[i - 1] == "--db":
            arg = os.path.expanduser(arg)
        out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perptui",
        description="Terminal trading client for perpetual futures. With no arguments it opens "
        "a live local paper market with a funded paper account.",
        epilog="Also: perptui demo NAME (a teaching scenario; perptui demo --list), "
        "perptui replay (a recorded session played again; perptui replay --help) and "
        "perptui connect [URL] (a server, with the connect screen).",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--memory", action="store_true", help="keep the paper market in memory only")
    where.add_argument(
        "--db", type=path_argument, help="paper market store (default: in the data directory)"
    )
    where.add_argument(
        "--connect", metavar="URL", help="an exchange-local server, e.g. http://127.0.0.1:8700"
    )
    parser.add_argument("--key", help=f"API key for --connect (or ${KEY_ENV}, or --key-file)")
    parser.add_argument("--key-file", type=Path, help="a file holding the API key")
    wall = "the read-only wall view: mark, insurance fund, events, leaderboard"
    parser.add_argument("--projector", action="store_true", help=wall)
    parser.add_argument(
        "--reset", action="store_true", help="start the paper market afresh (asks first)"
    )
    parser.add_argument("--yes", action="store_true", help="answer yes to --reset's question")
    parser.add_argument(
        "--speed", type=speed_argument, default=Decimal(1), help="exchange seconds per real second"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of a new paper market")
    parser.add_argument("--market", help="market to show first (default: BTC-PERP)")
    real = parser.add_argument_group("Hyperliquid (read-only watch, or paper on real prices)")
    real.add_argument(
        "--venue", choices=("paper", "hyperliquid"), default="paper",
        help="hyperliquid: watch a real account read-only (needs --address)",
    )  # fmt: skip
    real.add_argument("--address", help="the Hyperliquid account to watch, 0x + 40 hex digits")
    real.add_argument("--testnet", action="store_true", help="Hyperliquid's testnet")
    real.add_argument(
        "--prices", choices=("walk", "hyperliquid"), default="walk",
        help="hyperliquid: a paper market on Hyperliquid's prices, stored like the local one "
        "(--memory, --db, --reset)",
    )  # fmt: skip
    return parser


KEY_ENV = "PERPTUI_KEY"


def read_key(args: argparse.Namespace) -> str | None:
    """The API key from --key, --key-file or $PERPTUI_KEY, so it need not be typed on a
    command line (where shell history and `ps` would keep it)."""
    if args.key:
        return str(args.key)
    if args.key_file:
        try:
            return args.key_file.read_text().strip() or None
        except OSError as problem:
            raise SystemExit(f"perptui: cannot read the key file: {problem}") from None
    return os.environ.get(KEY_ENV) or None


def default_db() -> Path:
    return data_dir() / "paper.sqlite"


def default_mirror_db(testnet: bool) -> Path:
    """The paper market on Hyperliquid's prices: its own store (testnet prices apart)."""
    return data_dir() / (
        "hyperliquid-testnet-paper.sqlite" if testnet else "hyperliquid-paper.sqlite"
    )


def reset_store(venue: LocalVenue, assume_yes: bool) -> bool:
    """Delete the venue's paper store after asking; False (said on stderr, nothing changed)
    when the user said no or it may not be deleted. The venue then holds the store's lock.

    Why the lock comes first: deleting a store another perptui or a server had open left
    it writing to deleted files, and the whole market was lost. Why only a paper market or
    an empty file is deleted: `--reset` replaced another program's database and deleted a
    text file, and a directory ended in a traceback."""
    from exchange_local.errors import StoreError
    from exchange_local.store import store_file_kind
    from perptui.venues.local import not_a_paper_market

    path = venue.db
    assert path is not None
    try:
        venue.hold_store()  # refuses a file that is not a paper market, too
    except StoreError as problem:
        print(f"perptui: {problem}", file=sys.stderr)
        return False
    kind = store_file_kind(str(path))  # again, now that no one else can be writing it
    if kind == "missing":
        return True
    if kind not in ("store", "empty"):
        venue.release_store()
        print(f"perptui: {not_a_paper_market(path)}", file=sys.stderr)
        return False
    if not assume_yes:
        if not sys.stdin.isatty():
            venue.release_store()
            print("perptui: --reset needs a yes; add --yes when there is no terminal to ask",
                  file=sys.stderr)  # fmt: skip
            return False
        answer = input(f"Delete the paper market in {path} (positions, ledger, everything)? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            venue.release_store()
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
    if args_list[:1] == ["replay"]:
        from perptui.replay import main as replay_main

        return replay_main(expand_db_paths(args_list[1:]))
    connect_screen = args_list[:1] == ["connect"]
    if connect_screen:
        args_list = ["--connect", *args_list[1:2]] if len(args_list) > 1 else []
    args = build_parser().parse_args(args_list)
    settings = load_settings()
    if settings.keymap:  # remaps Textual would drop or let clash: left out, said at start
        from perptui.keys import check_keymap

        check_keymap(settings)
    if args.prices == "hyperliquid" and args.venue == "paper" and not args.address:
        venue = _mirror_venue(args)
        if venue is None:
            return 1
    elif args.venue == "hyperliquid" or args.prices == "hyperliquid" or args.address:
        venue = _hyperliquid_venue(args)
        if venue is None:
            return 2
    elif connect_screen or args.connect:
        venue = _remote_venue(args, settings, ask=connect_screen)
        if venue is None:
            return 1
    else:
        from perptui.venues.local import LocalVenue

        if args.key or args.key_file:  # a key is for a server: never open paper silently
            print("perptui: --key and --key-file are for a server: add --connect URL, or "
                  "run `perptui connect`", file=sys.stderr)  # fmt: skip
            return 2
        db = None if args.memory else (args.db or default_db())
        venue = LocalVenue(db, speed=args.speed, seed=args.seed)
        if args.reset and db is not None and not reset_store(venue, args.yes):
            return 1
    if args.projector:
        from perptui.projector import ProjectorApp

        app: App[None] = ProjectorApp(venue, settings, market=args.market)
    else:
        from perptui.app import PerpApp

        app = PerpApp(venue, settings, market=args.market)
    app.run()
    if connect_screen or args.connect:
        _remember_if_connected(settings, venue)
    return app.return_code or 0


def _hyperliquid_venue(args: argparse.Namespace) -> Venue | None:
    """--venue hyperliquid (watch an account) or --prices hyperliquid (paper on real prices)."""
    from perptui.venues.hyperliquid import cli_venue

    try:
        return cli_venue(args.venue == "hyperliquid", args.prices == "hyperliquid", args.address,
                         args.testnet, args.seed)  # fmt: skip
    except ValueError as problem:
        print(f"perptui: {problem}", file=sys.stderr)
        return None


def _mirror_venue(args: argparse.Namespace) -> Venue | None:
    """--prices hyperliquid: the paper market on Hyperliquid's prices, in the data directory
    (--db PATH, --memory, --reset as for the local market)."""
    from perptui.venues.hyperliquid_mirror import HyperliquidPriceSource, MirrorVenue

    if args.connect:
        print("perptui: --prices hyperliquid is a local paper market; --connect is a server",
              file=sys.stderr)  # fmt: skip
        return None
    db = None if args.memory else (args.db or default_mirror_db(args.testnet))
    # a jump in the prices after a pause is held until the terminal asks: continue or reset
    venue = MirrorVenue(HyperliquidPriceSource(testnet=args.testnet), db=db, seed=args.seed)
    if args.reset and db is not None and not reset_store(venue, args.yes):
        return None
    return venue


def _remote_venue(args: argparse.Namespace, settings: Settings, ask: bool) -> Venue | None:
    """A RemoteVenue for --connect; the connect screen asks for what is missing."""
    from perptui.settings import remember_server
    from perptui.venues.remote import RemoteVenue

    url, key = args.connect, read_key(args)
    tested = False
    if ask or not url or not key:
        from perptui.screens.connect import ConnectApp

        choice = ConnectApp(settings, url or "", key or "").run()
        if choice is None:
            return None
        url, key, tested = choice.url, choice.key, True
    try:
        venue = RemoteVenue(url, key)
    except ValueError as problem:
        print(f"perptui: {problem}", file=sys.stderr)
        return None
    if tested:  # the connect screen reached it with this key: a server worth remembering
        remember_server(settings, venue.base_url)
    return venue


def _remember_if_connected(settings: Settings, venue: Venue) -> None:
    """A server goes into recent_servers only once it answered (it listed its markets): not
    an unreachable one, a wrong address or one that refused the key."""
    from perptui.settings import remember_server
    from perptui.venues.remote import RemoteVenue

    if isinstance(venue, RemoteVenue) and venue.markets():
        remember_server(settings, venue.base_url)


if __name__ == "__main__":
    sys.exit(main())
