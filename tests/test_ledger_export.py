"""`exchange-local ledger`: the export equals ex.ledger() exactly, and the store stays untouched.

Why compare against the facade: ex.ledger() is the ledger's definition; the export reads the same
rows through a separate read-only path (no Exchange), so any drift between the two shows here.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.cli import CSV_COLUMNS, AmountText, main
from exchange_local.ledger import LedgerEntry, readable_ref

D = Decimal
BTC = "BTC-PERP"
ROOT = Path(__file__).resolve().parent.parent
RANGES = [("30", "60"), ("0.5", None), (None, "30"), ("60", "60"), ("90.001", None)]


@dataclass
class Built:
    path: str
    ledgers: dict[str, list[LedgerEntry]]
    balances: dict[str, dict[str, Decimal]]
    ranged: dict[tuple[str | None, str | None], list[LedgerEntry]]


def _trade(ex: Exchange) -> None:
    for name in ("alice", "bob"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.create_account("carol")  # an account without a single leg
    ex.deposit("alice", "BTC", D("0.5"))
    ex.deposit("alice", "BTC", D("0.00000001"))  # str() would write 1E-8
    ex.deposit("bob", "USD", D("1E+2"))  # and 1E+2
    ex.place_order("alice", BTC, "sell", D("0.3"), price=D(100000))
    ex.place_order("bob", BTC, "buy", D("0.2"), price=D(100000))
    ex.set_index_price("BTC", D("100500.5"))
    ex.advance(D(60))  # settlements at 30 s and 60 s
    ex.place_order("bob", BTC, "buy", D("0.1"), price=D(100000))
    ex.set_index_price("BTC", D(99000))
    ex.advance(D(60))
    ex.advance(D("0.25"))
    ex.withdraw("bob", "USD", D("1234.567891"))  # at 120.25 s


def _build(path: str) -> Built:
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    _trade(ex)
    names = ["alice", "bob", "carol", "SETTLEMENT_CLEARING"]
    built = Built(
        path,
        {n: ex.ledger(n) for n in names},
        {n: ex.balances(n) for n in ("alice", "bob")},
        {
            (s, u): ex.ledger("alice", since=None if s is None else D(s),
                              until=None if u is None else D(u))
            for s, u in RANGES
        },
    )  # fmt: skip
    ex.close()
    return built


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(str(tmp_path_factory.mktemp("export") / "x.sqlite"))


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


PLACES = {"USD": 6, "BTC": 8}  # the USD quantum (MECHANICS section 0), BTC's own decimals


def _money(asset: str, value: Decimal) -> str:
    """Every decimal place of the asset, exactly, and no negative zero."""
    text = f"{value:.{PLACES[asset]}f}"
    assert D(text) == value
    return text.lstrip("-") if D(text) == 0 else text


def _fields(e: LedgerEntry) -> list[str]:
    return [str(e.txid), format(e.time, "f"), e.type, e.asset, _money(e.asset, e.amount),
            _money(e.asset, e.balance), e.ref]  # fmt: skip


def _read_csv(path: Path) -> list[list[str]]:
    first = path.read_bytes().split(b"\r\n", 1)[0]
    assert first == b"txid,time,type,asset,amount,balance,ref"
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(CSV_COLUMNS)
    return rows[1:]


def _export(built: Built, tmp_path: Path, account: str, *extra: str) -> list[list[str]]:
    out = tmp_path / f"{account}.csv"
    argv = ["ledger", "--db", built.path, "--account", account, "--csv", str(out), *extra]
    assert main(argv) == 0
    return _read_csv(out)


def test_the_scenario_is_worth_exporting(built):
    alice = built.ledgers["alice"]
    assert {e.asset for e in alice} == {"USD", "BTC"}
    assert {e.type for e in alice} >= {"DEPOSIT", "TRADE", "FEE", "SETTLE"}
    assert {e.time for e in alice if e.type == "SETTLE"} >= {D(30), D(60), D(90), D(120)}
    assert built.ledgers["carol"] == []
    assert "1E-8" in {str(e.amount) for e in alice} and "E" not in format(D("1E-8"), "f")
    assert "1E+2" in {str(e.amount) for e in built.ledgers["bob"]}
    assert ("WITHDRAW", D("120.25")) in {(e.type, e.time) for e in built.ledgers["bob"]}


def test_the_expected_ledger_is_the_in_memory_one(built):
    """ex.ledger() of a durable exchange reads the store; the same commands in memory give an
    independent reference, so a fault shared by the store's read paths cannot hide."""
    mem = Exchange(ExchangeConfig(mark_source="index"))
    _trade(mem)
    for account, entries in built.ledgers.items():
        assert mem.ledger(account) == entries


