"""`exchange-local`: the exchange's command line (benchmarks, ledger export, scenarios, the
class server and its admin).

Why `ledger` reads the store directly: constructing an Exchange restores the engine and writes a
snapshot on close, so an export would modify the very file it reports on. The export opens the
store read-only (store.LedgerReader) and works even while an exchange has it open.
"""

from __future__ import annotations

import argparse
import csv
import decimal
import io
import math
import os
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any, TextIO

from exchange_local.clock import seconds_to_ms
from exchange_local.config import ExchangeConfig
from exchange_local.errors import ExchangeError, StoreError
from exchange_local.ledger import LedgerEntry, readable_ref
from exchange_local.money import USD_QUANTUM, decimals_of
from exchange_local.store import LedgerReader

CSV_COLUMNS = ("txid", "time", "type", "asset", "amount", "balance", "ref")
RIGHT_ALIGNED = {"txid", "time", "amount", "balance"}  # numbers line up on their last digit
LIST_ACCOUNTS = 20  # an unknown account's error names this many of the store's accounts
MAX_MS = 2**63 - 1  # SQLite's largest integer: no exchange time can be later


class CliError(Exception):
    """A refusal the user can act on: printed as one line on stderr, no traceback."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and option; apart from main so a test can check each one's help."""
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
    ledger = sub.add_parser(
        "ledger",
        help="export an account's ledger from a durable store (read-only)",
        description="Print an account's ledger legs with the balance after each, or write them "
        "as CSV (txid,time,type,asset,amount,balance,ref; time in exchange seconds, amounts as "
        "exact decimals with every decimal place of their asset: USD 6, BTC 8). The store is "
        "opened read-only and never modified.",
        epilog="Exit status: 0 done; 1 the store, account or CSV file cannot be used; "
        "2 bad options.",
    )
    ledger.add_argument(
        "--db",
        required=True,
        metavar="PATH",
        type=os.path.expanduser,
        help="the exchange's SQLite store",
    )
    ledger.add_argument("--account", required=True, metavar="NAME", help="the account to export")
    ledger.add_argument(
        "--csv", metavar="FILE", help="write CSV to FILE ('-': standard output) instead of a table"
    )
    ledger.add_argument("--since", metavar="S", help="only legs at or after S exchange seconds")
    ledger.add_argument("--until", metavar="S", help="only legs at or before S exchange seconds")
    scenario = sub.add_parser(
        "scenario",
        help="run a teaching scenario headless and print its timeline",
        epilog="Exit status: 0 every invariant held; 1 one failed; 2 bad options.",
    )
    scenario.add_argument("name", nargs="?", help="the scenario (see --list)")
    scenario.add_argument("--list", action="store_true", help="describe each scenario")
    scenario.add_argument("--seed", type=int, default=1, help="the seed (same seed, same run)")
    scenario.add_argument("--speed", type=float, default=None, metavar="X",
                          help="pace to X times real time and print each row as it happens "
                          "(default: full speed, the timeline at the end)")  # fmt: skip
    scenario.add_argument("--report", action="store_true", help="add a per-account report")
    params = sub.add_parser(
        "risk-params",
        help="suggested max leverage, OI caps and weights beside the configured ones",
        description="Runs the default living market for --minutes of exchange time, then "
        "prints what the dynamic risk formula (exchange_local/risk_params.py) suggests.",
    )
    params.add_argument("--minutes", type=int, default=60, help="exchange minutes to observe")
    params.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the observed market (same seed, same figures; default %(default)s)",
    )
    serve = sub.add_parser(
        "serve",
        help="run the exchange as a server (REST + WebSocket, shared/API.md) for a class",
        description="Opens (or creates) the exchange's store given with --db, which is durable; "
        "without --db the exchange lives in memory and is gone when the server stops. Starts "
        "the living market and serves /api/v1 until interrupted. On the first start it prints "
        "an admin key once.",
        epilog="Exit status: 0 stopped; 1 the store is in use or unusable; 2 bad options.",
    )
    # the defaults are shown with %(default)s: the README's URLs depend on the port
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s: loopback)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=8700,
        help="TCP port, 0 to 65535 (0: any free one; default %(default)s)",
    )
    serve.add_argument(
        "--db",
        metavar="PATH",
        type=os.path.expanduser,  # `--db=~/x` reaches us unexpanded by the shell
        help="the exchange's durable store, created if missing "
        "(default: in memory, lost when the server stops)",
    )
    serve.add_argument(
        "--scenario", default="calm", help="calm (the living market) or none (default %(default)s)"
    )
    serve.add_argument(
        "--speed",
        default="1",
        help="exchange seconds per real second, 0 to 1000 (0: paused; default %(default)s)",
    )
    serve.add_argument(
        "--seed", type=int, default=1, help="seed of a new store's market (default %(default)s)"
    )
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (prints a warning)"
    )
    serve.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="requests per second per key, above 0 (default %(default)g)",
    )
    serve.add_argument(
        "--burst",
        type=int,
        default=100,
        help="requests a key may make at once, at least 1 (default %(default)s)",
    )
    serve.add_argument(
        "--ws-per-address",
        type=int,
        default=32,
        help="WebSocket connections one client address may hold open, 0 for no limit "
        "(default %(default)s; a class behind one NAT address needs one per student)",
    )
    from exchange_local.server.admin_cli import add_parser as add_admin_parser

    add_admin_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "admin":
        from exchange_local.server.admin_cli import run as run_admin

        return run_admin(args)
    if args.command == "risk-params":
        return print_risk_params(args.minutes, args.seed)
    if args.command == "scenario":
        return run_scenario_command(args)
    if args.command == "bench":
        from exchange_local.bench import main as bench_main

        flags = ["--quick"] if args.quick else []
        flags += ["--smoke"] if args.smoke else []
        return bench_main(flags)
    if args.command == "ledger":
        try:
            return export_ledger(args.db, args.account, args.csv, args.since, args.until)
        except CliError as exc:
            print(f"exchange-local ledger: error: {exc}", file=sys.stderr)
            return exc.status
        except BrokenPipeError:
            # the reader of stdout went away (`| head`): stop quietly, as Unix tools do
            _quiet_stdout()
            return 1
    return 2


