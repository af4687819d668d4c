"""Which accounts the 1 s risk tick must look at: a sorted watch list of safe price moves.

Why: MECHANICS section 4 runs on every second, and 100,000 accounts times a Decimal margin
sum is far too slow for a tick where nothing is near liquidation. Each account gets a
conservative threshold t: while no price has moved more than t (relatively) from the reference
prices, none of the account's margin boundaries (maintenance, the warning level, initial) can
have been crossed. A tick then evaluates only the accounts whose t is below the largest move
so far: a bisection in a SortedList, plus the accounts whose state changed.
"""

from __future__ import annotations

from decimal import Decimal

from sortedcontainers import SortedList

from exchange_local.money import ONE, ZERO

REBASE_MOVE = Decimal("0.05")  # past a 5 % move, thresholds are recomputed at current prices


class LiquidationWatch:
    def __init__(self) -> None:
        self.reference: dict[str, Decimal] = {}
        self.thresholds: dict[str, Decimal] = {}
        self._sorted: SortedList = SortedList()

    def max_move(self, prices: dict[str, Decimal]) -> Decimal:
        """The largest relative move of any price since the reference was taken."""
        move = ZERO
        for asset, ref in self.reference.items():
            change = abs(prices[asset] / ref - ONE)
            if change > move:
                move = change
        return move

    def set(self, account: str, safe_move_now: Decimal | None, move_now: Decimal) -> None:
        """Record that the account is safe while prices move less than `safe_move_now` from now.

        In terms of the reference: |M/R - 1| < t implies |M/C - 1| < (t + mu)/(1 - mu) where mu
        is today's move, so t = d(1 - mu) - mu keeps the guarantee. None: nothing to watch.
        """
        self.discard(account)
        if safe_move_now is None:
            return
        threshold = safe_move_now * (ONE - move_now) - move_now
        self.thresholds[account] = threshold
        self._sorted.add((threshold, account))

    def discard(self, account: str) -> None:
        old = self.thresholds.pop(account, None)
        if old is not None:
            self._sorted.discard((old, account))

    def due(self, move: Decimal) -> list[str]:
        """Accounts whose threshold the current move has reached."""
        end = self._sorted.bisect_left((move, "\uffff"))
        return [account for _, account in self._sorted[:end]]

    def rebase(self, prices: dict[str, Decimal]) -> list[str]:
        """Take current prices as the reference, carrying every threshold over.

        Safe while |M/R - 1| < t, and |C/R - 1| <= mu, gives safe while |M/C - 1| < t' with
        t' = (t - mu)/(1 + mu). Returns the accounts whose t' is no longer positive: only those
        need a fresh evaluation (a full re-evaluation would cost O(accounts) Decimal work)."""
        move = self.max_move(prices)
        self.reference = dict(prices)
        carried = [((t - move) / (ONE + move), account) for t, account in self._sorted]
        self._sorted = SortedList(carried)
        self.thresholds = {account: t for t, account in carried}
        return [account for t, account in carried if t <= 0]

    def __len__(self) -> int:
        return len(self.thresholds)
