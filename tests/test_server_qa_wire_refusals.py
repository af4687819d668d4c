"""REST refusals a QA tester found wrong: echoes of a 60,000-character symbol, a 31-digit
number told it was not digits, a wrong Content-Type or a body nested 5,000 deep answered in
FastAPI's words, a convert to SOL with another exchangeCode than a withdrawal of SOL, and
PATCH /orders/preview read as an order id. Each stays a 4xx problem+json."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchange_local import errors
from tests.test_server_support import Class, Live, make_class

D = Decimal
PROBLEM = "application/problem+json"
MAX = 2**62


def problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = dict(r.json())
    assert body["code"] == code and body["status"] == status, body
    return body


async def test_a_long_unknown_symbol_is_refused_without_its_echo() -> None:
    c = make_class()
    alice = c.auth("alice")
    x60k, a5k = "x" * 60_000, "A" * 5_000
    async with c.client() as http:
        for r in (
            await http.get(f"/api/v1/markets/{x60k}/ticker"),
            await http.put(f"/api/v1/leverage/{a5k}", json={"leverage": 10}, headers=alice),
            await http.get("/api/v1/fills", params={"symbol": x60k}, headers=alice),
            await http.get("/api/v1/orders", params={"symbol": x60k}, headers=alice),
        ):
            body = problem(r, 404, "UNKNOWN_SYMBOL")
            assert len(r.content) < 1_000, len(r.content)  # were 120 KB, 10 KB, 60 KB
            sent = x60k if "x" in body["detail"] else a5k
            assert f"there is no market '{sent[:40]}…'" in body["detail"]
            assert "BTC-PERP" in body["detail"]  # the markets there are, still named
        r = await http.get(f"/api/v1/{x60k}")  # no such endpoint: the path echoed, cut
        assert len(problem(r, 404, "NOT_FOUND")["instance"]) < 300
        r = await http.get("/api/v1/markets/NOPE-PERP/ticker")  # a short one is whole
        assert "there is no market 'NOPE-PERP'" in problem(r, 404, "UNKNOWN_SYMBOL")["detail"]


@pytest.mark.parametrize(
    ("path", "name", "who"),
    [
        ("/api/v1/events", "since", None),
        ("/api/v1/ledger", "cursor", "alice"),
        ("/api/v1/admin/ledger?account=alice", "cursor", "admin"),
        ("/api/v1/fills", "cursor", "alice"),
        ("/api/v1/orders/{n}", "", "alice"),
    ],
)
async def test_too_many_digits_are_refused_naming_the_maximum(
    path: str, name: str, who: str | None
) -> None:
    c = make_class()
    headers = c.auth(who) if who else {}
    async with c.client() as http:
        for number in ("1744101375889427706284777406464", str(MAX + 1), "9" * 5000):
            if name:
                sep = "&" if "?" in path else "?"
                url = f"{path}{sep}{name}={number}"
            else:
                url = path.format(n=number)
            detail = problem(await http.get(url, headers=headers), 400, "BAD_REQUEST")["detail"]
            assert f"less than or equal to {MAX}" in detail, detail
            assert "written in digits" not in detail
        ok = path.format(n=1) if not name else f"{path}{'&' if '?' in path else '?'}{name}={MAX}"
        assert (await http.get(ok, headers=headers)).status_code in (200, 404)


async def test_the_openapi_document_declares_those_maximums() -> None:
    c = make_class()
    async with c.client() as http:
        doc = (await http.get("/api/v1/openapi.json")).json()
    for path, name in (
        ("/api/v1/events", "since"),
        ("/api/v1/ledger", "cursor"),
        ("/api/v1/admin/ledger", "cursor"),
    ):
        [param] = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
        schema = param["schema"]
        options = schema.get("anyOf", [schema])
        assert any(o.get("maximum") == MAX for o in options), (path, schema)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/withdrawals", b'{"asset": "USD", "amount": "1"}'),
        ("/api/v1/orders", b'{"symbol": "BTC-PERP", "side": "buy", "type": "market", "size": "1"}'),
    ],
)
async def test_a_json_body_sent_as_another_content_type_is_told_so(path: str, body: bytes) -> None:
    c = make_class()
    before = c.state()
    async with c.client() as http:
        for kind in ("text/plain", "application/x-www-form-urlencoded", None):
            headers = {**c.auth("alice"), **({"content-type": kind} if kind else {})}
            r = await http.post(path, content=body, headers=headers)
            detail = problem(r, 400, "BAD_REQUEST")["detail"]
            assert detail == "Content-Type must be application/json", (kind, detail)
        for kind in ("application/json; charset=utf-8", "application/merge-patch+json"):
            headers = {**c.auth("bob"), "content-type": kind}
            r = await http.post(path, content=body, headers=headers)
            assert r.status_code in (200, 201), (kind, r.text)
    assert c.state() != before  # the JSON ones were taken; the others changed nothing


async def test_a_body_nested_too_deeply_is_told_so() -> None:
    c = make_class()
    before = c.state()
    deep = b"[" * 5000 + b"]" * 5000
    async with c.client() as http:
        for path in ("/api/v1/orders", "/api/v1/withdrawals", "/api/v1/orders/preview"):
            headers = {**c.auth("alice"), "content-type": "application/json"}
            r = await http.post(path, content=deep, headers=headers)
            detail = problem(r, 400, "BAD_REQUEST")["detail"]
            assert detail == "the request body is JSON nested too deeply", (path, detail)
    assert c.state() == before


async def test_a_convert_of_an_asset_that_is_not_collateral_is_unknown_asset() -> None:
    """As a withdrawal of it: the same words, the same exchangeCode, both directions."""
    c = make_class()
    before = c.state()
    async with c.client() as http:
        for body in (
            {"from": "USD", "to": "SOL", "amount": "1"},
            {"from": "SOL", "to": "USD", "amount": "1"},
        ):
            r = await http.post("/api/v1/converts", json=body, headers=c.auth("alice"))
            refused = problem(r, 400, "INVALID_REQUEST")
            assert refused["exchangeCode"] == "unknown_asset"
            assert refused["detail"] == "SOL is not accepted as collateral"
        r = await http.post(
            "/api/v1/withdrawals", json={"asset": "SOL", "amount": "1"}, headers=c.auth("alice")
        )
        assert problem(r, 400, "INVALID_REQUEST")["exchangeCode"] == "unknown_asset"
    with pytest.raises(errors.UnknownAsset, match=r"^SOL is not accepted as collateral$"):
        c.ex.convert("alice", "USD", "SOL", D(1))
    assert c.state() == before


async def test_other_methods_on_the_preview_are_405() -> None:
    """/orders/preview is POST only: PATCH, GET and DELETE there matched /orders/{orderId}
    and were told the order id was not a number (schemathesis ST204)."""
    c = make_class()
    async with c.client() as http:
        for method in ("PATCH", "GET", "DELETE"):
            for who in ("alice", "alice-read", None):
                headers = c.auth(who) if who else {}
                r = await http.request(method, "/api/v1/orders/preview", headers=headers, json={})
                problem(r, 405, "METHOD_NOT_ALLOWED")
                assert r.headers["allow"] == "POST"
        r = await http.patch("/api/v1/orders/12345", json={"size": "1"}, headers=c.auth("alice"))
        problem(r, 404, "ORDER_NOT_FOUND")  # the template still takes its own paths


async def test_an_id_with_dot_segments_is_reachable_escaped(served: tuple[Class, Live]) -> None:
    """Why `x/../y` is still accepted (QA item 9b): API.md's ids allow '/' and '.', and the
    id is reachable with its slashes escaped (%2F), as perptui sends it; only a URL written
    with raw slashes is collapsed by clients (RFC 3986 dot segments) before it is sent."""
    c, live = served
    order = {"symbol": "BTC-PERP", "side": "buy", "type": "limit", "size": "0.01"}
    async with httpx.AsyncClient(base_url=live.base_url) as http:
        r = await http.post(
            "/api/v1/orders",
            json={**order, "price": "90000", "clientOrderId": "x/../y"},
            headers=c.auth("alice"),
        )
        assert r.status_code == 201, r.text
        r = await http.get("/api/v1/orders/by-client-id/x%2F..%2Fy", headers=c.auth("alice"))
        assert r.status_code == 200 and r.json()["clientOrderId"] == "x/../y", r.text