def run_serve(args: argparse.Namespace) -> int:
    """`exchange-local serve` (exchange_local/server/serve.py)."""
    from exchange_local.server.serve import serve

    try:
        speed = Decimal(args.speed)
    except ArithmeticError:
        speed = Decimal(-1)
    if not speed.is_finite() or not 0 <= speed <= 1000:
        print(
            "exchange-local serve: error: --speed must be a number from 0 to 1000", file=sys.stderr
        )
        return 2
    problem = _serve_option_problem(args.port, args.rate, args.burst, args.ws_per_address)
    if problem is not None:
        print(f"exchange-local serve: error: {problem}", file=sys.stderr)
        return 2
    return serve(args.host, args.port, args.db, args.scenario, speed, args.seed,
                 args.allow_remote, args.rate, args.burst,
                 ws_per_address=args.ws_per_address)  # fmt: skip


def _serve_option_problem(
    port: int, rate: float, burst: int, ws_per_address: int = 32
) -> str | None:
    """What is wrong with --port, --rate or --burst, naming the option and its range (the
    one line "bad --port, --rate or --burst" left the user to guess which); None if fine."""
    if not 0 <= port <= 65535:
        return f"--port must be from 0 to 65535 (0: any free port), got {port}"
    if not (math.isfinite(rate) and rate > 0):  # nan passed `rate <= 0` unnoticed
        return f"--rate must be a number of requests per second above 0, got {rate:g}"
    if burst < 1:
        return f"--burst must be at least 1 request, got {burst}"
    if ws_per_address < 0:
        return f"--ws-per-address must be 0 (no limit) or more, got {ws_per_address}"
    return None


