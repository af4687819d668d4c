"""The paper market on Hyperliquid's prices is stored and reopened (`perptui --prices
hyperliquid`): prices enter as journaled commands so replay after a kill is exact; reopened on
moved prices, the market waits paused and asks continue or reset with the move's stress.

The venue tests drive MirrorVenue from the loopback fake (tests/test_hyperliquid_fake.py;
constructed fixtures, no network). The exchange tests need no venue at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, InvalidRequest
from exchange_local.bots import paper_config
from exchange_local.errors import MarketHalted
from exchange_local.feeds import FeedError
from exchange_local.feeds_hyperliquid import MirrorFeed, QuoteBoard, attach_mirror
from exchange_local.living import LivingMarket
from perptui.venues.base import OrderRequest
from perptui.venues.hyperliquid_mirror import REOPENED, HyperliquidPriceSource, MirrorVenue
from perptui.venues.local import PAPER_FUNDING
from tests.test_hyperliquid_fake import FakeHyperliquid, wait_for

D = Decimal
ROOT = Path(__file__).resolve().parent.parent
BTC = "BTC-PERP"
# oracle prices today and 5 % higher tomorrow (exact fractions: the stress is exact too)
TODAY = {"BTC": D(68000), "ETH": D(3000), "SOL": D(160)}
TOMORROW = {c: p * D("1.05") for c, p in TODAY.items()}
CONFIG = paper_config(ExchangeConfig())


# --- the exchange side: bots without the walk, prices from outside, all journaled ------------


def state(ex: Exchange) -> tuple[Any, ...]:
    """Everything a user or a bot can observe, plus the bots' random state and the marks'
    external mids (what replay must reproduce)."""
    accounts = ex.accounts()
    living = ex._living
    assert isinstance(living, LivingMarket) and living.feed is None
    return (
        ex.now_ms,
        ex._next_order_id,
        tuple((a, tuple(sorted((k, v) for k, v in ex.balances(a).items() if v))) for a in accounts),
        tuple((a, tuple(ex.positions(a))) for a in accounts),
        tuple((a, tuple(ex.open_orders(a))) for a in accounts),
        tuple((a, tuple(ex.ledger(a))) for a in accounts),
        tuple((m, ex.book(m, 50), ex.market(m)) for m in ex.markets()),
        tuple(sorted(ex.prices.items())),
        tuple(sorted((m, s.external_mid) for m, s in ex._mark_state.items())),
        ex.mirror_paused_markets,
        tuple(bot.rng.getstate() for bot in living.bots.bots),
    )


def journaled(ex: Exchange) -> list[str]:
    assert ex._store is not None
    return [command for _s, _t, command, _a in ex._store.journal_after(0)]


def mirrored_session(ex: Exchange, board: QuoteBoard, clock: list[float]) -> None:
    """Prices moving, a pause and a return, mids, orders: every price through the mirror."""
    mirror = attach_mirror(ex, MirrorFeed(board, ["BTC", "ETH"], max_age_s=5), job=False)
    ex.create_account("alice")
    ex.deposit("alice", "USD", D(100_000))
    for i in range(6):
        board.put_index({"BTC": D(100_000) + 37 * i, "ETH": D(3000) - 3 * i})
        board.put_mids({"BTC": D(100_010) + 41 * i})
        mirror.poll()
        ex.advance(D("1.3"))
    ex.place_order("alice", BTC, "buy", D("0.02"), type="market")
    ex.place_order("alice", BTC, "buy", D("0.01"), price=D(90_000))
    clock[0] += 10  # the venue goes quiet: paused, reduce-only, the mid dropped
    mirror.poll()
    ex.advance(2)
    assert ex.market(BTC).reduce_only and ex.mirror_paused_markets == {BTC, "ETH-PERP"}
    board.put_index({"BTC": D(100_300), "ETH": D(2990)})
    mirror.poll()
    ex.advance(D("3.4"))
    assert not ex.market(BTC).reduce_only and not ex.mirror_paused_markets


def new_mirrored(path: str | None = None) -> Exchange:
    ex = Exchange(CONFIG, store=path)
    assert ex.start_living_market(seed=2, feed=False) is True
    return ex


def test_a_killed_mirrored_market_replays_exactly_like_its_uninterrupted_twin(tmp_path):
    path = str(tmp_path / "mirror.sqlite")
    clock = [1000.0]
    ex = new_mirrored(path)
    mirrored_session(ex, QuoteBoard(clock=lambda: clock[0]), clock)
    commands = journaled(ex)
    assert {"set_index_price", "set_external_mid", "pause_mirrored_market",
            "resume_mirrored_market"} <= set(commands)  # fmt: skip
    assert ex._store.latest_snapshot() is None  # nothing but the journal to restore from
    seen = state(ex)
    del ex  # killed: no close, no snapshot
    again = Exchange(store=path)
    assert state(again) == seen
    assert not again.living_index_walk and again.living_market_running
    twin_clock = [1000.0]
    twin = new_mirrored()
    mirrored_session(twin, QuoteBoard(clock=lambda: twin_clock[0]), twin_clock)
    assert state(twin) == seen  # and the stored one is the in-memory run, exactly
    again.advance(20)
    twin.advance(20)
    assert state(again) == state(twin)
    assert len(again.trades(BTC, limit=0)) > 0  # the bots trade on the mirrored prices


def test_bots_without_the_walk_keep_the_index_and_restore_from_a_snapshot(tmp_path):
    path = str(tmp_path / "bots.sqlite")
    ex = new_mirrored(path)
    index = ex.market(BTC).index
    ex.advance(30)
    assert ex.market(BTC).index == index  # nothing moves it but set_index_price
    assert "index feed" not in [j.name for j in ex.scheduler.jobs()]
    with pytest.raises(InvalidRequest, match="fraction"):
        ex.shock_index("BTC", D("-2"))
    ex.shock_index("BTC", D("-0.1"))  # still works: on the index itself
    assert ex.market(BTC).index == index * D("0.9")
    ex.close()
    again = Exchange(store=path)
    assert [j.name for j in again.scheduler.jobs()].count("bots") == 1
    assert "index feed" not in [j.name for j in again.scheduler.jobs()]
    assert again.start_living_market(seed=2, feed=False) is False
    with pytest.raises(InvalidRequest, match="feed must be True or False"):
        Exchange(CONFIG).start_living_market(seed=1, feed="no")  # type: ignore[arg-type]
    again.close()


def test_a_stored_exchange_refuses_a_mirror_job_and_the_mirrors_halts_survive(tmp_path):
    path = str(tmp_path / "halts.sqlite")
    ex = Exchange(ExchangeConfig(), store=path)
    board = QuoteBoard(clock=lambda: 0.0)
    board.put_index({"BTC": D(68_000)})
    with pytest.raises(FeedError, match="job=False"):
        attach_mirror(ex, MirrorFeed(board, ["BTC"]))
    ex.halt_market("ETH-PERP")  # an operator's halt: the mirror never lifts it
    assert ex.pause_mirrored_market(BTC) is True
    assert ex.pause_mirrored_market("ETH-PERP") is False
    with pytest.raises(InvalidRequest, match="positive"):
        ex.set_external_mid(BTC, D(-1))
    ex.set_external_mid(BTC, D("68001.5"))
    ex.close()
    again = Exchange(store=path)  # from the snapshot close() wrote
    assert again.mirror_paused_markets == {BTC}
    assert again._mark_state[BTC].external_mid == D("68001.5")
    assert again.resume_mirrored_market("ETH-PERP") is False
    assert again.market("ETH-PERP").reduce_only
    assert again.resume_mirrored_market(BTC) is True and not again.market(BTC).reduce_only
    again.set_external_mid(BTC, None)
    del again
    third = Exchange(store=path)  # from the snapshot and the journal after it
    assert third._mark_state[BTC].external_mid is None and not third.mirror_paused_markets
    assert third.market("ETH-PERP").reduce_only and not third.market(BTC).reduce_only


# --- the venue: stored, reopened, a gap held, continue or reset, a kill ----------------------


def ctx(oracle: Decimal) -> dict[str, Any]:
    mid = str(oracle + D("0.5"))
    return {"markPx": mid, "oraclePx": str(oracle), "midPx": mid, "funding": "0.00001",
            "openInterest": "1.0", "prevDayPx": str(oracle), "dayNtlVlm": "1.0"}  # fmt: skip


def serve(fake: FakeHyperliquid, prices: dict[str, Decimal]) -> None:
    """On each subscription the fake answers with `prices` as they are at that moment."""
    fake.on_subscribe["allMids"] = [
        ("allMids", lambda sub: {"mids": {c: str(p + D("0.5")) for c, p in prices.items()}})
    ]
    fake.on_subscribe["activeAssetCtx"] = [
        ("activeAssetCtx", lambda sub: {"coin": sub["coin"], "ctx": ctx(prices[sub["coin"]])})
    ]


def venue(fake: FakeHyperliquid, db: Path, **options: Any) -> MirrorVenue:
    source = HyperliquidPriceSource(base_url=fake.base_url, ws_url=fake.ws_url,
                                    ping_seconds=5, backoff_start=0.02)  # fmt: skip
    options = {"clock": "manual", "max_age_s": 10, "first_prices_s": 3} | options
    return MirrorVenue(source, db=db, **options)


def account_view(v: MirrorVenue) -> tuple[Any, ...]:
    """What the session shows of the paper account."""
    ex = v.ex
    assert ex is not None
    a = v.account
    return (ex.balances(a), ex.positions(a), ex.open_orders(a), ex.ledger(a))


async def fresh_quotes(v: MirrorVenue, prices: dict[str, Decimal]) -> None:
    board = v.source.board
    await wait_for(lambda: all(c in board.index and board.index[c].price == p
                               for c, p in prices.items()))  # fmt: skip


async def trading_session(fake: FakeHyperliquid, db: Path, **options: Any) -> tuple[Any, ...]:
    """Open the stored market, trade (a long BTC-PERP), close perptui. Returns the account."""
    v = venue(fake, db, **options)
    await v.start()
    try:
        assert not v.reopened and v.ex is not None
        assert v.ex.market(BTC).index == TODAY["BTC"]  # Hyperliquid's oracle is our index
        assert v.ex.balances(v.account) == dict(PAPER_FUNDING)  # MECHANICS section 1's funding
        await v.advance(D(1))
        await v.place_order(OrderRequest(BTC, "buy", D("0.05"), type="market"))
        await v.advance(D(2))
        return account_view(v)
    finally:
        await v.stop()


async def test_reopened_on_moved_prices_the_gap_waits_and_continue_applies_its_stress(tmp_path):
    db = tmp_path / "hyperliquid-paper.sqlite"
    prices = dict(TODAY)
    async with FakeHyperliquid() as fake:
        serve(fake, prices)
        closed = await trading_session(fake, db, mark_source="index")
        assert db.exists()
        prices.update(TOMORROW)  # Hyperliquid moved 5 % while perptui was closed
        v = venue(fake, db)
        await v.start()
        try:
            ex = v.ex
            assert ex is not None and v.reopened
            assert account_view(v) == closed  # the stored account, as the session left it
            assert all(ex.market(m).reduce_only for m in (BTC, "ETH-PERP", "SOL-PERP"))
            assert ex.market(BTC).index == TODAY["BTC"]  # paused on the stored prices
            assert v.connection().state in ("stale", "reconnecting")
            assert v.pending_decision() is None
            with pytest.raises(MarketHalted):
                await v.place_order(OrderRequest(BTC, "buy", D("0.01"), type="market"))
            await fresh_quotes(v, TOMORROW)
            await v.advance(D(1))
            assert v.mirror is not None and set(v.mirror.pending) == {"BTC", "ETH", "SOL"}
            assert ex.market(BTC).index == TODAY["BTC"] and ex.market(BTC).reduce_only
            assert v.connection().state == "paused"
            notice = v.take_notice()
            assert notice is not None and "moved while perptui was closed" in notice
            decision = v.pending_decision()
            impact = v.pending_gap()
            assert decision is not None and impact is not None
            assert decision.title == "Prices moved while perptui was closed"
            assert f"deleting the paper market stored in {db}" in decision.body
            assert f"{impact.after.equity:,.2f}" in decision.body
            assert impact.moves == {"BTC": D("0.05"), "ETH": D("0.05"), "SOL": D("0.05")}
            before = ex.health(v.account)
            assert impact.before.equity == before.equity and impact.before.mmr == before.mmr
            await v.decide(True)  # continue
            after = ex.health(v.account)  # the exchange's own numbers after the same move
            assert (after.equity, after.mmr) == (impact.after.equity, impact.after.mmr)
            assert after.margin_usage == impact.after.margin_usage
            assert after.equity > before.equity  # long BTC, and BTC and ETH held: all gain
            assert ex.market(BTC).index == TOMORROW["BTC"] and not ex.market(BTC).reduce_only
            assert v.pending_decision() is None and v.connection().state == "live"
            await v.place_order(OrderRequest(BTC, "buy", D("0.01"), type="market"))
            shown = account_view(v)
        finally:
            await v.stop()
        third = venue(fake, db)  # the next day, on the same prices: no gap, it just resumes
        await third.start()
        try:
            assert third.ex is not None and account_view(third) == shown
            await fresh_quotes(third, TOMORROW)
            await third.advance(D(1))
            assert third.pending_decision() is None
            assert not third.ex.market(BTC).reduce_only
        finally:
            await third.stop()


async def test_reset_replaces_the_stored_market_only_when_chosen(tmp_path):
    db = tmp_path / "hyperliquid-paper.sqlite"
    prices = dict(TODAY)
    async with FakeHyperliquid() as fake:
        serve(fake, prices)
        await trading_session(fake, db)
        prices.update(TOMORROW)
        v = venue(fake, db)
        await v.start()
        try:
            old = v.ex
            assert old is not None and len(old.positions(v.account)) == 1
            await fresh_quotes(v, TOMORROW)
            await v.advance(D(1))
            assert v.pending_decision() is not None
            assert v.mirror is not None and v.mirror.paused["BTC"][2] == REOPENED
            assert len(old.positions(v.account)) == 1  # nothing replaced while it asks
            await v.decide(False)  # reset: a fresh paper account at today's prices
            ex = v.ex
            assert ex is not None and ex is not old and not v.reopened
            assert ex.positions(v.account) == [] and ex.balances(v.account) == dict(PAPER_FUNDING)
            assert ex.market(BTC).index == TOMORROW["BTC"] and not ex.market(BTC).reduce_only
            assert v.pending_decision() is None
            await v.advance(D(2))
            assert len(ex.book(BTC, 5).bids) > 0  # the bots quote around the new prices
        finally:
            await v.stop()
        again = venue(fake, db)
        await again.start()
        try:
            assert again.ex is not None and again.reopened
            assert again.ex.positions(again.account) == []  # the store is the new market
            assert again.ex.market(BTC).index == TOMORROW["BTC"]
        finally:
            await again.stop()


async def test_a_killed_session_reopens_to_exactly_what_it_acknowledged(tmp_path):
    db = tmp_path / "hyperliquid-paper.sqlite"
    prices = dict(TODAY)
    async with FakeHyperliquid() as fake:
        serve(fake, prices)
        v = venue(fake, db)
        await v.start()
        ex = v.ex
        assert ex is not None
        for step in range(1, 5):  # Hyperliquid moves; each move reaches the journal
            btc = TODAY["BTC"] + 25 * step
            await fake.push("activeAssetCtx", {"coin": "BTC", "ctx": ctx(btc)})
            await fake.push("allMids", {"mids": {"BTC": str(btc + 3)}})
            await wait_for(lambda btc=btc: v.source.board.index["BTC"].price == btc)
            await v.advance(D("1.5"))
            if step == 2:
                await v.place_order(OrderRequest(BTC, "buy", D("0.03"), type="market"))
                await v.place_order(OrderRequest(BTC, "sell", D("0.01"), price=D(75_000)))
        assert ex.market(BTC).index == TODAY["BTC"] + 100
        assert "set_index_price" in journaled(ex) and "set_external_mid" in journaled(ex)
        seen = state(ex)
        shown = account_view(v)
        await v.source.stop()  # killed: the network goes, nothing is closed or snapshotted
        v._store_lock.close()  # and the store's lock goes with the process
        assert ex._store is not None and ex._store.latest_snapshot() is None
        again = Exchange(store=str(db))
        assert state(again) == seen  # every account, the books, the bots' random state
        del again
        reopened = venue(fake, db)
        await reopened.start()  # Hyperliquid now says TODAY again: a -0.15 % return, no gap
        try:
            assert account_view(reopened) == shown
            await fresh_quotes(reopened, TODAY)
            await reopened.advance(D(1))
            assert reopened.pending_decision() is None
            assert reopened.ex is not None and reopened.ex.market(BTC).index == TODAY["BTC"]
        finally:
            await reopened.stop()


WORKER = """
import asyncio, json, os, signal, sys
from decimal import Decimal as D
sys.path.insert(0, {root!r})
from tests.test_hyperliquid_durable import TODAY, FakeHyperliquid, OrderRequest, serve, venue
from pathlib import Path

