"""`exchange-local serve`: one durable class exchange with its living market, over HTTP.

The store is held with `exchange_local.store_lock` for as long as the server runs.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from decimal import Decimal
from typing import IO, Any

from exchange_local.store_lock import StoreLocked, store_lock

__all__ = ["StoreLocked", "serve", "store_lock"]

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = "127.0.0.1",
    port: int = 8700,
    db: str | None = None,
    scenario: str = "calm",
    speed: Decimal = Decimal(1),
    seed: int = 1,
    allow_remote: bool = False,
    rate: float = 50.0,
    burst: int = 100,
    out: IO[str] | None = None,
) -> int:
    """Run the server until interrupted; returns the exit status."""
    import uvicorn

    from exchange_local.server.app import create_app
    from exchange_local.server.graceful import ClassServer
    from exchange_local.server.keys import KeyStore, keys_path
    from exchange_local.server.market import SCENARIOS, open_exchange, start_living_market

    out = out or sys.stdout
    err = sys.stderr
    if scenario not in SCENARIOS:
        print(
            f"exchange-local serve: error: --scenario must be one of {', '.join(SCENARIOS)} "
            "(the scripted lessons run with `exchange-local scenario NAME`)",
            file=err,
        )
        return 2
    if not is_loopback(host):
        if not allow_remote:
            print(
                f"exchange-local serve: error: {host} is not a loopback address; add "
                "--allow-remote to accept connections from other machines",
                file=err,
            )
            return 2
        print(
            f"WARNING: listening on {host}: anyone who can reach this machine can connect. "
            "Keys travel in clear text: use a trusted network or put TLS in front.",
            file=err,
        )
    try:
        with store_lock(db):
            ex = open_exchange(db, seed)
            keys = KeyStore(keys_path(db))
            try:
                if not keys.has_admin():
                    secret, _ = keys.create("admin", None, ["admin"])
                    print(f"admin key (shown once; keep it): {secret}", file=out)
                if scenario == "calm":
                    start_living_market(ex, seed)
                app = create_app(ex, keys, speed=speed, rate=rate, burst=burst)
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.socket(
                    family, socket.SOCK_STREAM, socket.IPPROTO_TCP
                )  # proto: asyncio sets TCP_NODELAY
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    print(
                        f"exchange-local serve: error: cannot listen on {host}:{port}: "
                        f"{exc.strerror or exc}",
                        file=err,
                    )
                    return 1
                # listening before the address is printed: a client that connects at once
                # waits in the backlog until the app is up, instead of being refused
                sock.listen(2048)
                bound = sock.getsockname()[1]
                print(
                    f"exchange-local serving {db or 'an in-memory exchange'} on "
                    f"http://{host}:{bound}/api/v1 (speed {speed})",
                    file=out,
                )
                out.flush()
                config: Any = uvicorn.Config(
                    app,
                    ws_max_size=64 * 1024,
                    ws_ping_interval=20,
                    ws_ping_timeout=20,
                    log_level="warning",
                    lifespan="on",
                )
                ClassServer(config).run(sockets=[sock])
            finally:
                ex.close()
                keys.close()
    except StoreLocked as exc:
        print(f"exchange-local serve: error: {exc}", file=err)
        return 1
    return 0
