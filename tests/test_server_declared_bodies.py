"""Every 2xx body a client gets from the account and market routes matches the model the
OpenAPI document declares for it, field for field (the models forbid extra fields).

Why not only schemathesis: its random requests rarely reach a real preview, an explain of a
held position, a conversion or a funding payment; these requests do, with real state.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jsonschema_rs import Draft202012Validator  # schemathesis validates with it too

from tests.test_server_support import make_class

D = Decimal


def check_against_document(
    doc: dict[str, Any], method: str, path: str, body: Any, status: int = 200
) -> None:
    """Validate `body` against the schema the served OpenAPI document gives the route."""
    op = doc["paths"][path][method.lower()]
    schema = op["responses"][str(status)]["content"]["application/json"]["schema"]
    assert "$ref" in schema, f"{method} {path} declares no model: {schema}"
    validator = Draft202012Validator({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, (method, path, errors)


async def test_account_and_market_bodies_match_their_declared_models() -> None:
    c = make_class()
    c.ex.deposit("alice", "BTC", D("0.5"))
    c.ex.place_order("alice", "BTC-PERP", "buy", D("2"), type="market")
    c.ex.set_index_price("BTC", D(100_050))
    c.ex.advance(3600)  # funding paid and recorded, settlements posted
    alice = c.auth("alice")
    calls = [
        ("GET", "/time", None, None),
        ("GET", "/assets", None, None),
        ("GET", "/markets/{symbol}/funding", "/markets/BTC-PERP/funding", None),
        ("GET", "/insurance-fund", None, None),
        ("GET", "/whoami", None, None),
        ("GET", "/funding-payments", None, None),
        ("GET", "/ledger", "/ledger?limit=3", None),
        ("PUT", "/leverage/{symbol}", "/leverage/BTC-PERP", {"leverage": "5"}),
        ("POST", "/orders/preview", None,
         {"symbol": "BTC-PERP", "side": "sell", "type": "limit", "size": "3", "price": "100200"}),
        ("GET", "/positions/{symbol}/explain", "/positions/BTC-PERP/explain", None),
        ("POST", "/withdrawals", None, {"asset": "USD", "amount": "10"}),
        ("POST", "/converts", None, {"from": "BTC", "to": "USD", "amount": "0.1"}),
        ("GET", "/leaderboard", None, None),
    ]  # fmt: skip
    seen: dict[str, dict[str, Any]] = {}
    async with c.client() as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
        for method, route, url, body in calls:
            resp = await http.request(method, "/api/v1" + (url or route), headers=alice, json=body)
            assert resp.status_code == 200, (route, resp.text)
            check_against_document(doc, method, "/api/v1" + route, resp.json())
            seen[route] = resp.json()
    # the checks above saw real content, not empty lists
    assert seen["/funding-payments"]["payments"] and seen["/markets/{symbol}/funding"]["funding"]
    assert len(seen["/ledger"]["entries"]) == 3 and seen["/ledger"]["nextCursor"] == "3"
    explain = seen["/positions/{symbol}/explain"]
    assert explain["kTerms"] and explain["liquidationNumerator"]
    assert seen["/converts"]["from"] == "BTC" and D(seen["/converts"]["received"]) > 0
    assert [row["accountId"] for row in seen["/leaderboard"]["leaderboard"]][:1]


async def test_a_body_off_its_declared_model_is_refused() -> None:
    """The models are closed: a field renamed, dropped or mistyped in wire.py would fail."""
    c = make_class()
    async with c.client() as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
    good = {"asset": "USD", "amount": "10"}
    check_against_document(doc, "POST", "/api/v1/withdrawals", good)
    for bad in ({**good, "extra": 1}, {"asset": "USD"}, {"asset": "USD", "amount": "1e3"}):
        try:
            check_against_document(doc, "POST", "/api/v1/withdrawals", bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad}")


async def test_instructor_bodies_match_their_declared_models() -> None:
    c = make_class(blp=True)
    c.ex.place_order("alice", "BTC-PERP", "buy", D("1"), type="market")
    adm = c.auth("admin")
    carol = {"name": "carol", "initialBalance": "1000", "deposits": {"BTC": "0.1"}}
    calls = [
        ("POST", "/admin/accounts", None, carol, 201),
        ("GET", "/admin/accounts", None, None, 200),
        ("POST", "/admin/accounts/{accountId}/deposit", "/admin/accounts/carol/deposit",
         {"asset": "USD", "amount": "5"}, 200),
        ("POST", "/admin/accounts/{accountId}/keys", "/admin/accounts/carol/keys",
         {"name": "carol-read", "scopes": ["read"]}, 201),
        ("GET", "/admin/keys", None, None, 200),
        ("PUT", "/admin/index/{asset}", "/admin/index/ETH", {"price": "3100"}, 200),
        ("POST", "/admin/markets/{symbol}/halt", "/admin/markets/ETH-PERP/halt", None, 200),
        ("POST", "/admin/markets/{symbol}/unhalt", "/admin/markets/ETH-PERP/unhalt", None, 200),
        ("GET", "/admin/ledger", "/admin/ledger?account=FEES&limit=2", None, 200),
        ("POST", "/admin/pause", None, None, 200),
        ("POST", "/admin/resume", None, None, 200),
        ("PUT", "/admin/speed", None, {"speed": "0"}, 200),
        ("POST", "/admin/advance", None, {"seconds": "1"}, 200),
        ("POST", "/admin/scenarios/{name}", "/admin/scenarios/volatility", {"minutes": 1}, 200),
        ("GET", "/admin/scenarios", None, None, 200),
        ("DELETE", "/admin/scenarios/current", None, None, 200),
        ("POST", "/admin/scenarios/{name}", "/admin/scenarios/calm", None, 200),
        ("POST", "/admin/accounts/{accountId}/adjust", "/admin/accounts/bob/adjust",
         {"asset": "USD", "amount": "-1"}, 200),
        ("POST", "/admin/accounts/{accountId}/reset", "/admin/accounts/alice/reset",
         {"initialBalance": "500"}, 200),
        ("POST", "/admin/markets/{symbol}/rollback", "/admin/markets/SOL-PERP/rollback",
         {"start": 0, "end": 1}, 200),
        ("POST", "/admin/markets/{symbol}/settle", "/admin/markets/SOL-PERP/settle",
         {"price": "150"}, 200),
        ("GET", "/admin/audit", None, None, 200),
        ("GET", "/events", None, None, 200),
    ]  # fmt: skip
    seen: dict[str, Any] = {}
    async with c.client() as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
        for method, route, url, body, status in calls:
            resp = await http.request(method, "/api/v1" + (url or route), headers=adm, json=body)
            assert resp.status_code == status, (route, resp.text)
            check_against_document(doc, method, "/api/v1" + route, resp.json(), status)
            seen[url or route] = resp.json()
        key_id = seen["/admin/accounts/carol/keys"]["keyId"]
        resp = await http.delete(f"/api/v1/admin/keys/{key_id}", headers=adm)
        check_against_document(doc, "DELETE", "/api/v1/admin/keys/{keyId}", resp.json())
    assert seen["/admin/accounts/alice/reset"]["closed"][0]["takenBy"] == ["blp"]
    assert seen["/admin/scenarios"]["current"]["name"] == "volatility"
    assert {e["kind"] for e in seen["/events"]["events"]} >= {"AdminAction"}
    assert seen["/admin/audit"]["audit"] and seen["/admin/ledger?account=FEES&limit=2"]["entries"]