async def main():
    async with FakeHyperliquid() as fake:
        serve(fake, dict(TODAY))
        v = venue(fake, Path({db!r}))
        await v.start()
        await v.advance(D(1))
        await v.place_order(OrderRequest("BTC-PERP", "buy", D("0.04"), type="market"))
        await v.advance(D("2.5"))
        await v.place_order(OrderRequest("BTC-PERP", "sell", D("0.02"), price=D(80000)))
        ex, a = v.ex, v.account
        seen = [repr(ex.now_ms), repr(ex.balances(a)), repr(ex.positions(a)),
                repr(ex.open_orders(a)), repr(ex.ledger(a)),
                repr([ex.ledger(b) for b in ex.accounts()])]
        print(json.dumps(seen), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_mid_session_restores_what_the_session_saw(tmp_path):
    db = tmp_path / "killed.sqlite"
    script = textwrap.dedent(WORKER.format(root=str(ROOT), db=str(db)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    ex = Exchange(store=str(db))
    a = "paper"
    now = [repr(ex.now_ms), repr(ex.balances(a)), repr(ex.positions(a)),
           repr(ex.open_orders(a)), repr(ex.ledger(a)),
           repr([ex.ledger(b) for b in ex.accounts()])]  # fmt: skip
    assert now == seen
    assert len(ex.positions(a)) == 1 and len(ex.open_orders(a)) == 1


async def test_a_random_walk_store_is_not_reopened_on_hyperliquid_prices(tmp_path):
    db = tmp_path / "paper.sqlite"
    walk = Exchange(CONFIG, store=str(db))
    walk.start_living_market(seed=1)
    walk.close()
    async with FakeHyperliquid() as fake:
        serve(fake, dict(TODAY))
        v = venue(fake, db)
        with pytest.raises(ValueError, match="random walk"):
            await v.start()
        assert v.ex is None
    assert Exchange(store=str(db)).living_index_walk  # untouched
