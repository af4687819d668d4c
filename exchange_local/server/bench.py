"""`python -m exchange_local.server.bench`: the server on loopback, measured from another process.

Three figures (issue 8): an order's REST round trip (p50/p99, one client, sequential),
sustained orders per second from 50 concurrent clients, and the lag of market data fanned out
to 200 WebSocket subscribers at the living market's rate (p50/p99: arrival wall time minus the
event's exchange time, converted to wall time with the server's own clock offset).
The server runs `exchange-local serve` (in memory, living market, speed 1) in a subprocess.

The sustained load runs twice: from 50 keep-alive connections spoken over bare asyncio
streams (the generator costs ~0.1 ms of CPU per order, so on two cores the figure is the
server's), and from 50 httpx clients (~2 ms of the generator's CPU per order: on two cores
that client, not the server, sets the pace). Each line gives both processes' CPU per order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx
from websockets.asyncio.client import connect

from exchange_local.server.hub import WS_PER_ADDRESS


def start_server() -> tuple[subprocess.Popen[str], str, str]:
    cmd = [
        sys.executable,
        "-m",
        "exchange_local.cli",
        "serve",
        "--port",
        "0",
        "--rate",
        "1000000",
        "--burst",
        "1000000",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    admin = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
    line = proc.stdout.readline()
    url = line.split(" on ", 1)[1].split("/api/v1", 1)[0]
    return proc, url, admin


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def accounts(http: httpx.AsyncClient, admin: str, n: int, prefix: str = "load") -> list[str]:
    """`n` funded accounts `prefix-0`, `prefix-1`, ... through the admin API; their keys."""
    keys = []
    for i in range(n):
        r = await http.post(
            "/api/v1/admin/accounts",
            headers={"Authorization": f"Bearer {admin}"},
            json={"name": f"{prefix}-{i}", "initialBalance": "1000000"},
        )
        keys.append(r.json()["apiKey"])
    return keys


def ioc(i: int) -> dict[str, Any]:
    """An IOC far from the book: a full order command that never rests or fills."""
    return {
        "symbol": "BTC-PERP",
        "side": "buy",
        "size": "0.001",
        "price": "1000",
        "timeInForce": "IOC",
        "clientOrderId": f"b-{i}",
    }


async def round_trip(url: str, key: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as h:
        for i in range(n):
            t = time.perf_counter()
            r = await h.post("/api/v1/orders", json=ioc(i))
            out.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 201, r.text
    return out


async def sustained_raw(url: str, keys: list[str], seconds: float) -> tuple[float, float]:
    """Orders/s from len(keys) clients, each a keep-alive HTTP/1.1 connection with one order
    in flight, spoken over bare asyncio streams: the generator costs ~0.1 ms of CPU per order
    (httpx costs ~2 ms), so the figure is the server's. Returns (orders/s, this process's
    CPU ms per order)."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    done = 0
    stop = time.perf_counter() + seconds

    async def client(key: str, k: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST /api/v1/orders HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        ).encode()
        i = 0
        try:
            while time.perf_counter() < stop:
                body = json.dumps(ioc(k * 1_000_000 + i + 20_000_000)).encode()
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                i += 1
                if status_line.split(b" ", 2)[1] == b"201":
                    done += 1
        finally:
            writer.close()

    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(client(k, n) for n, k in enumerate(keys)))
    elapsed = time.perf_counter() - started
    return done / elapsed, (time.process_time() - cpu) / max(done, 1) * 1000


