"""`exchange-local serve` and `exchange-local admin`: keys shown once and stored hashed, the
store's lock, the loopback rule, and the clock driver running the exchange in real time."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from exchange_local.cli import main
from exchange_local.server import create_app
from exchange_local.server.keys import KeyStore, hash_key, keys_path
from exchange_local.server.serve import StoreLocked, is_loopback, store_lock
from tests.test_server_support import live_server, make_class


def test_admin_offline_creates_lists_and_revokes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")
    args = [
        "admin",
        "create-account",
        "alice",
        "--deposit",
        "USD=10000",
        "--deposit",
        "btc=0.5",
        "--db",
        db,
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("elk_") and "10000 USD, 0.5 BTC" in out
    store = sqlite3.connect(keys_path(db))
    stored = store.execute("SELECT hash, account FROM api_keys").fetchall()
    assert stored == [(hash_key(secret), "alice")]
    assert secret not in Path(keys_path(db)).read_bytes().decode("latin-1")
    assert main(["admin", "create-account", "alice", "--db", db]) == 1  # already exists
    assert "already exists" in capsys.readouterr().err
    assert main(["admin", "create-account", "bob", "--deposit", "USD=-5", "--db", db]) == 2
    assert main(["admin", "create-account", "bob", "--deposit", "USD=0.0000001", "--db", db]) == 1
    assert "more decimals" in capsys.readouterr().err
    assert main(["admin", "create-key", "proj", "--scope", "read", "--db", db]) == 0
    assert main(["admin", "create-key", "t", "--scope", "trade", "--db", db]) == 2
    capsys.readouterr()
    assert main(["admin", "list", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "alice" in listing and "proj" in listing and "elk_" not in listing
    assert main(["admin", "revoke", "proj", "--db", db]) == 0
    assert main(["admin", "revoke", "proj", "--db", db]) == 1
    keys = KeyStore(keys_path(db))
    assert keys.lookup(secret) is not None and not keys.has_admin()
    keys.close()
    with store_lock(db):  # a running server holds this lock
        assert main(["admin", "create-account", "carol", "--db", db]) == 1
        assert "--url" in capsys.readouterr().err
        with pytest.raises(StoreLocked), store_lock(db):
            pass


def test_offline_accounts_and_keys_are_in_the_audit_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`create-account`, `create-key` and `revoke` with --db were missing from the audit log
    (reset, adjust and halt were there): now each is an `offline-cli` row at the store's
    exchange time, as the server writes its own; a refused one leaves no row."""
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "alice", "--deposit", "USD=10000", "--db", db]) == 0
    assert main(["admin", "create-key", "proj", "--scope", "read", "--db", db]) == 0
    key_id = re.findall(r"key ([0-9a-f]{8}) \(read\)", capsys.readouterr().out)
    assert len(key_id) == 1
    assert main(["admin", "create-key", "t", "--scope", "trade", "--db", db]) == 2  # refused
    assert main(["admin", "revoke", "proj", "--db", db]) == 0
    assert main(["admin", "revoke", "proj", "--db", db]) == 1  # no live key: nothing done
    with store_lock(db):  # keys also change while a server runs
        assert main(["admin", "create-key", "ta", "--scope", "read", "--db", db]) == 0
        assert main(["admin", "revoke", "ta", "--db", db]) == 0
    from exchange_local.server.market import open_exchange

    ex = open_exchange(db)
    now = ex.now_ms
    ex.close()
    keys = KeyStore(keys_path(db))
    audit = keys.audit_log()
    keys.close()
    assert [(a["keyName"], a["action"]) for a in audit] == [
        ("offline-cli", "revoke_key"),
        ("offline-cli", "create_key"),
        ("offline-cli", "revoke_key"),
        ("offline-cli", "create_key"),
        ("offline-cli", "create_account"),
    ]
    assert audit[2]["detail"] == {"keyId": key_id[0]}  # the id, as the server records it
    assert audit[3]["detail"] == {"account": None, "keyId": key_id[0], "scopes": ["read"]}
    assert audit[4]["detail"] == {
        "account": "alice",
        "deposits": {"USD": "10000"},
        "scopes": ["trade"],
    }
    assert {a["ts"] for a in audit} == {now}  # exchange time: the clock did not move


def test_serve_refuses_a_public_host_without_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    assert main(["serve", "--speed", "-1"]) == 2
    assert main(["serve", "--scenario", "cascade"]) == 2


