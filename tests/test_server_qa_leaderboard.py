"""GET /leaderboard reads no ledger (QA: every call read every ranked account's whole ledger
under the engine lock; 40 calls a second from a watch-only key took another student's
GET /account from 2.5 ms to 2.8 s).

The sums are kept as transactions post (leaderboard.Tally); the board must show exactly the
numbers the old computation (`standings` without a tally, reading each ledger) gives, on a
busy living market with fills, fees, funding, settlement, a liquidation whose insurance
cover moves coins, a conversion and a reset, in memory and on a durable store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from exchange_local import Exchange
from exchange_local.leaderboard import NOT_TRADING, standings
from exchange_local.server import create_app, wire
from exchange_local.server.keys import KeyStore
from exchange_local.server.market import new_config, start_living_market

D = Decimal
RANKED = ("alice", "carol", "maker", "bot-mm-BTC-PERP", "bot-taker-0")


def rows_of(ex: Any, names: list[str], tally: Any = None) -> list[dict[str, Any]]:
    return [wire.standing_json(s) for s in standings(ex, names, tally)]


async def board(http: httpx.AsyncClient, auth: dict[str, str]) -> list[dict[str, Any]]:
    r = await http.get("/api/v1/leaderboard", headers=auth)
    assert r.status_code == 200, r.text
    return list(r.json()["leaderboard"])


def carol_is_liquidated_with_coins(ex: Any) -> None:
    """carol, with USD, BTC and ETH as collateral, goes long 0.8 BTC against `maker`; the
    index falls 12 %: her liquidation (a backstop takeover) moves her coins too."""
    book = ex.book("BTC-PERP", 1)
    price = max(book.bids[0][0] if book.bids else D(0), ex.prices["BTC"]) + 50
    ex.place_order("maker", "BTC-PERP", "sell", D("1"), price=price)
    ex.place_order("carol", "BTC-PERP", "buy", D("0.8"), price=price, tif="ioc")
    ex.shock_index("BTC", D("-0.12"))


@pytest.mark.parametrize("durable", [False, True])
async def test_the_board_equals_the_old_computation_on_a_busy_market(
    tmp_path: Path, durable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = str(tmp_path / "class.sqlite") if durable else None
    start = 1_700_002_800 - 600  # an hour's funding is paid 10 minutes in
    ex = Exchange(new_config(seed=3, start_time_seconds=start), store=store)
    try:
        start_living_market(ex, 3)
        for name, deposits in (
            ("alice", {"USD": "10000"}),
            ("carol", {"USD": "100", "BTC": "0.05", "ETH": "2"}),
            ("maker", {"USD": "5000000"}),
        ):
            ex.create_account(name)
            for asset, amount in deposits.items():
                ex.deposit(name, asset, D(amount))
        keys = KeyStore()
        for name in RANKED[:-1]:
            keys.create(name, name, ["trade"])
        watch, _ = keys.create("projector", None, ["read"])
        admin, _ = keys.create("admin", None, ["admin"])
        app = create_app(ex, keys, speed=0)
        watching = {"Authorization": f"Bearer {watch}"}
        adm = {"Authorization": f"Bearer {admin}"}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as http:
            assert len(await board(http, watching)) == 4  # ranked now: sums kept from here

            async def advance(seconds: str) -> None:
                r = await http.post("/api/v1/admin/advance", json={"seconds": seconds}, headers=adm)
                assert r.status_code == 200, r.text

            await advance("60")
            carol_is_liquidated_with_coins(ex)
            ex.convert("alice", "USD", "ETH", D(1000))
            ex.place_order("alice", "ETH-PERP", "sell", D("1"), type="market")
            await advance("900")  # funding paid, settlements, the liquidation's stages
            r = await http.post(
                "/api/v1/admin/accounts/alice/reset",
                json={"deposits": {"USD": "10000"}},
                headers=adm,
            )
            assert r.status_code == 200, r.text
            keys.create("taker", RANKED[-1], ["read"])  # ranked late: its ledger read once
            await advance("300")

            carol = ex.ledger("carol")
            coins = [e for e in carol if e.asset != "USD" and e.type not in NOT_TRADING]
            assert coins, [(e.type, e.asset) for e in carol]  # a takeover moved her coins
            kinds = {e.type for e in ex.ledger("bot-mm-BTC-PERP")}
            assert {"TRADE", "FEE", "FUNDING", "SETTLE"} <= kinds, kinds

            names = sorted(RANKED)
            got = await board(http, watching)
            assert got == rows_of(ex, names)  # the old computation, every ledger read
            tally = app.state.ctx.runtime.tally
            assert standings(ex, names, tally) == standings(ex, names)  # as Decimals too

            reads = 0
            real = ex.ledger

            def counted(*args: Any, **kwargs: Any) -> Any:
                nonlocal reads
                reads += 1
                return real(*args, **kwargs)

            with monkeypatch.context() as patched:  # undone before the store's close
                patched.setattr(ex, "ledger", counted)
                await advance("120")
                got = await board(http, watching)
            assert reads == 0  # was one whole ledger per ranked account, every call
            assert got == rows_of(ex, names)
    finally:
        ex.close()
