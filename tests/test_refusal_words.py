"""QA's refusals, fixed: amounts in plain decimal notation (never 1E-9), a non-collateral
asset refused in deposit's words by withdraw too, an asset named in a request body that
does not exist is a 400 (an invalid field, API.md's status map), not a 404 "Not found"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, errors
from exchange_local.server.market import deposit_refusal
from tests.test_server_support import make_class

D = Decimal
PROBLEM = "application/problem+json"


def funded() -> tuple[Exchange, str]:
    ex = Exchange()
    acct = ex.create_account("a")
    ex.deposit(acct, "USD", D(100_000))
    ex.deposit(acct, "ETH", D(1))
    return ex, acct


def refused(call: Any, error: type[errors.ExchangeError]) -> str:
    with pytest.raises(error) as caught:
        call()
    return str(caught.value)


def test_plain_writes_numbers_as_typed() -> None:
    from exchange_local.money import plain

    assert plain(D("1E-9")) == "0.000000001"
    assert plain(D("-1E-7")) == "-0.0000001"
    assert plain(D("98000.0")) == "98000.0"
    assert plain(D("1E+3")) == "1000"
    assert plain(D("1E-999999")) == "1E-999999"  # not a million zeros


def test_amount_refusals_show_plain_decimals() -> None:
    ex, acct = funded()
    before = ex.balances(acct)
    message = refused(lambda: ex.withdraw(acct, "ETH", D("0.000000001")), errors.InvalidRequest)
    assert message == "amount 0.000000001 has more decimals than ETH allows (8)"
    message = refused(lambda: ex.deposit(acct, "USD", D("1E-7")), errors.InvalidRequest)
    assert message == "amount 0.0000001 has more decimals than USD allows (6)"
    message = refused(lambda: ex.deposit(acct, "USD", D("-1E-7")), errors.InvalidRequest)
    assert message == "amount must be positive, got -0.0000001"
    message = refused(lambda: ex.withdraw(acct, "ETH", D("2E+1")), errors.InsufficientBalance)
    assert message.startswith("cannot withdraw 20 ETH: the balance is 1")
    message = refused(lambda: ex.set_index_price("BTC", D("-1E-7")), errors.InvalidRequest)
    assert message == "price must be positive, got -0.0000001"
    refusal = deposit_refusal(ex, {"USD": D("1E-7")})
    assert refusal == "amount 0.0000001 has more decimals than USD allows (6)"
    assert deposit_refusal(ex, {"USD": D("-1E-7")}) == (
        "the deposit of USD must be positive, got -0.0000001"
    )
    assert ex.balances(acct) == before


async def test_amount_refusals_over_rest_show_plain_decimals() -> None:
    c = make_class()
    c.ex.deposit("alice", "ETH", D(1))
    before = c.state()
    async with c.client() as http:
        r = await http.post(
            "/api/v1/withdrawals",
            json={"asset": "ETH", "amount": "0.000000001"},
            headers=c.auth("alice"),
        )
    assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), r.text
    assert r.json()["detail"] == "amount 0.000000001 has more decimals than ETH allows (8)"
    assert c.state() == before


def test_withdraw_refuses_a_non_collateral_asset_in_deposits_words() -> None:
    ex, acct = funded()
    before = (ex.balances(acct), len(ex.ledger(acct)))
    words = "SOL is not accepted as collateral"
    assert refused(lambda: ex.deposit(acct, "SOL", D(1)), errors.UnknownAsset) == words
    assert refused(lambda: ex.withdraw(acct, "SOL", D(1)), errors.UnknownAsset) == words
    assert refused(lambda: ex.withdraw(acct, "SOL", 1), errors.UnknownAsset) == words
    # the asset comes first, as in deposit: even a bad amount is told the asset's problem
    assert refused(lambda: ex.withdraw(acct, "SOL", D("-1")), errors.UnknownAsset) == words
    assert (ex.balances(acct), len(ex.ledger(acct))) == before


async def test_an_unknown_asset_in_a_body_is_400_not_404() -> None:
    c = make_class(allow_deposits=True)
    before = c.state()
    alice = c.auth("alice")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/withdrawals", {"asset": "DOGE", "amount": "1"}, "DOGE"),
        ("/api/v1/withdrawals", {"asset": "SOL", "amount": "1"}, "SOL is not accepted"),
        ("/api/v1/deposits", {"asset": "DOGE", "amount": "1"}, "DOGE"),
        ("/api/v1/deposits", {"asset": "SOL", "amount": "1"}, "SOL is not accepted"),
        ("/api/v1/converts", {"from": "DOGE", "to": "USD", "amount": "1"}, "DOGE"),
        ("/api/v1/converts", {"from": "USD", "to": "DOGE", "amount": "1"}, "DOGE"),
        ("/api/v1/converts", {"from": "USD", "to": "SOL", "amount": "1"}, "SOL is not accepted"),
    ]
    async with c.client() as http:
        for path, body, words in cases:
            for headers in (alice, {**alice, "Idempotency-Key": f"k-{len(words)}-{path[-4:]}"}):
                r = await http.post(path, json=body, headers=headers)
                problem = r.json()
                assert r.status_code == 400, (path, body, r.text)
                assert r.headers["content-type"] == PROBLEM
                assert problem["code"] == "INVALID_REQUEST" and words in problem["detail"]
        # an admin's body too
        adm = c.auth("admin")
        r = await http.post(
            "/api/v1/admin/accounts/bob/deposit", json={"asset": "DOGE", "amount": "1"}, headers=adm
        )
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_REQUEST"), r.text
        # an asset in the URL that does not exist is still the URL's 404
        r = await http.put("/api/v1/admin/index/DOGE", json={"price": "1"}, headers=adm)
        assert (r.status_code, r.json()["code"]) == (404, "UNKNOWN_ASSET"), r.text
    assert c.state() == before


async def test_the_remote_venue_still_raises_unknown_asset(served: Any) -> None:
    """`exchangeCode` still says unknown_asset: the remote venue raises what the in-process
    one raises, whatever the status."""
    from perptui.venues.remote import RemoteVenue

    c, live = served
    venue = RemoteVenue(live.base_url, c.key["alice"])
    await venue.start()
    try:
        with pytest.raises(errors.UnknownAsset, match="DOGE"):
            await venue.withdraw("DOGE", D(1))
        with pytest.raises(errors.UnknownAsset, match="SOL is not accepted as collateral"):
            await venue.withdraw("SOL", D(1))
    finally:
        await venue.stop()
