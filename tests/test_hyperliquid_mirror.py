"""The price mirror: the paper exchange's index from Hyperliquid's quotes, paused (reduce-only)
when they stop, resumed when they return, a return with a jump held as a gap whose effect on
the account is shown first. Exchange-side tests feed a QuoteBoard on a test clock; the venue
test drives it from the loopback fake's WebSocket (fixtures constructed from shared/VENUES.md's
documented shapes, not recorded live: no network here)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.errors import MarketHalted
from exchange_local.events import Event, MarketEvent
from exchange_local.feeds_hyperliquid import (
    BACK_WHAT,
    GAP_WHAT,
    STALE_WHAT,
    MirrorFeed,
    QuoteBoard,
    attach_mirror,
)
from perptui.venues.base import TradingDisabled
from perptui.venues.hyperliquid_mirror import HyperliquidPriceSource, MirrorVenue, describe_gap
from perptui.venues.hyperliquid_risk import gap_impact
from tests.test_hyperliquid_fake import FakeHyperliquid, wait_for

D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def exchange(**config: Any) -> tuple[Exchange, QuoteBoard, Clock, list[Event]]:
    ex = Exchange(ExchangeConfig(**({"mark_source": "index"} | config)))
    clock = Clock()
    board = QuoteBoard(clock=clock)
    seen: list[Event] = []
    ex.subscribe(seen.append)
    return ex, board, clock, seen


def funded_long(ex: Exchange, size: str = "1") -> str:
    """alice long `size` BTC-PERP at the index, bob the other side."""
    alice, bob = ex.create_account("alice"), ex.create_account("bob")
    for a in (alice, bob):
        ex.deposit(a, "USD", D(50_000))
    price = ex.market("BTC-PERP").index
    ex.place_order(bob, "BTC-PERP", "sell", D(size), price=price)
    ex.place_order(alice, "BTC-PERP", "buy", D(size), type="market")
    return alice


def market_events(seen: list[Event]) -> list[str]:
    return [e.what for e in seen if isinstance(e, MarketEvent)]


def test_the_index_follows_fresh_quotes_and_pauses_reduce_only_on_silence() -> None:
    ex, board, clock, seen = exchange()
    board.put_index({"BTC": D("68000.3"), "ETH": D("3010.04")})
    mirror = attach_mirror(ex, MirrorFeed(board, ["BTC", "ETH"], max_age_s=5))
    assert ex.market("BTC-PERP").index == D("68000.5")  # on the market's 0.5 tick
    assert ex.market("ETH-PERP").index == D("3010.05")
    alice = funded_long(ex)
    clock.now += 4
    board.put_index({"BTC": D(68100)})  # ETH goes quiet
    clock.now += 2
    ex.advance(1)
    assert ex.market("BTC-PERP").index == D(68100) and not ex.market("BTC-PERP").reduce_only
    assert ex.market("ETH-PERP").reduce_only and mirror.paused.keys() == {"ETH"}
    assert market_events(seen) == ["halted", STALE_WHAT]  # the exchange's, then the reason
    last = seen[-1]
    assert isinstance(last, MarketEvent) and "no ETH price for 6 s" in last.detail["reason"]
    clock.now += 10  # now BTC is silent too: it pauses and never drifts
    ex.advance(5)
    assert ex.market("BTC-PERP").reduce_only and ex.market("BTC-PERP").index == D(68100)
    with pytest.raises(MarketHalted, match="only risk-reducing"):
        ex.place_order(alice, "BTC-PERP", "buy", D("0.1"), type="market")
    ex.place_order(alice, "BTC-PERP", "sell", D("0.2"), price=D(70000))  # reduces: accepted
    board.put_index({"BTC": D(68200), "ETH": D(3012)})  # back, within 0.5 %: resumes at once
    ex.advance(1)
    assert not ex.market("BTC-PERP").reduce_only and not ex.market("ETH-PERP").reduce_only
    assert ex.market("BTC-PERP").index == D(68200) and not mirror.paused
    assert market_events(seen).count("resumed") == market_events(seen).count(BACK_WHAT) == 2
    assert [g.asset for g in mirror.gaps] == ["BTC", "ETH"]  # in the order mirrored


def test_an_error_pauses_at_once_and_a_gap_waits_for_the_user() -> None:
    ex, board, _clock, seen = exchange()
    board.put_index({"BTC": D(68000)})
    mirror = attach_mirror(ex, MirrorFeed(board, ["BTC"], max_age_s=5), hold_gaps=True)
    board.fail("disconnected from Hyperliquid")
    ex.advance(1)
    assert ex.market("BTC-PERP").reduce_only
    assert mirror.paused["BTC"][2] == "disconnected from Hyperliquid"
    board.put_index({"BTC": D(71400)})  # +5 %: a gap, held
    ex.advance(2)
    assert ex.market("BTC-PERP").reduce_only and ex.market("BTC-PERP").index == D(68000)
    assert mirror.pending["BTC"].move == D("0.05")
    assert GAP_WHAT in market_events(seen)
    board.put_index({"BTC": D(71500)})  # the newest price is the one that will apply
    ex.advance(1)
    (gap,) = mirror.accept_gaps()
    assert gap.after == D(71500) and ex.market("BTC-PERP").index == D(71500)
    assert not ex.market("BTC-PERP").reduce_only and not mirror.pending


def test_a_market_halted_by_someone_else_stays_halted() -> None:
    ex, board, clock, _ = exchange()
    board.put_index({"BTC": D(68000)})
    attach_mirror(ex, MirrorFeed(board, ["BTC"], max_age_s=5))
    ex.halt_market("BTC-PERP")  # an operator's halt
    clock.now += 6
    ex.advance(1)
    board.put_index({"BTC": D(68001)})
    ex.advance(1)
    assert ex.market("BTC-PERP").reduce_only  # the mirror lifts only what it set


def test_the_venues_mid_is_the_marks_third_input_while_fresh() -> None:
    ex, board, clock, _ = exchange(mark_source="robust")
    board.put_index({"BTC": D(68000)})
    board.put_mids({"BTC": D("68001.5")})
    attach_mirror(ex, MirrorFeed(board, ["BTC"], max_age_s=5))
    assert ex._mark_state["BTC-PERP"].external_mid == D("68001.5")
    clock.now += 6
    ex.advance(1)
    assert ex._mark_state["BTC-PERP"].external_mid is None  # stale: not an input any more


def test_gap_impact_equals_the_exchanges_health_after_the_same_move() -> None:
    ex, board, _clock, _ = exchange()
    board.put_index({"BTC": D(100_000), "ETH": D(3000)})
    attach_mirror(ex, MirrorFeed(board, ["BTC", "ETH"], max_age_s=5))
    alice = funded_long(ex, "2")
    markets = {m: ex.market(m) for m in ex.markets()}
    impact = gap_impact(ex.health(alice), markets, {"BTC": D(100_000), "ETH": D(3000)},
                        {"BTC": D(80_000), "ETH": D(3300)})  # fmt: skip
    assert impact.moves == {"BTC": D("-0.2"), "ETH": D("0.1")}
    assert impact.before.equity == ex.health(alice).equity
    ex.set_index_price("BTC", D(80_000))
    ex.set_index_price("ETH", D(3300))
    after = ex.health(alice)
    assert impact.after.equity == after.equity and impact.after.mmr == after.mmr
    assert impact.after.equity == impact.before.equity - 2 * D(20_000)
    assert impact.worse == (impact.after.status != impact.before.status)


async def test_the_mirror_venue_on_the_fake_pauses_and_holds_the_gap() -> None:
    def ctx(oracle: str, mid: str) -> dict[str, Any]:
        return {"markPx": mid, "oraclePx": oracle, "midPx": mid, "funding": "0.00001",
                "openInterest": "1.0", "prevDayPx": oracle, "dayNtlVlm": "1.0"}  # fmt: skip

    prices = {"BTC": ("68010.0", "68001.5"), "ETH": ("3011.5", "3010.05"),
              "SOL": ("160.05", "160.01")}  # fmt: skip
    async with FakeHyperliquid() as fake:
        fake.on_subscribe["allMids"] = [("allMids", {"mids": {c: m for c, (_, m) in
                                                               prices.items()}})]  # fmt: skip
        fake.on_subscribe["activeAssetCtx"] = [
            ("activeAssetCtx", lambda sub: {"coin": sub["coin"], "ctx": ctx(*prices[sub["coin"]])})
        ]
        source = HyperliquidPriceSource(base_url=fake.base_url, ws_url=fake.ws_url,
                                        ping_seconds=5, backoff_start=0.02)  # fmt: skip
        venue = MirrorVenue(source, clock="manual", max_age_s=0.3, first_prices_s=3)
        await venue.start()
        try:
            ex = venue.ex
            assert ex is not None
            assert ex.market("BTC-PERP").index == D(68010)  # HL's oracle is our index
            assert ex.market("ETH-PERP").index == D("3011.5")
            assert venue.connection().state == "live"
            with pytest.raises(TradingDisabled, match="real time"):
                await venue.set_speed(D(10))
            with pytest.raises(TradingDisabled, match="cannot be shocked"):
                await venue.shock("BTC", D("-0.1"))
            # open a position while the market is live
            await venue.advance(D(1))
            from perptui.venues.base import OrderRequest

            await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.05"), type="market"))
            # Hyperliquid goes quiet: after max_age the markets pause, reduce-only
            await wait_for(lambda: source.board.clock() - source.board.index["BTC"].at > 0.35)
            await venue.advance(D(1))
            assert ex.market("BTC-PERP").reduce_only and venue.connection().state == "stale"
            snap = await venue.snapshot("BTC-PERP")
            assert snap.connection.state == "stale" and not snap.clock.adjustable
            with pytest.raises(MarketHalted):
                await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.01"), type="market"))
            # it comes back 5 % higher: a gap, held until the user decides
            await fake.push("activeAssetCtx", {"coin": "BTC", "ctx": ctx("71410.5", "71410.0")})
            await fake.push("activeAssetCtx", {"coin": "ETH", "ctx": ctx("3011.5", "3010.0")})
            await fake.push("activeAssetCtx", {"coin": "SOL", "ctx": ctx("160.05", "160.0")})
            await wait_for(lambda: source.board.index["BTC"].price == D("71410.5"))
            await venue.advance(D(1))
            assert venue.mirror is not None and set(venue.mirror.pending) == {"BTC"}
            assert not ex.market("ETH-PERP").reduce_only  # ETH returned without a jump
            assert venue.connection().state == "paused"
            notice = venue.take_notice()
            assert notice is not None and "BTC +5.00%" in notice
            impact = venue.pending_gap()
            assert impact is not None and impact.moves["BTC"] == D("0.05")
            h = ex.health(venue.account)
            (pos,) = h.positions
            btc = next(c for c in h.collateral if c.asset == "BTC")
            assert pos.size == D("0.05") and impact.before.equity == h.equity
            # the long and the BTC collateral both gain 5 % (the stress grid's arithmetic)
            gained = (pos.size * pos.mark_price + btc.value) * D("0.05")
            assert impact.after.equity - impact.before.equity == gained
            text = describe_gap(impact)
            assert "BTC +5.00%" in text and "Continue applies the new prices" in text
            assert f"{impact.after.equity:,.2f}" in text
            decision = venue.pending_decision()  # what the terminal asks (PerpApp's modal)
            assert decision is not None and decision.body == text
            assert (decision.accept, decision.refuse) == ("Continue", "Reset the paper account")
            assert decision.danger == impact.worse
            await venue.decide(True)
            assert venue.pending_decision() is None
            assert ex.market("BTC-PERP").index == D("71410.5")
            assert not ex.market("BTC-PERP").reduce_only and venue.pending_gap() is None
            await venue.reset()  # a fresh paper exchange at today's prices
            assert venue.ex is not ex and venue.ex is not None
            assert venue.ex.market("BTC-PERP").index == D("71410.5")
            assert venue.ex.health(venue.account).positions == []
        finally:
            await venue.stop()
