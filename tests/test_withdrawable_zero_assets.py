"""GET /account's `withdrawableByAsset` names every collateral asset, "0" included.

Why: a client reading the map could not tell "0" from "unknown" when a key was missing. Now an
asset the account holds whose withdrawal margin blocks is "0", and so is every asset of the
exchange it holds none of (nothing of it can leave): the keys are the exchange's assets, the
same set whatever the account holds, so a missing key only ever means "no such asset".
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange
from exchange_local.server import wire
from tests.helpers import exact_exchange, funded

D = Decimal
BTC = "BTC-PERP"


def _fully_used() -> tuple[Exchange, str]:
    """u holds USD and a little BTC, both fully needed by a 2 BTC long (10 % of N)."""
    ex = exact_exchange()
    funded(ex, "u", "20000")
    ex.deposit("u", "BTC", D("0.001"))
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(2), price=D(100000))
    ex.place_order("u", BTC, "buy", D(2), type="market")
    return ex, "u"


def test_every_asset_is_in_the_map_and_zero_is_said_as_zero() -> None:
    ex, u = _fully_used()
    assert ex.max_withdrawal(u, "USD") == 0 and ex.max_withdrawal(u, "BTC") == 0
    h = ex.health(u)
    body = wire.account_json(h, 1, 0, ex.leverage(u),
                             withdrawable=wire.withdrawable_by_asset(ex, u, h))  # fmt: skip
    every = [a.symbol for a in ex.config.assets if a.collateral]
    assert list(body["withdrawableByAsset"]) == every  # the exchange's order, held or not
    assert set(every) > {"USD", "BTC"}  # so some are assets u holds none of
    assert set(body["withdrawableByAsset"].values()) == {"0"}


def test_an_asset_withdrawn_to_nothing_stays_in_the_map_as_zero() -> None:
    ex = exact_exchange()
    funded(ex, "u", "1000")
    ex.deposit("u", "ETH", D("2"))
    ex.withdraw("u", "ETH", D("2"))  # held once, none now
    h = ex.health("u")
    got = wire.withdrawable_by_asset(ex, "u", h)
    assert got["ETH"] == 0 and got["USD"] == D(1000)
    assert all(v == 0 for k, v in got.items() if k != "USD")


async def test_get_account_shows_zero_for_held_and_unheld_assets() -> None:
    from tests.test_server_support import make_class

    c = make_class()
    c.ex.deposit("alice", "BTC", D("0.001"))
    c.ex.withdraw("alice", "USD", D(1_000_000) - D(20000))
    async with c.client() as http:
        r = await http.post("/api/v1/orders", headers=c.auth("alice"), json={
            "symbol": BTC, "side": "buy", "size": "2", "type": "market"})  # fmt: skip
        assert r.status_code == 201, r.text
        r = await http.get("/api/v1/account", headers=c.auth("alice"))
        assert r.status_code == 200, r.text
        can = r.json()["withdrawableByAsset"]
    assert can["USD"] == "0" and can["BTC"] == "0"  # held, all of it backing the position
    assert can["ETH"] == "0" and can["EUR"] == "0"  # held none of
    assert "SOL" not in can  # no collateral: nothing of it is ever deposited
    assert set(can) == {a.symbol for a in c.ex.config.assets if a.collateral}
