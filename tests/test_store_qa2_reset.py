"""`perptui --reset` and the advice about a store perptui cannot open (the store QA pass,
items 1, 2, 3, 7 and 8 on perptui's side):

1. `perptui --db X --reset --yes` deleted a store another process (a perptui, a server) had
   open, and only then said "open in another process": the other process went on writing to
   deleted files and the whole market was lost. The lock is taken first now.
2. perptui advised `--reset` for files that are not paper markets (another program's
   database, a text file, a directory) and `--reset` destroyed them; a damaged paper market
   was advised to reset before anything else.
3. `--reset` on a directory ended in a traceback (IsADirectoryError).
7. An explicit `--db` in a missing directory made the directory (a typo made a new market).
8. `--db=~/x.sqlite` (no shell expands `~` after `=`) made a directory named `~` here.
"""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, StoreError
from exchange_local.store_lock import store_lock
from perptui.cli import build_parser, main
from perptui.venues.local import LocalVenue
from tests.test_store_qa2_lock import holding, make_store

PAGE = 4096


@pytest.fixture(autouse=True)
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """perptui's settings and data directory in the test's own folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def app_runs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The venues perptui would have run its screen on (the screen itself is not run; the
    lock the reset took is let go, as quitting perptui does)."""
    from perptui.app import PerpApp

    ran: list[Any] = []

    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        ran.append(self.venue)
        self.venue.release_store()

    monkeypatch.setattr(PerpApp, "run", run)
    return ran


def corrupt_store(db: Path) -> None:
    """An exchange store whose snapshot's overflow pointer is broken: `PRAGMA quick_check`
    then answers with many lines (the QA's midcorrupt.sqlite)."""
    make_store(db)
    ex = Exchange(store=str(db))
    ex.advance(5)
    ex.close()
    con = sqlite3.connect(db)
    (root,) = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'snapshots'").fetchone()
    assert con.execute("PRAGMA page_size").fetchone()[0] == PAGE
    con.close()
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * PAGE)
        page = fh.read(PAGE)
        fh.seek((root - 1) * PAGE + overflow_pointer(page))
        fh.write(b"\xff\xff\xff\xff")
    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    check = ro.execute("PRAGMA quick_check").fetchone()[0]
    ro.close()
    assert len(check.splitlines()) > 1, check


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = 0
    for i in range(9):
        byte = data[at + i]
        if i == 8:
            return (value << 8) | byte, at + 9
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, at + i + 1
    raise AssertionError("unreachable")


def overflow_pointer(page: bytes) -> int:
    """Where, in a table leaf page, its first cell keeps the number of its first overflow
    page (SQLite's file format, section 1.6: a payload larger than the page spills)."""
    assert page[0] == 13, "a table leaf page"
    cell = int.from_bytes(page[8:10], "big")
    size, at = _varint(page, cell)
    _, at = _varint(page, at)  # the rowid
    usable = PAGE
    most = usable - 35
    least = (usable - 12) * 32 // 255 - 23
    assert size > most, "the snapshot spills onto overflow pages"
    local = least + (size - least) % (usable - 4)
    return at + (local if local <= most else least)


def files_beside(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_size) for p in sorted(folder.iterdir())}


# --- 1. the lock first --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["perptui", "serve"])
def test_reset_refuses_a_store_another_process_has_open_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, app_runs: list[Any]
) -> None:
    db = tmp_path / "two.sqlite"
    make_store(db)
    with holding(db, kind) as proc:
        before = Path(db).stat().st_ino
        capsys.readouterr()
        assert main(["--db", str(db), "--reset", "--yes"]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"perptui: {db} is open in another process"), err
        assert f"pid {proc.pid}" in err and len(err.strip().splitlines()) == 1, err
        assert db.exists() and db.stat().st_ino == before  # not deleted, not replaced
        assert app_runs == []
    ex = Exchange(store=str(db))  # the holder's market, whole, with what it wrote
    assert ex.balances("alice") == {"USD": Decimal(100)}
    if kind == "perptui":
        assert "paper" in ex.accounts()  # the holder's own account, made while it ran
    assert ex.check_invariants() == []
    ex.close()


def test_a_declined_reset_lets_go_of_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "p.sqlite"
    make_store(db)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["--db", str(db), "--reset"]) == 1
    assert "kept it" in capsys.readouterr().out and db.exists()
    with store_lock(str(db)):  # not held by the process any more
        pass