@pytest.mark.parametrize("account", ["alice", "bob", "carol", "SETTLEMENT_CLEARING"])
def test_csv_rows_equal_the_ledger_exactly(built, tmp_path, account):
    rows = _export(built, tmp_path, account)
    expected = built.ledgers[account]
    assert rows == [_fields(e) for e in expected]
    parsed = [(int(r[0]), D(r[1]), r[2], r[3], D(r[4]), D(r[5]), r[6]) for r in rows]
    assert parsed == [(e.txid, e.time, e.type, e.asset, e.amount, e.balance, e.ref)
                      for e in expected]  # fmt: skip


@pytest.mark.parametrize("account", ["alice", "bob"])
def test_last_balance_per_asset_is_the_account_balance(built, tmp_path, account):
    last: dict[str, Decimal] = {}
    for row in _export(built, tmp_path, account):
        last[row[3]] = D(row[5])
    assert last == built.balances[account]


@pytest.mark.parametrize(("since", "until"), RANGES)
def test_since_and_until_select_what_the_facade_selects(built, tmp_path, since, until):
    extra = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
    rows = _export(built, tmp_path, "alice", *extra)
    expected = built.ranged[(since, until)]
    assert rows == [_fields(e) for e in expected]
    assert len(expected) < len(built.ledgers["alice"])


def test_table_is_aligned_and_ends_with_the_final_balances(built, capsys):
    before = _digest(built.path)
    assert main(["ledger", "--db", built.path, "--account", "alice"]) == 0
    out = capsys.readouterr().out.splitlines()
    blank = out.index("")
    header, rows, tail = out[0], out[1:blank], out[blank + 1 :]
    assert header.split() == list(CSV_COLUMNS)
    # columns: txid and time right-aligned to their titles' ends, type/asset starting with theirs
    ends = {c: header.index(c) + len(c) for c in ("txid", "time", "amount", "balance")}
    starts = {c: header.index(c) for c in ("type", "asset", "ref")}
    expected = built.ledgers["alice"]
    assert len(rows) == len(expected)
    for line, e in zip(rows, expected, strict=True):
        fields = dict(zip(CSV_COLUMNS, _fields(e), strict=True))
        for col, end in ends.items():
            assert line[:end].endswith(fields[col]), (col, line)
            assert line[end : end + 2] == "  ", (col, line)
        for col, start in starts.items():
            assert line[start:].startswith(fields[col]), (col, line)
    assert tail[0] == "final balance:"
    finals = dict(line.split() for line in tail[1:])
    assert {a: D(v) for a, v in finals.items()} == built.balances["alice"]
    assert _digest(built.path) == before


