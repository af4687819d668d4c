"""An `Idempotency-Key` is journaled with the command it guards (exchange_local/once.py).

The crash this is about: the server wrote the key's record to its key store after the engine
had committed the withdrawal, so a `kill -9` between the two left the withdrawal done and the
key unknown, and the client's retry withdrew again. Here the restarted server gets a key store
that never heard of the key (what that crash left) and must still answer the retry as a replay.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, InvalidRequest
from exchange_local.server import create_app
from exchange_local.server.keys import KeyStore, keys_path
from tests.test_server_support import Class

D = Decimal
BTC = "BTC-PERP"


def durable_class(db: str, secrets: dict[str, str] | None = None) -> Class:
    """alice and a backstop provider on a durable exchange with an admin and a trade key. A
    restart (`secrets` given) keeps the keys but empties the key store's request records:
    what a crash between the engine's commit and that record's write left before."""
    keys = KeyStore(keys_path(db))
    if secrets is None:
        ex = Exchange(ExchangeConfig(mark_source="index", backstop_accounts=("blp",)), store=db)
        for name in ("alice", "blp", "mm"):
            ex.create_account(name)
            ex.deposit(name, "USD", D(1_000_000))
        ex.deposit("alice", "BTC", D(1))
        ex.place_order("mm", BTC, "sell", D(1), price=D(100_100))
        ex.place_order("alice", BTC, "buy", D("0.5"), type="market")
        secrets = {}
        secrets["alice"], _ = keys.create("alice", "alice", ["trade"])
        secrets["admin"], _ = keys.create("admin", None, ["admin"])
    else:
        ex = Exchange(store=db)
        keys._db.execute("DELETE FROM idempotency")
    return Class(ex, keys, create_app(ex, keys, speed=0), dict(secrets))


# (who, method, path, body): each request a client may repeat with an Idempotency-Key
REQUESTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("alice", "POST", "/api/v1/withdrawals", {"asset": "USD", "amount": "100"}),
    ("alice", "POST", "/api/v1/converts", {"from": "BTC", "to": "USD", "amount": "0.1"}),
    ("alice", "PUT", f"/api/v1/leverage/{BTC}", {"leverage": 5}),
    ("admin", "POST", "/api/v1/admin/accounts/alice/deposit", {"asset": "USD", "amount": "7"}),
    ("admin", "POST", "/api/v1/admin/accounts/alice/adjust", {"asset": "USD", "amount": "-3"}),
    ("admin", "POST", "/api/v1/admin/accounts/alice/reset", {"deposits": {"USD": "5000"}}),
]


def alice(ex: Exchange) -> tuple[Any, ...]:
    """What any of the requests changes: balances, positions, leverage, ledger length."""
    return (
        ex.balances("alice"),
        [(p.market, p.size) for p in ex.health("alice").positions],
        ex.leverage("alice")[BTC],
        len(ex.ledger("alice")),
    )


@pytest.mark.parametrize(("who", "method", "path", "body"), REQUESTS, ids=lambda r: str(r))
async def test_a_retry_after_a_crash_is_a_replay(
    tmp_path: Path, who: str, method: str, path: str, body: dict[str, Any]
) -> None:
    db = str(tmp_path / "s.sqlite")
    c = durable_class(db)
    before = alice(c.ex)
    async with c.client() as http:
        headers = {**c.auth(who), "Idempotency-Key": "k-1"}
        first = await http.request(method, path, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    done = alice(c.ex)
    assert done != before
    secrets = c.key
    c.keys._db.close()
    del c  # no close(): the process died right after answering

    again = durable_class(db, secrets)
    assert alice(again.ex) == done  # the journal replayed the command once
    async with again.client() as http:
        headers = {**again.auth(who), "Idempotency-Key": "k-1"}
        retry = await http.request(method, path, json=body, headers=headers)
        assert retry.status_code == 200, retry.text
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json() == first.json()
        assert alice(again.ex) == done  # and the retry did nothing
    again.ex.close()


async def test_a_key_used_for_another_request_after_a_restart_is_a_conflict(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "s.sqlite")
    c = durable_class(db)
    async with c.client() as http:
        headers = {**c.auth("alice"), "Idempotency-Key": "w"}
        body = {"asset": "USD", "amount": "100"}
        assert (await http.post("/api/v1/withdrawals", json=body, headers=headers)).is_success
    secrets = c.key
    c.keys._db.close()
    del c
    again = durable_class(db, secrets)
    before = alice(again.ex)
    async with again.client() as http:
        headers = {**again.auth("alice"), "Idempotency-Key": "w"}
        body = {"asset": "USD", "amount": "99"}
        r = await http.post("/api/v1/withdrawals", json=body, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "IDEMPOTENCY_KEY_CONFLICT"
    assert alice(again.ex) == before
    again.ex.close()


async def test_a_refused_request_leaves_its_key_free(tmp_path: Path) -> None:
    """A refusal is not remembered: the corrected request may use the same key."""
    c = durable_class(str(tmp_path / "s.sqlite"))
    async with c.client() as http:
        headers = {**c.auth("alice"), "Idempotency-Key": "w"}
        too_much = {"asset": "USD", "amount": "99000000"}
        r = await http.post("/api/v1/withdrawals", json=too_much, headers=headers)
        assert r.json()["code"] == "INSUFFICIENT_BALANCE", r.text
        r = await http.post("/api/v1/withdrawals", json=too_much, headers=headers)
        assert r.json()["code"] == "INSUFFICIENT_BALANCE", r.text  # refused again, not replayed
        r = await http.post(
            "/api/v1/withdrawals", json={**too_much, "amount": "1"}, headers=headers
        )
        assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers
    c.ex.close()


async def test_records_in_the_key_store_of_an_earlier_version_are_honoured() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(1_000))
    keys = KeyStore()
    c = Class(ex, keys, create_app(ex, keys, speed=0))
    c.key["alice"], _ = keys.create("alice", "alice", ["trade"])
    async with c.client() as http:
        headers = {**c.auth("alice"), "Idempotency-Key": "old"}
        body = {"asset": "USD", "amount": "10"}
        first = await http.post("/api/v1/withdrawals", json=body, headers=headers)
        record = ex.request_record("alice", "old")
        assert record is not None
        fingerprint = record[0]
        keys.remember("alice", "idem", "legacy", fingerprint, 200, {"asset": "USD", "amount": "9"})
        headers["Idempotency-Key"] = "legacy"
        r = await http.post("/api/v1/withdrawals", json=body, headers=headers)
    assert r.headers["Idempotent-Replayed"] == "true" and r.json()["amount"] == "9"
    assert first.json()["amount"] == "10"
    assert ex.balances("alice")["USD"] == D(990)


def test_run_once_guards_only_the_requests_a_client_can_repeat() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(1_000))
    before = (ex.balances("alice"), len(ex.ledger("alice")))
    with pytest.raises(InvalidRequest, match="'advance' cannot be run once by key"):
        ex.run_once("alice", "k", "f", "advance", {"seconds": 60})
    assert ex.request_record("alice", "k") is None and ex.now_ms == 0
    args = {"account": "alice", "asset": "USD", "amount": D(10)}
    ex.run_once("alice", "k", "f", "withdraw", args)
    ex.run_once("alice", "k", "f", "withdraw", args)  # the guard of a replay: runs nothing
    assert ex.balances("alice")["USD"] == D(990)
    assert before[1] + 1 == len(ex.ledger("alice"))


def test_the_records_are_in_the_snapshot_too(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=db)
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(1_000))
    ex.run_once("alice", "k", "f", "withdraw", {"account": "alice", "asset": "USD", "amount": D(1)})
    ex.close()  # a final snapshot: the reopened exchange replays no journal
    again = Exchange(store=db)
    assert again.request_record("alice", "k") == ("f", None)
    again.close()
