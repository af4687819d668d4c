"""Fix A: how much can be withdrawn, said by the facade, the refusals and the account JSON;
and a CONVERT's ledger reference that names both prices and the spread.

Why: free collateral ("available") overstates what a withdrawal may take, since the rule is
E_im' >= max(IMR, 0.10 N) and E_mm' >= MMR (MECHANICS section 2) and a coin counts at a
weight that falls as its balance grows; and a refusal never said the amount that passes.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

import pytest

from exchange_local import (
    Exchange,
    ExchangeConfig,
    InsufficientBalance,
    InsufficientMargin,
    UnknownAsset,
)
from exchange_local.config import default_assets
from exchange_local.server import wire
from tests.helpers import exact_exchange, funded, state_fingerprint

D = Decimal
BTC = "BTC-PERP"


def _largest_by_the_rule(ex: Exchange, account: str, asset: str) -> Decimal:
    """Brute force: the largest multiple of the asset's quantum the withdraw rule passes."""
    acct, quantum = ex._accounts[account], ex._assets[asset].quantum
    lo, hi = 0, int(ex.balances(account).get(asset, D(0)) / quantum)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ex._collateral_refusal(acct, {asset: -mid * quantum}) is None:
            lo = mid
        else:
            hi = mid - 1
    return lo * quantum


def test_the_usd_withdrawable_is_exact_and_below_free_collateral() -> None:
    ex = exact_exchange()
    funded(ex, "u", "20000")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D(1), type="market")  # N 100,000: keeps 10,000 (10 % N)
    h = ex.health("u")
    most = ex.max_withdrawal("u", "USD")
    assert most == h.initial_equity - D(10000) == D(9950)
    assert most < h.free_collateral  # "available" (E_im - IMR = 14,950) overstates it
    before = state_fingerprint(ex)
    with pytest.raises(InsufficientMargin, match="at most 9950 USD can be withdrawn now"):
        ex.withdraw("u", "USD", most + D("0.000001"))
    assert state_fingerprint(ex) == before
    ex.withdraw("u", "USD", most)
    assert ex.max_withdrawal("u", "USD") == 0


def test_a_coin_with_the_large_balance_haircut_is_found_exactly() -> None:
    # BTC with a steep haircut (f = 0.05: from ~10 BTC on, each coin counts less)
    assets = tuple(
        dataclasses.replace(a, size_factor=D("0.05")) if a.symbol == "BTC" else a
        for a in default_assets()
    )
    ex = Exchange(ExchangeConfig(mark_source="index", assets=assets))
    funded(ex, "u", "1000")
    ex.deposit("u", "BTC", D("100.12345678"))
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(100), price=D(100000))
    ex.place_order("u", BTC, "buy", D(100), type="market")  # keeps 1,000,000 (10 % of N)
    most = ex.max_withdrawal("u", "BTC")
    assert most == _largest_by_the_rule(ex, "u", "BTC")
    left = ex.balances("u")["BTC"] - most
    assert left > 10 and ex._weights("BTC", left)[1] < D("0.95")  # in the haircut, exactly
    assert most.as_tuple().exponent == -8  # floored to BTC's decimals
    with pytest.raises(
        InsufficientMargin, match=re.escape(f"at most {most} BTC can be withdrawn now")
    ):
        ex.withdraw("u", "BTC", most + D("0.00000001"))
    ex.withdraw("u", "BTC", most)


def test_nothing_to_withdraw_is_zero_and_never_more_than_the_balance() -> None:
    ex = exact_exchange()
    funded(ex, "u", "1000")
    ex.deposit("u", "ETH", D("2.5"))
    assert ex.max_withdrawal("u", "ETH") == D("2.5")  # no position: the whole balance
    assert ex.max_withdrawal("u", "BTC") == 0  # none held
    with pytest.raises(UnknownAsset):
        ex.max_withdrawal("u", "XYZ")
    before = state_fingerprint(ex)
    with pytest.raises(
        InsufficientBalance, match=re.escape("at most 2.5 ETH can be withdrawn now")
    ):
        ex.withdraw("u", "ETH", D(3))  # more than the balance: the refusal says what can go
    assert state_fingerprint(ex) == before


