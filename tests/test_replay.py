"""Record/replay of a session (TUI.md's teach screen; dolphie-style): the store's journal
played again rebuilds every moment of it, the liquidation stages included, and the store is
only read."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.replay import JournalReplay
from perptui.replay import exchange_ms, open_replay, start_ms
from perptui.replay import main as replay_main
from perptui.venues.base import OrderRequest
from perptui.venues.replay import ReplayVenue
from tests.helpers import Recorder, state_fingerprint

D = Decimal
BTC = "BTC-PERP"


def session(db: str) -> tuple[Exchange, dict[int, tuple[Any, ...]], list[Any]]:
    """A living market where a leveraged account is liquidated; the state at a few times
    and every liquidation event, as the live session saw them."""
    ex = Exchange(ExchangeConfig(seed=2), store=db)
    ex.start_living_market(seed=2)
    ex.create_account("ann")
    ex.deposit("ann", "USD", D(6_000))
    rec = Recorder(ex)
    seen: dict[int, tuple[Any, ...]] = {}
    for second in range(1, 181):
        if second == 30:
            ex.place_order("ann", BTC, "buy", D(1), type="market")
        if second == 60:
            ex.shock_index("BTC", D("-0.06"))
        ex.advance(1)
        if second in (45, 90, 180):
            seen[ex.now_ms] = state_fingerprint(ex)[1:]  # [0] counts in-memory transactions
    return ex, seen, rec.of("LiquidationEvent")


def test_a_replay_rebuilds_every_moment_and_its_liquidation_events(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex, seen, live_events = session(db)
    assert any(e.account == "ann" for e in live_events)
    before = hashlib.sha256(Path(db).read_bytes()).hexdigest()
    replay = JournalReplay(db)  # while the session's exchange still has the store open
    events: list[Any] = []
    replay.ex.subscribe(lambda e: events.append(e) if e.kind == "LiquidationEvent" else None)
    for time_ms, fingerprint in seen.items():
        replay.play_until(time_ms)
        assert replay.ex.now_ms == time_ms
        assert state_fingerprint(replay.ex)[1:] == fingerprint
    assert replay.finished and replay.ex.check_invariants() == []
    assert events == live_events
    assert replay.ex.ledger("ann") == ex.ledger("ann")
    replay.close()
    assert hashlib.sha256(Path(db).read_bytes()).hexdigest() == before  # only read
    ex.close()


async def test_the_replay_venue_plays_on_its_clock_and_trades_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "s.sqlite")
    ex, _, _ = session(db)
    ex.close()
    replay = JournalReplay(db)
    replay.play_until(replay.next_time_ms() or 0)
    venue = ReplayVenue(replay, clock="manual")
    await venue.start()
    assert venue.account == "ann"  # the session's person, not a bot
    assert (await venue.snapshot(BTC)).connection.state == "replay"  # never "live"
    assert venue.watch_next() == "ann"  # the only one: watching stays on her
    await venue.advance(D(28))  # the order came at 00:00:29
    assert venue._exchange().positions("ann") == []
    await venue.advance(D(2))
    assert [p.size for p in venue._exchange().positions("ann")] == [D(1)]
    with pytest.raises(Exception, match=r"a replay of .*watching what happened"):
        await venue.place_order(OrderRequest(BTC, "buy", D("0.1"), "market"))
    await venue.advance(D(600))
    assert replay.finished and venue.paused
    assert "the recording ends here, at 00:03:00" in (venue.take_notice() or "")
    snap = await venue.snapshot(BTC)
    assert (snap.connection.state, snap.connection.detail) == ("replay", "ended")
    await venue.stop()


def test_the_command_line_says_what_is_wrong(tmp_path: Path, capsys: Any) -> None:
    assert replay_main(["--db", str(tmp_path / "none.sqlite")]) == 1
    assert "there is no store at" in capsys.readouterr().err
    (tmp_path / "junk.sqlite").write_bytes(b"not a store at all" * 10)
    assert replay_main(["--db", str(tmp_path / "junk.sqlite")]) == 1
    assert "is not an exchange store" in capsys.readouterr().err
    db = str(tmp_path / "s.sqlite")
    session(db)[0].close()
    assert replay_main(["--db", db, "--account", "zed"]) == 2
    err = capsys.readouterr().err
    assert "no account 'zed'" in err and "(its accounts: ann)" in err
    venue = open_replay(["--db", db, "--account", "ann"])  # ann's creation is not yet played
    assert isinstance(venue, ReplayVenue) and venue.account == "ann"
    venue.replay.close()
    with pytest.raises(SystemExit):
        replay_main(["--db", db, "--from", "7pm"])
    assert "is not an exchange time" in capsys.readouterr().err


def test_exchange_times_read_as_the_screens_show_them() -> None:
    assert exchange_ms("00:42") == 42 * 60_000
    assert exchange_ms("01:02:03") == 3_723_000
    assert exchange_ms("2d 03:00:00") == (2 * 24 + 3) * 3_600_000
    day = 86_400_000
    assert start_ms(0, exchange_ms("00:42")) == 42 * 60_000  # a paper market's clock
    server = 20_787 * day + 17 * 3_600_000  # a server created at 17:00 one day
    assert start_ms(server, exchange_ms("17:11")) == server + 11 * 60_000
    assert start_ms(server, exchange_ms("01:00")) == server + 8 * 3_600_000  # after midnight
    assert start_ms(server, exchange_ms("1d 17:11")) == server + day + 11 * 60_000


def class_session(db: str) -> int:
    """A server-like store: its clock at a wall time (17:00 on a day of 2026), a student who
    joins a minute in and one who joins later. Returns the clock's start."""
    start = 20_787 * 86_400 + 17 * 3_600
    ex = Exchange(ExchangeConfig(mark_source="index", start_time_seconds=start), store=db)
    ex.create_account("mm")
    ex.deposit("mm", "USD", D(10_000_000))
    ex.place_order("mm", BTC, "sell", D(5), price=D(100_100))

    def run(seconds: int) -> None:  # as a server's clock driver: at most a second a step
        for _ in range(seconds):
            ex.advance(1)

    run(60)
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(10_000))
    run(600)
    ex.create_account("carl")
    ex.deposit("carl", "USD", D(10_000))
    ex.place_order("carl", BTC, "buy", D(1), type="market")
    run(60)
    ex.close()
    return start * 1000


