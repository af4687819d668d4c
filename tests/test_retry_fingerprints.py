"""QA's retries and time-in-force, fixed: a retry that writes a number differently ("98000.0"
for "98000") is the same request, for clientOrderId and Idempotency-Key alike; the remote
venue never sends a post-only IOC or FOK as a resting ALO order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, errors
from perptui.venues.base import OrderRequest
from perptui.venues.remote import _order_body
from tests.test_server_support import make_class

D = Decimal


def test_canonical_compares_numbers_by_value_and_the_rest_exactly() -> None:
    from exchange_local.server.idempotency import canonical

    a = {"price": D("98000"), "size": D("0.10"), "asset": "ETH", "deposits": {"USD": D("1.0")}}
    b = {"price": D("98000.000"), "size": D("0.1"), "asset": "ETH", "deposits": {"USD": D(1)}}
    assert canonical(a) == canonical(b)
    assert canonical({"x": D("-0.00")}) == canonical({"x": D(0)})
    assert canonical({"asset": "ETH"}) != canonical({"asset": "eth"})
    assert canonical({"price": D("98000")}) != canonical({"price": D("98000.5")})


async def test_an_order_retried_with_other_number_text_is_a_replay() -> None:
    c = make_class()
    body = {
        "symbol": "BTC-PERP", "side": "buy", "size": "0.1", "price": "98000",
        "clientOrderId": "qa-fix-c-1",
    }  # fmt: skip
    async with c.client() as http:
        first = await http.post("/api/v1/orders", json=body, headers=c.auth("alice"))
        assert first.status_code == 201, first.text
        state = c.state()
        same = {**body, "price": "98000.0", "size": "0.100"}
        again = await http.post("/api/v1/orders", json=same, headers=c.auth("alice"))
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == first.json()
        other = await http.post(
            "/api/v1/orders", json={**body, "price": "98000.5"}, headers=c.auth("alice")
        )
        assert (other.status_code, other.json()["code"]) == (409, "CLIENT_ORDER_ID_CONFLICT")
        other = await http.post(
            "/api/v1/orders", json={**body, "side": "sell"}, headers=c.auth("alice")
        )
        assert other.status_code == 409
        assert c.state() == state


async def test_an_idempotency_key_retried_with_other_number_text_is_a_replay() -> None:
    c = make_class()
    headers = {**c.auth("alice"), "Idempotency-Key": "qa-fix-c-w1"}
    async with c.client() as http:
        first = await http.post(
            "/api/v1/withdrawals", json={"asset": "USD", "amount": "10"}, headers=headers
        )
        assert first.status_code == 200, first.text
        balance = c.ex.balances("alice")["USD"]
        again = await http.post(
            "/api/v1/withdrawals", json={"asset": "USD", "amount": "10.00"}, headers=headers
        )
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        other = await http.post(
            "/api/v1/withdrawals", json={"asset": "USD", "amount": "10.01"}, headers=headers
        )
        assert (other.status_code, other.json()["code"]) == (409, "IDEMPOTENCY_KEY_CONFLICT")
        assert c.ex.balances("alice")["USD"] == balance == D(1_000_000) - 10


def _local_refusal(**order: Any) -> str:
    ex = Exchange()
    acct = ex.create_account("a")
    ex.deposit(acct, "USD", D(100_000))
    with pytest.raises(errors.InvalidOrder) as caught:
        ex.place_order(acct, "BTC-PERP", "buy", D("0.01"), price=D(60_000), **order)
    return str(caught.value)


@pytest.mark.parametrize("tif", ["ioc", "fok"])
def test_a_post_only_ioc_or_fok_is_refused_as_the_exchange_refuses_it(tif: str) -> None:
    request = OrderRequest("BTC-PERP", "buy", D("0.01"), price=D(60_000), tif=tif, post_only=True)
    with pytest.raises(errors.InvalidOrder) as caught:
        _order_body(request)
    assert str(caught.value) == _local_refusal(tif=tif, post_only=True)
    assert str(caught.value) == "post_only applies to GTC limit orders only"


def test_time_in_force_on_the_wire() -> None:
    def tif_of(**fields: Any) -> str:
        request = OrderRequest("BTC-PERP", "buy", D("0.01"), price=D(60_000), **fields)
        return str(_order_body(request)["timeInForce"])

    assert tif_of() == "GTC"
    assert tif_of(post_only=True) == "ALO"
    assert tif_of(tif="ioc") == "IOC"
    assert tif_of(tif="fok") == "FOK"
    with pytest.raises(errors.InvalidOrder) as caught:  # was sent as GTC
        tif_of(tif="day")
    assert str(caught.value) == _local_refusal(tif="day")


async def test_the_remote_venue_places_no_post_only_ioc(served: Any) -> None:
    from perptui.venues.remote import RemoteVenue

    c, live = served
    venue = RemoteVenue(live.base_url, c.key["alice"])
    await venue.start()
    try:
        before = c.state()
        mark = c.ex.market("BTC-PERP").mark
        request = OrderRequest(
            "BTC-PERP", "buy", D("0.01"), price=mark - 1000, tif="ioc", post_only=True
        )
        with pytest.raises(errors.InvalidOrder, match="post_only applies to GTC"):
            await venue.place_order(request)
        with pytest.raises(errors.InvalidOrder, match="post_only applies to GTC"):
            await venue.preview_order(request)
        assert c.state() == before
    finally:
        await venue.stop()