def print_risk_params(minutes: int, seed: int) -> int:
    """`exchange-local risk-params`: observe a living market, print suggestion vs config."""
    from exchange_local.bots import BotSet, paper_config
    from exchange_local.config import ExchangeConfig
    from exchange_local.exchange import Exchange
    from exchange_local.feeds import RandomWalkFeed, attach

    if minutes < 2:
        print("exchange-local risk-params: error: --minutes must be at least 2", file=sys.stderr)
        return 2
    config = paper_config(ExchangeConfig(seed=seed))
    ex = Exchange(config)
    attach(ex, RandomWalkFeed.from_config(config, seed=seed))
    BotSet(seed=seed).attach(ex)
    ex.advance(minutes * 60)
    print(f"after {minutes} minutes of the living market (seed {seed}):")
    print(f"{'market':<10} {'daily vol':>9} {'depth 1 % USD':>14} {'max lev':>13} "
          f"{'OI cap USD':>31} {'weight (tot)':>19}")  # fmt: skip
    configured_weight = {a.symbol: a.weight_total for a in config.assets if a.collateral}
    for market in ex.markets():
        s = ex.risk_parameters(market)
        vol = f"{s.daily_vol:.2%}" if s.daily_vol is not None else "n/a"
        weight = f"{s.weight_total:.3f}" if s.weight_total is not None else "n/a"
        cfg = configured_weight.get(s.configured.underlying)  # none: not collateral (SOL)
        weight += f" (cfg {cfg:.3f})" if cfg is not None else " (not collateral)"
        print(f"{market:<10} {vol:>9} {s.depth_usd:>14,.0f} "
              f"{s.max_leverage:>5} (cfg {s.configured.max_leverage:>3}) "
              f"{s.oi_cap:>14,.0f} (cfg {s.configured.oi_cap:>11,.0f}) {weight:>19}")  # fmt: skip
    print("suggested values, with the configured ones in brackets; formula: see "
          "exchange_local/risk_params.py")  # fmt: skip
    return 0


def run_scenario_command(args: argparse.Namespace) -> int:
    """`exchange-local scenario`: the timeline, a summary, optionally a per-account report.

    With --speed each row is printed (and flushed) as it happens, so a person watches the
    lesson unfold; its event column is then EVENT_WIDTH wide, since the widest event is not
    known until the end. Without --speed the whole timeline is printed at the end, its
    columns fitted to its rows."""
    from exchange_local.scenarios import SCENARIOS

    if args.list:
        for line in _scenario_lines():
            print(line)
        return 0
    if args.name is None:  # said "unknown scenario None"
        print("exchange-local scenario: error: give a scenario name (or --list); scenarios:",
              file=sys.stderr)  # fmt: skip
        for line in _scenario_lines():
            print(f"  {line}", file=sys.stderr)
        return 2
    if args.name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        print(f"exchange-local scenario: error: unknown scenario {args.name!r}; "
              f"scenarios: {known}", file=sys.stderr)  # fmt: skip
        return 2
    if args.speed is not None and args.speed <= 0:
        print("exchange-local scenario: error: --speed must be positive", file=sys.stderr)
        return 2
    try:
        return _print_scenario(args)
    except BrokenPipeError:  # `| head`: the reader went away; stop quietly
        _quiet_stdout()
        return 1


def _scenario_lines() -> list[str]:
    """Each scenario's name and what it shows (`--list`, and a missing name's error)."""
    from exchange_local.scenarios import SCENARIOS

    return [f"{name:<10} {description}" for name, (description, _) in SCENARIOS.items()]


