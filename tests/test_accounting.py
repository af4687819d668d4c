"""Fees, MECHANICS section 6's fill rule, the clearing identity, custody and market data."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import InsufficientBalance
from exchange_local.ledger import FEES, SETTLEMENT_CLEARING
from tests.helpers import Recorder, exact_exchange, funded

D = Decimal
BTC = "BTC-PERP"


def trade(ex, buyer, seller, size, price, market=BTC):
    """seller rests, buyer takes."""
    ex.place_order(seller, market, "sell", D(size), price=D(price))
    return ex.place_order(buyer, market, "buy", D(size), price=D(price), tif="ioc")


def test_fees_exact_to_the_quantum_and_rounded_up():
    ex = exact_exchange()
    a, b = funded(ex, "a", "1000"), funded(ex, "b", "1000")
    trade(ex, b, a, "0.0001", "100000.5")  # notional 10.00005
    # taker 0.05 % = 0.005000025 -> 0.005001 ; maker 0.02 % = 0.00200001 -> 0.002001
    assert ex.balances(b)["USD"] == D("999.994999")
    assert ex.balances(a)["USD"] == D("999.997999")
    assert ex._ledger.balance(FEES, "USD") == D("0.007002")
    types = [e.type for e in ex.ledger(b)]
    assert types == ["DEPOSIT", "TRADE", "FEE"]


def test_fill_rule_open_add_reduce_flip_and_clearing_identity():
    ex = exact_exchange()
    t, mm = funded(ex, "t"), funded(ex, "mm")

    def usd_before_fees(acct):
        fees = sum((-e.amount for e in ex.ledger(acct) if e.type == "FEE"), D(0))
        return ex.balances(acct)["USD"] + fees

    start = usd_before_fees(t)
    trade(ex, t, mm, "2", "100000")  # open long 2: S := 100,000, no cash
    assert usd_before_fees(t) == start
    trade(ex, t, mm, "1", "100400")  # add 1 at 100,400: cash 1*(100,000-100,400) = -400
    assert usd_before_fees(t) == start - 400
    pos = ex.positions(t)[0]
    assert pos.size == 3 and pos.settle_price == 100000
    assert pos.entry_price == (D(200000) + D(100400)) / 3
    trade(ex, mm, t, "1", "100600")  # reduce by 1 at 100,600: cash -1*(100,000-100,600)=+600
    assert usd_before_fees(t) == start + 200
    trade(ex, mm, t, "4", "100100")  # flip: sell 4 at 100,100: -4*(100,000-100,100) = +400
    assert usd_before_fees(t) == start + 600
    pos = ex.positions(t)[0]
    assert pos.size == -2 and pos.entry_price == D(100100)
    # unsettled at 100,100: -2*(100,100-100,000) = -200; total = +400 = realised
    assert usd_before_fees(t) - start + pos.size * (D(100100) - pos.settle_price) == 400
    assert pos.realized_pnl == 400
    clearing = ex._ledger.balance(SETTLEMENT_CLEARING, "USD")
    assert clearing == -sum(p.size * p.settle_price for a in (t, mm) for p in ex.positions(a))
    assert ex.check_invariants() == []


def test_mechanics_section_6_fill_legs_without_settlement():
    """The fill part of MECHANICS 6's vector: long 2 @ 100,000 then two sells of 1."""
    ex = exact_exchange()
    t, mm = funded(ex, "t"), funded(ex, "mm")
    trade(ex, t, mm, "2", "100000")
    trade(ex, mm, t, "1", "100200")
    trade(ex, mm, t, "1", "99950")
    pos = ex._accounts[t].positions[BTC]
    assert pos.size == 0 and pos.realized_pnl == 200 - 50
    trade_legs = [e.amount for e in ex.ledger(t) if e.type == "TRADE"]
    assert trade_legs == [0, 200, -50]


