"""The teacher's actions from the command line: `exchange-local admin reset | adjust | halt |
unhalt | pause | resume | scenario`.

Why one table of actions for both paths: online (`--url`, `--key`) each action is one admin
API call, logged by the server with the key's name; offline (`--db`, the server stopped) it is
the same facade command on the store, logged in the key file's audit log as `offline-cli`.
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from exchange_local.server.admin_cli import (
    BOTH_WAYS,
    OFFLINE_NAME,
    _deposits,
    call_admin,
    online_options,
)
from exchange_local.server.admin_text import clock
from exchange_local.server.market import check_adjustment
from exchange_local.server.schemas import DECIMAL_TEXT, shown
from exchange_local.server.wire import plain


def run_action(args: argparse.Namespace) -> int:
    cmd = args.admin_command
    if getattr(args, "url", None):
        return _online(args)
    if cmd not in BOTH_WAYS:
        raise SystemExit(
            f"exchange-local admin {cmd}: error: give {online_options(args)} (it acts on a "
            "running server's clock)"
        )
    if not getattr(args, "db", None):
        raise SystemExit(
            f"exchange-local admin {cmd}: error: give --db PATH or {online_options(args)}"
        )
    return _offline(args)


def _amount(text: str) -> str:
    """The amount as typed, if the admin API would take it: a plain decimal, no exponent
    (`1e3` was taken as 1000 here while the API refuses it)."""
    if not DECIMAL_TEXT.fullmatch(text):
        raise SystemExit(
            f"exchange-local admin adjust: error: {shown(text)} is not a plain decimal (ASCII "
            "digits 0-9, one optional point; at most 24 digits before it and 18 after; no "
            "exponent, spaces or newline)"
        )
    return text


def _segment(text: str, what: str) -> str:
    """What was typed as one path segment, refused if it cannot be one: `reset ../keys`
    answered "Method Not Allowed" and `halt x#y` "no endpoint POST .../markets/x", where the
    server now says which name or market it does not know."""
    if "/" in text or text in (".", ".."):
        raise SystemExit(
            f"exchange-local admin: error: {shown(text)} is not {what} (no '/', not '.' or '..')"
        )
    return quote(text, safe="")


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None]:
    """(method, path under /api/v1/admin, JSON body) of the action."""
    cmd = args.admin_command
    if cmd == "reset":
        deposits = {k: format(v, "f") for k, v in _deposits(args.deposit).items()}
        return (
            "POST",
            f"/accounts/{_segment(args.name, 'an account name')}/reset",
            {"deposits": deposits},
        )
    if cmd == "adjust":
        body = {"asset": args.asset.upper(), "amount": _amount(args.amount)}
        return "POST", f"/accounts/{_segment(args.name, 'an account name')}/adjust", body
    if cmd in ("halt", "unhalt"):
        return "POST", f"/markets/{_segment(args.symbol, 'a market symbol')}/{cmd}", None
    if cmd in ("pause", "resume"):
        return "POST", f"/{cmd}", None
    name = args.scenario
    if name == "status":
        return "GET", "/scenarios", None
    if name == "stop":
        return "DELETE", "/scenarios/current", None
    options = {
        "asset": args.asset.upper() if args.asset else None,
        "symbol": args.symbol,
        "minutes": args.minutes,
        "afterSeconds": args.after,
        "fraction": args.fraction,
        "swing": args.swing,
    }
    params = {k: v for k, v in options.items() if v is not None}
    return "POST", f"/scenarios/{name}", params or None


def _online(args: argparse.Namespace) -> int:
    method, path, body = _request(args)
    data = call_admin(args, method, path, body, timeout=30)
    if data is None:
        return 1
    print(describe(args.admin_command, data, body))
    return 0


def _offline(args: argparse.Namespace) -> int:
    from exchange_local.errors import ExchangeError
    from exchange_local.server.keys import KeyStore, keys_path
    from exchange_local.server.market import open_exchange
    from exchange_local.server.serve import StoreLocked, store_lock

    cmd = args.admin_command
    _, _, body = _request(args)  # options checked before the store is opened
    try:
        with store_lock(args.db):
            ex = open_exchange(args.db)
            try:
                data = _apply(ex, args, body or {})
            except ExchangeError as exc:
                print(f"exchange-local admin {cmd}: error: {exc}", file=sys.stderr)
                return 1
            finally:
                ex.close()
            keys = KeyStore(keys_path(args.db))
            try:
                keys.audit(ex.now_ms, OFFLINE_NAME, _AUDIT_NAMES[cmd], data)
            finally:
                keys.close()
    except StoreLocked:
        print(
            f"exchange-local admin {cmd}: error: a server has {args.db} open; act through it: "
            "--url http://HOST:PORT --key ADMINKEY",
            file=sys.stderr,
        )
        return 1
    print(describe(cmd, data, body))
    return 0


_AUDIT_NAMES = {"reset": "reset_account", "adjust": "adjust_balance", "halt": "halt",
                "unhalt": "unhalt"}  # fmt: skip


def _apply(ex: Any, args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    """The facade command of an offline action, answered in the admin API's shape."""
    cmd = args.admin_command
    if cmd == "reset":
        done = ex.reset_account(args.name, {k: Decimal(v) for k, v in body["deposits"].items()})
        return {
            "accountId": done.account,
            "canceled": [str(i) for i in done.canceled],
            "closed": [
                {"symbol": s, "size": plain(q), "px": plain(p), "takenBy": list(t)}
                for s, q, p, t in done.closed
            ],
            "moved": {a: plain(v) for a, v in done.moved.items()},
        }
    if cmd == "adjust":
        check_adjustment(ex, body["asset"], Decimal(body["amount"]))
        balance = ex.adjust_balance(args.name, body["asset"], Decimal(body["amount"]))
        return {
            "accountId": args.name,
            "asset": body["asset"],
            "amount": plain(Decimal(body["amount"])),  # as the API answers
            "balance": plain(balance),
        }
    halted = cmd == "halt"
    changed = ex.halt_market(args.symbol) if halted else ex.resume_market(args.symbol)
    return {"symbol": args.symbol, "reduceOnly": halted, "changed": changed}


