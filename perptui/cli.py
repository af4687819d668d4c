"""`perptui` command line.

The terminal UI itself is issue 7 and has not landed yet; until it does, `perptui` says so
plainly instead of pretending, and exits with status 2 so scripts do not mistake it for a run.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="perptui", description="Terminal perpetual-futures client"
    )
    parser.add_argument("--memory", action="store_true", help="keep the paper exchange in memory")
    parser.parse_args(argv)
    print(
        "perptui: the terminal UI has not landed yet; the paper exchange it will run on is "
        "ready in Python (see README.md, 'Using the exchange from Python').",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