def test_table_with_until_shows_the_balance_at_that_time(built, capsys):
    assert main(["ledger", "--db", built.path, "--account", "alice", "--since", "30",
                 "--until", "60"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    at_60 = {}
    for e in built.ranged[("30", "60")]:
        at_60[e.asset] = e.balance
    head, _, tail = out.partition("\nfinal balance at 60 s:\n")
    assert len(head.splitlines()) == 1 + len(built.ranged[("30", "60")])
    finals = dict(line.split() for line in tail.splitlines())
    # BTC has no leg between 30 and 60, its balance from before the range still counts
    assert finals == {"USD": _money("USD", at_60["USD"]), "BTC": "0.50000001"}


def test_the_store_file_is_never_modified(tmp_path, capsys):
    path = str(tmp_path / "s.sqlite")
    built = _build(path)
    before = _digest(path)
    assert main(["ledger", "--db", path, "--account", "alice"]) == 0
    assert main(["ledger", "--db", path, "--account", "bob", "--csv", str(tmp_path / "b.csv"),
                 "--since", "30"]) == 0  # fmt: skip
    assert main(["ledger", "--db", path, "--account", "nobody"]) != 0
    assert main(["ledger", "--db", path, "--account", "alice", "--csv", path]) != 0
    assert "is the store itself" in capsys.readouterr().err
    assert _digest(path) == before
    again = Exchange(store=path)  # the store still opens, with the same ledger
    assert again.ledger("alice") == built.ledgers["alice"]
    again.close()


def test_export_while_an_exchange_has_the_store_open(tmp_path):
    path = str(tmp_path / "live.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    _trade(ex)
    assert _export_rows(path, tmp_path) == [_fields(e) for e in ex.ledger("bob")]
    ex.deposit("bob", "USD", D("0.000001"))  # acknowledged: the next export sees it
    rows = _export_rows(path, tmp_path)
    assert rows == [_fields(e) for e in ex.ledger("bob")]
    assert rows[-1][2:6] == ["DEPOSIT", "USD", "0.000001", _money("USD", ex.balances("bob")["USD"])]
    ex.close()


def _export_rows(path: str, tmp_path: Path) -> list[list[str]]:
    out = tmp_path / "live.csv"
    assert main(["ledger", "--db", path, "--account", "bob", "--csv", str(out)]) == 0
    return _read_csv(out)


def test_the_command_line_in_a_subprocess(built, tmp_path):
    out = tmp_path / "sub.csv"
    before = _digest(built.path)
    cmd = [sys.executable, "-m", "exchange_local.cli", "ledger", "--db", built.path]
    done = subprocess.run([*cmd, "--account", "alice", "--csv", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _read_csv(out) == [_fields(e) for e in built.ledgers["alice"]]
    table = subprocess.run([*cmd, "--account", "bob"], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    assert table.returncode == 0 and "final balance:" in table.stdout
    bad = subprocess.run([*cmd, "--account", "zed"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert bad.returncode == 1 and bad.stdout == ""
    assert "there is no account 'zed'" in bad.stderr and "Traceback" not in bad.stderr
    assert _digest(built.path) == before


# --- refusals: a non-zero status, one clear line on stderr, no traceback, nothing written ---


def _refused(capsys, argv: list[str], status: int, *fragments: str) -> str:
    assert main(argv) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("exchange-local ledger: error: ")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    for fragment in fragments:
        assert fragment in captured.err
    return captured.err


def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "none.sqlite"
    _refused(capsys, ["ledger", "--db", str(missing), "--account", "alice"], 1, "does not exist")
    assert not missing.exists()
    _refused(capsys, ["ledger", "--db", str(tmp_path), "--account", "alice"], 1, "not a file")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"this is not a database" * 100, "not an exchange store"),
        (b"", "empty: not an exchange store"),
        (b"SQLite format 3\x00", "not an exchange store"),  # truncated header
    ],
)
def test_a_file_that_is_not_a_store(tmp_path, capsys, content, fragment):
    path = tmp_path / "g.sqlite"
    path.write_bytes(content)
    out = tmp_path / "g.csv"
    argv = ["ledger", "--db", str(path), "--account", "alice", "--csv", str(out)]
    _refused(capsys, argv, 1, fragment)
    assert path.read_bytes() == content and not out.exists()


def test_another_programs_sqlite_file(tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE legs (x)")
    db.commit()
    db.close()
    before = _digest(str(path))
    _refused(capsys, ["ledger", "--db", str(path), "--account", "a"], 1, "not an exchange store")
    assert _digest(str(path)) == before


def test_a_store_of_another_schema_version(built, tmp_path, capsys):
    path = tmp_path / "old.sqlite"
    shutil.copyfile(built.path, path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    before = _digest(str(path))
    _refused(capsys, ["ledger", "--db", str(path), "--account", "alice"], 1, "schema version 1")
    assert _digest(str(path)) == before


def test_unknown_account_lists_the_accounts(built, tmp_path, capsys):
    out = tmp_path / "zed.csv"
    argv = ["ledger", "--db", built.path, "--account", "zed", "--csv", str(out)]
    err = _refused(capsys, argv, 1, "there is no account 'zed'")
    listed = err.split("accounts: ", 1)[1].strip().split(", ")
    assert listed[:3] == ["alice", "bob", "carol"]  # creation order, carol has no legs
    assert "SETTLEMENT_CLEARING" in listed
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is not a decimal number"),
        (["--since", "1.0005"], "--since must be a whole number of milliseconds"),
        (["--since", "-1"], "--since must be between 0 and"),
        (["--since", "nan"], "--since must be finite"),
        (["--until", ""], "--until is empty"),
        (["--until", "1e400"], "--until must be between 0 and"),
        (["--since", "60", "--until", "30"], "--since (60) is after --until (30)"),
    ],
)
def test_bad_since_or_until(built, capsys, options, fragment):
    _refused(capsys, ["ledger", "--db", built.path, "--account", "alice", *options], 2, fragment)


def test_a_csv_that_cannot_be_written(built, tmp_path, capsys):
    out = tmp_path / "missing-dir" / "a.csv"
    argv = ["ledger", "--db", built.path, "--account", "alice", "--csv", str(out)]
    _refused(capsys, argv, 1, "cannot write", "No such file or directory")


# --- amounts: every decimal place of the asset, refs as stored but a funding rate's zeros ---


@pytest.mark.parametrize("account", ["alice", "bob", "SETTLEMENT_CLEARING"])
def test_every_amount_has_its_assets_decimal_places(built, tmp_path, account, capsys):
    """USD printed with 0, 5 or 6 decimals (`100`, `-10.96200`, `-0.00000`): now always 6,
    BTC always 8, never a negative zero; the table's final balances too."""
    shape = {"USD": re.compile(r"-?[0-9]+\.[0-9]{6}"), "BTC": re.compile(r"-?[0-9]+\.[0-9]{8}")}
    rows = _export(built, tmp_path, account)
    assert rows
    for row in rows:
        for cell in row[4:6]:
            assert shape[row[3]].fullmatch(cell), row
            assert not (cell.startswith("-") and D(cell) == 0), row
    assert main(["ledger", "--db", built.path, "--account", account]) == 0
    tail = capsys.readouterr().out.split("final balance:\n", 1)[1]
    for asset, value in (line.split() for line in tail.splitlines()):
        assert shape[asset].fullmatch(value), (asset, value)


def test_amount_text_pads_never_rounds_and_has_no_negative_zero():
    text = AmountText({"USD": 6, "BTC": 8})
    assert text("USD", D("0")) == "0.000000"
    assert text("USD", D("-0.00000")) == "0.000000"
    assert text("USD", D("-10.96200")) == "-10.962000"
    assert text("USD", D("1E+2")) == "100.000000"
    assert text("USD", D("0.0000001")) == "0.0000001"  # more places than the quantum: kept
    assert text("BTC", D("0.5")) == "0.50000000"
    assert text("ZZZ", D("-0E-3")) == "0.000"  # an asset the configuration does not name


def test_a_funding_rate_is_shown_without_its_trailing_zeros(tmp_path, capsys):
    path = str(tmp_path / "f.sqlite")
    ex = Exchange(ExchangeConfig(mark_source="index"), store=path)
    for name in ("alice", "bob"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(1_000_000))
    ex.place_order("alice", BTC, "sell", D("1"), price=D(100000))
    ex.place_order("bob", BTC, "buy", D("1"), price=D(100000))
    ex.place_order("alice", BTC, "sell", D("5"), price=D(100100))
    ex.place_order("alice", BTC, "buy", D("5"), price=D(100030))
    ex.set_index_price("BTC", D("99999"))  # a premium whose mean has 34 digits
    ex.advance(D(3600))
    stored = [e.ref for e in ex.ledger("bob") if e.type == "FUNDING"]
    ex.close()
    # inside the clamp's band the rate is the interest rate itself (exchange_local/funding.py)
    assert stored == ["funding BTC-PERP rate 0.0000125"]
    # a store written before that kept the 34 digits of P + (0.01 % - P): read without zeros
    old = "funding BTC-PERP rate 0.0000125000000000000000000000000000000"
    assert readable_ref(old) == "funding BTC-PERP rate 0.0000125"
    assert readable_ref("funding BTC-PERP rate -1.50E-7") == "funding BTC-PERP rate -0.00000015"
    assert main(["ledger", "--db", path, "--account", "bob", "--csv", "-"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    refs = [r[6] for r in rows[1:] if r[2] == "FUNDING"]
    assert len(refs) == len(stored)
    for shown, kept in zip(refs, stored, strict=True):
        rate = kept.rsplit(" ", 1)[1]
        assert shown == f"funding BTC-PERP rate {format(D(rate).normalize(), 'f')}"
        assert not shown.endswith("0") and D(shown.rsplit(" ", 1)[1]) == D(rate)
    again = Exchange(store=path)  # the stored refs are unchanged
    assert [e.ref for e in again.ledger("bob") if e.type == "FUNDING"] == stored
    again.close()
