"""The token bucket and the RateLimit headers apply to every HTTP answer, not only to the
requests that reach a route: a malformed or oversized body, a duplicate JSON key, an unknown
path, a wrong method and the OpenAPI document / docs take a token each (once), carry the
headers, and are refused 429 with Retry-After once the bucket is empty (deps.RateGate).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.test_server_support import Class, live_server, make_class

RATE = 0.01  # a token every 100 s: nothing refills during a test
BURST = 3
GOOD = {"symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "99000"}
JSON = {"Content-Type": "application/json"}
DUPLICATE = b'{"asset":"USD","amount":"1","amount":"2"}'
BAD_KEY = {"Authorization": "Bearer elk_bad_x"}


async def _chunks() -> AsyncIterator[bytes]:
    """A body sent chunked (no Content-Length): BodyLimit counts it as it arrives."""
    for _ in range(2):
        yield b" " * 40_000


def _request(c: Class, case: str) -> tuple[str, str, dict[str, Any], int]:
    """(method, path, httpx options, the status before the bucket is empty)."""
    alice = c.auth("alice")
    cases: dict[str, tuple[str, str, dict[str, Any], int]] = {
        "malformed order, no key": (
            "POST",
            "/api/v1/orders",
            {"content": b"{bad", "headers": JSON},
            400,
        ),
        "malformed order, key (fast path)": (
            "POST",
            "/api/v1/orders",
            {"content": b"{bad", "headers": {**JSON, **alice}},
            400,
        ),
        "duplicate key, no key": (
            "POST",
            "/api/v1/withdrawals",
            {"content": DUPLICATE, "headers": JSON},
            400,
        ),
        "duplicate key, key": (
            "POST",
            "/api/v1/withdrawals",
            {"content": DUPLICATE, "headers": {**JSON, **alice}},
            400,
        ),
        "body over 64 KiB": (
            "POST",
            "/api/v1/orders",
            {"content": b" " * (64 * 1024 + 1), "headers": {**JSON, **alice}},
            413,
        ),
        "body over 64 KiB, chunked": (
            "POST",
            "/api/v1/withdrawals",
            {"content": _chunks(), "headers": JSON},
            413,
        ),
        "unknown path": ("GET", "/api/v1/nonexistent", {}, 404),
        "unknown path, key": ("GET", "/api/v1/nonexistent", {"headers": alice}, 404),
        "wrong method": ("PUT", "/api/v1/time", {}, 405),
        "openapi": ("GET", "/api/v1/openapi.json", {}, 200),
        "docs": ("GET", "/api/v1/docs", {}, 200),
        "bad key": ("GET", "/api/v1/account", {"headers": BAD_KEY}, 401),
        "no key": ("GET", "/api/v1/time", {}, 200),
    }
    return cases[case]


CASES = [
    "malformed order, no key",
    "malformed order, key (fast path)",
    "duplicate key, no key",
    "duplicate key, key",
    "body over 64 KiB",
    "body over 64 KiB, chunked",
    "unknown path",
    "unknown path, key",
    "wrong method",
    "openapi",
    "docs",
    "bad key",
    "no key",
]


def assert_headers(r: httpx.Response, left: int, burst: int = BURST) -> None:
    policy = f'"burst";q={burst};w={int(burst / RATE)}'
    assert r.headers.get("RateLimit-Policy") == policy, (r.status_code, r.headers)
    assert r.headers.get("RateLimit", "").startswith(f'"burst";r={left};t='), r.headers
    assert r.headers.get_list("RateLimit") == [r.headers["RateLimit"]]  # added once


@pytest.mark.parametrize("case", CASES)
async def test_a_burst_of_any_request_is_limited_with_headers(case: str) -> None:
    c = make_class(rate=RATE, burst=BURST)
    method, path, options, status = _request(c, case)
    async with c.client() as http:
        for i in range(BURST):
            _, _, options, _ = _request(c, case)  # a fresh body iterator each time
            r = await http.request(method, path, **options)
            assert r.status_code == status, (i, r.text)
            assert_headers(r, BURST - 1 - i)
            assert "Retry-After" not in r.headers
        _, _, options, _ = _request(c, case)
        refused = await http.request(method, path, **options)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) >= 1
        assert_headers(refused, 0)


async def test_a_normal_answer_carries_the_headers_and_counts_everything() -> None:
    c = make_class(rate=RATE, burst=BURST)
    async with c.client() as http:
        r = await http.get("/api/v1/time")
        assert r.status_code == 200 and "Retry-After" not in r.headers
        assert_headers(r, 2)
        assert (await http.get("/api/v1/nonexistent")).status_code == 404  # took one too
        r = await http.get("/api/v1/time")
        assert r.status_code == 200 and "Retry-After" not in r.headers
        assert_headers(r, 0)
        assert (await http.get("/api/v1/time")).status_code == 429


async def test_two_keys_and_the_address_have_separate_buckets() -> None:
    c = make_class(rate=RATE, burst=BURST)
    async with c.client() as http:
        for _ in range(BURST):  # alice empties hers with answers no route gives
            assert (
                await http.get("/api/v1/nonexistent", headers=c.auth("alice"))
            ).status_code == 404
        r = await http.post("/api/v1/orders", content=b"{bad", headers={**JSON, **c.auth("alice")})
        assert r.status_code == 429 and "Retry-After" in r.headers
        r = await http.get("/api/v1/account", headers=c.auth("alice"))
        assert r.status_code == 429
        r = await http.get("/api/v1/account", headers=c.auth("bob"))
        assert r.status_code == 200
        assert_headers(r, BURST - 1)
        r = await http.get("/api/v1/openapi.json")  # the address's bucket is a third one
        assert r.status_code == 200
        assert_headers(r, BURST - 1)


async def test_each_request_takes_exactly_one_token() -> None:
    """A burst of exactly `burst` requests with one key, of every kind (the fast order path and
    its refusals, orders it hands to FastAPI, a route with the gate, a 400, a 404, the OpenAPI
    document),
    all pass with the count going down by one each; the next is refused."""
    burst = 9
    c = make_class(rate=RATE, burst=burst)
    a = c.auth("alice")
    sequence: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "/api/v1/orders", {"json": GOOD, "headers": a}, 201),  # fast path
        ("POST", "/api/v1/orders", {"json": {**GOOD, "size": "-1"}, "headers": a}, 422),
        ("POST", "/api/v1/orders", {"json": {**GOOD, "side": "up"}, "headers": a}, 400),
        ("POST", "/api/v1/orders", {"content": b"{bad", "headers": {**JSON, **a}}, 400),
        ("GET", "/api/v1/account", {"headers": a}, 200),
        ("POST", "/api/v1/orders/preview", {"json": GOOD, "headers": a}, 200),
        ("POST", "/api/v1/withdrawals", {"content": DUPLICATE, "headers": {**JSON, **a}}, 400),
        ("GET", "/api/v1/nonexistent", {"headers": a}, 404),
        ("GET", "/api/v1/openapi.json", {"headers": a}, 200),
    ]
    assert len(sequence) == burst
    async with c.client() as http:
        for i, (method, path, options, status) in enumerate(sequence):
            r = await http.request(method, path, **options)
            assert r.status_code == status, (path, r.text)
            assert_headers(r, burst - 1 - i, burst)
        r = await http.post("/api/v1/orders", json=GOOD, headers=a)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        assert_headers(r, 0, burst)
    assert len(c.ex.open_orders("alice")) == 1  # the refused order was not placed


async def test_a_full_bucket_of_orders_all_pass() -> None:
    c = make_class(rate=RATE, burst=BURST)
    async with c.client() as http:
        for i in range(BURST):
            r = await http.post("/api/v1/orders", json=GOOD, headers=c.auth("alice"))
            assert r.status_code == 201, r.text
            assert_headers(r, BURST - 1 - i)
        r = await http.post("/api/v1/orders", json=GOOD, headers=c.auth("alice"))
        assert r.status_code == 429
    assert len(c.ex.open_orders("alice")) == BURST


async def test_over_a_real_connection_websockets_are_not_charged() -> None:
    """Under uvicorn: the handshakes pass untouched (no token taken), a malformed body is
    limited per address, and after a 429 that never read its body the client goes on."""
    c = make_class(rate=RATE, burst=BURST)
    with live_server(c.app) as live:
        for _ in range(BURST + 2):
            async with connect(live.ws_url) as ws:
                await ws.send('{"op":"ping","id":1}')
                await ws.recv()
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            statuses = []
            for _ in range(BURST + 2):
                r = await http.post("/api/v1/orders", content=b"{bad", headers=JSON)
                statuses.append(r.status_code)
                assert "RateLimit" in r.headers and "RateLimit-Policy" in r.headers
            assert statuses == [400] * BURST + [429, 429]
            r = await http.get("/api/v1/account", headers=c.auth("alice"))
            assert r.status_code == 200
            assert_headers(r, BURST - 1)
