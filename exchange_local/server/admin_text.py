"""The teacher's actions as sentences a class reads: the `text` of an AdminAction event and
the admin CLI's exchange times.

Why sentences on the server: an event's `detail` is data (`changed: true`, `canceled: []`),
and a client that prints it key by key showed `changed True` and `canceled , closed ,`; every
client can show `text` as it is. Exchange times are ms since the epoch on the wire (API.md);
a person reads them as a time of day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def clock(ms: int) -> str:
    """Exchange time as `HH:MM:SS UTC` (a fresh in-memory exchange starts at 00:00:00)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S UTC")


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _reset(who: str, d: dict[str, Any]) -> str:
    parts = [f"{who} reset {d.get('accountId')}'s account"]
    canceled = len(d.get("canceled") or [])
    if canceled:
        parts.append(f"{_count(canceled, 'order')} canceled")
    for c in d.get("closed") or []:
        takers = ", ".join(c.get("takenBy") or [])
        parts.append(
            f"{c.get('symbol')} {c.get('size')} closed at {c.get('px')} (taken by {takers})"
        )
    moved = d.get("moved") or {}
    if moved:
        parts.append("balances moved " + ", ".join(f"{a} {_signed(v)}" for a, v in moved.items()))
    return "; ".join(parts)


def _signed(value: Any) -> str:
    text = str(value)
    return text if text.startswith("-") else f"+{text}"


def sentence(who: str, action: str, d: dict[str, Any]) -> str:
    """One line for the events stream: what `who` (a key's name) did."""
    if action == "halt":
        state = "halted" if d.get("changed") else "was already halted"
        return f"{who}: {d.get('symbol')} {state} (only risk-reducing orders pass)"
    if action == "unhalt":
        if d.get("changed"):
            return f"{who} lifted the halt on {d.get('symbol')}: trading again"
        return f"{who}: {d.get('symbol')} was not halted (nothing changed)"
    if action == "reset_account":
        return _reset(who, d)
    if action == "adjust_balance":
        return (
            f"{who} adjusted {d.get('accountId')}'s {d.get('asset')} by "
            f"{_signed(d.get('amount'))}: the balance is now {d.get('balance')}"
        )
    if action == "deposit":
        return f"{who} deposited {d.get('amount')} {d.get('asset')} for {d.get('account')}"
    if action == "create_account":
        funded = ", ".join(f"{v} {a}" for a, v in (d.get("deposits") or {}).items())
        return f"{who} opened the account {d.get('account')}" + (
            f" with {funded}" if funded else ""
        )
    if action == "create_key":
        return f"{who} gave {d.get('account')} a key ({', '.join(d.get('scopes') or [])})"
    if action == "revoke_key":
        return f"{who} revoked the key {d.get('keyId')}"
    if action == "set_index":
        return f"{who} set the {d.get('asset')} index to {d.get('price')}"
    if action == "settle_market":
        return (
            f"{who} settled {d.get('symbol')} at {d.get('price')}: "
            f"{_count(int(d.get('positions') or 0), 'position')} closed; the market stays closed"
        )
    if action == "rollback":
        return f"{who} rolled back {_count(int(d.get('fills') or 0), 'fill')} of {d.get('symbol')}"
    if action == "pause":
        return f"{who} paused the class market"
    if action == "resume":
        return f"{who} resumed the class market"
    if action == "speed":
        return f"{who} set the clock's speed to {d.get('speed')}x"
    if action == "scenario":
        name = d.get("name")
        if name == "calm":
            if d.get("started"):
                return f"{who} started the living market (index walk and bots)"
            return f"{who}: the living market was already running"
        return f"{who} started the {name} lesson"
    if action == "stop_scenario":
        return f"{who} stopped the {d.get('name')} lesson"
    return f"{who}: {action.replace('_', ' ')}"
