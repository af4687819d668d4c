"""`exchange-local`: the exchange's command line (benchmarks now; server and scenarios later)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="exchange-local", description="A perpetual-futures paper exchange in one process."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser(
        "bench", help="measure throughput (same as python -m exchange_local.bench)"
    )
    bench.add_argument(
        "--quick", action="store_true", help="100,000 operations instead of 1,000,000"
    )
    bench.add_argument("--smoke", action="store_true", help="a tiny run that only proves it works")
    args = parser.parse_args(argv)
    if args.command == "bench":
        from exchange_local.bench import main as bench_main

        flags = ["--quick"] if args.quick else []
        flags += ["--smoke"] if args.smoke else []
        return bench_main(flags)
    return 2


if __name__ == "__main__":
    sys.exit(main())