async def sustained(url: str, keys: list[str], seconds: float) -> tuple[float, float]:
    """The same load from len(keys) httpx.AsyncClient clients (what perptui's remote venue
    uses), built before the clock starts (each builds an SSL context: ~50 ms of CPU).
    Returns (orders/s, this process's CPU ms per order)."""
    done = 0
    clients = [
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) for key in keys
    ]

    async def client(h: httpx.AsyncClient, k: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop:
            r = await h.post("/api/v1/orders", json=ioc(k * 1_000_000 + i + 10_000))
            i += 1
            if r.status_code == 201:
                done += 1

    cpu = time.process_time()
    started = time.perf_counter()
    stop = started + seconds
    try:
        await asyncio.gather(*(client(h, n) for n, h in enumerate(clients)))
    finally:
        elapsed = time.perf_counter() - started
        used = time.process_time() - cpu
        for h in clients:
            await h.aclose()
    return done / elapsed, used / max(done, 1) * 1000


async def fan_out(url: str, key: str, subscribers: int, seconds: float) -> list[float]:
    """Lag of a trade reaching every subscriber: a market order is sent every 100 ms; lag =
    arrival at a subscriber minus the moment the order was sent (an upper bound of fan-out)."""
    ws_url = url.replace("http", "ws", 1) + "/api/v1/ws"
    arrivals: list[dict[str, float]] = [{} for _ in range(subscribers)]
    ready = asyncio.Event()
    stop = asyncio.Event()
    subscribed = 0

    async def subscriber(k: int, seen: dict[str, float]) -> None:
        nonlocal subscribed
        # the server takes WS_PER_ADDRESS WebSockets from one address: subscribers come
        # from 127.0.0.1, .2, ... as a class's come from its machines (Linux routes the
        # whole 127/8 to loopback)
        source = (f"127.0.0.{1 + k // WS_PER_ADDRESS}", 0)
        async with connect(ws_url, max_size=2**22, local_addr=source) as ws:
            await ws.send(
                json.dumps({"op": "subscribe", "channel": "trades", "symbol": "BTC-PERP"})
            )
            subscribed += 1
            if subscribed == subscribers:
                ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                now = time.perf_counter()
                msg = json.loads(raw)
                for t in msg.get("data", []) if msg.get("type") == "update" else []:
                    seen[t["tradeId"]] = now

    tasks = [asyncio.create_task(subscriber(k, seen)) for k, seen in enumerate(arrivals)]
    await asyncio.wait_for(ready.wait(), 60)
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}) as h:
        end = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            side = "buy" if i % 2 == 0 else "sell"
            r = await h.post(
                "/api/v1/orders",
                json={"symbol": "BTC-PERP", "side": side, "type": "market", "size": "0.001"},
            )
            for f in r.json().get("fills", []):
                sent[f["fillId"]] = t0
            i += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - t0)))
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)
    return [(seen[fid] - t0) * 1000 for fid, t0 in sent.items() for seen in arrivals if fid in seen]


async def run(quick: bool) -> None:
    proc, url, admin = start_server()
    try:
        async with httpx.AsyncClient(base_url=url) as http:
            keys = await accounts(http, admin, 50)
        rt = await round_trip(url, keys[0], 300 if quick else 2000)
        print(
            f"REST order round trip, 1 client: p50 {pct(rt, 0.5):.2f} ms, "
            f"p99 {pct(rt, 0.99):.2f} ms, mean {statistics.mean(rt):.2f} ms ({len(rt)} orders)"
        )
        seconds = 3 if quick else 10
        for label, load in (
            ("keep-alive HTTP/1.1 clients", sustained_raw),
            ("httpx clients", sustained),
        ):
            cpu = cpu_seconds(proc.pid)
            started = time.perf_counter()
            rate, client_ms = await load(url, keys, seconds)
            server_ms = (cpu_seconds(proc.pid) - cpu) / (rate * (time.perf_counter() - started))
            print(
                f"sustained orders/s, 50 concurrent {label}: {rate:,.0f} (CPU per order: "
                f"server {server_ms * 1000:.2f} ms, load generator {client_ms:.2f} ms)"
            )
        n = 50 if quick else 200
        lags = await fan_out(url, keys[1], n, 5 if quick else 15)
        if lags:
            print(
                f"order -> trade at {n} WebSocket subscribers: lag p50 {pct(lags, 0.5):.1f} ms, "
                f"p99 {pct(lags, 0.99):.1f} ms ({len(lags)} deliveries)"
            )
    finally:
        proc.terminate()
        proc.wait(20)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer orders and subscribers")
    args = parser.parse_args(argv)
    asyncio.run(run(args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
