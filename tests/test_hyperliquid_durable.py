"""A stored exchange on mirrored prices: the bots without the walk, prices as journaled
commands, so replay after a kill is exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig, InvalidRequest
from exchange_local.bots import paper_config
from exchange_local.feeds import FeedError
from exchange_local.feeds_hyperliquid import MirrorFeed, QuoteBoard, attach_mirror
from exchange_local.living import LivingMarket

D = Decimal
BTC = "BTC-PERP"
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