def describe(cmd: str, data: dict[str, Any], body: dict[str, Any] | None = None) -> str:
    """One or a few lines a teacher reads after an action (`body`: what was asked)."""
    if cmd == "reset":
        parts = [f"reset {data['accountId']}: {len(data['canceled'])} orders canceled"]
        parts += [
            f"{c['symbol']} {c['size']} closed at {c['px']} (to {', '.join(c['takenBy'])})"
            for c in data["closed"]
        ]
        deposits = (body or {}).get("deposits") or {}
        now = ", ".join(f"{a} {v}" for a, v in deposits.items()) or "nothing"
        parts.append(f"balances now {now}")
        moved = [f"{a} {'+' if not str(v).startswith('-') else ''}{v}"
                 for a, v in data["moved"].items()]  # fmt: skip
        if moved:
            parts.append(f"moved {', '.join(moved)}")
        return "; ".join(parts)
    if cmd == "adjust":
        return f"{data['accountId']} {data['asset']} {data['amount']}: balance {data['balance']}"
    if cmd in ("halt", "unhalt"):
        state = "halted (only risk-reducing orders)" if data["reduceOnly"] else "trading"
        return f"{data['symbol']} {state}" + ("" if data["changed"] else " (already)")
    if cmd in ("pause", "resume"):
        state = "paused" if data["paused"] else f"running at speed {data['speed']}"
        already = "" if data.get("changed", True) else " (already)"
        return f"class market {state}{already}; exchange time {clock(data['serverTime'])}"
    current = data.get("current", data)
    if "droppedSteps" in data:
        dropped = len(data["droppedSteps"])
        return f"stopped {data['scenario']}; {dropped} step{'' if dropped == 1 else 's'} dropped"
    if current is None:
        # the server keeps the live scenario in memory: after a restart it knows of none,
        # though the steps run before it stay in effect (journaled commands)
        return (
            "no live scenario since this server started; steps run before a restart stay in effect"
        )
    if "remainingSteps" not in current:  # calm: the living market
        if data.get("started"):
            return "the living market (index walk and bots) started"
        return "the living market (index walk and bots) was already running; nothing changed"
    start = int(current["startedAt"])
    state = "running" if current["running"] else "done"
    if current.get("stoppedAt") is not None:  # "done" read as if it had run to its end
        state = f"stopped at {clock(int(current['stoppedAt']))}"
    lines = [f"scenario {current['name']} ({state}), started {clock(start)}"]
    lines += [
        f"  done {clock(row['ts'])} (+{(int(row['ts']) - start) // 1000} s): {row['step']}"
        for row in current["done"]
    ]
    return "\n".join(lines + _next_lines(current, start))


def _next_lines(current: dict[str, Any], start: int) -> list[str]:
    """The next steps with when they are due (the crash's -15 % leg had no time), a run of
    one label said once with its count and its last time (funding listed five identical
    lines)."""
    runs: list[list[Any]] = []  # [label, first due, last due, count]
    # a server from before remainingStepsAt: the labels alone, due "now" as far as we know
    dues = current.get("remainingStepsAt") or [start] * len(current["remainingSteps"])
    for label, due in zip(current["remainingSteps"], dues, strict=True):
        if runs and runs[-1][0] == label:
            runs[-1][2:] = [int(due), runs[-1][3] + 1]
        else:
            runs.append([label, int(due), int(due), 1])
    shown = [
        f"  next {clock(first)} (+{(first - start) // 1000} s): {label}"
        + (f" (x{count}, the last at +{(last - start) // 1000} s)" if count > 1 else "")
        for label, first, last, count in runs[:5]
    ]
    if len(runs) > 5:
        shown.append(f"  ... {sum(run[3] for run in runs[5:])} more steps")
    return shown
