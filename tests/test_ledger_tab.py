"""The Ledger tab's reading of an account: incremental, filtered before it is limited, and a
funding rate without its 34 digits of zeros."""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from perptui.venues.base import OrderRequest
from perptui.venues.ledger_tail import LedgerTail, newest
from perptui.venues.local import LocalVenue
from perptui.widgets.history import ledger_rows

D = Decimal
BTC = "BTC-PERP"


def hedged_pair(ex: Exchange) -> None:
    for name in ("alice", "bob"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.place_order("alice", BTC, "sell", D(1), price=D(100000))
    ex.place_order("bob", BTC, "buy", D(1), price=D(100000))


def test_reading_on_gives_what_reading_afresh_gives(tmp_path):
    for store in (None, str(tmp_path / "l.sqlite")):
        ex = Exchange(ExchangeConfig(mark_source="index"), store=store)
        hedged_pair(ex)
        tail = LedgerTail()
        first = len(tail.read(ex, "bob"))
        for hour in range(3):
            ex.advance(D(1800))
            ex.place_order("bob", BTC, "buy", D("0.1"), price=D(100000 + hour))
            ex.place_order("alice", BTC, "sell", D("0.1"), price=D(100000 + hour))
            assert tail.read(ex, "bob") == ex.ledger("bob")
        assert len(tail.read(ex, "bob")) > first
        assert tail.read(ex, "alice") == ex.ledger("alice")  # another account starts afresh
        ex.close()


def test_the_filter_applies_before_the_limit():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    hedged_pair(ex)
    ex.set_index_price("BTC", D(99_000))
    for _ in range(10):
        ex.advance(D(3600))
    legs = ex.ledger("bob")
    payments = [e for e in legs if e.type == "FUNDING"]
    assert len(payments) == 10 and len(legs) > 30  # settlements every 30 s crowd them out
    assert newest(legs, 5, "fund") == payments[-5:]
    assert newest(legs, 1000, " Funding ") == payments
    assert [e.type for e in newest(legs, 5, "FUNDING")] == ["FUNDING"] * 5
    assert newest(legs, 5) == legs[-5:] and newest(legs, 0, "fund") == []
    refs = [row[1][6] for row in ledger_rows(payments)]
    assert len(refs) == 10 and all(len(r) < 40 and not r.endswith("0") for r in refs), refs


async def test_the_local_venue_filters_its_whole_history():
    venue = LocalVenue(clock="manual", seed=1)
    await venue.start()
    await venue.place_order(OrderRequest(BTC, "buy", D("0.01"), type="market"))
    await venue.advance(D(95))  # settlements after the trade
    everything = venue.ex.ledger(venue.account)  # type: ignore[union-attr]
    wanted = [e for e in everything if e.type.startswith("DEP")]
    assert len(wanted) == 3 and everything[-1].type != "DEPOSIT"
    assert await venue.ledger(2, "dep") == wanted[-2:]
    assert await venue.ledger(2) == everything[-2:]
    await venue.stop()


def test_coins_keep_their_eight_decimals_and_money_its_six():
    """BTC read "+0.100000" and a 0.12345678 BTC deposit lost its last two digits."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("u")
    ex.deposit("u", "BTC", Decimal("0.12345678"))
    ex.deposit("u", "USD", Decimal("10.5"))
    ex.deposit("u", "AAPL", Decimal("1.5"))
    rows = {cells[3]: cells for _, cells in ledger_rows(ex.ledger("u"))}
    assert str(rows["AAPL"][4]).strip() == "+1.500000"  # six, as AAPL is counted (not 8)
    assert str(rows["BTC"][4]).strip() == "+0.12345678" and str(rows["BTC"][5]).strip() == (
        "0.12345678"
    )
    assert str(rows["USD"][4]).strip() == "+10.500000"


def test_the_tab_shows_a_funding_rate_in_percent_and_prices_with_separators():
    """The Ref column gave "funding SOL-PERP rate 0.0023564710971243260552206128" and
    "settle BTC-PERP at 101234.5"; the Funding tab says +0.235647 %."""
    from exchange_local.ledger import LedgerEntry

    raw = [
        LedgerEntry(1, D(3600), "FUNDING", "USD", D("-1"), D(0),
                    "funding SOL-PERP rate 0.002356471097124326055220612835669651"),
        LedgerEntry(2, D(3630), "SETTLE", "USD", D("2"), D(0), "settle BTC-PERP at 101234.5"),
    ]  # fmt: skip
    refs = [cells[-1] for _, cells in ledger_rows(raw)]
    assert any("funding SOL-PERP rate +0.235647%" in str(ref) for ref in refs), refs
    assert any("settle BTC-PERP at 101,234.5" in str(ref) for ref in refs), refs
