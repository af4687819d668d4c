"""Shared builders for the server tests: a small exchange with keys, an in-process client,
and a real uvicorn server on a free loopback port in a thread (stopped at the end).

No tests here; the name only keeps it among the server's test files.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import uvicorn

from exchange_local import Exchange, ExchangeConfig
from exchange_local.server import create_app
from exchange_local.server.graceful import ClassServer
from exchange_local.server.keys import KeyStore

D = Decimal


@dataclass
class Class:
    """An exchange with a market maker, two students and their keys."""

    ex: Exchange
    keys: KeyStore
    app: Any
    key: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key[who]}"}

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")

    def state(self) -> tuple[Any, ...]:
        """What a refused request must leave unchanged."""
        ex = self.ex
        return (
            [(o.order_id, o.status, o.filled) for a in ("alice", "bob") for o in ex.open_orders(a)],
            [len(ex.ledger(a)) for a in ("alice", "bob", "mm")],
            ex.book("BTC-PERP", 50),
            ex.accounts(),
        )


def make_class(blp: bool = False, **app_options: Any) -> Class:
    """`blp`: with a backstop provider account `blp` (what a reset hands positions to)."""
    backstops = ("blp",) if blp else ()
    ex = Exchange(ExchangeConfig(mark_source="index", backstop_accounts=backstops))
    keys = KeyStore()
    for name in ("alice", "bob", "mm", *backstops):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    for i in range(3):
        ex.place_order("mm", "BTC-PERP", "sell", D("1"), price=D(100_100 + 100 * i))
        ex.place_order("mm", "BTC-PERP", "buy", D("1"), price=D(99_900 - 100 * i))
    app_options.setdefault("speed", 0)
    app = create_app(ex, keys, **app_options)
    c = Class(ex, keys, app)
    c.key["alice"], _ = keys.create("alice", "alice", ["trade"])
    c.key["alice-read"], _ = keys.create("alice-read", "alice", ["read"])
    c.key["bob"], _ = keys.create("bob", "bob", ["trade"])
    c.key["admin"], _ = keys.create("admin", None, ["admin"])
    c.key["watch"], _ = keys.create("projector", None, ["read"])
    revoked, record = keys.create("old", "alice", ["trade"])
    keys.revoke(record.key_id)
    c.key["revoked"] = revoked
    return c


@dataclass
class Live:
    base_url: str
    ws_url: str
    server: ClassServer
    thread: threading.Thread


@contextmanager
def live_server(app: Any, port: int = 0, send_buffer: int | None = None) -> Iterator[Live]:
    """uvicorn on 127.0.0.1 (a free port unless given), in a thread; shut down when the block
    ends. `send_buffer`: SO_SNDBUF of the connections (Linux passes the listening socket's on)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", ws_max_size=64 * 1024)
    server = ClassServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Live(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/api/v1/ws", server, thread)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
