"""The double-entry ledger: every balance change is a transaction whose legs sum to zero per asset.

Why the ledger owns the balances: a balance that could change without a transaction would break
the books and records. `post` is the only way money moves; balances are a cache of the legs,
and `rebuild_balances` proves it. External money enters and leaves through the EXTERNAL account,
so the sum over all other accounts per asset is exactly net external deposits (MECHANICS 7).
"""

from __future__ import annotations

import decimal
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from exchange_local.money import ZERO

EXTERNAL = "EXTERNAL"
FEES = "FEES"
INSURANCE = "INSURANCE"
SETTLEMENT_CLEARING = "SETTLEMENT_CLEARING"
SYSTEM_ACCOUNTS = (EXTERNAL, FEES, INSURANCE, SETTLEMENT_CLEARING)


class TxType(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAW = "WITHDRAW"
    CONVERT = "CONVERT"
    TRADE = "TRADE"
    FEE = "FEE"
    SETTLE = "SETTLE"
    FUNDING = "FUNDING"
    LIQ_FILL = "LIQ_FILL"
    LIQ_FEE = "LIQ_FEE"
    BACKSTOP = "BACKSTOP"
    INSURANCE_COVER = "INSURANCE_COVER"
    ADL = "ADL"
    ADMIN_SETTLE = "ADMIN_SETTLE"
    ROLLBACK = "ROLLBACK"
    CHECKPOINT = "CHECKPOINT"


Leg = tuple[str, str, Decimal]  # (account, asset, amount)


@dataclass(slots=True)
class Transaction:
    """One atomic balance change. `ref` names its cause (order id, fill id, settlement cycle).

    Read-only by contract (not `frozen`, which costs four times as much to build).
    """

    txid: int
    time_ms: int
    type: TxType
    legs: tuple[Leg, ...]
    ref: str


@dataclass(slots=True)
class LedgerEntry:
    """One leg as an account sees it, with its balance after the leg (oldest first)."""

    txid: int
    time: Decimal
    type: str
    asset: str
    amount: Decimal
    balance: Decimal
    ref: str


def of_type(entries: Iterable[LedgerEntry], type_prefix: str) -> list[LedgerEntry]:
    """The legs whose type starts with `type_prefix`, in any case ("fund" finds FUNDING):
    the filter the terminal's Ledger tab and the server's `/ledger?type=` share."""
    wanted = type_prefix.strip().upper()
    return [e for e in entries if e.type.upper().startswith(wanted)]


NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:E[-+]?[0-9]+)?"
FUNDING_REF = re.compile(rf"funding (\S+) rate ({NUMBER})")
SETTLE_REF = re.compile(rf"settle (\S+) at ({NUMBER})")
CONVERT_REF = re.compile(
    rf"convert (\S+)->(\S+): (\S+) at ({NUMBER}), (\S+) at ({NUMBER}), spread ({NUMBER}) (\S+)"
)
_EXACT = decimal.Context(prec=1000, traps=[decimal.Inexact, decimal.InvalidOperation])
RATE_PLACES = (4, 6)  # decimals of a percent a funding rate shows, as the Funding tab's


def readable_ref(ref: str) -> str:
    """A funding transaction's rate without the trailing zeros of its stored text
    ("rate 0.0000125000000000000000000000000000000" -> "rate 0.0000125"), for the export
    and the wire, which keep the exact rate a program can parse back; the stored ref is
    unchanged, and every other ref is given as stored. People read `display_ref`."""
    match = FUNDING_REF.fullmatch(ref)
    if match is None:
        return ref
    rate = Decimal(match.group(2)).normalize(_EXACT)
    rate_text = "0" if rate.is_zero() else format(rate, "f")
    return f"funding {match.group(1)} rate {rate_text}"


def _grouped(number: str) -> str:
    """A stored number with every digit it has and thousands separators: 101234.5 ->
    101,234.5, as the screens show prices."""
    value = Decimal(number)
    return "0" if value.is_zero() else f"{value:,f}"


def rate_percent(rate: Decimal) -> str:
    """An hourly funding rate as the Funding tab shows it (perptui.format.rate): a signed
    percent with six decimals, trailing zeros trimmed down to four (0.0023564710... ->
    +0.235647%, 0.0000125 -> +0.00125%, 0.0001 -> +0.0100%)."""
    fewest, most = RATE_PLACES
    percent = (rate * 100).quantize(Decimal(1).scaleb(-most), rounding=decimal.ROUND_HALF_EVEN)
    text = f"{percent:,.{most}f}"
    if percent > 0:
        text = "+" + text
    elif percent.is_zero():
        text = text.lstrip("-")
    keep = len(text) - (most - fewest)
    while len(text) > keep and text.endswith("0"):
        text = text[:-1]
    return text + "%"


def display_ref(ref: str) -> str:
    """A ref as a person reads it in the terminal's Ledger tab: a funding rate as the
    Funding tab's percent ("funding SOL-PERP rate +0.235647%", not 37 digits of a Decimal),
    a settlement's and a conversion's prices with thousands separators ("settle BTC-PERP at
    101,234.5"). The stored ref is unchanged, and so are the export and the wire
    (`readable_ref`), so a program still parses their exact numbers. Accepts the stored
    text and `readable_ref`'s (a remote venue's ledger comes over the wire), and gives any
    other ref as it is."""
    match = FUNDING_REF.fullmatch(ref)
    if match is not None:
        return f"funding {match.group(1)} rate {rate_percent(Decimal(match.group(2)))}"
    match = SETTLE_REF.fullmatch(ref)
    if match is not None:
        return f"settle {match.group(1)} at {_grouped(match.group(2))}"
    match = CONVERT_REF.fullmatch(ref)
    if match is not None:
        src, dst, a, pa, b, pb, spread, unit = match.groups()
        return (f"convert {src}->{dst}: {a} at {_grouped(pa)}, {b} at {_grouped(pb)}, "
                f"spread {_grouped(spread)} {unit}")  # fmt: skip
    return ref


