"""`exchange-local admin`: accounts and keys for a class, and the teacher's actions during
class, offline on the store or online through a running server's admin API.

Why two paths: before class the instructor creates accounts on the store file (`--db`, the
server must not be running: the store has one writer); during class the server owns the
store, so `--url` and an admin key go through the admin API instead. Keys alone (`create-key`,
`list`, `revoke`) live in the key file, which may change while the server runs (on the
server's machine); they also work through `--url`, like every command that can reach a
server, for an instructor elsewhere. Online, `create-key` makes an account's read or trade
key only (the admin API's `POST /admin/accounts/{id}/keys`); a watch-only or admin key is
made on the key file. The teacher's actions (`reset`, `adjust`, `halt`, `unhalt`) work both
ways; `pause`, `resume` and `scenario` act on a running server's clock, so they are online
only. Offline actions (the teacher's, and creating accounts and keys and revoking keys) are
written to the audit log as `offline-cli`, at the store's exchange time like the server's
own rows; online ones by the server, with the admin key's name.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

ADMIN_KEY_ENV = "EXCHANGE_LOCAL_ADMIN_KEY"
OFFLINE_NAME = "offline-cli"  # the audit log's key name for an action on the store itself
BOTH_WAYS = ("reset", "adjust", "halt", "unhalt")
ONLINE_ONLY = ("pause", "resume", "scenario")
KEY_COMMANDS = ("create-key", "list", "revoke")  # the key file offline, the admin API online


def add_parser(sub: Any) -> None:
    admin = sub.add_parser(
        "admin",
        help="class accounts and API keys (keys are shown once, stored hashed)",
        epilog="Exit status: 0 done; 1 refused (the message says why); 2 bad options.",
    )
    cmds = admin.add_subparsers(dest="admin_command", required=True)
    create = cmds.add_parser("create-account", help="a funded account and its key")
    create.add_argument("name", help="the account's name (its key gets the same name)")
    create.add_argument(
        "--deposit",
        action="append",
        default=[],
        metavar="ASSET=AMOUNT",
        help="deposit (repeatable), e.g. USD=10000",
    )
    create.add_argument(  # one key, one scope: trade already reads
        "--scope",
        choices=("read", "trade"),
        default="trade",
        help="the key's scope: trade (reads and trades the account) or read (only reads it); "
        "default trade",
    )
    key_summary = (
        "another key: a read or trade key for an account, a watch-only read key (no "
        "--account) or an admin key (those two with --db only)"
    )
    key = cmds.add_parser("create-key", help=key_summary, description=key_summary[0].upper()
                          + key_summary[1:] + ".")  # fmt: skip
    key.add_argument("name", help="the key's name (admin list shows it; revoke takes it)")
    key.add_argument("--account", help="the account the key reads or trades (required with --url)")
    key.add_argument(
        "--scope",
        action="append",
        choices=("read", "trade", "admin"),
        required=True,
        help="read: watch the account (without --account: the market and leaderboard only); "
        "trade: read and trade the account; admin: the teacher's key (--db only)",
    )
    cmds.add_parser("list", help="every key (ids, names, accounts, scopes; never secrets)")
    revoke = cmds.add_parser("revoke", help="revoke a key by id or name")
    revoke.add_argument("key", help="the key's id, or the name of one live key")
    reset = cmds.add_parser(
        "reset",
        help="start a student's account again: orders canceled, positions handed to the "
        "backstop providers at the mark, balances set to --deposit (the ledger keeps the past)",
    )
    reset.add_argument("name", help="the student's account")
    reset.add_argument(
        "--deposit",
        action="append",
        required=True,
        metavar="ASSET=AMOUNT",
        help="the balance after the reset (repeatable), e.g. USD=10000; every other asset "
        "goes to 0 (required: USD=0 leaves the account empty, on purpose)",
    )
    adjust = cmds.add_parser("adjust", help="add to or take from one balance (signed amount)")
    adjust.add_argument("name", help="the account")
    adjust.add_argument("asset", help="e.g. USD or BTC")
    adjust.add_argument("amount", help="e.g. 500 or -250.5")
    halt = cmds.add_parser("halt", help="halt a market: only risk-reducing orders pass")
    unhalt = cmds.add_parser("unhalt", help="lift a market's halt")
    for p in (halt, unhalt):
        p.add_argument("symbol", help="e.g. BTC-PERP")
    cmds.add_parser("pause", help="pause the class market's clock (online)")
    cmds.add_parser("resume", help="resume the class market's clock (online)")
    scenario = cmds.add_parser(
        "scenario",
        help="run a scenario on the live class market (online): crash, gap, funding, "
        "volatility, calm; 'status' shows the running one, 'stop' stops it",
    )
    scenario.add_argument(
        "scenario",
        choices=("crash", "gap", "funding", "volatility", "calm", "status", "stop"),
        help="the lesson to start, or status or stop",
    )
    scenario.add_argument("--asset", help="crash, gap, volatility: the underlying (default BTC)")
    scenario.add_argument("--symbol", help="funding: the market (default BTC-PERP)")
    scenario.add_argument("--minutes", type=int, help="funding, volatility: how long (default 15)")
    scenario.add_argument("--after", type=int, help="crash: seconds to the second fall (120)")
    scenario.add_argument("--fraction", help="gap: the jump, e.g. -0.2 (default -0.10)")
    scenario.add_argument("--swing", help="volatility: the first swing (default 0.002)")
    both_ways = (create, key, cmds.choices["list"], revoke, reset, adjust, halt, unhalt)
    for p in both_ways:
        p.add_argument(
            "--db", metavar="PATH", type=os.path.expanduser, help="the exchange's store (offline)"
        )
    for name in ONLINE_ONLY:  # taken, then refused with why (argparse said only
        # "unrecognized arguments: --db"): the clock they act on runs in a server
        cmds.choices[name].add_argument(
            "--db", metavar="PATH", type=os.path.expanduser, help=argparse.SUPPRESS
        )
    for p in (*both_ways, *(cmds.choices[n] for n in ONLINE_ONLY)):
        p.add_argument("--url", help="a running server (online), e.g. http://127.0.0.1:8700")
        p.add_argument(
            "--key", dest="admin_key", help=f"admin key for --url (or set {ADMIN_KEY_ENV})"
        )


def online_options(args: argparse.Namespace) -> str:
    """What an online command lacks besides its server: `--url` when a key is given (--key,
    or EXCHANGE_LOCAL_ADMIN_KEY standing in for it), else `--url and --key`. With the
    variable set, "give --url and --key" read as if the key were missing too."""
    has_key = getattr(args, "admin_key", None) or os.environ.get(ADMIN_KEY_ENV)
    return "--url" if has_key else "--url and --key"


def _deposits(items: list[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            value = Decimal(-1)
        if not sep or not asset or not value.is_finite():
            raise SystemExit(f"exchange-local admin: error: --deposit {item!r} is not ASSET=AMOUNT")
        if value <= 0:  # "is not ASSET=AMOUNT" said nothing of the sign
            raise SystemExit(
                f"exchange-local admin: error: --deposit {item!r}: the amount must be above 0 "
                "(to take money away: exchange-local admin adjust NAME ASSET -AMOUNT)"
            )
        out[asset.upper()] = out.get(asset.upper(), Decimal(0)) + value
    return out


def run(args: argparse.Namespace) -> int:
    """An admin command. A store (or key file) given with --db that cannot be used is one
    line on stderr naming the path, and status 1 (no traceback)."""
    import sqlite3

    from exchange_local.errors import StoreError
    from exchange_local.server.serve import check_store_path, open_key_store, store_problem

    db = getattr(args, "db", None)
    offline = bool(db) and not getattr(args, "url", None)
    if offline and args.admin_command in ONLINE_ONLY:  # status 2: bad options
        print(f"exchange-local admin {args.admin_command}: error: give "
              f"{online_options(args)}, not --db (it acts on a running server's clock)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        if offline and db is not None:
            check_store_path(db)
            if args.admin_command != "create-account":
                _existing_store(db)  # keys beside a typo or a stranger's file: no server reads them
            open_key_store(db).close()  # a bad key file is refused before the store changes
        return _run(args)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        raise
    except (StoreError, sqlite3.Error, OSError) as exc:
        if not offline or isinstance(exc, BrokenPipeError):
            raise
        print(
            f"exchange-local admin {args.admin_command}: error: {store_problem(db, exc)}",
            file=sys.stderr,
        )
        return 1


def _existing_store(db: str) -> None:
    """StoreError unless `db` is an exchange store (or a class's key file is already there):
    `admin create-key --db typo.sqlite` printed a "shown once" key into a new key file beside
    nothing, which no server would ever read, and `list` showed an empty list as if fine."""
    import os

    from exchange_local.errors import StoreError
    from exchange_local.server.keys import keys_path
    from exchange_local.store import open_validated

    if os.path.exists(db) and os.path.getsize(db) > 0:
        open_validated(db).close()  # "is not an exchange store", "was written by schema ..."
    elif not os.path.exists(keys_path(db)):
        raise StoreError(
            f"there is no store at {db}: check the path (exchange-local serve --db or admin "
            "create-account --db creates one)"
        )


def _run(args: argparse.Namespace) -> int:
    from exchange_local.server.serve import open_key_store

    cmd = args.admin_command
    if cmd == "create-account" and getattr(args, "url", None):
        return _create_online(args)
    if cmd in KEY_COMMANDS and getattr(args, "url", None):
        return _keys_online(args)
    if cmd in BOTH_WAYS + ONLINE_ONLY:
        from exchange_local.server.admin_actions import run_action

        return run_action(args)
    if not args.db:
        raise SystemExit(
            f"exchange-local admin {cmd}: error: give --db PATH or {online_options(args)}"
        )
    if cmd != "create-account":
        keys = open_key_store(args.db)
        try:
            if cmd == "list":
                for k in keys.all():
                    print(_key_line(k.key_id, k.name, k.account, k.scopes, bool(k.revoked_ms)))
                return 0
            if cmd == "revoke":
                rows = [(k.key_id, k.name, k.revoked_ms is None) for k in keys.all()]
                key_id = _one_live_key(rows, args.key)
                if key_id is None or not keys.revoke(key_id):
                    return 1
                keys.audit(exchange_time_ms(args.db), OFFLINE_NAME, "revoke_key", {"keyId": key_id})
                print(f"revoked {args.key}")
                return 0
            try:
                secret, record = keys.create(args.name, args.account, args.scope)
            except ValueError as exc:
                print(f"exchange-local admin create-key: error: {exc}", file=sys.stderr)
                return 2
            detail = {
                "account": args.account,
                "keyId": record.key_id,
                "scopes": sorted(record.scopes),
            }
            keys.audit(exchange_time_ms(args.db), OFFLINE_NAME, "create_key", detail)
            print(
                f"key {record.key_id} ({','.join(sorted(record.scopes))}) for "
                f"{record.account or 'no account'}; shown once:\n{secret}"
            )
            return 0
        finally:
            keys.close()
    return _create_offline(args)


def _create_offline(args: argparse.Namespace) -> int:
    from exchange_local.errors import ExchangeError
    from exchange_local.server.market import deposit_refusal
    from exchange_local.server.serve import (
        StoreLocked,
        open_class_store,
        open_key_store,
        store_lock,
    )

    deposits = _deposits(args.deposit)
    try:
        with store_lock(args.db):
            ex, keys = open_class_store(args.db)  # a bad key file: refused before any change
            keys.close()
            try:
                refusal = deposit_refusal(ex, deposits)  # before anything is stored
                if refusal is not None:
                    print(f"exchange-local admin: error: {refusal}", file=sys.stderr)
                    return 1
                ex.create_account(args.name)
                for asset, amount in deposits.items():
                    ex.deposit(args.name, asset, amount)
                created_ms = ex.now_ms
            except ExchangeError as exc:
                print(f"exchange-local admin: error: {exc}", file=sys.stderr)
                return 1
            finally:
                ex.close()
    except StoreLocked:
        print(
            f"exchange-local admin: error: a server has {args.db} open; create the account "
            f"through it: --url http://HOST:PORT --key ADMINKEY",
            file=sys.stderr,
        )
        return 1
    keys = open_key_store(args.db)
    try:
        secret, record = keys.create(args.name, args.name, [args.scope])
        detail = {"account": args.name, "deposits": deposits, "scopes": sorted(record.scopes)}
        keys.audit(created_ms, OFFLINE_NAME, "create_account", detail)
    finally:
        keys.close()
    print(_created_line(args.name, deposits, record.key_id, sorted(record.scopes), secret))
    return 0


def _created_line(
    name: str, deposits: dict[str, Decimal], key_id: str, scopes: list[str], secret: str
) -> str:
    """What `create-account` prints, offline and online alike (online left out the
    deposits), so a script reads the same lines either way."""
    funded = ", ".join(f"{v} {k}" for k, v in deposits.items()) or "nothing"
    return (f"account {name} (deposited {funded}); key {key_id} ({','.join(scopes)}), "
            f"shown once:\n{secret}")  # fmt: skip


def exchange_time_ms(db: str) -> int:
    """The store's exchange time (its latest journaled command or snapshot) for an audit row
    of a key change, read without writing, so it works while a server runs; the wall clock
    when there is no store (yet). The server's audit rows are at exchange time too."""
    import sqlite3
    import time

    from exchange_local.errors import StoreError
    from exchange_local.store import LedgerReader

    latest = None
    try:
        with LedgerReader(db) as reader:
            latest = reader.db.execute(
                "SELECT MAX(t) FROM (SELECT MAX(time_ms) AS t FROM journal "
                "UNION ALL SELECT MAX(time_ms) FROM snapshots)"
            ).fetchone()[0]
    except (StoreError, sqlite3.Error, OSError):
        pass
    return int(latest) if latest is not None else int(time.time() * 1000)


def call_admin(
    args: argparse.Namespace,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    timeout: float,
    expect: int | None = None,
) -> dict[str, Any] | None:
    """One admin API call for --url: the answer's JSON, or None after printing why it failed
    (`expect`: the one status that counts as success; otherwise anything below 400)."""
    import httpx

    admin_key = args.admin_key or os.environ.get(ADMIN_KEY_ENV)
    if not admin_key:
        raise SystemExit(f"exchange-local admin: error: --url needs --key or {ADMIN_KEY_ENV}")
    try:
        r = httpx.request(
            method,
            f"{args.url.rstrip('/')}/api/v1/admin{path}",
            json=body,
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        print(f"exchange-local admin: error: {args.url}: {exc}", file=sys.stderr)
        return None
    data = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    failed = r.status_code != expect if expect is not None else r.status_code >= 400
    if failed:
        print(f"exchange-local admin: error: {data.get('detail') or r.text}", file=sys.stderr)
        return None
    return data


def _create_online(args: argparse.Namespace) -> int:
    amounts = _deposits(args.deposit)
    deposits = {k: format(v, "f") for k, v in amounts.items()}
    body = {"name": args.name, "deposits": deposits, "scopes": [args.scope]}
    data = call_admin(args, "POST", "/accounts", body, timeout=10, expect=201)
    if data is None:
        return 1
    scopes = sorted(data["scopes"])
    print(_created_line(data["accountId"], amounts, data["keyId"], scopes, data["apiKey"]))
    return 0


def _keys_online(args: argparse.Namespace) -> int:
    """`create-key`, `list` and `revoke` through a running server's admin API, printing what
    the offline path prints, so a script reads the same lines either way.

    Why `create-key` needs `--account` here: the API creates an account's read or trade key
    only (an admin key over the network, or one reading every account, is the key file's
    owner's to make); refused before any call, status 2 as a bad option. `revoke` takes an
    id or a name, as offline: the name is looked up in the key list, then each live key of
    it is revoked by id."""
    from urllib.parse import quote

    cmd = args.admin_command
    if cmd == "create-key":
        if not args.account or "admin" in args.scope:
            raise SystemExit(
                "exchange-local admin create-key: error: with --url a key is an account's "
                "(--account NAME, scope read or trade); a watch-only or admin key is made on "
                "the key file: --db PATH (a running server picks it up)"
            )
        body = {"name": args.name, "scopes": sorted(set(args.scope))}
        path = f"/accounts/{quote(args.account, safe='')}/keys"  # a name, never more path
        data = call_admin(args, "POST", path, body, timeout=10, expect=201)
        if data is None:
            return 1
        print(
            f"key {data['keyId']} ({','.join(data['scopes'])}) for {data['accountId']}; "
            f"shown once:\n{data['apiKey']}"
        )
        return 0
    listing = call_admin(args, "GET", "/keys", None, timeout=10)
    if listing is None:
        return 1
    rows = listing["keys"]
    if cmd == "list":
        for k in rows:
            print(_key_line(k["keyId"], k["name"], k["accountId"], k["scopes"],
                            bool(k["revokedAt"])))  # fmt: skip
        return 0
    key_id = _one_live_key(
        [(k["keyId"], k["name"], k["revokedAt"] is None) for k in rows], args.key
    )
    if key_id is None:
        return 1
    if call_admin(args, "DELETE", f"/keys/{quote(key_id, safe='')}", None, 10) is None:
        return 1
    print(f"revoked {args.key}")
    return 0


def _key_line(
    key_id: str, name: str, account: str | None, scopes: Iterable[str], revoked: bool
) -> str:
    """One row of `admin list`, the same offline (the key file) and online (the admin API)."""
    state = "revoked" if revoked else "live"
    return f"{key_id}  {name:<20} {account or '-':<20} {','.join(sorted(scopes)):<16} {state}"


def _one_live_key(rows: list[tuple[str, str, bool]], typed: str) -> str | None:
    """The id of the one live key `typed` names, from (id, name, live) rows, either way; None
    (said on stderr) when none or several do. An id wins over names: a student's account
    may be called what another key's id is, and names need not be unique (`revoke dave`
    revoked dave's key and eve's read key named dave, and `revoke <carol's id>` carol's key
    and the account's of that name)."""
    live = [(key_id, name) for key_id, name, is_live in rows if is_live]
    if any(key_id == typed for key_id, _ in live):
        return typed
    named = [key_id for key_id, name in live if name == typed]
    if len(named) == 1:
        return named[0]
    if named:
        print(f"exchange-local admin revoke: error: {len(named)} live keys are named "
              f"{typed!r} ({', '.join(named)}); revoke one by its id", file=sys.stderr)  # fmt: skip
    else:
        print(f"exchange-local admin revoke: error: no live key {typed!r}", file=sys.stderr)
    return None