def test_a_usd_loan_withdraws_nothing() -> None:
    ex = exact_exchange()
    funded(ex, "u", "1")
    ex.deposit("u", "BTC", D(1))
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D("0.5"), type="market")  # the fee takes USD below 0
    assert ex.balances("u")["USD"] < 0
    assert ex.max_withdrawal("u", "USD") == 0
    assert 0 < ex.max_withdrawal("u", "BTC") < 1


def test_a_convert_refusal_says_what_can_be_converted() -> None:
    ex = exact_exchange()
    funded(ex, "u", "10500")
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D(1), type="market")  # E_im 10,450 against 10,000
    before = state_fingerprint(ex)
    with pytest.raises(InsufficientMargin, match="can be converted to BTC now") as refused:
        ex.convert("u", "USD", "BTC", D(10000))  # USD at weight 1 into BTC at 0.95
    assert state_fingerprint(ex) == before
    most = D(str(refused.value).split("at most ")[1].split(" USD")[0])
    assert 8000 < most < 10000
    ex.convert("u", "USD", "BTC", most)  # the amount it named passes
    with pytest.raises(InsufficientMargin):
        ex.convert("u", "USD", "BTC", D("0.01"))  # and it was the most


def test_the_convert_reference_names_both_prices_and_the_spread() -> None:
    ex = exact_exchange()
    funded(ex, "u", "10000")
    assert ex.convert("u", "USD", "BTC", D(1000)) == D("0.00999")
    rows = [e for e in ex.ledger("u") if e.type == "CONVERT"]
    assert {e.ref for e in rows} == {
        "convert USD->BTC: USD at 1, BTC at 100000, spread 0.00001 BTC"
    }


def test_the_account_json_carries_what_can_be_withdrawn_per_asset() -> None:
    ex = exact_exchange()
    funded(ex, "u", "20000")
    ex.deposit("u", "BTC", D("0.5"))
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order("u", BTC, "buy", D(1), type="market")
    h = ex.health("u")
    body = wire.account_json(h, 1, 0, ex.leverage("u"),
                             withdrawable=wire.withdrawable_by_asset(ex, "u", h))  # fmt: skip
    expected = {
        a.symbol: wire.plain(ex.max_withdrawal("u", a.symbol))
        for a in ex.config.assets
        if a.collateral
    }
    assert body["withdrawableByAsset"] == expected  # every asset: "0" for one held none of
    assert body["withdrawableByAsset"]["USD"] == "19950"  # the BTC covers the 10 % of N
    assert "withdrawableByAsset" not in wire.account_json(h, 1, 0, ex.leverage("u"))


async def test_get_account_says_what_each_asset_can_withdraw_and_a_withdrawal_above_it_fails() -> (
    None
):
    """Over the wire: `available` (free collateral) overstated what could leave; GET /account
    now gives each held asset's withdrawable amount, and one unit more is refused."""
    from tests.test_server_support import make_class

    c = make_class()
    c.ex.deposit("alice", "BTC", Decimal("0.5"))
    async with c.client() as http:
        r = await http.post("/api/v1/orders", headers=c.auth("alice"), json={
            "symbol": "BTC-PERP", "side": "buy", "size": "2", "type": "market"})  # fmt: skip
        assert r.status_code == 201, r.text
        body = (await http.get("/api/v1/account", headers=c.auth("alice"))).json()
        can = {k: Decimal(v) for k, v in body["withdrawableByAsset"].items()}
        assert {"USD", "BTC"} <= set(can) and can["USD"] < Decimal(body["available"])
        assert can["USD"] == c.ex.max_withdrawal("alice", "USD") > 0
        too_much = str(can["USD"] + Decimal("0.000001"))
        r = await http.post("/api/v1/withdrawals", headers=c.auth("alice"),
                            json={"asset": "USD", "amount": too_much})  # fmt: skip
        assert r.status_code == 422 and "can be withdrawn now" in r.json()["detail"], r.text
        r = await http.post("/api/v1/withdrawals", headers=c.auth("alice"),
                            json={"asset": "USD", "amount": str(can["USD"])})  # fmt: skip
        assert r.status_code in (200, 201), r.text