class UnbalancedTransaction(AssertionError):
    """A transaction whose legs do not sum to zero per asset: a bug, never a user error."""


class Ledger:
    """In-memory double-entry ledger and the balances it implies.

    `on_post` (set by the durable store) sees every transaction as it is posted.
    """

    def __init__(self, keep_history: bool = True) -> None:
        # keep_history False (durable mode): the store keeps the history, memory keeps balances
        self.keep_history = keep_history
        self.transactions: list[Transaction] = []
        self.balances: dict[str, dict[str, Decimal]] = defaultdict(dict)
        # per account: (Transaction, asset, amount, balance_after) for ex.ledger()
        self.entries: dict[str, list[tuple[Transaction, str, Decimal, Decimal]]] = defaultdict(list)
        self._next_txid = 1
        self.on_post: list[Callable[[Transaction, list[Decimal]], None]] = []

    def __getstate__(self) -> dict[str, object]:
        """Snapshots leave out the hooks (the store re-attaches its own)."""
        state = dict(self.__dict__)
        state["on_post"] = []
        return state

    def balance(self, account: str, asset: str) -> Decimal:
        return self.balances[account].get(asset, ZERO)

    def post(self, time_ms: int, type: TxType, legs: list[Leg], ref: str = "") -> Transaction:
        """Check that legs sum to zero per asset, apply them, record the transaction."""
        first = legs[0][1]
        total = ZERO
        for _, asset, amount in legs:
            if asset != first:
                self._check_multi_asset(type, legs)
                break
            total += amount
        else:
            if total != 0:
                raise UnbalancedTransaction(f"{type} legs in {first} sum to {total}, not 0: {legs}")
        tx = Transaction(self._next_txid, time_ms, type, tuple(legs), ref)
        self._next_txid += 1
        balances = self.balances
        keep = self.keep_history
        entries = self.entries
        after: list[Decimal] = []
        for account, asset, amount in legs:
            acct_bal = balances[account]
            new = acct_bal.get(asset, ZERO) + amount
            acct_bal[asset] = new
            after.append(new)
            if keep:
                entries[account].append((tx, asset, amount, new))
        if keep:
            self.transactions.append(tx)
        for hook in self.on_post:
            hook(tx, after)
        return tx

    @staticmethod
    def _check_multi_asset(type: TxType, legs: list[Leg]) -> None:
        totals: dict[str, Decimal] = {}
        for _, asset, amount in legs:
            totals[asset] = totals.get(asset, ZERO) + amount
        for asset, total in totals.items():
            if total != 0:
                raise UnbalancedTransaction(f"{type} legs in {asset} sum to {total}, not 0: {legs}")

    def entries_for(
        self, account: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[LedgerEntry]:
        rows = []
        for tx, asset, amount, balance in self.entries.get(account, ()):
            if since_ms is not None and tx.time_ms < since_ms:
                continue
            if until_ms is not None and tx.time_ms > until_ms:
                continue
            rows.append(
                LedgerEntry(
                    tx.txid,
                    Decimal(tx.time_ms) / 1000,
                    str(tx.type),
                    asset,
                    amount,
                    balance,
                    tx.ref,
                )
            )
        return rows

    def balances_at(self, account: str, until_ms: int) -> dict[str, Decimal]:
        """Balances of an account after every transaction up to `until_ms`, from the legs alone."""
        result: dict[str, Decimal] = {}
        for tx, asset, amount, _ in self.entries.get(account, ()):
            if tx.time_ms > until_ms:
                break
            result[asset] = result.get(asset, ZERO) + amount
        return result

    # --- invariants (MECHANICS section 7) -------------------------------------------------

    def asset_totals(self) -> dict[str, Decimal]:
        """Per asset, the sum over every account including EXTERNAL: always exactly zero."""
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for per_asset in self.balances.values():
            for asset, amount in per_asset.items():
                totals[asset] += amount
        return dict(totals)

    def net_external_deposits(self) -> dict[str, Decimal]:
        return {a: -v for a, v in self.balances.get(EXTERNAL, {}).items()}

    def rebuild_balances(self) -> dict[str, dict[str, Decimal]]:
        """Balances recomputed from the transactions alone (proof that state = ledger)."""
        rebuilt: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for tx in self.transactions:
            for account, asset, amount in tx.legs:
                rebuilt[account][asset] = rebuilt[account].get(asset, ZERO) + amount
        return rebuilt

    def check(self, rebuilt: dict[str, dict[str, Decimal]] | None = None) -> list[str]:
        """Ledger-only invariants; returns the violations (empty when all hold). `rebuilt`:
        balances summed from the legs on disk, when the history lives in the store."""
        problems: list[str] = []
        for asset, total in self.asset_totals().items():
            if total != 0:
                problems.append(f"{asset}: accounts sum to {total}, not to net external deposits")
        if rebuilt is None:
            rebuilt = self.rebuild_balances()
        for account, per_asset in self.balances.items():
            for asset, amount in per_asset.items():
                if rebuilt.get(account, {}).get(asset, ZERO) != amount:
                    problems.append(f"{account} {asset}: balance {amount} != sum of its legs")
        for account, per_asset in self.balances.items():
            if account == EXTERNAL:
                continue
            for asset, amount in per_asset.items():
                if asset != "USD" and amount < 0:
                    problems.append(f"{account} holds a negative {asset} balance {amount}")
        if self.balance(INSURANCE, "USD") < 0:
            problems.append("the insurance fund is negative")
        return problems