def test_a_class_store_opens_at_the_time_of_day_and_with_a_student_who_joined_later(
    tmp_path: Path, capsys: Any
) -> None:
    """--from on a server's store (its clock at the wall time) played nothing and opened
    blank screens; --account refused every account, those it listed too."""
    db = str(tmp_path / "class.sqlite")
    start = class_session(db)
    venue = open_replay(["--db", db, "--from", "17:05"])
    assert isinstance(venue, ReplayVenue)
    assert venue._exchange().now_ms == start + 5 * 60_000 and venue.account == "mm"
    venue.replay.close()
    venue = open_replay(["--db", db, "--account", "carl"])  # joins at 17:11
    assert isinstance(venue, ReplayVenue) and venue.account == "carl"
    assert venue._exchange().now_ms == start + 660_000  # played to where carl exists
    venue.replay.close()
    assert open_replay(["--db", db, "--from", "18:30"]) == 2
    assert "the recording ends at 17:12:00, before 18:30:00" in capsys.readouterr().err


def test_the_header_says_replay_and_not_saved_in_words() -> None:
    from rich.text import Text

    from perptui.venues.base import Connection
    from perptui.widgets.header import connection_chip

    def chip(conn: Connection) -> str:
        return Text.from_markup(connection_chip(conn, "", True).replace("$", "")).plain

    assert chip(Connection("replay")).strip() == "▶ replay"
    assert chip(Connection("replay", detail="paused")).strip() == "⏸ replay paused"
    assert chip(Connection("replay", detail="ended")).strip() == "■ replay ended"
    failed = chip(Connection("failed", detail="the store could not be written"))
    assert failed.strip() == "✗ NOT SAVED: the store could not be written"
