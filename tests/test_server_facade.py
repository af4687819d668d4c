"""The facade calls the server stands on (no reaching into the engine): an account's fills,
orders by status and by client order id, halting and resuming a market as journaled commands,
and a teacher's reset and balance adjustment through balanced ledger transactions. Each
refuses bad input with an ExchangeError and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import (
    Exchange,
    ExchangeConfig,
    ExchangeError,
    InsufficientBalance,
    InsufficientMargin,
    InvalidOrder,
    InvalidRequest,
    MarketHalted,
    NotAuthorized,
    UnknownAccount,
    UnknownAsset,
    UnknownMarket,
)

D = Decimal
BTC = "BTC-PERP"


def config() -> ExchangeConfig:
    return ExchangeConfig(mark_source="index", backstop_accounts=("blp",))


def setup(ex: Exchange, blp: bool = True) -> None:
    names = ("alice", "bob", "mm", "blp") if blp else ("alice", "bob", "mm")
    for name in names:
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    for i in range(3):
        ex.place_order("mm", BTC, "sell", D(1), price=D(100_100 + 100 * i))
        ex.place_order("mm", BTC, "buy", D(1), price=D(99_900 - 100 * i))


def state(ex: Exchange) -> tuple[Any, ...]:
    """Everything a refused call must leave as it was."""
    names = ex.accounts()
    return (
        {a: ex.balances(a) for a in names},
        {a: [(p.market, p.size, p.settle_price) for p in ex.positions(a)] for a in names},
        {a: [(o.order_id, o.status, o.filled) for o in ex.open_orders(a)] for a in names},
        {a: len(ex.ledger(a)) for a in [*names, "EXTERNAL", "SETTLEMENT_CLEARING"]},
        ex.book(BTC, 50),
        [ex.market(s).reduce_only for s in ex.markets()],
    )


def crash(ex: Exchange) -> None:
    """Stop without the final snapshot, as a killed process does: reopening replays."""
    assert ex._store is not None
    ex._store.db.close()
    ex._store = None


def refused(ex: Exchange, error: type[ExchangeError], fn: Any, *args: Any, **kw: Any) -> None:
    before = state(ex)
    with pytest.raises(error):
        fn(*args, **kw)
    assert state(ex) == before


def test_order_by_client_id_finds_any_order_with_an_id(tmp_path: Path) -> None:
    db = str(tmp_path / "x.sqlite")
    ex = Exchange(config(), store=db)
    setup(ex)
    res = ex.place_order("alice", BTC, "buy", D("0.1"), price=D(90_000), client_order_id="a-1")
    ex.place_order("bob", BTC, "buy", D("0.1"), price=D(90_000), client_order_id="b-1")
    found = ex.order_by_client_id("alice", "a-1")
    assert found is not None and found.order_id == res.order_id and found.status == "open"
    assert ex.order_by_client_id("alice", "b-1") is None  # bob's id: not alice's order
    assert ex.order_by_client_id("alice", "never") is None
    for bad in (7, "", "x" * 65, None):
        refused(ex, InvalidOrder, ex.order_by_client_id, "alice", bad)
    refused(ex, UnknownAccount, ex.order_by_client_id, "zed", "a-1")
    refused(ex, UnknownAccount, ex.order_by_client_id, "INSURANCE", "a-1")
    ex.cancel_order("alice", res.order_id)
    ex.close()
    again = Exchange(store=db)
    found = again.order_by_client_id("alice", "a-1")
    assert found is not None and found.status == "canceled"
    again.close()


def test_orders_by_status_newest_first() -> None:
    ex = Exchange(config())
    setup(ex)
    rest = ex.place_order("alice", BTC, "buy", D("0.1"), price=D(90_000))
    gone = ex.place_order("alice", BTC, "buy", D("0.1"), price=D(91_000))
    ex.cancel_order("alice", gone.order_id)
    taken = ex.place_order("alice", BTC, "buy", D("0.1"), type="market")
    ex.place_order("bob", BTC, "buy", D("0.1"), price=D(90_000))
    ids = lambda rows: [o.order_id for o in rows]  # noqa: E731
    assert ids(ex.orders("alice")) == [taken.order_id, gone.order_id, rest.order_id]
    assert ids(ex.orders("alice", "open")) == [rest.order_id]
    assert ids(ex.orders("alice", "closed")) == [taken.order_id, gone.order_id]
    assert ids(ex.orders("alice", "filled")) == [taken.order_id]
    assert ids(ex.orders("alice", "canceled")) == [gone.order_id]
    assert ids(ex.orders("alice", "all", limit=1)) == [taken.order_id]
    assert ex.orders("alice", "all", market="ETH-PERP") == []
    refused(ex, InvalidRequest, ex.orders, "alice", "rejected")
    refused(ex, InvalidRequest, ex.orders, "alice", 3)
    for limit in (0, 1001, True, "5"):
        refused(ex, InvalidRequest, ex.orders, "alice", "all", limit=limit)
    refused(ex, UnknownMarket, ex.orders, "alice", "all", market="ZZZ")
    refused(ex, UnknownAccount, ex.orders, "zed")


def test_fills_of_an_account_newest_first() -> None:
    ex = Exchange(config())
    setup(ex)
    ex.place_order("alice", BTC, "buy", D("1.5"), type="market")  # two fills against mm
    ex.advance(10)
    ex.place_order("bob", BTC, "sell", D("0.5"), type="market")
    ex.place_order("alice", "ETH-PERP", "buy", D(1), price=D(2000))
    mine = ex.fills("alice")
    assert [f.size for f in mine] == [D("0.5"), D(1)]
    assert all(f.taker == "alice" for f in mine) and mine[0].fill_id > mine[1].fill_id
    assert [f.maker for f in ex.fills("mm")] == ["mm"] * 3
    assert [f.taker for f in ex.fills("bob")] == ["bob"]
    assert ex.fills("alice", market="ETH-PERP") == []
    assert ex.fills("alice", limit=1) == mine[:1]
    assert ex.fills("alice", before_id=mine[0].fill_id) == mine[1:]
    assert ex.fills("mm", since=D(10)) == ex.fills("bob")
    for kw in ({"limit": 0}, {"limit": True}, {"before_id": "3"}, {"before_id": -1}):
        refused(ex, InvalidRequest, ex.fills, "alice", **kw)
    refused(ex, InvalidRequest, ex.fills, "alice", since=D("0.0001"))
    refused(ex, UnknownMarket, ex.fills, "alice", market="ZZZ")
    refused(ex, UnknownAccount, ex.fills, "zed")


def test_halt_and_resume_are_journaled(tmp_path: Path) -> None:
    db = str(tmp_path / "x.sqlite")
    ex = Exchange(config(), store=db)
    setup(ex)
    ex.place_order("alice", BTC, "buy", D(1), type="market")
    assert ex.halt_market(BTC) is True and ex.halt_market(BTC) is False
    refused(ex, MarketHalted, ex.place_order, "bob", BTC, "buy", D("0.1"), price=D(90_000))
    ex.place_order("alice", BTC, "sell", D("0.5"), type="market", reduce_only=True)  # reduces
    refused(ex, UnknownMarket, ex.halt_market, "ZZZ")
    refused(ex, UnknownMarket, ex.resume_market, 7)
    crash(ex)
    ex = Exchange(store=db)
    assert ex.market(BTC).reduce_only and not ex.market("ETH-PERP").reduce_only
    assert ex.resume_market(BTC) is True and ex.resume_market(BTC) is False
    ex.place_order("bob", BTC, "buy", D("0.1"), price=D(90_000))
    ex.settle_market("ETH-PERP", D(3000))
    refused(ex, MarketHalted, ex.resume_market, "ETH-PERP")
    ex.close()
    ex = Exchange(store=db)
    assert not ex.market(BTC).reduce_only and ex.market("ETH-PERP").reduce_only
    assert ex.check_invariants() == []
    ex.close()


def test_reset_hands_positions_to_backstop_at_the_mark_and_keeps_the_ledger(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "x.sqlite")
    ex = Exchange(config(), store=db)
    setup(ex)
    ex.deposit("alice", "BTC", D("0.5"))
    ex.place_order("alice", BTC, "buy", D(2), type="market")
    ex.place_order("alice", BTC, "buy", D("0.1"), price=D(90_000))
    ex.place_order("alice", BTC, "sell", D(1), price=D(120_000), reduce_only=True)
    ex.set_index_price("BTC", D("97000.3"))  # the mark, rounded to the tick: 97000.5
    rows_before = len(ex.ledger("alice"))
    result = ex.reset_account("alice", {"USD": D(10_000)})
    assert len(result.canceled) == 2
    assert result.closed == [(BTC, D(2), D("97000.5"), ("blp",))]
    assert ex.positions("alice") == [] and ex.open_orders("alice") == []
    assert ex.balances("alice") == {"USD": D(10_000), "BTC": D(0)}
    assert ex.positions("blp")[0].size == D(2)
    entries = ex.ledger("alice")
    assert len(entries) > rows_before  # nothing deleted, the reset added rows
    assert [e.type for e in entries[rows_before:]] == ["ADMIN_SETTLE", "WITHDRAW", "WITHDRAW"]
    assert {o.canceled_reason for o in ex.orders("alice", "canceled")} == {"account_reset"}
    assert ex.check_invariants() == []
    ex.advance(2)  # the risk tick sees a healthy account
    assert ex.health("alice").status == "ok"
    crash(ex)
    again = Exchange(store=db)
    assert again.balances("alice") == {"USD": D(10_000), "BTC": D(0)}
    assert again.positions("blp")[0].size == D(2) and again.check_invariants() == []
    again.close()


def test_reset_refuses_and_changes_nothing() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))  # no backstop providers
    setup(ex, blp=False)
    ex.place_order("alice", BTC, "buy", D(1), type="market")
    ex.place_order("bob", BTC, "buy", D("0.1"), price=D(90_000))
    refused(ex, InvalidRequest, ex.reset_account, "alice", {"USD": D(10)})  # who takes it?
    for deposits, error in (
        ({"USD": "-1"}, InvalidRequest),
        ({"USD": "0.0000001"}, InvalidRequest),
        ({"SOL": "1"}, UnknownAsset),
        ({"XYZ": "1"}, UnknownAsset),
        ({"USD": 1.5}, ExchangeError),
        ([("USD", "1")], InvalidRequest),
    ):
        refused(ex, error, ex.reset_account, "bob", deposits)
    refused(ex, UnknownAccount, ex.reset_account, "zed", {})
    refused(ex, UnknownAccount, ex.reset_account, "INSURANCE", {})
    result = ex.reset_account("bob", {"USD": D(500), "BTC": D("0.1")})
    assert result.moved == {"BTC": D("0.1"), "USD": D(500) - D(1_000_000)}
    assert ex.balances("bob") == {"USD": D(500), "BTC": D("0.1")}
    last = [(e.type, e.asset) for e in ex.ledger("bob")[-2:]]
    assert last == [("WITHDRAW", "USD"), ("DEPOSIT", "BTC")]
    assert ex.check_invariants() == []


def test_a_backstop_provider_is_not_reset() -> None:
    ex = Exchange(config())
    setup(ex)
    refused(ex, NotAuthorized, ex.reset_account, "blp", {"USD": D(1)})
    refused(ex, NotAuthorized, ex.adjust_balance, "blp", "USD", D(1))


def test_adjust_balance_moves_money_through_the_ledger() -> None:
    ex = Exchange(config())
    setup(ex)
    assert ex.adjust_balance("alice", "USD", D(250)) == D(1_000_250)
    assert ex.adjust_balance("alice", "USD", "-1000.5") == D("999249.5")
    assert [(e.type, e.amount, e.ref) for e in ex.ledger("alice")[-2:]] == [
        ("DEPOSIT", D(250), "adjustment"),
        ("WITHDRAW", D("-1000.5"), "adjustment"),
    ]
    ex.place_order("alice", BTC, "buy", D(5), type="market")
    for args, error in (
        (("USD", 0), InvalidRequest),
        (("USD", "-2000000"), InsufficientBalance),
        (("USD", "-990000"), InsufficientMargin),  # the position's margin stays
        (("USD", "0.0000001"), InvalidRequest),
        (("SOL", "1"), UnknownAsset),
        (("USD", 1.5), ExchangeError),
    ):
        refused(ex, error, ex.adjust_balance, "alice", *args)
    refused(ex, UnknownAccount, ex.adjust_balance, "zed", "USD", 1)
    assert ex.check_invariants() == []