def test_deposit_withdraw_and_ledger_balances():
    ex = exact_exchange()
    a = ex.create_account("a")
    ex.deposit(a, "BTC", D("0.5"))
    ex.deposit(a, "USD", "100.25")
    ex.withdraw(a, "BTC", D("0.2"))
    with pytest.raises(InsufficientBalance, match=r"balance is 0\.3"):
        ex.withdraw(a, "BTC", D("0.31"))
    assert ex.balances(a) == {"BTC": D("0.3"), "USD": D("100.25")}
    entries = ex.ledger(a)
    assert [(e.type, e.asset, e.amount, e.balance) for e in entries] == [
        ("DEPOSIT", "BTC", D("0.5"), D("0.5")),
        ("DEPOSIT", "USD", D("100.25"), D("100.25")),
        ("WITHDRAW", "BTC", D("-0.2"), D("0.3")),
    ]
    assert ex.check_invariants() == []


def test_candles_and_24h_stats():
    ex = exact_exchange()
    t, mm = funded(ex, "t"), funded(ex, "mm")
    trade(ex, t, mm, "0.1", "100000")
    ex.advance(30)
    trade(ex, t, mm, "0.2", "100100")
    ex.advance(40)  # next minute
    trade(ex, t, mm, "0.1", "99900")
    one = ex.candles(BTC, "1m")
    assert [(c.start, c.open, c.high, c.low, c.close, c.volume) for c in one] == [
        (0, D(100000), D(100100), D(100000), D(100100), D("0.3")),
        (60, D(99900), D(99900), D(99900), D(99900), D("0.1")),
    ]
    five = ex.candles(BTC, "5m")
    assert len(five) == 1 and five[0].high == 100100 and five[0].volume == D("0.4")
    ex.set_index_price("BTC", D(102000))
    m = ex.market(BTC)
    assert m.change_24h == D("0.02") and m.volume_24h == D("0.4")
    assert (m.high_24h, m.low_24h, m.last_price) == (D(100100), D(99900), D(99900))
    marks = ex.candles(BTC, "1m", source="mark")
    assert marks[-1].close == 102000


def test_index_sets_collateral_and_market_together():
    ex = exact_exchange()
    rec = Recorder(ex)
    ex.set_index_price("BTC-PERP", "64210.3")  # rounded to the 0.5 tick
    assert ex.market(BTC).index == D("64210.5") and ex.prices["BTC"] == D("64210.5")
    ex.set_index_price("EUR", D("1.0712"))
    assert ex.prices["EUR"] == D("1.0712")
    assert rec.kinds() == ["PriceUpdate"]


def test_same_commands_same_ledger():
    def run():
        ex = exact_exchange()
        t, mm = funded(ex, "t"), funded(ex, "mm")
        for i in range(20):
            trade(ex, t, mm, "0.01", str(100000 + 5 * i))
            ex.advance(7)
        return [(tx.txid, tx.time_ms, tx.type, tx.legs, tx.ref) for tx in ex._ledger.transactions]

    assert run() == run()


def test_a_position_opened_from_flat_starts_its_realised_pnl_and_funding_at_zero():
    """A new position showed the previous one's realised PnL (-8,021.55 after a reset)."""
    ex = exact_exchange()
    t, mm = funded(ex, "t"), funded(ex, "mm")
    trade(ex, t, mm, "1", "100000")
    ex._accounts[t].positions[BTC].funding_paid = D(12)  # as an hour of funding would
    trade(ex, mm, t, "1", "99000")  # closed at a 1,000 loss
    pos = ex._accounts[t].positions[BTC]
    assert pos.size == 0 and pos.realized_pnl == -1000  # read while flat: the last position's
    trade(ex, t, mm, "0.5", "99500")
    pos = ex._accounts[t].positions[BTC]
    assert (pos.size, pos.realized_pnl, pos.funding_paid) == (D("0.5"), 0, 0)
    assert sum(e.amount for e in ex.ledger(t) if e.type == "TRADE") == -1000  # kept there
