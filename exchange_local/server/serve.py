"""`exchange-local serve`: one durable class exchange with its living market, over HTTP.

The store is held with `exchange_local.store_lock` for as long as the server runs.

Why SIGINT and SIGTERM end with status 0: both are the way to stop a class server; uvicorn
shuts down gracefully on either (graceful.ClassServer) and then the exchange writes its final
snapshot (ex.close) and the key store closes. A store that cannot be used is one line on
stderr and status 1, never a traceback (open_class_store, store_problem).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sqlite3
import sys
from decimal import Decimal
from typing import IO, Any

from exchange_local.errors import StoreError
from exchange_local.store_lock import StoreLocked, store_lock

__all__ = [
    "StoreLocked",
    "check_store_path",
    "open_class_store",
    "open_key_store",
    "serve",
    "store_lock",
    "store_problem",
]

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_store_path(db: str) -> None:
    """StoreError if `db` cannot name a store: its directory is missing, or it is a directory
    (checked before the lock file or the key file is created beside it)."""
    folder = os.path.dirname(os.path.abspath(db))
    if not os.path.isdir(folder):
        raise StoreError(f"cannot open {db}: the directory {folder} does not exist")
    if os.path.isdir(db):
        raise StoreError(f"{db} is a directory, not an exchange store; give the store's file")


def store_problem(db: str | None, exc: BaseException) -> str:
    """One line, naming the path, for a store (or its key file) that cannot be used."""
    if isinstance(exc, StoreError | StoreLocked):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot open {exc.filename or db}: {exc.strerror or exc}"
    return f"{db} cannot be used: {exc}"


def open_key_store(db: str | None) -> Any:
    """The store's KeyStore; StoreError naming the key file if it cannot be opened."""
    from exchange_local.server.keys import KeyStore, keys_path

    path = keys_path(db)
    try:
        return KeyStore(path)
    except sqlite3.Error as exc:
        raise StoreError(f"the key file {path} cannot be used: {exc}") from None
    except OSError as exc:
        raise StoreError(f"the key file {path} cannot be used: {exc.strerror or exc}") from None


def open_class_store(db: str | None, seed: int = 1) -> tuple[Any, Any]:
    """(exchange, key store) of `db`, under the caller's store_lock. Every problem is a
    StoreError naming the path, and nothing is left open: if the key store fails, the
    exchange is closed again."""
    from exchange_local.server.market import open_exchange

    if db is not None:
        check_store_path(db)
    try:
        ex = open_exchange(db, seed)
    except sqlite3.Error as exc:
        raise StoreError(f"{db} cannot be used: {exc}") from None
    except OSError as exc:
        raise StoreError(store_problem(db, exc)) from None
    try:
        keys = open_key_store(db)
    except BaseException:
        with contextlib.suppress(Exception):  # the key store's problem is the one to report
            ex.close()
        raise
    return ex, keys


def close_class_store(ex: Any, keys: Any) -> None:
    """The final snapshot (ex.close) and the key store, both closed even if one fails."""
    try:
        ex.close()
    finally:
        keys.close()


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
    ws_per_address: int | None = None,
) -> int:
    """Run the server until interrupted; returns the exit status. `ws_per_address`: the
    WebSocket connections one client address may have open (0: no limit; None: the
    default, hub.WS_PER_ADDRESS)."""
    import uvicorn

    from exchange_local.server.app import create_app
    from exchange_local.server.graceful import ClassServer, stop_signals
    from exchange_local.server.market import SCENARIOS, start_living_market

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
        if db is not None:
            check_store_path(db)  # before the lock file is created beside it
        with store_lock(db):
            ex, keys = open_class_store(db, seed)
            closed = False
            try:
                if not keys.has_admin():
                    secret, _ = keys.create("admin", None, ["admin"])
                    print(f"admin key (shown once; keep it): {secret}", file=out)
                if scenario == "calm":
                    start_living_market(ex, seed)
                limits: dict[str, Any] = {"rate": rate, "burst": burst}
                if ws_per_address is not None:
                    limits["ws_per_address"] = ws_per_address
                app = create_app(ex, keys, speed=speed, **limits)
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
                server = ClassServer(config)
                # SIGINT/SIGTERM stop the server gracefully and are not raised again: the
                # final close below runs and the exit status is 0 (stop_signals)
                with stop_signals(server):
                    try:
                        server.run(sockets=[sock])
                    finally:
                        closed = True
                        close_class_store(ex, keys)
            finally:
                if not closed:
                    close_class_store(ex, keys)
    except (StoreLocked, StoreError) as exc:
        print(f"exchange-local serve: error: {store_problem(db, exc)}", file=err)
        return 1
    except sqlite3.Error as exc:  # the final snapshot could not be written (disk full)
        print(f"exchange-local serve: error: {store_problem(db, exc)}", file=err)
        return 1
    return 0