# --- 2 and 3. only a paper market (or an empty file) is reset ------------------------------


def _other_database(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (text TEXT)")
    con.execute("INSERT INTO notes VALUES ('mine')")
    con.commit()
    con.close()


def _text(path: Path) -> None:
    path.write_text("my notes\n" * 50)


def _directory(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("mine")


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(2000))


NOT_OURS = {"other-db": _other_database, "text": _text, "directory": _directory,
            "garbage": _garbage}  # fmt: skip


@pytest.mark.parametrize("case", list(NOT_OURS))
def test_reset_refuses_a_file_that_is_not_a_paper_market_and_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, app_runs: list[Any]
) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    target = folder / "theirs.sqlite"
    NOT_OURS[case](target)
    before = files_beside(folder)
    inside = files_beside(target) if target.is_dir() else None
    capsys.readouterr()
    assert main(["--db", str(target), "--reset", "--yes"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"perptui: {target} is not a paper market made by perptui/exchange-local; "
        "choose another --db path\n"
    )
    assert files_beside(folder) == before  # nothing deleted, nothing made beside it
    if inside is not None:
        assert files_beside(target) == inside
    assert app_runs == []


@pytest.mark.parametrize("case", list(NOT_OURS))
async def test_opening_a_file_that_is_not_a_paper_market_offers_no_reset(
    tmp_path: Path, case: str
) -> None:
    target = tmp_path / "theirs.sqlite"
    NOT_OURS[case](target)
    venue = LocalVenue(target, clock="manual")
    with pytest.raises(StoreError) as refused:
        await venue.start()
    assert str(refused.value) == (
        f"{target} is not a paper market made by perptui/exchange-local; choose another --db path"
    )
    venue.release_store()
    if case == "other-db":
        con = sqlite3.connect(target)
        assert con.execute("SELECT text FROM notes").fetchall() == [("mine",)]
        con.close()


@pytest.mark.parametrize("case", ["store", "damaged", "empty"])
def test_reset_replaces_a_paper_market_damaged_or_not_or_an_empty_file(
    tmp_path: Path, app_runs: list[Any], case: str
) -> None:
    db = tmp_path / "p.sqlite"
    if case == "empty":
        db.write_bytes(b"")
    elif case == "damaged":
        corrupt_store(db)
    else:
        make_store(db)
    assert main(["--db", str(db), "--reset", "--yes"]) == 0
    assert not db.exists() and not Path(f"{db}-wal").exists()
    (venue,) = app_runs
    assert venue.db == db


async def test_an_empty_file_opens_as_a_new_paper_market(tmp_path: Path) -> None:
    """A zero-byte file (`touch x.sqlite`) becomes a paper market like a missing one (it
    became a market with the engine's default configuration, not the paper one)."""
    db = tmp_path / "touched.sqlite"
    db.write_bytes(b"")
    venue = LocalVenue(db, clock="manual")
    await venue.start()
    try:
        assert venue.ex is not None and venue.ex.config.backstop_accounts
    finally:
        await venue.stop()


# --- 2. the advice for a damaged paper market ------------------------------------------------


async def test_a_damaged_paper_market_is_told_to_keep_a_copy_before_a_reset(
    tmp_path: Path,
) -> None:
    db = tmp_path / "mid.sqlite"
    corrupt_store(db)
    venue = LocalVenue(db, clock="manual")
    with pytest.raises(StoreError) as refused:
        await venue.start()
    venue.release_store()
    said = str(refused.value)
    assert "\n" not in said, said
    assert said.startswith(f"{db} is corrupt (On tree page "), said
    assert "keep a copy" in said and f"{db}-wal" in said, said
    assert (
        said.index("restore it from a copy")
        < said.index("keep a copy")
        < said.index(f"`perptui --db {db} --reset`")
    )


async def test_a_store_of_another_version_keeps_the_reset_as_the_last_way_out(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.sqlite"
    make_store(db)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    venue = LocalVenue(db, clock="manual")
    with pytest.raises(StoreError) as refused:
        await venue.start()
    venue.release_store()
    said = str(refused.value)
    assert said.startswith(f"{db} was written by schema version 2"), said
    assert f"`perptui --db {db} --reset` would start over" in said, said


# --- 7. a missing directory --------------------------------------------------------------------


async def test_an_explicit_db_in_a_missing_directory_is_refused_and_not_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "typo" / "paper.sqlite"
    said = f"cannot open {db}: the directory {db.parent} does not exist"
    with pytest.raises(StoreError, match=f"^{said}$"):
        await LocalVenue(db, clock="manual").start()
    assert main(["--db", str(db), "--reset", "--yes"]) == 1
    assert capsys.readouterr().err == f"perptui: {said}\n"
    assert not db.parent.exists()


async def test_the_data_directory_is_still_made_for_the_default_market(tmp_path: Path) -> None:
    from perptui.cli import default_db

    db = default_db()
    assert db == tmp_path / "data" / "perptui" / "paper.sqlite" and not db.parent.exists()
    venue = LocalVenue(db, clock="manual")
    await venue.start()
    await venue.stop()
    assert db.exists()


# --- 8. `~` ---------------------------------------------------------------------------------


def test_tilde_in_db_is_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    app_runs: list[Any],
) -> None:  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    assert build_parser().parse_args(["--db=~/x.sqlite"]).db == home / "x.sqlite"
    assert main(["--db=~/x.sqlite", "--reset", "--yes"]) == 0
    assert app_runs[0].db == home / "x.sqlite"
    assert main(["replay", "--db=~/nothing.sqlite"]) == 1
    assert f"there is no store at {home / 'nothing.sqlite'}" in capsys.readouterr().err
    assert main(["replay", "--db", "~/nothing.sqlite"]) == 1
    assert f"there is no store at {home / 'nothing.sqlite'}" in capsys.readouterr().err
    assert list(work.iterdir()) == []  # no directory named ~ made here


async def test_a_venue_given_a_tilde_path_opens_it_in_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    venue = LocalVenue("~/p.sqlite", clock="manual")
    await venue.start()
    await venue.stop()
    assert (tmp_path / "p.sqlite").exists() and not (tmp_path / "~").exists()


def test_a_store_the_reset_would_replace_is_still_a_paper_market_to_the_exchange(
    tmp_path: Path,
) -> None:
    """The classification the reset relies on (store_file_kind) sees a store whose header is
    still in its -wal file (made and not yet checkpointed) as a store."""
    from exchange_local.store import store_file_kind

    db = tmp_path / "fresh.sqlite"
    ex = Exchange(ExchangeConfig(), store=str(db))
    try:
        assert store_file_kind(str(db)) == "store"
    finally:
        ex.close()
    assert store_file_kind(str(db)) == "store"
    assert store_file_kind(str(tmp_path / "none.sqlite")) == "missing"


@pytest.mark.parametrize("case", ["text", "other-db"])
async def test_the_paper_market_on_hyperliquids_prices_offers_no_reset_either(
    tmp_path: Path, case: str
) -> None:
    """`perptui --prices hyperliquid --db X` on another program's file advised
    `... --prices hyperliquid --reset`, which would have deleted it."""
    from tests.test_hyperliquid_durable import TODAY, FakeHyperliquid, serve, venue

    target = tmp_path / "theirs.sqlite"
    NOT_OURS[case](target)
    before = target.read_bytes()
    async with FakeHyperliquid() as fake:
        serve(fake, dict(TODAY))
        v = venue(fake, target)
        with pytest.raises(StoreError) as refused:
            await v.start()
    assert str(refused.value) == (
        f"{target} is not a paper market made by perptui/exchange-local; choose another --db path"
    )
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["theirs.sqlite"]


async def test_the_reset_advice_names_the_file_it_would_reset(tmp_path: Path) -> None:
    """What test_market_and_store_messages checked with a text file (now refused without
    any reset advice), with damaged paper markets: `--db X` for a named store, the bare
    command for the default one."""
    from perptui.cli import default_db

    default = default_db()
    default.parent.mkdir(parents=True)
    for db, command in ((tmp_path / "named.sqlite", f"perptui --db {tmp_path / 'named.sqlite'}"),
                        (default, "perptui")):  # fmt: skip
        corrupt_store(db)
        venue = LocalVenue(db, clock="manual")
        with pytest.raises(StoreError, match=f"`{command} --reset` starts a new paper market"):
            await venue.start()
        venue.release_store()
