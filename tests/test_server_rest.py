"""The REST API in process (httpx.ASGITransport): market data, the account, orders with
clientOrderId idempotency, and the admin endpoints, on the simulated clock (speed 0)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchange_local.server import fast_orders, routes_orders
from tests.test_server_support import make_class

D = Decimal
PROBLEM = "application/problem+json"


async def test_public_market_data_and_time() -> None:
    c = make_class()
    async with c.client() as http:
        t = (await http.get("/api/v1/time")).json()
        assert t["serverTime"] == c.ex.now_ms and t["apiVersion"] == "1.0" and t["paused"]
        markets = (await http.get("/api/v1/markets")).json()["markets"]
        btc = next(m for m in markets if m["symbol"] == "BTC-PERP")
        assert btc["tickSize"] == "0.5" and btc["base"] == "BTC" and btc["maxLeverage"] == 20
        ticker = (await http.get("/api/v1/markets/BTC-PERP/ticker")).json()
        assert D(ticker["bestBid"]) == 99900 and D(ticker["bestAsk"]) == 100100
        assert D(ticker["midPx"]) == 100000 and D(ticker["markPx"]) == 100000
        book = (await http.get("/api/v1/markets/BTC-PERP/book", params={"depth": 2})).json()
        assert book["seq"] == c.ex.book("BTC-PERP").seq
        assert [[D(p), D(q)] for p, q in book["bids"]] == [[99900, 1], [99800, 1]]
        assert [D(x) for x in book["asks"][0]] == [100100, 1]
        for path in ("trades", "candles", "funding"):
            r = await http.get(f"/api/v1/markets/BTC-PERP/{path}")
            assert r.status_code == 200, r.text
        assert (await http.get("/api/v1/insurance-fund")).json()["balance"] == "1000000"
        assets = (await http.get("/api/v1/assets")).json()["assets"]
        assert {a["asset"] for a in assets} >= {"USD", "BTC", "ETH"}


async def test_openapi_is_served_with_problem_responses() -> None:
    c = make_class()
    async with c.client() as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
    assert "Problem" in doc["components"]["schemas"]
    post = doc["paths"]["/api/v1/orders"]["post"]
    assert {"400", "401", "403", "409", "422", "429"} <= set(post["responses"])
    # every route is rate limited, so even /time declares its 429 as problem+json
    limited = doc["paths"]["/api/v1/time"]["get"]["responses"]["429"]
    assert limited["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    size = doc["components"]["schemas"]["OrderBody"]["properties"]["size"]
    assert size["type"] == "string"


async def test_auth_matrix_refuses_and_changes_nothing() -> None:
    c = make_class()
    before = c.state()
    order = {"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "99000"}
    async with c.client() as http:
        cases = [
            ({}, 401, "UNAUTHENTICATED"),
            ({"Authorization": "Bearer nope"}, 401, "UNAUTHENTICATED"),
            ({"Authorization": "Basic abc"}, 401, "UNAUTHENTICATED"),
            (c.auth("revoked"), 401, "UNAUTHENTICATED"),
            (c.auth("alice-read"), 403, "FORBIDDEN_SCOPE"),
            (c.auth("watch"), 403, "FORBIDDEN_SCOPE"),
        ]
        for headers, status, code in cases:
            r = await http.post("/api/v1/orders", json=order, headers=headers)
            assert r.status_code == status, (headers, r.text)
            assert r.headers["content-type"] == PROBLEM and r.json()["code"] == code
        for who in ("alice", "alice-read", "bob"):
            r = await http.post("/api/v1/admin/accounts", json={"name": "eve"}, headers=c.auth(who))
            assert r.status_code == 403, r.text
        r = await http.get("/api/v1/account", headers=c.auth("watch"))
        assert r.status_code == 403  # a watch-only key has no account
        r = await http.get("/api/v1/account", headers=c.auth("alice-read"))
        assert r.status_code == 200 and r.json()["accountId"] == "alice"
        r = await http.post(
            "/api/v1/deposits", json={"asset": "USD", "amount": "5"}, headers=c.auth("alice")
        )
        assert r.status_code == 403 and r.json()["code"] == "DEPOSITS_DISABLED"
    assert c.state() == before


async def test_one_account_cannot_read_or_cancel_anothers_order() -> None:
    c = make_class()
    async with c.client() as http:
        r = await http.post(
            "/api/v1/orders",
            headers=c.auth("alice"),
            json={
                "symbol": "BTC-PERP",
                "side": "buy",
                "size": "0.1",
                "price": "99000",
                "clientOrderId": "alice-1",
            },
        )
        assert r.status_code == 201, r.text
        oid = r.json()["order"]["orderId"]
        before = c.state()
        for method, path in (
            ("GET", f"/api/v1/orders/{oid}"),
            ("DELETE", f"/api/v1/orders/{oid}"),
            ("GET", "/api/v1/orders/by-client-id/alice-1"),
            ("DELETE", "/api/v1/orders/by-client-id/alice-1"),
            ("PATCH", f"/api/v1/orders/{oid}"),
        ):
            kwargs = {"json": {"price": "98000"}} if method == "PATCH" else {}
            r = await http.request(method, path, headers=c.auth("bob"), **kwargs)
            assert r.status_code == 404 and r.json()["code"] == "ORDER_NOT_FOUND", r.text
        assert (await http.get("/api/v1/orders", headers=c.auth("bob"))).json()["orders"] == []
        r = await http.delete("/api/v1/orders", headers=c.auth("bob"))
        assert r.json() == {"canceled": []}
        assert c.state() == before
        mine = (await http.get(f"/api/v1/orders/{oid}", headers=c.auth("alice-read"))).json()
        assert mine["status"] == "open" and mine["clientOrderId"] == "alice-1"
        r = await http.delete(f"/api/v1/orders/{oid}", headers=c.auth("alice-read"))
        assert r.status_code == 403  # a read key watches; it cannot cancel
        r = await http.delete("/api/v1/orders/by-client-id/alice-1", headers=c.auth("alice"))
        assert r.json()["order"]["status"] == "canceled"
        assert r.json()["order"]["cancelReason"] == "user"


async def test_client_order_id_is_idempotent() -> None:
    c = make_class()
    body = {
        "symbol": "BTC-PERP",
        "side": "buy",
        "type": "market",
        "size": "0.5",
        "clientOrderId": "a-0007",
    }
    async with c.client() as http:
        first = await http.post("/api/v1/orders", json=body, headers=c.auth("alice"))
        assert first.status_code == 201, first.text
        data = first.json()
        assert data["order"]["status"] == "filled" and data["fills"][0]["liquidity"] == "taker"
        assert D(data["fills"][0]["px"]) == 100100 and data["fills"][0]["clientOrderId"] == "a-0007"
        state = c.state()
        again = await http.post("/api/v1/orders", json=body, headers=c.auth("alice"))
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == data
        other = await http.post(
            "/api/v1/orders", json={**body, "size": "0.6"}, headers=c.auth("alice")
        )
        assert other.status_code == 409 and other.json()["code"] == "CLIENT_ORDER_ID_CONFLICT"
        assert c.state() == state
        # the same id from another account is another order
        bob = await http.post("/api/v1/orders", json=body, headers=c.auth("bob"))
        assert bob.status_code == 201
        look = await http.get("/api/v1/orders/by-client-id/a-0007", headers=c.auth("alice"))
        assert look.json()["orderId"] == data["order"]["orderId"]


async def test_bad_input_is_4xx_problem_and_changes_nothing() -> None:
    c = make_class()
    good = {"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "99000"}
    cases = [
        (b'{"symbol": "BTC-PERP", ', 400, "BAD_REQUEST"),
        (b"[1, 2, 3]", 400, "BAD_REQUEST"),
        ({**good, "price": 99000.5}, 400, "INVALID_DECIMAL"),
        ({**good, "size": 0.1}, 400, "INVALID_DECIMAL"),
        ({**good, "size": "1e3"}, 400, "INVALID_DECIMAL"),
        ({**good, "size": "NaN"}, 400, "INVALID_DECIMAL"),
        ({**good, "price": "9" * 40}, 400, "INVALID_DECIMAL"),
        (b'{"symbol": "BTC-PERP", "side": "buy", "size": ' + b"9" * 5000 + b"}", 400, None),
        ({**good, "symbol": "ZZZ-PERP"}, 404, "UNKNOWN_SYMBOL"),
        ({**good, "size": "-1"}, 422, "INVALID_ORDER"),
        ({**good, "size": "0"}, 422, "INVALID_ORDER"),
        ({**good, "price": "99000.3"}, 422, "TICK_SIZE"),
        ({**good, "size": "0.00001"}, 422, "LOT_SIZE"),
        ({**good, "side": "long"}, 400, "BAD_REQUEST"),
        ({**good, "reduceOnly": "yes"}, 400, "BAD_REQUEST"),
        ({**good, "leverage": 3}, 400, "BAD_REQUEST"),
        ({**good, "clientOrderId": "x" * 37}, 400, "BAD_REQUEST"),
        ({**good, "clientOrderId": "bad id!"}, 400, "BAD_REQUEST"),
        ({**good, "size": "1000", "price": "100100"}, 422, "INSUFFICIENT_MARGIN"),
        ({**good, "timeInForce": "ALO", "price": "100100"}, 422, "POST_ONLY_WOULD_CROSS"),
        ({**good, "reduceOnly": True}, 422, "REDUCE_ONLY_WOULD_INCREASE"),
        (b"x" * 70_000, 413, "PAYLOAD_TOO_LARGE"),
    ]
    before = c.state()
    async with c.client() as http:
        for body, status, code in cases:
            if isinstance(body, bytes):
                headers = {**c.auth("alice"), "content-type": "application/json"}
                r = await http.post("/api/v1/orders", content=body, headers=headers)
            else:
                r = await http.post("/api/v1/orders", json=body, headers=c.auth("alice"))
            assert r.status_code == status, (body if isinstance(body, dict) else body[:40], r.text)
            assert r.headers["content-type"] == PROBLEM
            problem = r.json()
            assert problem["status"] == status and problem["detail"]
            if code is not None:
                assert problem["code"] == code, (body, problem)
        margin = (
            await http.post(
                "/api/v1/orders",
                headers=c.auth("alice"),
                json={**good, "size": "1000", "price": "100100"},
            )
        ).json()
        assert margin["exchangeCode"] == "insufficient_margin" and D(margin["shortfall"]) > 0
        for path, params in (
            ("/api/v1/markets/BTC-PERP/book", {"depth": "0"}),
            ("/api/v1/markets/BTC-PERP/book", {"depth": "x"}),
            ("/api/v1/markets/BTC-PERP/candles", {"interval": "7x"}),
            ("/api/v1/orders/abc", {}),
            ("/api/v1/orders/-5", {}),
            ("/api/v1/ledger", {"cursor": "-1"}),
        ):
            r = await http.get(path, params=params, headers=c.auth("alice"))
            assert r.status_code == 400 and r.json()["code"] == "BAD_REQUEST", (path, r.text)
        r = await http.get("/api/v1/markets/BTC-PERP/candles", params={"interval": "7m"})
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
        r = await http.put(
            "/api/v1/leverage/BTC-PERP", json={"leverage": 2.5}, headers=c.auth("alice")
        )
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
        r = await http.put(
            "/api/v1/leverage/BTC-PERP", json={"leverage": 500}, headers=c.auth("alice")
        )
        assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
        r = await http.get("/api/v1/no-such-thing")
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
        r = await http.put("/api/v1/time")
        assert r.status_code == 405 and r.json()["code"] == "METHOD_NOT_ALLOWED"
    assert c.state() == before


async def test_rate_limit_is_429_with_retry_after() -> None:
    c = make_class(rate=0.01, burst=3)
    async with c.client() as http:
        seen = [await http.get("/api/v1/account", headers=c.auth("alice")) for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 429]
        assert seen[0].headers["RateLimit-Policy"] == '"burst";q=3;w=300'
        assert seen[2].headers["RateLimit"].startswith('"burst";r=0;')
        refused = seen[3]
        assert refused.json()["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) >= 1
        # buckets are per key: bob still has his
        assert (await http.get("/api/v1/account", headers=c.auth("bob"))).status_code == 200


async def test_account_orders_fills_ledger_preview_explain() -> None:
    c = make_class()
    async with c.client() as http:
        a = c.auth("alice")
        r = await http.post(
            "/api/v1/orders",
            headers=a,
            json={"symbol": "BTC-PERP", "side": "buy", "type": "market", "size": "1.5"},
        )
        order = r.json()["order"]
        assert order["status"] == "filled" and D(order["filledSize"]) == D("1.5")
        assert D(order["avgFillPx"]) == D("100133.3333333333333333333333333333")
        account = (await http.get("/api/v1/account", headers=a)).json()
        pos = account["positions"][0]
        assert pos["symbol"] == "BTC-PERP" and D(pos["size"]) == D("1.5")
        assert {"bankruptcyPx", "settlePx", "imf", "mmf", "adlQuintile", "liquidationPx"} <= set(
            pos
        )
        assert account["status"] == "ok" and account["collateralByAsset"][0]["asset"] == "USD"
        assert account["leverageBySymbol"]["BTC-PERP"] == 20
        fills = (await http.get("/api/v1/fills", headers=a, params={"limit": 1})).json()
        assert len(fills["fills"]) == 1 and fills["nextCursor"] is not None
        older = (
            await http.get("/api/v1/fills", headers=a, params={"cursor": fills["nextCursor"]})
        ).json()
        assert (
            len(older["fills"]) == 1 and older["fills"][0]["fillId"] < fills["fills"][0]["fillId"]
        )
        ledger = (await http.get("/api/v1/ledger", headers=a, params={"limit": 2})).json()
        assert ledger["entries"][0]["type"] == "DEPOSIT" and ledger["nextCursor"] == "2"
        rest = (await http.get("/api/v1/ledger", headers=a, params={"cursor": 2})).json()
        assert len(ledger["entries"]) + len(rest["entries"]) == len(c.ex.ledger("alice"))
        fees = (await http.get("/api/v1/ledger", headers=a, params={"type": "fe"})).json()
        kinds = [e.type for e in c.ex.ledger("alice")]
        assert {e["type"] for e in fees["entries"]} == {"FEE"} and fees["total"] == kinds.count(
            "FEE"
        )
        preview = (
            await http.post(
                "/api/v1/orders/preview",
                headers=c.auth("alice-read"),
                json={
                    "symbol": "BTC-PERP",
                    "side": "sell",
                    "type": "limit",
                    "size": "1",
                    "price": "99000",
                },
            )
        ).json()
        assert D(preview["positionAfter"]) == D("0.5") and preview["wouldReject"] is None
        explain = (await http.get("/api/v1/positions/BTC-PERP/explain", headers=a)).json()
        assert explain["market"] == "BTC-PERP" and explain["equityTerms"]
        r = await http.put("/api/v1/leverage/BTC-PERP", json={"leverage": 10}, headers=a)
        assert r.json() == {"symbol": "BTC-PERP", "leverage": 10}
        r = await http.post(
            "/api/v1/orders",
            headers=a,
            json={"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "90000"},
        )
        oid = r.json()["order"]["orderId"]
        r = await http.patch(f"/api/v1/orders/{oid}", json={"price": "91000"}, headers=a)
        assert D(r.json()["order"]["price"]) == 91000
        assert (await http.delete("/api/v1/orders", headers=a)).json() == {"canceled": [oid]}
        who = (await http.get("/api/v1/whoami", headers=a)).json()
        assert who["accountId"] == "alice" and who["scopes"] == ["trade"]


async def test_admin_endpoints() -> None:
    c = make_class()
    adm = c.auth("admin")
    async with c.client() as http:
        r = await http.post(
            "/api/v1/admin/accounts",
            headers=adm,
            json={"name": "carol", "initialBalance": "10000", "deposits": {"BTC": "0.5"}},
        )
        assert r.status_code == 201, r.text
        carol = {"Authorization": f"Bearer {r.json()['apiKey']}"}
        acct = (await http.get("/api/v1/account", headers=carol)).json()
        amounts = {x["asset"]: D(x["amount"]) for x in acct["collateralByAsset"]}
        assert amounts == {"USD": 10000, "BTC": D("0.5")}
        r = await http.post("/api/v1/admin/accounts", headers=adm, json={"name": "carol"})
        assert r.status_code == 409 and r.json()["code"] == "DUPLICATE_ACCOUNT"
        for deposits in ({"USD": "0.0000001"}, {"SOL": "1"}, {"XYZ": "1"}, {"USD": "0"}):
            r = await http.post(
                "/api/v1/admin/accounts", headers=adm, json={"name": "dave", "deposits": deposits}
            )
            assert r.status_code == 400, r.text
        assert "dave" not in c.ex.accounts()
        r = await http.post(
            "/api/v1/admin/accounts/carol/deposit",
            headers=adm,
            json={"asset": "USD", "amount": "5"},
        )
        assert r.status_code == 200
        r = await http.put("/api/v1/admin/index/BTC", headers=adm, json={"price": "90000"})
        assert D(r.json()["indexPx"]) == 90000 and c.ex.market("BTC-PERP").index == D(90000)
        r = await http.post("/api/v1/admin/advance", headers=adm, json={"seconds": "30"})
        assert r.json()["serverTime"] == 30_000
        r = await http.post("/api/v1/admin/markets/ETH-PERP/halt", headers=adm)
        assert c.ex.market("ETH-PERP").reduce_only
        r = await http.post(
            "/api/v1/orders",
            headers=c.auth("alice"),
            json={"symbol": "ETH-PERP", "side": "buy", "size": "1", "price": "2900"},
        )
        assert r.status_code == 422 and r.json()["code"] == "MARKET_HALTED"
        await http.post("/api/v1/admin/markets/ETH-PERP/unhalt", headers=adm)
        keys = (await http.get("/api/v1/admin/keys", headers=adm)).json()["keys"]
        carol_key = next(k for k in keys if k["accountId"] == "carol")
        r = await http.delete(f"/api/v1/admin/keys/{carol_key['keyId']}", headers=adm)
        assert r.status_code == 200
        assert (await http.get("/api/v1/account", headers=carol)).status_code == 401
        r = await http.post(
            "/api/v1/admin/markets/SOL-PERP/settle", headers=adm, json={"price": "150"}
        )
        assert r.json()["positionsClosed"] == 0
        r = await http.post(
            "/api/v1/admin/markets/BTC-PERP/rollback", headers=adm, json={"start": 0, "end": 1000}
        )
        assert r.json()["fillsReversed"] == 0
        r = await http.post("/api/v1/admin/scenarios/cascade", headers=adm)
        assert r.status_code == 422
        r = await http.get("/api/v1/admin/ledger", headers=adm, params={"account": "INSURANCE"})
        assert D(r.json()["entries"][0]["amount"]) == 1_000_000
        events = (await http.get("/api/v1/events")).json()["events"]
        actions = [e["action"] for e in events if e["kind"] == "AdminAction"]
        assert actions[:3] == ["create_account", "deposit", "set_index"]
        assert all(e["keyName"] == "admin" for e in events if e["kind"] == "AdminAction")
        audit = (await http.get("/api/v1/admin/audit", headers=adm)).json()["audit"]
        assert audit[0]["action"] == "settle_market" or audit[0]["action"] == "rollback"
        board = (await http.get("/api/v1/leaderboard", headers=c.auth("watch"))).json()
        # carol's key was revoked above: she keeps her place (mm and the admin have no key)
        assert {row["accountId"] for row in board["leaderboard"]} == {"alice", "bob", "carol"}


async def test_idempotency_key_on_other_posts() -> None:
    c = make_class()
    a = {**c.auth("alice"), "Idempotency-Key": "w-1"}
    body = {"asset": "USD", "amount": "100"}
    async with c.client() as http:
        first = await http.post("/api/v1/withdrawals", json=body, headers=a)
        assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
        again = await http.post("/api/v1/withdrawals", json=body, headers=a)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = await http.post("/api/v1/withdrawals", json={**body, "amount": "5"}, headers=a)
        assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_KEY_CONFLICT"
        bad = await http.post(
            "/api/v1/withdrawals", json=body, headers={**a, "Idempotency-Key": "no spaces"}
        )
        assert bad.status_code == 400
    assert c.ex.balances("alice")["USD"] == D(1_000_000 - 100)


async def test_orders_by_status_and_client_ids_placed_elsewhere() -> None:
    c = make_class()
    a = c.auth("alice")
    # placed in process (the TUI, a script), not through the server: found by its id all the same
    c.ex.place_order("alice", "BTC-PERP", "buy", D("0.1"), price=D(90_000), client_order_id="tui-1")
    async with c.client() as http:
        r = await http.get("/api/v1/orders/by-client-id/tui-1", headers=a)
        assert r.status_code == 200 and r.json()["status"] == "open", r.text
        r = await http.delete("/api/v1/orders/by-client-id/tui-1", headers=a)
        assert r.json()["order"]["cancelReason"] == "user"
        r = await http.post(
            "/api/v1/orders",
            headers=a,
            json={"symbol": "BTC-PERP", "side": "buy", "type": "market", "size": "0.1"},
        )
        filled = r.json()["order"]["orderId"]
        r = await http.post(
            "/api/v1/orders",
            headers=a,
            json={"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "91000"},
        )
        resting = r.json()["order"]["orderId"]

        async def ids(**params: object) -> list[str]:
            r = await http.get("/api/v1/orders", headers=a, params=params)
            assert r.status_code == 200, r.text
            return [o["orderId"] for o in r.json()["orders"]]

        assert await ids() == [resting]
        canceled = (await http.get("/api/v1/orders/by-client-id/tui-1", headers=a)).json()
        assert await ids(status="canceled") == [canceled["orderId"]]
        assert await ids(status="filled") == [filled]
        assert await ids(status="closed") == [filled, canceled["orderId"]]
        assert await ids(status="all") == [resting, filled, canceled["orderId"]]
        assert await ids(status="all", limit=2) == [resting, filled]
        assert await ids(status="all", symbol="ETH-PERP") == []
        for params in ({"status": "rejected"}, {"status": "all", "limit": 0}, {"limit": 1001}):
            r = await http.get("/api/v1/orders", headers=a, params=params)
            assert r.status_code == 400, (params, r.text)
        r = await http.get("/api/v1/orders", headers=a, params={"status": "all", "symbol": "Z"})
        assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_SYMBOL"
        bob = await http.get("/api/v1/orders", headers=c.auth("bob"), params={"status": "all"})
        assert bob.json()["orders"] == []


async def test_halt_is_the_exchanges_command() -> None:
    c = make_class()
    adm = c.auth("admin")
    async with c.client() as http:
        r = await http.post("/api/v1/admin/markets/BTC-PERP/halt", headers=adm)
        assert r.json() == {"symbol": "BTC-PERP", "reduceOnly": True, "changed": True}
        r = await http.post("/api/v1/admin/markets/BTC-PERP/halt", headers=adm)
        assert r.json()["changed"] is False
        ticker = (await http.get("/api/v1/markets/BTC-PERP/ticker")).json()
        assert ticker["reduceOnly"] is True
        r = await http.post("/api/v1/admin/markets/ZZZ/halt", headers=adm)
        assert r.status_code == 404 and r.json()["code"] == "UNKNOWN_SYMBOL"
        await http.post("/api/v1/admin/markets/SOL-PERP/settle", headers=adm, json={"price": "150"})
        r = await http.post("/api/v1/admin/markets/SOL-PERP/unhalt", headers=adm)
        assert r.status_code == 422 and r.json()["code"] == "MARKET_HALTED"
        r = await http.post("/api/v1/admin/markets/BTC-PERP/unhalt", headers=adm)
        assert r.json()["changed"] is True and not c.ex.market("BTC-PERP").reduce_only
        events = (await http.get("/api/v1/events")).json()["events"]
        halts = [e["what"] for e in events if e["kind"] == "MarketEvent"]
        assert halts == ["halted", "settled", "resumed"]


async def test_the_fast_order_path_answers_as_the_route_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """POST /orders with `content-type: application/json` takes the fast path
    (fast_orders.py); with a charset parameter it goes through FastAPI's route. Both must
    answer alike: placed, replayed, refused by the exchange, conflicting, malformed."""
    c = make_class()
    taken: list[str] = []

    async def counted(ctx: Any, account: str, body: Any) -> Any:
        taken.append(account)
        return await routes_orders.place(ctx, account, body)

    monkeypatch.setattr(fast_orders, "place", counted)
    fast = {**c.auth("alice"), "content-type": "application/json"}
    routed = {**c.auth("bob"), "content-type": "application/json; charset=utf-8"}
    order = {"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "90000"}
    cases: list[tuple[dict[str, object] | bytes, int]] = [
        ({**order, "clientOrderId": "same"}, 201),
        ({**order, "clientOrderId": "same"}, 200),  # the replay
        ({**order, "clientOrderId": "same", "size": "0.2"}, 409),
        ({**order, "size": "1000"}, 422),
        ({**order, "symbol": "ZZZ-PERP"}, 404),
        ({**order, "size": 0.1}, 400),
        ({**order, "leverage": 3}, 400),
        (b'{"symbol": ', 400),
        (b"[" * 40_000, 400),
    ]

    def shape(r: httpx.Response) -> tuple[object, ...]:
        body = r.json()
        drop = {"orderId", "accountId", "createdAt", "updatedAt", "fillId", "requestId", "ts"}
        clean = json.loads(
            json.dumps(body),
            object_hook=lambda d: {k: v for k, v in d.items() if k not in drop},
        )
        headers = {k for k in r.headers if k.lower() not in ("date", "content-length")}
        return r.status_code, r.headers["content-type"], headers, clean

    async with c.client() as http:
        for body, status in cases:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            a = await http.post("/api/v1/orders", content=content, headers=fast)
            b = await http.post("/api/v1/orders", content=content, headers=routed)
            assert a.status_code == status, (body, a.text)
            assert shape(a) == shape(b), (body, a.text, b.text)
        assert taken == ["alice"] * 5  # the well-formed ones: placed, replayed or refused
        r = await http.post("/api/v1/orders", json=order)  # no key: handed to FastAPI
        assert r.status_code == 401
        r = await http.post("/api/v1/orders", json=order, headers=c.auth("alice-read"))
        assert r.status_code == 403


async def test_the_insurance_fund_answers_with_its_history() -> None:
    """API.md: "fund balance and history"; it gave the balance alone."""
    c = make_class(blp=True)
    c.ex.create_account("carol")
    c.ex.deposit("carol", "USD", D(6_000))
    c.ex.place_order("carol", "BTC-PERP", "buy", D(1), type="market")  # 20x at 100,100
    c.ex.set_index_price("BTC", D(94_500))  # under its MMR: the liquidation engine acts
    c.ex.advance(3)
    legs = [e for e in c.ex.ledger("INSURANCE") if e.asset == "USD"]
    assert len(legs) >= 2, legs  # the seed and what the liquidation brought or cost
    async with c.client() as http:
        fund = (await http.get("/api/v1/insurance-fund")).json()
        assert D(fund["balance"]) == c.ex.insurance_fund() == legs[-1].balance
        history = fund["history"]
        assert [h["txid"] for h in history] == [e.txid for e in reversed(legs)][:50]
        assert history[-1]["ref"] == "insurance fund seed" and history[0]["type"] != "DEPOSIT"
        assert D(history[0]["balance"]) == c.ex.insurance_fund()
        one = (await http.get("/api/v1/insurance-fund", params={"history": 1})).json()
        assert one["history"] == history[:1]
        none = (await http.get("/api/v1/insurance-fund", params={"history": 0})).json()
        assert none["history"] == [] and none["balance"] == fund["balance"]
        for bad in ("-1", "1001", "1.5", "x"):
            r = await http.get("/api/v1/insurance-fund", params={"history": bad})
            assert r.status_code == 400, (bad, r.text)
