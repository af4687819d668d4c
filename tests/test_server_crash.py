"""Kill the server with SIGKILL in the middle of a load of orders from several clients, then
restart it on the same store: every order a client saw acknowledged is there (found by its
clientOrderId, no less filled than acknowledged, a final status unchanged) and the
exchange's invariants hold. The server is `exchange-local serve` in a subprocess on
127.0.0.1; the clients are asyncio httpx clients in this process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_local import Exchange
from exchange_local.server.bench import accounts

D = Decimal
CLIENTS = 4
FINAL = ("filled", "canceled")


def start(db: str) -> tuple[subprocess.Popen[str], str, str | None]:
    """The server on a free port: (process, base URL, the admin key if it printed one)."""
    cmd = [sys.executable, "-m", "exchange_local.cli", "serve", "--db", db, "--port", "0"]
    cmd += ["--scenario", "none", "--rate", "1000000", "--burst", "1000000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    admin = None
    line = proc.stdout.readline()
    if line.startswith("admin key"):
        admin = line.strip().rsplit(" ", 1)[-1]
        line = proc.stdout.readline()
    assert "serving" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    url = line.split(" on ", 1)[1].split("/api/v1", 1)[0]
    return proc, url, admin


def order(k: int, i: int) -> dict[str, Any]:
    """Resting bids and asks around 100,000, and every fifth order a crossing IOC."""
    side = "buy" if (k + i) % 2 else "sell"
    if i % 5 == 4:
        price = "101000" if side == "buy" else "99000"
        tif = "IOC"
    else:
        offset = 50 + (i % 40) * 10
        price = str(100_000 - offset if side == "buy" else 100_000 + offset)
        tif = "GTC"
    return {
        "symbol": "BTC-PERP",
        "side": side,
        "size": "0.01",
        "price": price,
        "timeInForce": tif,
        "clientOrderId": f"c{k}-{i}",
    }


async def load(url: str, keys: list[str], acked: dict[str, dict[str, Any]]) -> None:
    """Each client sends orders one after another until the server stops answering."""

    async def client(k: int, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=5) as http:
            for i in range(100_000):
                try:
                    r = await http.post("/api/v1/orders", json=order(k, i))
                except httpx.HTTPError:
                    return  # the server is gone: this answer was never seen
                assert r.status_code == 201, r.text
                acked[f"c{k}-{i}"] = {"key": key, **r.json()["order"]}

    await asyncio.gather(*(client(k, key) for k, key in enumerate(keys)))


async def kill_under_load(url: str, proc: subprocess.Popen[str], keys: list[str]) -> dict[str, Any]:
    acked: dict[str, dict[str, Any]] = {}
    task = asyncio.create_task(load(url, keys, acked))
    deadline = time.monotonic() + 15
    while len(acked) < 400 and time.monotonic() < deadline:  # well into the load
        await asyncio.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.wait_for(task, 30)
    proc.wait(10)
    return acked


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
async def test_sigkill_under_load_loses_no_acknowledged_order(tmp_path: Path) -> None:
    db = str(tmp_path / "class.sqlite")
    proc, url, admin = start(db)
    try:
        assert admin is not None
        async with httpx.AsyncClient(base_url=url) as http:
            keys = await accounts(http, admin, CLIENTS, prefix="student")
        acked = await kill_under_load(url, proc, keys)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 400
    filled = [a for a in acked.values() if D(a["filledSize"]) > 0]
    assert filled, "the load should have traded"

    # the store alone, as the killed process left it: replay, then look every order up
    ex = Exchange(store=db)
    try:
        assert ex.check_invariants() == []
        for coid, seen in acked.items():
            account = f"student-{coid[1:].split('-')[0]}"
            info = ex.order_by_client_id(account, coid)
            assert info is not None, f"acknowledged order {coid} is missing"
            assert str(info.order_id) == seen["orderId"]
            assert info.filled >= D(seen["filledSize"])
            if seen["status"] in FINAL:
                assert info.status.value == seen["status"], coid
    finally:
        ex.close()

    # and the restarted server answers for them, also to a client retrying a lost answer
    proc, url, admin = start(db)
    try:
        assert admin is None  # the keys survived: no new admin key
        async with httpx.AsyncClient(base_url=url) as http:
            for coid in list(acked)[:: max(1, len(acked) // 40)]:
                seen = acked[coid]
                r = await http.get(
                    f"/api/v1/orders/by-client-id/{coid}",
                    headers={"Authorization": f"Bearer {seen['key']}"},
                )
                assert r.status_code == 200 and r.json()["orderId"] == seen["orderId"], r.text
            k, i = map(int, coid[1:].split("-"))
            r = await http.post(
                "/api/v1/orders",
                json=order(k, i),
                headers={"Authorization": f"Bearer {seen['key']}"},
            )
            assert r.status_code == 200 and r.headers["Idempotent-Replayed"] == "true"
            assert r.json()["order"]["orderId"] == seen["orderId"]
    finally:
        proc.terminate()
        proc.wait(20)
    ex = Exchange(store=db)
    try:
        assert ex.check_invariants() == []
    finally:
        ex.close()