def test_serve_runs_a_living_market(tmp_path: Path) -> None:
    db = str(tmp_path / "class.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange_local.cli", "serve", "--db", db, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("admin key (shown once; keep it): elk_"), first
        assert "serving" in proc.stdout.readline()
        with pytest.raises(StoreLocked), store_lock(db):
            pass
    finally:
        proc.terminate()
        proc.wait(20)
    keys = KeyStore(keys_path(db))
    assert keys.has_admin()
    keys.close()


async def test_the_clock_driver_advances_with_speed() -> None:
    c = make_class()
    app = create_app(c.ex, c.keys, speed=Decimal(50), tick_seconds=0.05)
    start = c.ex.now_ms
    with live_server(app) as live:
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            await asyncio.sleep(0.5)
            t = (await http.get("/api/v1/time")).json()
            assert not t["paused"] and t["speed"] == "50"
            assert 5_000 <= t["serverTime"] - start <= 60_000
            r = await http.post("/api/v1/admin/pause", headers=c.auth("admin"))
            paused_at = r.json()["serverTime"]
            await asyncio.sleep(0.2)
            assert (await http.get("/api/v1/time")).json()["serverTime"] - paused_at <= 2_000
            r = await http.put("/api/v1/admin/speed", json={"speed": "0"}, headers=c.auth("admin"))
            assert r.json()["paused"]


def test_teacher_actions_offline_on_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "alice", "--deposit", "USD=10000", "--db", db]) == 0
    assert main(["admin", "adjust", "alice", "usd", "-2500.5", "--db", db]) == 0
    assert "alice USD -2500.5: balance 7499.5" in capsys.readouterr().out
    assert main(["admin", "adjust", "alice", "USD", "-100000", "--db", db]) == 1
    assert "the balance is 7499.5" in capsys.readouterr().err
    assert main(["admin", "adjust", "alice", "USD", "lots", "--db", db]) == 2
    assert main(["admin", "reset", "alice", "--deposit", "USD=10000", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "reset alice: 0 orders canceled; balances now USD 10000; moved USD +2500.5" in out
    with pytest.raises(SystemExit):  # no --deposit: refused, not an emptied account
        main(["admin", "reset", "alice", "--db", db])
    assert "--deposit" in capsys.readouterr().err
    assert main(["admin", "reset", "alice", "--deposit", "USD=x", "--db", db]) == 2
    assert main(["admin", "reset", "zed", "--deposit", "USD=1", "--db", db]) == 1
    assert main(["admin", "halt", "BTC-PERP", "--db", db]) == 0
    assert main(["admin", "halt", "BTC-PERP", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "BTC-PERP halted" in out and "(already)" in out
    assert main(["admin", "halt", "ZZZ-PERP", "--db", db]) == 1
    for online_only in (["pause"], ["resume"], ["scenario", "crash"]):
        assert main(["admin", *online_only, "--url", ""]) == 2  # no --url: refused
    from exchange_local.server.market import open_exchange

    ex = open_exchange(db)
    assert ex.balances("alice") == {"USD": Decimal(10000)} and ex.market("BTC-PERP").reduce_only
    ex.close()
    keys = KeyStore(keys_path(db))
    actions = [(a["keyName"], a["action"]) for a in keys.audit_log()]
    keys.close()
    assert actions == [
        ("offline-cli", "halt"),
        ("offline-cli", "halt"),
        ("offline-cli", "reset_account"),
        ("offline-cli", "adjust_balance"),
        ("offline-cli", "create_account"),
    ]
    with store_lock(db):  # a running server holds the store: act through it
        assert main(["admin", "halt", "BTC-PERP", "--db", db]) == 1
        assert "--url" in capsys.readouterr().err


def test_scenario_status_after_a_restart_says_what_it_knows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A restarted server knows no live scenario, but the steps run before stay in effect:
    the status said "no live scenario has run", which was not true."""
    c = make_class(blp=True)
    before = c.ex.prices["BTC"]
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        assert main(["admin", "scenario", "gap", "--fraction", "-0.02", *online]) == 0
        assert "scenario gap (done)" in capsys.readouterr().out
    moved = c.ex.prices["BTC"]
    assert moved < before
    with live_server(create_app(c.ex, c.keys, speed=0)) as live:  # the restarted server
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        assert main(["admin", "scenario", "status", *online]) == 0
    assert capsys.readouterr().out == (
        "no live scenario since this server started; steps run before a restart stay in effect\n"
    )
    assert c.ex.prices["BTC"] == moved


def test_adjust_amounts_follow_the_apis_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`1e3` was taken as 1000 (the API refuses exponents); `0.0000001` was echoed as 1E-7;
    the same refusals offline and online, and nothing changes."""
    db = str(tmp_path / "class.sqlite")
    assert main(["admin", "create-account", "bob", "--deposit", "USD=10000", "--db", db]) == 0
    capsys.readouterr()
    c = make_class()
    with live_server(c.app) as live:
        for where in (["--db", db], ["--url", live.base_url, "--key", c.key["admin"]]):
            for amount in ("1e3", "1E+3", "+5", " 5", "5.", "１"):
                assert main(["admin", "adjust", "bob", "USD", amount, *where]) == 2, amount
                err = capsys.readouterr().err
                assert f"{amount!r} is not a plain decimal" in err and "no exponent" in err
            assert main(["admin", "adjust", "bob", "USD", "0.0000001", *where]) == 1
            err = capsys.readouterr().err
            assert "amount 0.0000001 has more decimals than USD allows (6)" in err, err
            assert main(["admin", "adjust", "bob", "USD", "0", *where]) == 1
            assert "amount must not be 0" in capsys.readouterr().err
            assert main(["admin", "adjust", "bob", "USD", "-0.50", *where]) == 0
            assert "bob USD -0.5: balance " in capsys.readouterr().out
    from exchange_local.server.market import open_exchange

    ex = open_exchange(db)
    assert ex.balances("bob") == {"USD": Decimal("9999.5")}
    ex.close()
    assert c.ex.balances("bob") == {"USD": Decimal("999999.5")}


def test_teacher_actions_online(capsys: pytest.CaptureFixture[str]) -> None:
    c = make_class(blp=True)
    c.ex.place_order("alice", "BTC-PERP", "buy", Decimal(1), type="market")
    with live_server(c.app) as live:
        online = ["--url", live.base_url, "--key", c.key["admin"]]
        assert main(["admin", "resume", *online]) == 0
        assert "running at speed 1" in capsys.readouterr().out
        assert main(["admin", "pause", *online]) == 0
        assert "class market paused" in capsys.readouterr().out
        assert main(["admin", "reset", "alice", "--deposit", "USD=10000", *online]) == 0
        out = capsys.readouterr().out
        assert "reset alice" in out and "BTC-PERP 1 closed at 100000 (to blp)" in out
        assert main(["admin", "adjust", "bob", "USD", "5", *online]) == 0
        assert main(["admin", "halt", "ETH-PERP", *online]) == 0
        assert main(["admin", "unhalt", "ETH-PERP", *online]) == 0
        assert main(["admin", "scenario", "crash", "--after", "60", *online]) == 0
        assert "scenario crash (running)" in capsys.readouterr().out
        assert main(["admin", "scenario", "status", *online]) == 0
        out = capsys.readouterr().out
        assert "next 00:01:00 UTC (+60 s): BTC index to -15.0% from the start" in out
        assert "done 00:00:00 UTC (+0 s): BTC index -5.0%" in out  # was epoch milliseconds
        assert re.search(r"[0-9]{10}", out) is None
        assert main(["admin", "scenario", "funding", *online]) == 1  # one at a time
        assert "is running" in capsys.readouterr().err
        assert main(["admin", "scenario", "stop", *online]) == 0
        assert "stopped crash; 1 step dropped" in capsys.readouterr().out
        assert main(["admin", "scenario", "gap", "--fraction", "-0.02", *online]) == 0
        assert "scenario gap (done)" in capsys.readouterr().out
        assert main(["admin", "scenario", "volatility", "--swing", "0.001", *online]) == 0
        assert "scenario volatility (running)" in capsys.readouterr().out
        assert main(["admin", "scenario", "stop", *online]) == 0
        assert "stopped volatility; 179 steps dropped" in capsys.readouterr().out
        assert main(["admin", "scenario", "calm", *online]) == 0
        assert "the living market (index walk and bots) started" in capsys.readouterr().out
        assert main(["admin", "scenario", "calm", *online]) == 0
        out = capsys.readouterr().out  # was "started False"
        assert "was already running; nothing changed" in out
        assert main(["admin", "pause", "--url", live.base_url, "--key", c.key["alice"]]) == 1
        assert "this endpoint needs admin" in capsys.readouterr().err
    assert c.ex.balances("alice") == {"USD": Decimal(10000)}
    texts = [e["text"] for e in c.app.state.ctx.runtime.hub.recent if e["kind"] == "AdminAction"]
    assert "admin: ETH-PERP halted (only risk-reducing orders pass)" in texts  # was changed True
    assert "admin lifted the halt on ETH-PERP: trading again" in texts
    assert any(t.startswith("admin reset alice's account; BTC-PERP 1 closed") for t in texts)
    assert all("True" not in t and "False" not in t and ", ," not in t for t in texts)
    audit = [(a["keyName"], a["action"]) for a in c.keys.audit_log()]
    assert set(audit) == {
        ("admin", a)
        for a in ("resume", "pause", "reset_account", "adjust_balance", "halt", "unhalt",
                  "scenario", "stop_scenario")
    }  # fmt: skip
