"""One contract for the venue interface, run against LocalVenue (in process) and RemoteVenue
(a real server on loopback) over the same kind of exchange: the terminal cannot tell them
apart. Where class mode refuses an action (a student's deposit), the contract says how: the
call raises NotAuthorized with the server's message and nothing changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, errors
from perptui.venues.base import OrderRequest, Venue
from perptui.venues.local import LocalVenue
from perptui.venues.remote import RemoteVenue
from tests.test_server_support import live_server, make_class

D = Decimal


@pytest.fixture(params=["local", "remote"])
async def venue(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Venue, Exchange]]:
    c = make_class()
    if request.param == "local":
        local = LocalVenue(exchange=c.ex, clock="manual", living=False, account="alice")
        await local.start()
        yield local, c.ex
        await local.stop()
        return
    with live_server(c.app) as live:
        remote = RemoteVenue(live.base_url, c.key["alice"])
        await remote.start()
        try:
            yield remote, c.ex
        finally:
            await remote.stop()


async def test_snapshot_and_markets(venue: tuple[Venue, Exchange]) -> None:
    v, ex = venue
    assert v.markets() == ex.markets() and v.account == "alice" and v.can_trade
    snap = await v.snapshot("BTC-PERP")
    assert snap.health == ex.health("alice")
    assert snap.book == ex.book("BTC-PERP", 40)
    assert snap.markets["BTC-PERP"] == ex.market("BTC-PERP")
    assert snap.open_orders == [] and snap.leverage == ex.leverage("alice")


async def test_place_amend_cancel(venue: tuple[Venue, Exchange]) -> None:
    v, ex = venue
    res = await v.place_order(
        OrderRequest("BTC-PERP", "buy", D("0.2"), price=D(95_000), client_order_id="c-1")
    )
    assert res.status == "open" and res.filled == 0
    again = await v.place_order(
        OrderRequest("BTC-PERP", "buy", D("0.2"), price=D(95_000), client_order_id="c-1")
    )
    assert again.order_id == res.order_id and len(ex.open_orders("alice")) == 1
    info = await v.amend_order(res.order_id, size=D("0.1"))
    assert info == ex.order("alice", res.order_id) and info.size == D("0.1")
    canceled = await v.cancel_order(res.order_id)
    assert canceled.status == "canceled" and canceled.canceled_reason == "user"
    with pytest.raises(errors.InvalidOrder, match="already canceled"):
        await v.cancel_order(res.order_id)
    await v.place_order(OrderRequest("BTC-PERP", "sell", D("0.1"), price=D(120_000)))
    assert len(await v.cancel_all("BTC-PERP")) == 1 and ex.open_orders("alice") == []


async def test_fills_close_and_history(venue: tuple[Venue, Exchange]) -> None:
    v, ex = venue
    res = await v.place_order(OrderRequest("BTC-PERP", "buy", D("1.5"), type="market"))
    assert res.status == "filled" and res.filled == D("1.5")
    fills = await v.fills()
    assert [(f.fill_id, f.price, f.size, f.taker) for f in fills] == [
        (f.fill_id, f.price, f.size, f.taker) for f in ex._fills if f.taker == "alice"
    ]
    closed = await v.close_position("BTC-PERP")
    assert closed.status == "filled" and ex.positions("alice") == []
    with pytest.raises(errors.InvalidOrder, match="no BTC-PERP position"):
        await v.close_position("BTC-PERP")
    assert await v.ledger(limit=4) == ex.ledger("alice")[-4:]


async def test_what_if_matches_the_engine(venue: tuple[Venue, Exchange]) -> None:
    v, ex = venue
    await v.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
    preview = await v.preview_order(OrderRequest("BTC-PERP", "buy", D(3), type="market"))
    assert preview == ex.preview_order("alice", "BTC-PERP", "buy", D(3), type="market")
    assert await v.explain("BTC-PERP") == ex.explain("alice", "BTC-PERP")


async def test_refusals(venue: tuple[Venue, Exchange]) -> None:
    v, ex = venue
    before = ex.ledger("alice")
    refusals: list[tuple[Any, type[Exception], str]] = [
        (
            v.place_order(OrderRequest("BTC-PERP", "buy", D(500), price=D(100_100))),
            errors.InsufficientMargin,
            "initial",
        ),
        (
            v.place_order(OrderRequest("NOPE-PERP", "buy", D(1), price=D(1))),
            errors.UnknownMarket,
            "NOPE-PERP",
        ),
        (
            v.place_order(OrderRequest("BTC-PERP", "buy", D("0.00001"), price=D(1))),
            errors.InvalidOrder,
            "lot",
        ),
        (v.set_leverage("BTC-PERP", D(500)), errors.InvalidRequest, "between 1 and"),
        (v.withdraw("USD", D(10**9)), errors.InsufficientBalance, "balance"),
    ]
    for call, kind, text in refusals:
        with pytest.raises(kind, match=text):
            await call
    assert ex.ledger("alice") == before


async def test_deposit_in_class_mode(venue: tuple[Venue, Exchange]) -> None:
    """The contract: a deposit either credits the account (a paper venue) or, on a class
    server, raises NotAuthorized with the server's message and changes nothing."""
    v, ex = venue
    usd = ex.balances("alice")["USD"]
    try:
        await v.deposit("USD", D(100))
    except errors.NotAuthorized as refusal:
        assert isinstance(v, RemoteVenue) and "instructor" in str(refusal)
        assert ex.balances("alice")["USD"] == usd
    else:
        assert isinstance(v, LocalVenue) and ex.balances("alice")["USD"] == usd + 100
    await asyncio.sleep(0)