def _print_scenario(args: argparse.Namespace) -> int:
    """Run the scenario and print it (see run_scenario_command); the exit status."""
    from exchange_local.scenarios import (
        EVENT_WIDTH,
        Row,
        format_summary,
        format_timeline,
        run_scenario,
        timeline_header,
        timeline_line,
    )

    live = args.speed is not None
    print(f"scenario {args.name}, seed {args.seed}", flush=live)
    if live:
        print(timeline_header(EVENT_WIDTH), flush=True)

        def show(row: Row) -> None:
            print(timeline_line(row, EVENT_WIDTH), flush=True)

        result = run_scenario(args.name, seed=args.seed, speed=args.speed, on_row=show)
    else:
        result = run_scenario(args.name, seed=args.seed)
        print(format_timeline(result))
    print("\nsummary:")
    for line in format_summary(result):
        print(f"  {line}")
    if args.report and result.exchange is not None:
        ex = result.exchange
        print("\naccounts:")
        for account in ex.accounts():
            h = ex.health(account)
            sizes = ", ".join(f"{p.market} {p.size}" for p in h.positions) or "flat"
            print(f"  {account:<14} equity {h.equity:>16,.2f}  {h.status:<11} {sizes}")
    if result.problems:
        print("\ninvariants FAILED:")
        for problem in result.problems:
            print(f"  {problem}")
        return 1
    print("\ninvariants: all held")
    return 0


def _quiet_stdout() -> None:
    """After a broken pipe: stdout to /dev/null, so the exit's flush raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _seconds_option(value: str | None, option: str) -> int | None:
    """Exchange seconds from the command line as whole milliseconds, or a usage error."""
    if value is None:
        return None
    try:
        ms = seconds_to_ms(value, option)
    except ExchangeError as exc:
        raise CliError(str(exc), status=2) from None
    if not 0 <= ms <= MAX_MS:
        latest = Decimal(MAX_MS) / 1000
        raise CliError(f"{option} must be between 0 and {latest} exchange seconds, got {value}", 2)
    return ms


def export_ledger(
    db: str, account: str, csv_path: str | None, since: str | None, until: str | None
) -> int:
    """The `ledger` subcommand. Every refusal is a CliError (status 2 for bad options)."""
    since_ms = _seconds_option(since, "--since")
    until_ms = _seconds_option(until, "--until")
    if since_ms is not None and until_ms is not None and since_ms > until_ms:
        raise CliError(f"--since ({since}) is after --until ({until})", status=2)
    if csv_path not in (None, "-") and _same_file(csv_path, db):
        raise CliError(f"--csv {csv_path} is the store itself; choose another file")
    try:
        with LedgerReader(db) as reader:
            if not reader.has_account(account):
                raise CliError(f"there is no account {account!r} in {db}; {_known(reader)}")
            # legs before --since are read too: the final balances count them
            entries = reader.iter_entries(account, None, until_ms)
            text = AmountText(_asset_places(reader))
            if csv_path is None:
                _print_table(entries, since_ms, account, until, sys.stdout, text)
            elif csv_path == "-":
                _write_csv(entries, since_ms, sys.stdout, text)
            else:
                try:
                    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
                        rows = _write_csv(entries, since_ms, fh, text)
                except OSError as exc:
                    raise CliError(f"cannot write {csv_path}: {exc.strerror or exc}") from None
                print(f"wrote {rows} ledger rows of {account} to {csv_path}")
    except StoreError as exc:
        raise CliError(str(exc)) from None
    except sqlite3.Error as exc:
        raise CliError(f"{db} could not be read: {exc}") from None
    return 0


def _same_file(a: str, b: str) -> bool:
    """Whether writing `a` would overwrite `b` (links and relative paths included)."""
    return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)


def _known(reader: LedgerReader) -> str:
    names = reader.accounts()
    if not names:
        return "it holds no accounts"
    shown = ", ".join(names[:LIST_ACCOUNTS])
    more = f" and {len(names) - LIST_ACCOUNTS:,} more" if len(names) > LIST_ACCOUNTS else ""
    return f"accounts: {shown}{more}"


def _in_range(
    entries: Iterable[LedgerEntry], since_ms: int | None, final: dict[str, Decimal]
) -> Iterator[LedgerEntry]:
    """The entries at or after `since_ms`; `final` collects the last balance of every asset."""
    since = None if since_ms is None else Decimal(since_ms) / 1000
    for entry in entries:
        final[entry.asset] = entry.balance
        if since is None or entry.time >= since:
            yield entry


def _plain(value: Decimal) -> str:
    """Exact decimal text without exponent (1E-7 -> 0.0000001): what spreadsheets parse."""
    return format(value, "f")


CONFIG_CLASSES = frozenset(
    {
        ("exchange_local.config", "ExchangeConfig"),
        ("exchange_local.config", "AssetSpec"),
        ("exchange_local.config", "MarketSpec"),
        ("decimal", "Decimal"),
    }
)


class _ConfigOnly(pickle.Unpickler):
    """Unpickles the store's configuration and nothing else: an export only reads."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in CONFIG_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a configuration")
        return super().find_class(module, name)


