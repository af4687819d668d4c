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
from perptui.replay import exchange_ms
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
    assert snap.connection.state == "paused"
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
    with pytest.raises(SystemExit):
        replay_main(["--db", db, "--from", "7pm"])
    assert "is not an exchange time" in capsys.readouterr().err


def test_exchange_times_read_as_the_screens_show_them() -> None:
    assert exchange_ms("00:42") == 42 * 60_000
    assert exchange_ms("01:02:03") == 3_723_000
    assert exchange_ms("2d 03:00:00") == (2 * 24 + 3) * 3_600_000
