"""Order book: unit tests per rule, then a stateful comparison against a trivially correct model.

Why a model: the book's speed comes from tombstones, lazy level removal and a shared key space
for both sides, each a place for subtle bugs; a sorted list of orders is too simple to share them.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from exchange_local.bench_book import apply_stream, generate_stream, run_book_bench
from exchange_local.book import BUY, SELL, MatchResult, OrderBook


def book_with(*orders: tuple[int, bool, int, int, str]) -> OrderBook:
    book = OrderBook()
    for oid, is_buy, price, lots, owner in orders:
        book.add(oid, is_buy, price, lots, owner)
    book.take_deltas()
    return book


# ------------------------------------------------------------------------- priority and fills


def test_price_priority_across_levels_fills_at_maker_prices() -> None:
    book = book_with((1, SELL, 102, 1, "m"), (2, SELL, 100, 1, "m"), (3, SELL, 101, 1, "m"))
    res = book.match(BUY, 105, 3, "t")
    assert [(f[0], f[2]) for f in res.fills] == [(2, 100), (3, 101), (1, 102)]
    assert (res.filled, res.notional, res.stp_canceled) == (3, 303, [])
    bids = book_with((1, BUY, 98, 1, "m"), (2, BUY, 99, 1, "m"), (3, BUY, 97, 1, "m"))
    assert [f[2] for f in bids.match(SELL, None, 3, "t").fills] == [99, 98, 97]
    book.check()
    bids.check()


def test_time_priority_within_level() -> None:
    book = book_with((5, SELL, 100, 2, "a"), (3, SELL, 100, 2, "b"), (9, SELL, 100, 2, "c"))
    res = book.match(BUY, 100, 5, "t")
    assert [(f[0], f[1], f[3], f[4]) for f in res.fills] == [
        (5, "a", 2, 0),
        (3, "b", 2, 0),
        (9, "c", 1, 1),
    ]
    assert book.orders_at(SELL, 100) == [(9, "c", 1)]


def test_partial_maker_keeps_priority_and_reports_what_is_left() -> None:
    book = book_with((1, BUY, 100, 10, "a"), (2, BUY, 100, 5, "b"))
    res = book.match(SELL, 100, 4, "t")
    assert res.fills == [(1, "a", 100, 4, 6)]
    assert book.remaining(1) == 6
    assert book.orders_at(BUY, 100) == [(1, "a", 6), (2, "b", 5)]
    assert book.depth(5) == ([(100, 11)], [])


def test_partial_taker_when_book_runs_out_or_limit_stops_it() -> None:
    book = book_with((1, SELL, 100, 3, "a"), (2, SELL, 101, 3, "a"), (3, SELL, 103, 3, "a"))
    res = book.match(BUY, 102, 10, "t")
    assert (res.filled, res.notional) == (6, 3 * 100 + 3 * 101)
    assert book.best_ask() == 103 and len(book) == 1
    res = book.match(BUY, None, 10, "t")
    assert (res.filled, book.best_ask(), len(book)) == (3, None, 0)
    assert book.match(BUY, None, 10, "t") == MatchResult([], [], 0, 0)
    book.check()


def test_limit_below_best_fills_nothing_and_changes_nothing() -> None:
    book = book_with((1, SELL, 100, 3, "a"))
    assert book.match(BUY, 99, 3, "t").filled == 0
    assert book.match(SELL, 101, 3, "t").filled == 0  # the bid side is empty
    assert book.remaining(1) == 3 and book.take_deltas() == []


def test_self_trade_prevention_cancels_resting_and_continues() -> None:
    book = book_with(
        (1, SELL, 100, 2, "me"),
        (2, SELL, 100, 2, "x"),
        (3, SELL, 101, 2, "me"),
        (4, SELL, 102, 5, "y"),
    )
    res = book.match(BUY, 102, 4, "me")
    assert res.stp_canceled == [1, 3]
    assert [(f[0], f[3]) for f in res.fills] == [(2, 2), (4, 2)]
    assert 1 not in book and 3 not in book and book.remaining(4) == 3
    assert book.depth(5) == ([], [(102, 3)])
    book.check()


def test_stp_stops_once_the_taker_is_full() -> None:
    book = book_with((1, SELL, 100, 2, "x"), (2, SELL, 100, 2, "me"))
    res = book.match(BUY, 100, 2, "me")
    assert res.stp_canceled == [] and 2 in book


def test_allow_clips_a_fill_and_stops_matching() -> None:
    book = book_with((1, SELL, 100, 3, "a"), (2, SELL, 100, 3, "b"), (3, SELL, 101, 3, "c"))
    calls: list[tuple[str, int, int]] = []

    def allow(maker: str, price: int, lots: int) -> int:
        calls.append((maker, price, lots))
        return lots if maker == "a" else 1

    res = book.match(BUY, None, 9, "t", allow)
    assert calls == [("a", 100, 3), ("b", 100, 3)]
    assert res.fills == [(1, "a", 100, 3, 0), (2, "b", 100, 1, 2)]
    assert res.filled == 4 and book.remaining(2) == 2 and book.remaining(3) == 3
    book.check()


def test_allow_zero_fills_nothing_but_keeps_earlier_stp() -> None:
    book = book_with((1, SELL, 100, 3, "me"), (2, SELL, 100, 3, "b"))
    res = book.match(BUY, None, 5, "me", lambda m, p, n: 0)
    assert res.fills == [] and res.stp_canceled == [1] and res.filled == 0
    assert book.orders_at(SELL, 100) == [(2, "b", 3)]
    assert book.take_deltas() == [(SELL, 100, 3)]
    book.check()


def test_allow_returning_more_than_asked_is_not_a_clip() -> None:
    book = book_with((1, SELL, 100, 3, "a"), (2, SELL, 101, 3, "b"))
    assert book.match(BUY, None, 6, "t", lambda m, p, n: n + 5).filled == 6


# ------------------------------------------------------------------------- resting orders


def test_add_refuses_bad_orders_and_crossing() -> None:
    book = book_with((1, BUY, 99, 1, "a"), (2, SELL, 101, 1, "a"))
    for args in [(1, BUY, 98, 1), (3, BUY, 98, 0), (3, BUY, 98, -1), (3, BUY, 0, 1)]:
        with pytest.raises(ValueError):
            book.add(*args, "a")
    with pytest.raises(ValueError, match="cross"):
        book.add(3, BUY, 101, 1, "a")
    with pytest.raises(ValueError, match="cross"):
        book.add(3, SELL, 99, 1, "a")
    assert len(book) == 2 and book.take_deltas() == []
    book.cancel(2)  # the ask level is now an empty level kept lazily: it must not block a bid
    book.add(3, BUY, 101, 1, "a")
    assert book.best_bid() == 101 and book.best_ask() is None
    book.check()


def test_cancel_returns_remaining_and_refuses_unknown_ids() -> None:
    book = book_with((1, BUY, 99, 5, "a"))
    book.match(SELL, None, 2, "t")
    assert book.cancel(1) == 3
    assert 1 not in book and book.remaining(1) is None and book.info(1) is None
    with pytest.raises(KeyError):
        book.cancel(1)
    with pytest.raises(KeyError):
        book.cancel(42)
    assert book.best_bid() is None and book.depth(3) == ([], [])
    book.check()


def test_reduce_keeps_time_priority() -> None:
    book = book_with((1, SELL, 100, 5, "a"), (2, SELL, 100, 5, "b"))
    book.reduce(1, 2)
    assert book.remaining(1) == 2 and book.depth(1) == ([], [(100, 7)])
    res = book.match(BUY, None, 3, "t")
    assert [(f[0], f[3]) for f in res.fills] == [(1, 2), (2, 1)]
    for bad in (0, -1, 5):
        with pytest.raises(ValueError):
            book.reduce(2, bad)
    with pytest.raises(KeyError):
        book.reduce(1, 1)
    book.check()


def test_lookups() -> None:
    book = book_with((7, BUY, 99, 5, "a"), (8, SELL, 101, 4, "b"))
    assert book.info(7) == (True, 99, 5, "a") and book.info(8) == (False, 101, 4, "b")
    assert 7 in book and 9 not in book and len(book) == 2
    assert (book.best_bid(), book.best_ask()) == (99, 101)
    assert book.orders_at(BUY, 99) == [(7, "a", 5)] and book.orders_at(BUY, 101) == []


# ------------------------------------------------------------------------- read-only walks


def test_fillable_skips_own_orders_respects_limit_and_changes_nothing() -> None:
    book = book_with((1, SELL, 100, 3, "me"), (2, SELL, 101, 3, "x"), (3, SELL, 102, 3, "y"))
    assert book.fillable(BUY, 101, 10, "me") == 3
    assert book.fillable(BUY, None, 10, "me") == 6
    assert book.fillable(BUY, None, 4, "other") == 4
    assert book.fillable(SELL, None, 4, "other") == 0
    assert len(book) == 3 and book.take_deltas() == []
    assert book.match(BUY, None, 10, "me").filled == 6  # the same figure match then reaches


def test_sweep_walks_without_changing_the_book() -> None:
    book = book_with((1, BUY, 100, 3, "a"), (2, BUY, 99, 3, "b"), (3, BUY, 98, 3, "a"))
    assert book.sweep(SELL, 4) == (4, 3 * 100 + 99, 0)
    assert book.sweep(SELL, 100) == (9, 3 * (100 + 99 + 98), 0)
    assert book.sweep(SELL, 100, limit=99) == (6, 3 * (100 + 99), 0)
    assert book.sweep(SELL, 100, exclude_owner="a") == (3, 3 * 99, 6)
    assert book.sweep(BUY, 5) == (0, 0, 0)
    assert len(book) == 3 and book.remaining(1) == 3


def test_sweep_notional_rounds_the_last_level_up_and_says_when_too_thin() -> None:
    book = book_with((1, SELL, 100, 2, "a"), (2, SELL, 110, 5, "b"))
    assert book.sweep_notional(BUY, 150) == (2, 200)
    assert book.sweep_notional(BUY, 200) == (2, 200)
    assert book.sweep_notional(BUY, 201) == (3, 310)
    assert book.sweep_notional(BUY, 750) == (7, 750)
    assert book.sweep_notional(BUY, 751) is None
    assert book.sweep_notional(SELL, 1) is None
    assert book.sweep_notional(BUY, 0) == (0, 0)


# ------------------------------------------------------------------------- views and laziness


def test_depth_skips_tombstones_and_empty_levels() -> None:
    book = book_with(
        (1, BUY, 100, 1, "a"), (2, BUY, 100, 2, "b"), (3, BUY, 99, 4, "a"), (4, BUY, 98, 8, "a")
    )
    book.cancel(1)
    book.cancel(3)
    assert book.depth(10) == ([(100, 2), (98, 8)], [])
    assert book.depth(1) == ([(100, 2)], [])
    assert book.orders_at(BUY, 100) == [(2, "b", 2)]
    book.check()


def test_take_deltas_reports_each_changed_level_once_in_first_change_order() -> None:
    book = OrderBook()
    book.add(1, BUY, 100, 5, "a")
    book.add(2, SELL, 103, 5, "a")
    book.add(3, BUY, 100, 1, "b")
    book.add(4, SELL, 100 + 5, 1, "b")
    assert book.take_deltas() == [(BUY, 100, 6), (SELL, 103, 5), (SELL, 105, 1)]
    assert book.take_deltas() == []
    book.match(BUY, None, 6, "t")  # takes 103 whole and 1 of 105
    book.cancel(1)
    book.reduce(3, 1)
    assert book.take_deltas() == [(SELL, 103, 0), (SELL, 105, 0), (BUY, 100, 1)]
    book.track_deltas = False
    book.add(5, BUY, 90, 1, "a")
    assert book.take_deltas() == []


def test_same_price_on_both_sides_over_time_are_distinct_levels() -> None:
    book = book_with((1, BUY, 100, 2, "a"))
    book.cancel(1)
    book.add(2, SELL, 100, 3, "b")  # the empty bid level at 100 is still kept lazily
    assert (book.best_bid(), book.best_ask()) == (None, 100)
    assert book.take_deltas() == [(BUY, 100, 0), (SELL, 100, 3)]
    book.check()


def test_lazy_removal_never_exposes_a_dead_best_price() -> None:
    book = book_with((1, BUY, 100, 1, "a"), (2, BUY, 99, 1, "a"), (3, BUY, 98, 1, "a"))
    book.cancel(1)
    assert book.best_bid() == 99
    book.cancel(2)
    assert book.sweep(SELL, 5) == (1, 98, 0) and book.depth(1) == ([(98, 1)], [])
    assert book.match(SELL, 99, 5, "t").filled == 0  # the empty 99 level is not a fill
    res = book.match(SELL, 98, 5, "t")
    assert res.fills == [(3, "a", 98, 1, 0)]
    assert book.best_bid() is None
    book.add(4, BUY, 100, 2, "b")  # revives a lazily kept level
    assert book.best_bid() == 100 and book.orders_at(BUY, 100) == [(4, "b", 2)]
    book.check()


def test_many_cancels_in_one_level_compact_it_and_keep_order() -> None:
    book = OrderBook()
    for oid in range(1, 201):
        book.add(oid, SELL, 100, 1, f"o{oid}")
    for oid in range(1, 200):
        if oid % 7:
            book.cancel(oid)
        book.check()
    survivors = [oid for oid in range(1, 201) if oid % 7 == 0 or oid == 200]
    assert [o[0] for o in book.orders_at(SELL, 100)] == survivors
    assert len(book._levels[~100]) < 2 + 2 * len(survivors) + 20  # tombstones were dropped
    assert [f[0] for f in book.match(BUY, None, 1000, "t").fills] == survivors


def test_far_empty_levels_are_purged() -> None:
    book = book_with((1, SELL, 10_000, 1, "a"))
    for oid in range(2, 2_002):
        book.add(oid, BUY, oid, 1, "a")
    for oid in range(2, 1_902):
        book.cancel(oid)
    book.check()
    assert len(book._bids) < 1_000  # empties were swept out, not kept forever
    assert book.best_bid() == 2_001 and len(book) == 101


def test_check_detects_corruption() -> None:
    book = book_with((1, BUY, 100, 2, "a"), (2, SELL, 101, 2, "a"))
    book._levels[100][0] = 3
    with pytest.raises(AssertionError, match="total"):
        book.check()
    crossed = book_with((1, BUY, 100, 2, "a"))
    crossed._asks.append(~99)
    crossed._levels[~99] = [1, 0, [2, 1, "a", ~99]]
    crossed._orders[2] = crossed._levels[~99][2]
    with pytest.raises(AssertionError, match="crossed"):
        crossed.check()


# ------------------------------------------------------------------------- model comparison


class Model:
    """Resting orders in one list; every query sorts from scratch. Slow, and obviously right."""

    def __init__(self) -> None:
        self.orders: dict[int, list] = {}  # oid -> [is_buy, price, lots, owner, seq]
        self.seq = 0

    def add(self, oid: int, is_buy: bool, price: int, lots: int, owner: str) -> None:
        self.seq += 1
        self.orders[oid] = [is_buy, price, lots, owner, self.seq]

    def queue(self, taker_buy: bool, limit: int | None) -> list[tuple[int, list]]:
        """Makers a taker would meet, in price-time priority."""
        out = [
            (oid, o)
            for oid, o in self.orders.items()
            if o[0] != taker_buy
            and (limit is None or (o[1] <= limit if taker_buy else o[1] >= limit))
        ]
        out.sort(key=lambda e: (e[1][1] if taker_buy else -e[1][1], e[1][4]))
        return out

    def match(
        self,
        is_buy: bool,
        limit: int | None,
        lots: int,
        owner: str,
        allow: Callable[[str, int, int], int] | None,
    ) -> MatchResult:
        fills: list[tuple[int, str, int, int, int]] = []
        stp: list[int] = []
        left = lots
        for oid, o in self.queue(is_buy, limit):
            if not left:
                break
            if o[3] == owner:
                del self.orders[oid]
                stp.append(oid)
                continue
            n = min(left, o[2])
            stop = False
            if allow is not None:
                ok = allow(o[3], o[1], n)
                if ok < n:
                    stop = True
                    if ok <= 0:
                        break
                    n = ok
            o[2] -= n
            left -= n
            fills.append((oid, o[3], o[1], n, o[2]))
            if not o[2]:
                del self.orders[oid]
            if stop:
                break
        return MatchResult(fills, stp, lots - left, sum(f[2] * f[3] for f in fills))

    def levels(self) -> dict[tuple[bool, int], int]:
        out: dict[tuple[bool, int], int] = {}
        for is_buy, price, lots, _, _ in self.orders.values():
            out[(is_buy, price)] = out.get((is_buy, price), 0) + lots
        return out

    def best(self, is_buy: bool) -> int | None:
        prices = [o[1] for o in self.orders.values() if o[0] == is_buy]
        if not prices:
            return None
        return max(prices) if is_buy else min(prices)


OWNERS = st.sampled_from(["a", "b", "c"])
PRICES = st.integers(95, 105)
LOTS = st.integers(1, 6)


class BookVersusModel(RuleBasedStateMachine):
    """Random add/cancel/reduce/match sequences; the book must agree with the model at each step."""

    @initialize()
    def start(self) -> None:
        self.book = OrderBook()
        self.model = Model()
        self.next_id = 1
        self.levels_before: dict[tuple[bool, int], int] = {}

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    @rule(is_buy=st.booleans(), price=PRICES, lots=LOTS, owner=OWNERS)
    def place_limit(self, is_buy: bool, price: int, lots: int, owner: str) -> None:
        """What the engine does: match first, then rest the remainder at the limit."""
        oid = self._new_id()
        assert self.book.fillable(is_buy, price, lots, owner) == self._model_fillable(
            is_buy, price, lots, owner
        )
        got = self.book.match(is_buy, price, lots, owner)
        assert got == self.model.match(is_buy, price, lots, owner, None)
        if got.filled < lots:
            self.book.add(oid, is_buy, price, lots - got.filled, owner)
            self.model.add(oid, is_buy, price, lots - got.filled, owner)

    @rule(is_buy=st.booleans(), lots=st.integers(1, 20), owner=OWNERS, cap=st.integers(0, 12))
    def market_with_cap(self, is_buy: bool, lots: int, owner: str, cap: int) -> None:
        """Like an open-interest cap: a budget of lots shared across the fills of one order."""

        def make_allow(log: list[tuple[str, int, int]]) -> Callable[[str, int, int], int]:
            budget = [cap]

            def allow(maker: str, price: int, n: int) -> int:
                log.append((maker, price, n))
                ok = min(n, budget[0])
                budget[0] -= ok
                return ok

            return allow

        book_calls: list[tuple[str, int, int]] = []
        model_calls: list[tuple[str, int, int]] = []
        got = self.book.match(is_buy, None, lots, owner, make_allow(book_calls))
        assert got == self.model.match(is_buy, None, lots, owner, make_allow(model_calls))
        assert book_calls == model_calls

    @rule(is_buy=st.booleans(), lots=st.integers(1, 30), limit=st.none() | PRICES, who=OWNERS)
    def sweeps_agree(self, is_buy: bool, lots: int, limit: int | None, who: str) -> None:
        for exclude in (None, who):
            got, notional, own, left = 0, 0, 0, lots
            for _, o in self.model.queue(is_buy, limit):
                if not left:  # as match() stops: own orders past the fill stay
                    break
                if o[3] == exclude:  # passed over and canceled by STP, as match() does
                    own += o[2]
                    continue
                n = min(left, o[2])
                got, notional, left = got + n, notional + n * o[1], left - n
            assert self.book.sweep(is_buy, lots, limit, exclude) == (got, notional, own)
        notional_goal = lots * 100
        acc = 0
        expected: tuple[int, int] | None = None
        filled = 0
        for _, o in self.model.queue(is_buy, None):
            for _ in range(o[2]):
                filled, acc = filled + 1, acc + o[1]
                if acc >= notional_goal:
                    expected = (filled, acc)
                    break
            if expected:
                break
        assert self.book.sweep_notional(is_buy, notional_goal) == expected

    @rule(is_buy=st.booleans(), offset=st.integers(1, 6), lots=LOTS, owner=OWNERS)
    def add_passive(self, is_buy: bool, offset: int, lots: int, owner: str) -> None:
        other = self.model.best(not is_buy)
        ref = other if other is not None else 100
        price = ref - offset if is_buy else ref + offset
        oid = self._new_id()
        self.book.add(oid, is_buy, price, lots, owner)
        self.model.add(oid, is_buy, price, lots, owner)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.model.orders)))
        assert self.book.cancel(oid) == self.model.orders.pop(oid)[2]

    @rule(oid=st.integers(-3, 0))
    def cancel_unknown(self, oid: int) -> None:
        with pytest.raises(KeyError):
            self.book.cancel(oid)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def reduce(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(sorted(self.model.orders)))
        new = data.draw(st.integers(1, self.model.orders[oid][2]))
        self.book.reduce(oid, new)
        self.model.orders[oid][2] = new

    def _model_fillable(self, is_buy: bool, limit: int, lots: int, owner: str) -> int:
        return min(lots, sum(o[2] for _, o in self.model.queue(is_buy, limit) if o[3] != owner))

    @invariant()
    def agrees_with_model(self) -> None:
        if not hasattr(self, "book"):
            return
        book, model = self.book, self.model
        book.check()
        levels = model.levels()
        bids = sorted(((p, n) for (b, p), n in levels.items() if b), reverse=True)
        asks = sorted((p, n) for (b, p), n in levels.items() if not b)
        assert book.depth(100) == (bids, asks)
        assert (book.best_bid(), book.best_ask()) == (model.best(True), model.best(False))
        bid, ask = book.best_bid(), book.best_ask()
        assert bid is None or ask is None or bid < ask
        assert len(book) == len(model.orders)
        for oid, (is_buy, price, lots, owner, _) in model.orders.items():
            assert book.info(oid) == (is_buy, price, lots, owner)
        for is_buy, price in {(b, p) for (b, p) in levels}:
            queue = sorted((o[4], oid, o[3], o[2]) for oid, o in model.orders.items()
                           if (o[0], o[1]) == (is_buy, price))  # fmt: skip
            assert book.orders_at(is_buy, price) == [(oid, w, n) for _, oid, w, n in queue]
        deltas = book.take_deltas()
        keys = [(b, p) for b, p, _ in deltas]
        assert len(keys) == len(set(keys))
        for b, p, total in deltas:
            assert total == levels.get((b, p), 0)
        for key in set(levels) | set(self.levels_before):
            if levels.get(key, 0) != self.levels_before.get(key, 0):
                assert key in keys
        self.levels_before = levels


TestBookVersusModel = BookVersusModel.TestCase
TestBookVersusModel.settings = settings(max_examples=150, stateful_step_count=60, deadline=None)


@given(st.lists(st.tuples(st.booleans(), PRICES, LOTS, OWNERS), max_size=40))
def test_any_sequence_of_placements_leaves_a_consistent_uncrossed_book(
    orders: list[tuple[bool, int, int, str]],
) -> None:
    book = OrderBook()
    for oid, (is_buy, price, lots, owner) in enumerate(orders, 1):
        res = book.match(is_buy, price, lots, owner)
        assert res.filled <= lots and not set(res.stp_canceled) & {f[0] for f in res.fills}
        assert all((p <= price) if is_buy else (p >= price) for _, _, p, _, _ in res.fills)
        if res.filled < lots:
            book.add(oid, is_buy, price, lots - res.filled, owner)
        book.check()


# ------------------------------------------------------------------------- benchmark plumbing


def test_stream_is_seeded_and_has_the_intended_mix() -> None:
    stream = generate_stream(20_000, seed=3)
    assert stream == generate_stream(20_000, seed=3)
    assert stream != generate_stream(20_000, seed=4)
    share = {k: sum(op[0] == k for op in stream) / len(stream) for k in ("add", "cancel")}
    assert 0.55 < share["add"] < 0.68 and 0.2 < share["cancel"] < 0.28
    book = OrderBook()
    apply_stream(book, stream)  # every cancel hits a resting order, every add is uncrossed
    book.check()
    assert 700 < len(book) < 1_400


def test_run_book_bench_reports_rates() -> None:
    res = run_book_bench(n_ops=3_000, seed=2)
    assert res["n_ops"] == 3_000 and res["ops_per_s"] > 0
    assert set(res["per_type_ops_per_s"]) == {"add", "cancel", "cross", "market"}


def test_the_yardstick_book_replays_the_stream_to_the_same_resting_orders() -> None:
    """The speed comparison is fair only if the yardstick does the same work as our book."""
    from exchange_local.bench_reference import PlainBook, compare_with_yardstick

    stream = generate_stream(20_000, seed=5)
    ours = OrderBook()
    apply_stream(ours, stream)
    plain = PlainBook()
    apply_stream(plain, stream)
    assert set(plain.orders) == set(ours._orders)
    for oid, (is_buy, price, rec) in plain.orders.items():
        assert ours.info(oid) == (is_buy, price, rec[1], rec[2])
    res = compare_with_yardstick(stream[:2_000], rounds=1)
    assert res["ratio"] > 0 and res["ours_on_issue_machine"] > 0