def _asset_places(reader: LedgerReader) -> dict[str, int]:
    """Decimal places per asset: the store's own configuration (the defaults when it cannot
    be read), USD always at its quantum (MECHANICS section 0)."""
    assets = ExchangeConfig().assets
    try:
        row = reader.db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        if row is not None:
            assets = _ConfigOnly(io.BytesIO(bytes.fromhex(row[0]))).load().assets
    except (pickle.UnpicklingError, ValueError, AttributeError, TypeError, EOFError, IndexError):
        pass
    places = {a.symbol: a.decimals for a in assets}
    places["USD"] = decimals_of(USD_QUANTUM)
    return places


class AmountText:
    """Amounts and balances with every decimal place of their asset (USD: 6, BTC: 8), so a
    column reads the same on every row; never rounded (a value with more places keeps them)
    and never a negative zero. Assets the configuration does not name are printed exactly."""

    def __init__(self, places: dict[str, int]) -> None:
        self.places = dict(places)

    def __call__(self, asset: str, value: Decimal) -> str:
        places = self.places.get(asset)
        exponent = value.as_tuple().exponent
        if places is not None and isinstance(exponent, int) and exponent > -places:
            value = value.quantize(Decimal(1).scaleb(-places), context=EXACT)  # appends zeros
        if value.is_zero():
            value = value.copy_abs()
        return format(value, "f")


EXACT = decimal.Context(prec=1000, traps=[decimal.Inexact, decimal.InvalidOperation])


def _fields(entry: LedgerEntry, text: AmountText) -> list[str]:
    return [
        str(entry.txid),
        _plain(entry.time),
        entry.type,
        entry.asset,
        text(entry.asset, entry.amount),
        text(entry.asset, entry.balance),
        readable_ref(entry.ref),
    ]


def _write_csv(
    entries: Iterable[LedgerEntry], since_ms: int | None, out: TextIO, text: AmountText
) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    rows = 0
    for entry in _in_range(entries, since_ms, {}):
        writer.writerow(_fields(entry, text))
        rows += 1
    return rows


def _print_table(
    entries: Iterable[LedgerEntry],
    since_ms: int | None,
    account: str,
    until: str | None,
    out: TextIO,
    text: AmountText,
) -> None:
    final: dict[str, Decimal] = {}
    rows = [_fields(e, text) for e in _in_range(entries, since_ms, final)]
    if rows:
        table = [list(CSV_COLUMNS), *rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(CSV_COLUMNS))]
        for row in table:
            cells = [
                cell.rjust(width) if name in RIGHT_ALIGNED else cell.ljust(width)
                for name, cell, width in zip(CSV_COLUMNS, row, widths, strict=True)
            ]
            out.write("  ".join(cells).rstrip() + "\n")
    else:
        ranged = " in the range" if since_ms is not None or until is not None else ""
        out.write(f"no ledger entries for {account}{ranged}\n")
    when = f" at {until} s" if until is not None else ""
    out.write(f"\nfinal balance{when}:\n")
    if not final:
        out.write("  (none)\n")
    texts = {asset: text(asset, balance) for asset, balance in final.items()}
    asset_width = max((len(asset) for asset in texts), default=0)
    value_width = max((len(value) for value in texts.values()), default=0)
    for asset, value in texts.items():
        out.write(f"  {asset.ljust(asset_width)}  {value.rjust(value_width)}\n")


if __name__ == "__main__":
    sys.exit(main())
