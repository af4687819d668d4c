"""Limit order book in integers: price ticks, lot sizes, int order ids, str owners.

Why integers: the book is the hottest code in the exchange and Decimal arithmetic is an order of
magnitude slower than int; the engine converts at the edge (money.py), so nothing here rounds.

Layout, chosen for speed in pure Python (see bench_book.py):

* Each price level has a *key*: ``price`` for bids and ``~price`` (= -price - 1) for asks. One dict
  then holds both sides without collisions (prices are > 0), and on both sides "better" means
  "larger key", so one matching loop serves both and a limit is one integer comparison.
* Per side a plain list of keys sorted ascending, best at the end: taking the best level is
  ``list.pop()`` and a new level is a ``bisect.insort`` into a few hundred ints, which beats a
  SortedList at realistic depths.
* A level is one list ``[total lots, tombstones, record, record, ...]`` in time priority and a
  record is ``[order_id, lots, owner, key]``: most levels hold one or two orders, and creating a
  deque per level cost more than the occasional memmove of a list. Cancel is O(1): the record is
  tombstoned (lots = 0) and left in place; matching skips tombstones and drops the consumed head
  of a level with one slice deletion; a level is compacted once it is mostly tombstones.
* A level whose total drops to 0 by a cancel stays in the key list (removing it costs a bisect and
  a memmove that an add at the same price often makes pointless) and is dropped when it reaches
  the top of the book, or all at once when such levels outnumber the live ones.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import NamedTuple

BUY = True
SELL = False

_COMPACT_MIN = 16  # tombstones a level tolerates before it is compacted
_EMPTY_LEVEL = (0, 0)  # what a level shrinks to when its last order goes (kept for reuse)
_PURGE_MIN = 256  # empty levels the book tolerates before sweeping them all out

Record = list  # [order_id, lots, owner, key]; lots == 0 marks a tombstone
Level = list  # [total_lots, tombstones, *records]

__all__ = ["BUY", "SELL", "MatchResult", "OrderBook"]


class MatchResult(NamedTuple):
    """Outcome of one taker pass, in book units, for the engine to turn into trades and events.

    A NamedTuple built with tuple.__new__ (see match): a third of the cost of a slotted
    dataclass, which a small match notices.
    """

    fills: list[tuple[int, str, int, int, int]]  # (maker id, maker owner, price, lots, maker left)
    stp_canceled: list[int]  # resting ids removed by self-trade prevention
    filled: int  # lots filled in total
    notional: int  # sum of price * lots


_new_tuple = tuple.__new__


class OrderBook:
    """Price-time priority book; resting orders never cross (the engine matches before adding)."""

    __slots__ = ("_asks", "_bids", "_changed", "_empty", "_levels", "_orders", "track_deltas")

    def __init__(self) -> None:
        self._levels: dict[int, Level] = {}
        self._bids: list[int] = []
        self._asks: list[int] = []
        self._orders: dict[int, Record] = {}
        self._changed: dict[int, None] = {}
        self._empty = 0  # levels with total 0 still listed (lazy removal)
        self.track_deltas = True

    # ----------------------------------------------------------------- resting orders

    def add(self, order_id: int, is_buy: bool, price: int, lots: int, owner: str) -> None:
        """Rest an order behind everything already at its price (time priority)."""
        if is_buy:
            k = price
            keys = self._bids
            other = self._asks
            if other and ~other[-1] <= price:
                self._refuse_cross(order_id, is_buy, price)
        else:
            k = ~price
            keys = self._asks
            other = self._bids
            if other and other[-1] >= price:
                self._refuse_cross(order_id, is_buy, price)
        rec = [order_id, lots, owner, k]
        if lots <= 0 or price <= 0 or self._orders.setdefault(order_id, rec) is not rec:
            raise ValueError(f"bad order {order_id}: lots={lots} price={price} or duplicate id")
        levels = self._levels
        lv = levels.get(k)
        if lv is None:
            levels[k] = [lots, 0, rec]
            if keys and k < keys[-1]:
                insort(keys, k)
            else:
                keys.append(k)
        elif lv[0]:
            lv.append(rec)
            lv[0] += lots
        else:  # reviving a lazily kept empty level
            lv.append(rec)
            lv[0] = lots
            self._empty -= 1
        if self.track_deltas:
            self._changed[k] = None

    def _refuse_cross(self, order_id: int, is_buy: bool, price: int) -> None:
        """Raise if the order would cross; the raw top may be a lazily kept empty level."""
        best = self.best_ask() if is_buy else self.best_bid()
        if best is not None and (best <= price if is_buy else best >= price):
            raise ValueError(f"order {order_id} at {price} would cross the book at {best}")

    def cancel(self, order_id: int) -> int:
        """Tombstone the order so the cost does not depend on where it sits in its level."""
        rec = self._orders.pop(order_id)
        lots = rec[1]
        rec[1] = 0
        k = rec[3]
        lv = self._levels[k]
        total = lv[0] - lots
        if total:
            lv[0] = total
            dead = lv[1] + 1
            lv[1] = dead
            if dead > _COMPACT_MIN and dead + dead > len(lv):
                lv[1:] = [0, *(r for r in lv[2:] if r[1])]
        else:
            lv[:] = _EMPTY_LEVEL
            self._empty += 1
            if self._empty > _PURGE_MIN and self._empty + self._empty > len(self._levels):
                self._purge()
        if self.track_deltas:
            self._changed[k] = None
        return lots

    def reduce(self, order_id: int, new_lots: int) -> None:
        """Shrink in place: a smaller order keeps its queue position, as on real venues."""
        rec = self._orders[order_id]
        lots = rec[1]
        if not 0 < new_lots <= lots:
            raise ValueError(f"reduce {order_id} to {new_lots}: must be in 1..{lots}")
        rec[1] = new_lots
        k = rec[3]
        self._levels[k][0] -= lots - new_lots
        if self.track_deltas:
            self._changed[k] = None

    def remaining(self, order_id: int) -> int | None:
        """Lots still resting, so the engine can tell filled-and-gone from never-existed."""
        rec = self._orders.get(order_id)
        return None if rec is None else rec[1]

    def info(self, order_id: int) -> tuple[bool, int, int, str] | None:
        """(is_buy, price, lots, owner) of a resting order, without the engine keeping a copy."""
        rec = self._orders.get(order_id)
        if rec is None:
            return None
        k = rec[3]
        return (True, k, rec[1], rec[2]) if k >= 0 else (False, ~k, rec[1], rec[2])

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    # ----------------------------------------------------------------- top of book

    def _top(self, keys: list[int]) -> int | None:
        """Best live key of a side, dropping empty levels on the way so they are never exposed."""
        levels = self._levels
        while keys:
            k = keys[-1]
            if levels[k][0]:
                return k
            keys.pop()
            del levels[k]
            self._empty -= 1
        return None

    def best_bid(self) -> int | None:
        return self._top(self._bids)

    def best_ask(self) -> int | None:
        k = self._top(self._asks)
        return None if k is None else ~k

    def _purge(self) -> None:
        """Drop every empty level at once, so far-away dead levels cannot accumulate forever."""
        levels = self._levels
        for keys in (self._bids, self._asks):
            keys[:] = [k for k in keys if levels[k][0]]
        for k in [k for k, lv in levels.items() if not lv[0]]:
            del levels[k]
        self._empty = 0

    # ----------------------------------------------------------------- taking liquidity

    def match(
        self,
        is_buy: bool,
        limit: int | None,
        lots: int,
        owner: str,
        allow: Callable[[str, int, int], int] | None = None,
    ) -> MatchResult:
        """Fill an incoming order at makers' prices; its remainder is the engine's to rest or drop.

        Self-trade prevention cancels the resting side (the newer intent wins). `allow` lets the
        engine clip a fill (open-interest cap, reduce-only) and end the pass right there; it must
        not raise, since fills already made in this pass would be lost to the caller.
        """
        if lots < 0:
            raise ValueError(f"cannot match {lots} lots")
        fills: list[tuple[int, str, int, int, int]] = []
        stp: list[int] = []
        keys = self._asks if is_buy else self._bids
        if limit is not None:
            klim = ~limit if is_buy else limit
        elif keys:  # no limit: the side's worst key keeps the test a small-int comparison
            klim = keys[0]
        else:
            klim = 0
        levels = self._levels
        orders = self._orders
        changed = self._changed if self.track_deltas else None
        left = lots
        spare = 0  # lots held back by an allow() clip; setting left to 0 ends every loop
        notional = 0
        while left and keys:
            k = keys[-1]
            if k < klim:
                break
            lv = levels[k]
            if not lv[0]:  # lazily kept empty level
                keys.pop()
                del levels[k]
                self._empty -= 1
                continue
            price = ~k if is_buy else k
            start = left
            i = 2  # records before i are consumed; they go in one slice deletion below
            end = len(lv)
            while i < end:
                rec = lv[i]
                oid, rl, maker, _ = rec
                if not rl:  # tombstone
                    i += 1
                    lv[1] -= 1
                    continue
                if maker == owner:  # self-trade prevention: the resting order goes
                    i += 1
                    del orders[oid]
                    rec[1] = 0
                    lv[0] -= rl
                    stp.append(oid)
                    if changed is not None:
                        changed[k] = None
                    continue
                if allow is not None:
                    ok = allow(maker, price, rl if rl < left else left)
                    if ok < rl and ok < left:  # clipped: fill ok lots, then stop
                        if ok <= 0:
                            spare, left, start = spare + left, 0, start - left
                            break
                        spare, left, start = spare + left - ok, ok, start - left + ok
                if rl <= left:
                    left -= rl
                    i += 1
                    rec[1] = 0
                    del orders[oid]
                    fills.append((oid, maker, price, rl, 0))
                    if not left:
                        break
                else:
                    rec[1] = rl - left
                    fills.append((oid, maker, price, left, rl - left))
                    left = 0
                    break
            used = start - left
            notional += price * used
            total = lv[0] - used
            if used and changed is not None:
                changed[k] = None
            if total:
                lv[0] = total
                del lv[2:i]
            else:
                keys.pop()
                del levels[k]
        return _new_tuple(MatchResult, (fills, stp, lots - left - spare, notional))

    def _walk(self, keys: list[int], klim: int) -> Iterator[tuple[int, Level]]:
        """Live levels of a side best first, down to the limit key; read-only."""
        levels = self._levels
        for i in range(len(keys) - 1, -1, -1):
            k = keys[i]
            if k < klim:
                return
            lv = levels[k]
            if lv[0]:
                yield (k if k >= 0 else ~k), lv

    def _side(self, is_buy: bool, limit: int | None) -> tuple[list[int], int]:
        """The side an incoming order of `is_buy` takes from, and its limit as a key bound."""
        keys = self._asks if is_buy else self._bids
        if limit is None:  # the side's worst key: no limit, yet still a small-int comparison
            return keys, (keys[0] if keys else 0)
        return keys, (~limit if is_buy else limit)

    def fillable(self, is_buy: bool, limit: int | None, lots: int, owner: str) -> int:
        """What a match would fill now (own orders would be STP-canceled): the FOK pre-check."""
        return self.sweep(is_buy, lots, limit, owner)[0]

    def sweep(
        self, is_buy: bool, lots: int, limit: int | None = None, exclude_owner: str | None = None
    ) -> tuple[int, int, int]:
        """(lots, notional, own lots) a taker would get, leaving the book as is: previews,
        impact prices, the pre-trade check.

        With `exclude_owner`, that owner's orders are passed over as match() passes them,
        self-trade prevention canceling each one the walk reaches before it is done (the
        third figure): the check then knows which of the account's resting orders the fill
        removes (a preview counted a 10-lot bid the sell's STP cancels, IMR 1,350 for 150).
        """
        keys, klim = self._side(is_buy, limit)
        if not keys or keys[-1] < klim:  # a passive order: nothing to walk (the pre-trade path)
            return 0, 0, 0
        got = 0
        notional = 0
        own = 0
        for price, lv in self._walk(keys, klim):
            if got >= lots:
                break
            if exclude_owner is None:
                n = min(lv[0], lots - got)
                got += n
                notional += n * price
                continue
            for r in lv[2:]:
                if not r[1]:
                    continue
                if r[2] == exclude_owner:
                    own += r[1]
                    continue
                n = min(r[1], lots - got)
                got += n
                notional += n * price
                if got >= lots:
                    break
        return got, notional, own

    def sweep_notional(self, is_buy: bool, notional: int) -> tuple[int, int] | None:
        """Lots needed to trade `notional` (tick*lot units) through the book; None if too thin.

        Funding's impact bid/ask is the average price of exactly such a sweep.
        """
        keys, klim = self._side(is_buy, None)
        got = 0
        acc = 0
        if notional <= 0:
            return 0, 0
        for price, lv in self._walk(keys, klim):
            need = -((acc - notional) // price)  # ceil((notional - acc) / price)
            if lv[0] >= need:
                return got + need, acc + need * price
            got += lv[0]
            acc += lv[0] * price
        return None

    # ----------------------------------------------------------------- views

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """L2 snapshot best first, live levels only, for the book widget and resync snapshots."""
        out: list[list[tuple[int, int]]] = []
        for keys in (self._bids, self._asks):
            side: list[tuple[int, int]] = []
            for price, lv in self._walk(keys, keys[0] if keys else 0):
                if len(side) >= levels:
                    break
                side.append((price, lv[0]))
            out.append(side)
        return out[0], out[1]

    def take_deltas(self) -> list[tuple[bool, int, int]]:
        """(is_buy, price, total now) per level touched since the last call; 0 = level gone.

        Only the keys are recorded in the hot path; totals are read here, once per level.
        """
        levels = self._levels
        out = []
        for k in self._changed:
            lv = levels.get(k)
            total = 0 if lv is None else lv[0]
            out.append((True, k, total) if k >= 0 else (False, ~k, total))
        self._changed = {}
        return out

    def orders_at(self, is_buy: bool, price: int) -> list[tuple[int, str, int]]:
        """Live orders of one level in priority order, for tests and the UI's queue view."""
        lv = self._levels.get(price if is_buy else ~price)
        if lv is None:
            return []
        return [(r[0], r[2], r[1]) for r in lv[2:] if r[1]]

    def check(self) -> None:
        """Raise AssertionError on any broken invariant (works under `python -O` too)."""

        def need(cond: object, what: str) -> None:
            if not cond:
                raise AssertionError(what)

        levels = self._levels
        seen: set[int] = set()
        for keys, is_bid in ((self._bids, True), (self._asks, False)):
            need(all(a < b for a, b in pairwise(keys)), "keys not sorted")
            need(all((k >= 0) == is_bid for k in keys), "key on wrong side")
            for k in keys:
                need(k in levels, f"listed key {k} has no level")
                lv = levels[k]
                live = [r for r in lv[2:] if r[1]]
                need(lv[0] == sum(r[1] for r in live), f"level {k} total != sum of its orders")
                need(all(r[1] > 0 for r in live), f"negative lots at {k}")
                need(lv[1] == len(lv) - 2 - len(live), f"tombstone count wrong at {k}")
                for r in live:
                    indexed = self._orders.get(r[0]) is r
                    need(indexed and r[3] == k, f"index broken for {r[0]}")
                    need(r[0] not in seen, f"order {r[0]} queued twice")
                    seen.add(r[0])
        need(len(levels) == len(self._bids) + len(self._asks), "level dict != key lists")
        need(seen == set(self._orders), "index holds orders that are not queued")
        empty = sum(1 for lv in levels.values() if not lv[0])
        need(empty == self._empty, "empty-level count drifted")
        bid, ask = self.best_bid(), self.best_ask()
        need(bid is None or ask is None or bid < ask, f"crossed book: {bid} >= {ask}")
