"""The class leaderboard ranks trading PnL: coins deposited, a conversion and a reset's
withdrawal are collateral moves, not profit or loss; an account a liquidation emptied reads
NO EQUITY, never ok / HEALTHY; the server and perptui's in-process venue rank with one
function (exchange_local.leaderboard)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from exchange_local.leaderboard import NO_EQUITY, standings
from perptui.projector import board_word
from perptui.venues.base import LeaderboardRow
from perptui.venues.local import LocalVenue
from tests.test_server_support import Class, make_class

D = Decimal
BTC = "BTC-PERP"


async def board(c: Class, http: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    r = await http.get("/api/v1/leaderboard", headers=c.auth("watch"))
    assert r.status_code == 200, r.text
    return {row["accountId"]: row for row in r.json()["leaderboard"]}


async def create(c: Class, http: httpx.AsyncClient, name: str, deposits: dict[str, str]) -> None:
    r = await http.post(
        "/api/v1/admin/accounts",
        headers=c.auth("admin"),
        json={"name": name, "deposits": deposits},
    )
    assert r.status_code == 201, r.text
    c.key[name] = r.json()["apiKey"]


async def test_coins_a_conversion_and_a_reset_are_not_pnl() -> None:
    c = make_class()
    async with c.client() as http:
        await create(c, http, "dora", {"USD": "10000", "BTC": "0.1", "ETH": "1"})
        row = (await board(c, http))["dora"]
        assert D(row["pnl"]) == 0  # was 12,600: equity minus the USD deposit
        assert D(row["netDeposits"]) == 10_000 + D("0.1") * 100_000 + 3_000  # at the index
        assert (D(row["equity"]), row["status"]) == (D(22_600), "ok")
        r = await http.post(
            "/api/v1/converts",
            headers=c.auth("dora"),
            json={"from": "USD", "to": "BTC", "amount": "1000"},
        )
        assert r.status_code == 200, r.text
        row = (await board(c, http))["dora"]
        assert D(row["pnl"]) == 0  # the weight and the spread are not a trading loss
        r = await http.post(
            "/api/v1/admin/accounts/dora/reset",
            headers=c.auth("admin"),
            json={"deposits": {"USD": "10000"}},
        )
        assert r.status_code == 200, r.text
        row = (await board(c, http))["dora"]
        withdrawn_btc = -sum(
            (e.amount for e in c.ex.ledger("dora") if e.type == "WITHDRAW" and e.asset == "BTC"),
            D(0),
        )
        assert withdrawn_btc > D("0.1")  # the deposit and what the conversion bought
        # the reset deposits back the 1,000 USD converted and withdraws every coin, the BTC
        # the conversion bought too, each at today's index
        expected = 23_000 + 1_000 - withdrawn_btc * 100_000 - 3_000
        assert D(row["netDeposits"]) == expected
        assert D(row["pnl"]) == 0 and D(row["equity"]) == 10_000


async def test_a_liquidated_account_reads_no_equity_with_its_loss() -> None:
    c = make_class(blp=True)
    async with c.client() as http:
        await create(c, http, "carol", {"USD": "1000"})
        r = await http.post(
            "/api/v1/orders",
            headers=c.auth("carol"),
            json={"symbol": BTC, "side": "buy", "type": "market", "size": "0.1"},
        )
        assert r.status_code == 201, r.text
        adm = c.auth("admin")
        await http.put("/api/v1/admin/index/BTC", headers=adm, json={"price": "85000"})
        await http.post("/api/v1/admin/advance", headers=adm, json={"seconds": "30"})
        rows = await board(c, http)
        carol = rows["carol"]
        assert (D(carol["equity"]), carol["positions"]) == (0, 0)
        assert carol["status"] == NO_EQUITY  # was "ok"
        assert D(carol["pnl"]) == -1000 and D(carol["netDeposits"]) == 1000
        assert list(rows) == sorted(rows, key=lambda n: (-D(rows[n]["pnl"]), n))
        row = LeaderboardRow(1, "carol", D(0), D(-1000), carol["status"], 0)
        assert board_word(row) == "NO EQUITY"  # the projector showed HEALTHY
        old_server = LeaderboardRow(1, "carol", D(0), D(-1000), "ok", 0)
        assert board_word(old_server) == "NO EQUITY"
        assert board_word(LeaderboardRow(1, "a", D(5), D(0), "ok", 0)) == "HEALTHY"


async def test_the_local_venue_ranks_with_the_same_function() -> None:
    venue = LocalVenue(None)
    await venue.start()
    try:
        ex = venue._exchange()
        ex.convert(venue.account, "USD", "BTC", D(1000))  # the paper account holds coins too
        rows = await venue.leaderboard()
        me = next(r for r in rows if r.account == venue.account)
        assert me.pnl == 0
        [same] = standings(ex, [venue.account])
        assert (me.equity, me.pnl, me.status) == (same.equity, same.pnl, same.status)
    finally:
        await venue.stop()
