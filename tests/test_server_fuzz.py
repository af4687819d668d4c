"""The API fuzzed from its own OpenAPI document (hypothesis; a bounded run): whatever arrives
(random JSON, field names right with values wrong, odd path and query values), the answer is
never a 5xx, and every refusal is problem+json. A longer run is marked slow."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_server_support import make_class

SKIP = {("/api/v1/admin/advance", "post"), ("/api/v1/admin/speed", "put")}  # slow by design
CLASS = make_class(rate=1e9, burst=10**9)
DOC = CLASS.app.openapi()
OPERATIONS = sorted(
    (path, method, op)
    for path, item in DOC["paths"].items()
    for method, op in item.items()
    if (path, method) not in SKIP
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["0", "-1", "1e9", "99000.5", "BTC-PERP", "USD", "NaN", "", "9" * 60]),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def body_fields(op: dict[str, Any]) -> list[str]:
    ref = (
        op.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("$ref", "")
    )
    schema = DOC["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
    return list(schema.get("properties", {}))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    path, method, op = draw(st.sampled_from(OPERATIONS))
    url = re.sub(
        r"\{[^}]+\}",
        lambda _: draw(
            st.sampled_from(["BTC-PERP", "1", "alice", "ZZZ", "-1", "%20", "x" * 80, "9" * 30])
        ),
        path,
    )
    params = {
        p["name"]: draw(st.one_of(st.text(max_size=12), st.integers(-5, 10**20).map(str)))
        for p in op.get("parameters", [])
        if p["in"] == "query" and draw(st.booleans())
    }
    kwargs: dict[str, Any] = {"params": params}
    if "requestBody" in op:
        fields = body_fields(op)
        shaped = st.fixed_dictionaries({}, optional={f: json_values for f in fields})
        body = draw(st.one_of(shaped, json_values))
        kwargs["content"] = json.dumps(body).encode()
        kwargs["headers"] = {"content-type": "application/json"}
    who = "admin" if "/admin/" in path else draw(st.sampled_from(["alice", "alice-read", "watch"]))
    headers = {**kwargs.get("headers", {}), **CLASS.auth(who)}
    kwargs["headers"] = headers
    return method.upper(), url, kwargs


async def send(method: str, url: str, kwargs: dict[str, Any]) -> httpx.Response:
    async with CLASS.client() as http:
        return await http.request(method, url, **kwargs)


def check(method: str, url: str, kwargs: dict[str, Any]) -> None:
    r = asyncio.run(send(method, url, kwargs))
    assert r.status_code < 500, (method, url, kwargs, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/problem+json", (url, r.text)
        problem = r.json()
        assert problem["status"] == r.status_code and problem["code"] and problem["detail"]


@settings(
    max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(requests())
def test_no_5xx_and_problem_json(request: tuple[str, str, dict[str, Any]]) -> None:
    check(*request)


@pytest.mark.slow
@settings(max_examples=5_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_no_5xx_long_run(request: tuple[str, str, dict[str, Any]]) -> None:
    check(*request)
