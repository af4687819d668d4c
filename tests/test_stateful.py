"""Hypothesis state machine: random deposits, orders, cancels, amends and clock advances across
several accounts; after every step the ledger and book invariants of MECHANICS section 7 hold."""

from __future__ import annotations

import contextlib
from decimal import Decimal

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from exchange_local import ExchangeError
from exchange_local.ledger import EXTERNAL
from tests.helpers import exact_exchange

D = Decimal
ACCOUNTS = ["a", "b", "c", "d"]
MARKETS = {
    "BTC-PERP": (D(100000), D("0.5"), D("0.0001")),
    "ETH-PERP": (D(3000), D("0.05"), D("0.001")),
}

accounts = st.sampled_from(ACCOUNTS)
markets = st.sampled_from(sorted(MARKETS))
sides = st.sampled_from(["buy", "sell"])


class ExchangeMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ex = exact_exchange()
        for name in ACCOUNTS:
            self.ex.create_account(name)

    @rule(acct=accounts, amount=st.integers(1, 10**7))
    def deposit(self, acct, amount):
        self.ex.deposit(acct, "USD", D(amount))

    @rule(acct=accounts, asset=st.sampled_from(["USD", "BTC"]), amount=st.integers(1, 10**6))
    def withdraw(self, acct, asset, amount):
        with contextlib.suppress(ExchangeError):
            self.ex.withdraw(acct, asset, D(amount) / 1000)

    @rule(acct=accounts, market=markets, side=sides, ticks=st.integers(-40, 40),
          lots=st.integers(1, 50), tif=st.sampled_from(["gtc", "gtc", "ioc", "fok"]),
          post_only=st.booleans(), reduce_only=st.booleans())  # fmt: skip
    def limit(self, acct, market, side, ticks, lots, tif, post_only, reduce_only):
        mid, tick, lot = MARKETS[market]
        with contextlib.suppress(ExchangeError):
            self.ex.place_order(acct, market, side, lots * lot * 10, price=mid + ticks * tick,
                                tif=tif, post_only=post_only and tif == "gtc",
                                reduce_only=reduce_only)  # fmt: skip

    @rule(acct=accounts, market=markets, side=sides, lots=st.integers(1, 80))
    def market_order(self, acct, market, side, lots):
        _, _, lot = MARKETS[market]
        with contextlib.suppress(ExchangeError):
            self.ex.place_order(acct, market, side, lots * lot * 10, type="market")

    @rule(
        acct=accounts,
        market=markets,
        side=sides,
        offset=st.integers(1, 30),
        kind=st.sampled_from(["stop_market", "take_profit"]),
        reduce_only=st.booleans(),
    )
    def trigger(self, acct, market, side, offset, kind, reduce_only):
        _mid, tick, lot = MARKETS[market]
        mark = self.ex.market(market).mark
        rises = (kind == "stop_market") == (side == "buy")
        price = mark + offset * tick if rises else mark - offset * tick
        with contextlib.suppress(ExchangeError):
            self.ex.place_order(acct, market, side, lot * 10, type=kind, trigger_price=price,
                                reduce_only=reduce_only)  # fmt: skip

    @rule(market=markets, ticks=st.integers(-60, 60))
    def move_index(self, market, ticks):
        mid, tick, _ = MARKETS[market]
        self.ex.set_index_price(market, mid + ticks * tick)

    @rule(acct=accounts, data=st.data())
    def cancel(self, acct, data):
        orders = self.ex.open_orders(acct)
        if orders:
            order = data.draw(st.sampled_from(orders))
            self.ex.cancel_order(acct, order.order_id)

    @rule(acct=accounts, data=st.data(), ticks=st.integers(-20, 20), grow=st.integers(-5, 5))
    def amend(self, acct, data, ticks, grow):
        orders = [o for o in self.ex.open_orders(acct) if o.type == "limit"]
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        _, tick, lot = MARKETS[order.market]
        with contextlib.suppress(ExchangeError):
            self.ex.amend_order(acct, order.order_id, price=order.price + ticks * tick,
                                size=order.size + grow * lot)  # fmt: skip

    @rule(acct=accounts)
    def cancel_all(self, acct):
        self.ex.cancel_all(acct)

    @rule(seconds=st.integers(0, 120))
    def advance(self, seconds):
        self.ex.advance(seconds)

    @invariant()
    def invariants_hold(self):
        assert self.ex.check_invariants() == []

    @invariant()
    def deposits_are_conserved(self):
        ledger = self.ex._ledger
        external = ledger.net_external_deposits()
        inside: dict[str, Decimal] = {}
        for account, per_asset in ledger.balances.items():
            if account != EXTERNAL:
                for asset, amount in per_asset.items():
                    inside[asset] = inside.get(asset, D(0)) + amount
        for asset, total in inside.items():
            assert total == external.get(asset, D(0)), asset
        for acct in ACCOUNTS:
            rebuilt: dict[str, Decimal] = {}
            for e in self.ex.ledger(acct):
                rebuilt[e.asset] = rebuilt.get(e.asset, D(0)) + e.amount
            assert rebuilt == {k: v for k, v in self.ex.balances(acct).items()}
        assert EXTERNAL not in self.ex.accounts()

    @invariant()
    def fast_requirement_sums_equal_the_pure_math(self):
        for name in ACCOUNTS:
            acct = self.ex._accounts[name]
            fast = self.ex._sums(acct)
            full = self.ex._account_risk(acct)
            assert (fast.equity, fast.initial_equity, fast.imr, fast.mmr, fast.notional) == (
                full.equity,
                full.initial_equity,
                full.imr,
                full.mmr,
                full.notional,
            )

    @invariant()
    def books_never_crossed_and_match_open_orders(self):
        for market in MARKETS:
            snap = self.ex.book(market, 1000)
            if snap.bids and snap.asks:
                assert snap.bids[0][0] < snap.asks[0][0]
            resting = sum((o.size - o.filled for a in ACCOUNTS for o in self.ex.open_orders(a)
                           if o.market == market and o.type == "limit"), D(0))  # fmt: skip
            on_book = sum((q for _, q in snap.bids + snap.asks), D(0))
            assert resting == on_book


ExchangeMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40)
TestExchangeMachine = ExchangeMachine.TestCase
