"""The API checked against its own OpenAPI document by schemathesis (stateless): for every
operation, cases generated from the document (valid ones and invalid ones, derandomized, a
bounded number each) are sent to the app in process (schemathesis's ASGI loader) and every
answer must be no 5xx (`not_a_server_error`), have a declared status code
(`status_code_conformance`) and content type (`content_type_conformance`), match the declared
schema and headers of that status (`response_schema_conformance`,
`response_headers_conformance`), refuse what the document says is
invalid (`negative_data_rejection`), and list the path's methods in the `Allow` of a 405
(`allow_header_conformance`). A longer run is marked slow.

tests/test_server_fuzz.py throws malformed JSON and odd paths at the server; this module
holds the answers to the document itself.

How the private endpoints are reached: every case carries a key: admin's under
/api/v1/admin/, alice's trade key elsewhere (so the endpoints answer, not 401 or 403). Rate
limits are out of the way (rate=1e9). Path, query and body values are drawn, half of the
time, from the exchange's real names and sensible amounts (symbols, assets, accounts,
scenarios, key ids, order ids, sizes, prices), so the success paths run too, not only the
404s of random names (46 of the 51 operations see a 2xx). Halting and settling touch
ETH-PERP only, so that BTC-PERP stays live.

Left out, slow by design (as in test_server_fuzz.py; test_server_teacher.py and
test_server_cli.py call them):
POST /api/v1/admin/advance runs the exchange clock forward by up to a day per call (~3 s
each, and every later case would see a different exchange), and PUT /api/v1/admin/speed
starts the clock driver at up to 1000x, which would run the exchange (and a core) under every
later case.

Not run, and why: `positive_data_acceptance` (the exchange refuses many schema-valid values
by its rules: a zero deposit, more than the balance, a tick size; 400 or 422 by design) and
`unsupported_method` (PATCH /orders/preview reaches the template /orders/{orderId} and is a
400 for its non-integer id, not a 405).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from hypothesis import settings
from pydantic import BaseModel
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange_local.marketdata import INTERVALS_MS
from exchange_local.server import wire
from tests.test_server_support import make_class

CLASS = make_class(rate=1e9, burst=10**9)
SLOW_BY_DESIGN = ["/api/v1/admin/advance", "/api/v1/admin/speed"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    allow_header_conformance,
]
KEY_IDS = [k.key_id for k in CLASS.keys.all() if k.name in ("bob", "old")]
CLIENT_IDS = [f"st-{i}" for i in range(1, 7)]
ORDER_IDS = [  # alice's resting orders, for the look-ups, amends and cancels to find
    CLASS.ex.place_order(
        "alice", "BTC-PERP", "buy", Decimal("0.01"), price=Decimal(98_000 + i), client_order_id=coid
    ).order_id
    for i, coid in enumerate(CLIENT_IDS)
]
REAL = 0.5  # how often a bound parameter takes a real value


def _config() -> schemathesis.Config:
    def real(dictionary: str) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": REAL}

    return schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": 25,
                "deterministic": True,
                "database": "none",
            },
            "dictionaries": {
                "symbols": {"values": ["BTC-PERP", "ETH-PERP"]},
                "assets": {"values": ["USD", "USDC", "BTC", "ETH"]},
                "accounts": {"values": ["alice", "bob", "mm"]},
                "scenarios": {"values": ["crash", "funding", "calm"]},
                "keys": {"values": KEY_IDS},
                "sizes": {"values": ["0.001", "0.01", "1"]},
                "prices": {"values": ["99000", "100000", "100100", "3000"]},
                "amounts": {"values": ["1", "100", "1000"]},
                "order_ids": {"values": ORDER_IDS},
                "client_ids": {"values": CLIENT_IDS},
            },
            "parameters": {
                "path.symbol": real("symbols"),
                "query.symbol": real("symbols"),
                "body.symbol": real("symbols"),
                "path.asset": real("assets"),
                "body.asset": real("assets"),
                "body.from": real("assets"),
                "body.to": real("assets"),
                "path.accountId": real("accounts"),
                "query.account": real("accounts"),
                "path.name": real("scenarios"),
                "path.keyId": real("keys"),
                "body.size": real("sizes"),
                "body.price": real("prices"),
                "body.amount": real("amounts"),
                "path.orderId": real("order_ids"),
                "path.clientOrderId": real("client_ids"),
                "body.clientOrderId": real("client_ids"),
            },
            "operations": [
                {
                    "include-path-regex": r"/markets/\{symbol\}/(settle|halt)$",
                    "parameters": {"symbol": "ETH-PERP"},
                }
            ],
        }
    )


schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", CLASS.app, config=_config())
schema = schema.exclude(path=SLOW_BY_DESIGN)


def headers(case: schemathesis.Case) -> dict[str, str]:
    return CLASS.auth("admin" if case.path.startswith("/api/v1/admin/") else "alice")


def with_key(case: schemathesis.Case) -> schemathesis.Case:
    """The key put in the case itself, not only in the request: the document declares the
    Bearer scheme, so a case generated without `Authorization` counts as invalid (it must be
    refused), and schemathesis judges a case by what it holds."""
    case.headers = {**(case.headers or {}), **headers(case)}
    return case


@schema.parametrize()
def test_conforms_to_openapi(case: schemathesis.Case) -> None:
    with_key(case).call_and_validate(checks=CHECKS)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=500)
def test_conforms_to_openapi_long_run(case: schemathesis.Case) -> None:
    with_key(case).call_and_validate(checks=CHECKS)


# Regressions: what schemathesis found, checked directly.


async def test_405_names_every_method_of_the_path() -> None:
    """Starlette's `Allow` named only the first matching route's methods (`OPTIONS /orders`
    said POST); a literal path still beats a template (/orders/preview is not /orders/{id})."""
    c = make_class()
    async with c.client() as http:
        for method, path, allow in (
            ("OPTIONS", "/api/v1/orders", "DELETE, GET, POST"),
            ("PUT", "/api/v1/orders/by-client-id/x", "DELETE, GET"),
            ("PUT", "/api/v1/orders/7", "DELETE, GET, PATCH"),
            ("PUT", "/api/v1/orders/preview", "POST"),
            ("OPTIONS", "/api/v1/admin/scenarios/current", "DELETE"),
            ("POST", "/api/v1/time", "GET"),
        ):
            r = await http.request(method, path, headers=c.auth("admin"))
            assert r.status_code == 405 and r.headers["allow"] == allow, (method, path)
            assert r.headers["content-type"] == "application/problem+json"


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        return [node, *(o for v in node.values() for o in _objects(v))]
    if isinstance(node, list):
        return [o for v in node for o in _objects(v)]
    return []


async def test_asset_maps_declare_their_keys_closed() -> None:
    """`deposits` was declared with `patternProperties` alone, which admits any other key with
    any value; the server refuses such a key, so the document must say so."""
    doc = CLASS.app.openapi()
    patterned = [o for o in _objects(doc) if "patternProperties" in o]
    assert len(patterned) >= 2  # CreateAccountBody and ResetBody
    assert all(o.get("additionalProperties") is False for o in patterned)
    c = make_class()
    async with c.client() as http:
        r = await http.post(
            "/api/v1/admin/accounts/alice/reset",
            json={"deposits": {"not an asset": "1"}},
            headers=c.auth("admin"),
        )
    assert r.status_code == 400 and r.json()["code"] == "BAD_REQUEST"


async def test_candle_intervals_declared_are_the_ones_served() -> None:
    doc = CLASS.app.openapi()
    (interval,) = (
        p
        for p in doc["paths"]["/api/v1/markets/{symbol}/candles"]["get"]["parameters"]
        if p["name"] == "interval"
    )
    assert interval["schema"]["enum"] == list(INTERVALS_MS)
    c = make_class()
    async with c.client() as http:
        for value in INTERVALS_MS:
            r = await http.get("/api/v1/markets/BTC-PERP/candles", params={"interval": value})
            assert r.status_code == 200, value


def test_an_order_replay_is_declared() -> None:
    """The 200 of a replayed clientOrderId was declared with no body; it has the 201's body
    and the header Idempotent-Replayed (answered by the fast path, fast_orders.py)."""
    c = make_class(rate=1e9, burst=10**9)
    replay = c.app.openapi()["paths"]["/api/v1/orders"]["post"]["responses"]["200"]
    assert "application/json" in replay["content"]
    assert replay["headers"]["Idempotent-Replayed"]["required"] is True
    operation = schemathesis.openapi.from_asgi("/api/v1/openapi.json", c.app)["/api/v1/orders"]
    body = {"symbol": "BTC-PERP", "side": "buy", "size": "0.01", "price": "99000"}
    for status in (201, 200):
        case = operation["POST"].Case(body={**body, "clientOrderId": "r-1"})
        r = case.call_and_validate(headers=c.auth("alice"), checks=CHECKS)
        assert r.status_code == status


class _Count(BaseModel):
    n: int


def test_the_checks_catch_a_response_off_its_schema() -> None:
    """The harness itself: a route whose body does not match its declared model fails."""
    app = FastAPI()

    @app.get("/n", response_model=_Count)
    async def n() -> JSONResponse:
        return JSONResponse({"n": "not a number"})

    case = schemathesis.openapi.from_asgi("/openapi.json", app)["/n"]["GET"].Case()
    with pytest.raises(FailureGroup):
        case.call_and_validate(checks=CHECKS)


def test_a_served_body_off_its_declared_model_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 2xx bodies are declared (responses.py), not enforced: the schema run is what
    notices wire.py drifting from them, on the FastAPI routes and on the fast order path."""
    c = make_class(rate=1e9, burst=10**9)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", c.app)
    markets = schema["/api/v1/markets"]["GET"]
    place = schema["/api/v1/orders"]["POST"]
    body = {"symbol": "BTC-PERP", "side": "buy", "size": "0.01", "price": "99000"}
    markets.Case().call_and_validate(checks=CHECKS)
    place.Case(body=body).call_and_validate(headers=c.auth("alice"), checks=CHECKS)

    market_json, order_json = wire.market_json, wire.order_json
    monkeypatch.setattr(wire, "market_json", lambda s: {**market_json(s), "tickSize": 0.5})
    monkeypatch.setattr(wire, "order_json", lambda *a: {**order_json(*a), "extra": 1})
    with pytest.raises(FailureGroup):
        markets.Case().call_and_validate(checks=CHECKS)
    with pytest.raises(FailureGroup):
        place.Case(body=body).call_and_validate(headers=c.auth("alice"), checks=CHECKS)


def test_keyed_operations_declare_the_bearer_scheme() -> None:
    doc = CLASS.app.openapi()
    assert doc["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["apiKey"]["description"],
    }
    paths = doc["paths"]
    assert paths["/api/v1/account"]["get"]["security"] == [{"apiKey": []}]
    assert paths["/api/v1/orders"]["post"]["security"] == [{"apiKey": []}]
    assert paths["/api/v1/admin/ledger"]["get"]["security"] == [{"apiKey": []}]
    assert "security" not in paths["/api/v1/markets"]["get"]
