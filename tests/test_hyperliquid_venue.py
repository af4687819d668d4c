"""HyperliquidVenue (watch mode) against the loopback fake and httpx.MockTransport.

The fixtures (tests/fixtures/hyperliquid) are CONSTRUCTED from shared/VENUES.md's documented
shapes, not recorded live (no network here). The main account is built so every expected
number is computable on paper: cross value 5,000 USDC = totalRawUsd 2,380 + 2 ETH x 3,010
- 0.05 BTC x 68,000; maintenance 2 x 3,010 / 50 + 0.05 x 68,000 / 80 = 162.90 (HL: half the
initial margin at max leverage 25 and 40); an isolated 10 SOL long with rawUsd -1,200. The
ETH and SOL `liquidationPx` are Hyperliquid's published formula rounded to the cent; the BTC
one is deliberately 2.2 % off, to be flagged.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from exchange_local.margin import dsum
from exchange_local.orders import OrderStatus
from perptui.stress import stress_grid
from perptui.venues import hyperliquid as hl_module
from perptui.venues.base import OrderRequest, TradingDisabled
from perptui.venues.hyperliquid import HyperliquidVenue
from perptui.venues.hyperliquid_risk import maintenance
from perptui.venues.hyperliquid_wire import (
    HyperliquidError,
    MarginTier,
    parse_markets,
    validate_address,
)
from tests.test_hyperliquid_fake import ADDRESS, FakeHyperliquid, default_info, fixture

D = Decimal
NOW_MS = 1_731_000_030_000


def hl_liquidation(price: D, size: D, margin_available: D, max_leverage: D) -> D:
    """Hyperliquid's published formula, written out independently of exchange_local:
    liq = price - side * margin_available / position_size / (1 - l * side), l = 1/(2 maxLev)."""
    side = D(1) if size > 0 else D(-1)
    lev = 1 / (2 * max_leverage)
    return price - side * margin_available / abs(size) / (1 - lev * side)


async def watched(fake: FakeHyperliquid, **options: Any) -> HyperliquidVenue:
    venue = HyperliquidVenue(ADDRESS, base_url=fake.base_url, ws_url=fake.ws_url,
                             poll_seconds=0.05, backoff_start=0.02, **options)  # fmt: skip
    await venue.start()
    return venue


def test_addresses_are_checked_with_a_clear_message() -> None:
    for bad in ("", "0x123", "ab" * 20, "0x" + "g" * 40, "0x" + "a" * 41, None):
        with pytest.raises(ValueError, match="0x followed by 40 hex digits"):
            validate_address(bad)  # type: ignore[arg-type]
    assert validate_address(" 0x" + "AB" * 20 + " ") == "0x" + "ab" * 20
    with pytest.raises(ValueError, match="not an API wallet"):
        HyperliquidVenue("0xnope")
    venue = HyperliquidVenue("0x" + "ab" * 20, testnet=True)
    assert venue.base_url == "https://api.hyperliquid-testnet.xyz"
    assert venue.ws_url == "wss://api.hyperliquid-testnet.xyz/ws"
    assert HyperliquidVenue(ADDRESS).ws_url == "wss://api.hyperliquid.xyz/ws"


async def test_exact_request_bodies_through_a_mock_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hl_module, "now_ms", lambda: NOW_MS)
    answers = default_info()
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/info"
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.content)
        sent.append(body)
        return httpx.Response(200, json=answers[body["type"]])

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    venue = HyperliquidVenue(ADDRESS, base_url="http://hl.test", http_client=client,
                             stream=False, poll_seconds=60)  # fmt: skip
    await venue.start()
    try:
        boot = sorted(sent, key=lambda b: b["type"])
        assert boot == [
            {"type": "clearinghouseState", "user": ADDRESS},
            {"type": "frontendOpenOrders", "user": ADDRESS},
            {"type": "metaAndAssetCtxs"},
            {"type": "userFills", "user": ADDRESS},
            {"type": "userFunding", "user": ADDRESS, "startTime": NOW_MS - 7 * 86_400_000},
        ]
        sent.clear()
        await venue.snapshot("BTC-PERP", "5m")
        assert sent == [
            {"type": "l2Book", "coin": "BTC", "nSigFigs": None, "mantissa": None},
            {"type": "candleSnapshot", "req": {"coin": "BTC", "interval": "5m",
                                               "startTime": NOW_MS - 240 * 300_000,
                                               "endTime": NOW_MS}},
            {"type": "fundingHistory", "coin": "BTC", "startTime": NOW_MS - 48 * 3_600_000},
        ]  # fmt: skip
        sent.clear()
        await venue.snapshot("BTC-PERP", "5m")
        assert sent == []  # a frame reads cached state: no request
    finally:
        await venue.stop()
        await client.aclose()


async def test_account_numbers_ours_beside_the_venues() -> None:
    async with FakeHyperliquid() as fake:
        venue = await watched(fake)
        try:
            snap = await venue.snapshot("BTC-PERP")
        finally:
            await venue.stop()
    h = snap.health
    # whole account: cross 5,000 + isolated SOL 400 = marginSummary.accountValue
    assert h.equity == D("5400") and h.collateral_total + h.unsettled_pnl == h.equity
    assert [(c.asset, c.amount) for c in h.collateral] == [("USDC", D("4830")), ("USDC", D(300))]
    assert h.mmr == D("162.9") + D(40) and h.notional == D(11020)
    assert h.unrealized_pnl == D(270) and h.status == "ok" and not h.warning
    risk = venue.risk
    assert risk is not None
    assert risk.cross_equity == D(5000) and risk.cross_mmr == D("162.9")
    assert risk.cross_mmr == risk.venue_maintenance  # HL's own crossMaintenanceMarginUsed
    assert risk.cross_margin_ratio == D("0.03258")
    rows = {p.market: p for p in h.positions}
    eth, btc, sol = rows["ETH-PERP"], rows["BTC-PERP"], rows["SOL-PERP"]
    assert (eth.size, eth.mark_price, eth.entry_price, eth.unrealized_pnl) == (
        D(2),
        D(3010),
        D(2950),
        D(120),
    )
    assert (eth.mmf, eth.imf, eth.funding_paid) == (D("0.02"), D("0.1"), D("1.25"))
    assert (btc.size, btc.mark_price, btc.mmf, btc.imf) == (D("-0.05"), D(68000), D("0.0125"),
                                                           D("0.05"))  # fmt: skip
    # ours is HL's published formula (margin_available = E - MMR on the cross account)
    cross_available = D(5000) - D("162.9")
    for row, lev in ((eth, D(25)), (btc, D(40))):
        expected = hl_liquidation(row.mark_price, row.size, cross_available, lev)
        assert row.liquidation_price is not None
        assert abs(row.liquidation_price - expected) < D("1e-25")
    iso_available = D(400) - D(1600) / 40
    assert sol.liquidation_price is not None
    assert abs(sol.liquidation_price - hl_liquidation(D(160), D(10), iso_available, D(20))) < D(
        "1e-25")  # fmt: skip
    # the bankruptcy price HL does not publish: where the margin behind it reaches 0
    assert (eth.bankruptcy_price, btc.bankruptcy_price, sol.bankruptcy_price) == (
        D(510),
        D(168000),
        D(120),
    )
    assert eth.distance_to_liquidation == (D(3010) - eth.liquidation_price) / D(3010)
    checks = venue.checks
    assert {m: c.mismatch for m, c in checks.items()} == {
        "ETH-PERP": False,
        "BTC-PERP": True,
        "SOL-PERP": False,
    }
    assert venue.venue_liquidation_price == {
        "ETH-PERP": D("542.09"),
        "BTC-PERP": D("160000.0"),
        "SOL-PERP": D("123.08"),
    }
    assert venue.mismatch["BTC-PERP"] and checks["BTC-PERP"].difference is not None
    assert D("0.022") < checks["BTC-PERP"].difference < D("0.0222")
    assert checks["ETH-PERP"].difference is not None and checks["ETH-PERP"].difference < D(
        "0.00001")  # fmt: skip
    assert checks["SOL-PERP"].margin_mode == "isolated" and checks["BTC-PERP"].bankruptcy == D(
        168000)  # fmt: skip
    notices = [venue.take_notice() for _ in range(3)]
    assert any(n and "BTC-PERP" in n and "0.5 %" in n for n in notices)
    assert snap.leverage == {"ETH-PERP": D(10), "BTC-PERP": D(20), "SOL-PERP": D(5)}


async def test_markets_book_candles_orders_fills_funding() -> None:
    async with FakeHyperliquid() as fake:
        venue = await watched(fake)
        try:
            snap = await venue.snapshot("BTC-PERP")
            fills = await venue.fills()
            funding = await venue.funding_payments()
            assert await venue.ledger() == []
        finally:
            await venue.stop()
    assert venue.markets() == ["BTC-PERP", "ETH-PERP", "SOL-PERP", "DOGE-PERP"]  # OLD delisted
    assert venue.default_market == "ETH-PERP"  # the first position's market
    btc = snap.markets["BTC-PERP"]
    assert (btc.mark, btc.index, btc.funding_rate, btc.open_interest) == (
        D(68000),
        D(68010),
        D("0.0000125"),
        D("9120.5"),
    )
    assert btc.change_24h == D(1000) / D(67000) and btc.max_leverage == 40
    assert (btc.tick, btc.lot, btc.best_bid, btc.best_ask) == (D(1), D("0.00001"), D(68001),
                                                               D(68002))  # fmt: skip
    eth_info = venue._infos["ETH-PERP"]
    assert eth_info.mid is None and eth_info.premium is None and eth_info.impact_bid is None
    assert snap.markets["ETH-PERP"].tick == D("0.1")
    assert venue._infos["BTC-PERP"].premium == D("0.0001")
    assert snap.book.bids == [(D(68001), D("1.25")), (D(68000), D("0.4"))]
    assert snap.book.asks == [(D(68002), D("0.9")), (D(68003), D("2.5"))]
    assert [(c.start, c.open, c.close, c.volume) for c in snap.candles] == [
        (D(1730999940), D(67990), D(68000), D("10.25")),
        (D(1731000000), D(68000), D(68005), D("12.5")),
    ]
    assert [(r.time, r.rate, r.mean_premium) for r in snap.funding_history] == [
        (D(1730998800), D("0.0000125"), D("-0.0001")),
        (D(1731002400), D("0.00001"), D("0.00005")),
    ]
    orders = {o.order_id: o for o in snap.open_orders}
    eth = orders[123456]
    assert (eth.side, eth.size, eth.filled, eth.status, eth.reduce_only, eth.price) == (
        "sell",
        D(1),
        D("0.5"),
        OrderStatus.PARTIALLY_FILLED,
        True,
        D(3300),
    )
    assert eth.client_order_id == "0x00000000000000000000000000000001"
    stop = orders[123457]
    assert (stop.type, stop.status, stop.trigger_price) == (
        "stop_market",
        OrderStatus.UNTRIGGERED,
        D(71000),
    )
    assert orders[123458].post_only and orders[123458].tif == "gtc"
    assert [(f.fill_id, f.market, f.taker, f.maker, f.taker_fee, f.maker_fee) for f in fills] == [
        (900000001, "ETH-PERP", "", ADDRESS, D(0), D("0.885")),
        (900000002, "BTC-PERP", ADDRESS, "", D("1.5525"), D(0)),
    ]
    assert fills[0].taker_side == "sell"  # we bought as maker: the taker sold
    assert [(p.market, p.amount) for p in funding] == [
        ("BTC-PERP", D("-0.0425")),
        ("ETH-PERP", D("0.0738")),
    ]  # HL usdc<0 = paid -> amount>0


async def test_older_answers_nulls_and_extra_keys_are_tolerated() -> None:
    async with FakeHyperliquid() as fake:
        fake.info["clearinghouseState"] = fixture("clearinghouse_state_2023")
        venue = await watched(fake)
        try:
            snap = await venue.snapshot("ETH-PERP")
            notice = venue.take_notice()
        finally:
            await venue.stop()
    assert venue.hl_account is not None
    assert set(venue.hl_account.missing) == {"crossMaintenanceMarginUsed"}
    assert notice is not None and "crossMaintenanceMarginUsed" in notice
    (eth,) = snap.health.positions
    assert eth.mmf == D("0.02")  # maxLeverage absent from the position: the meta's 25
    assert eth.funding_paid == 0 and snap.health.mmr == D("60.2")
    assert venue.checks["ETH-PERP"].venue is None and eth.liquidation_price is None
    assert not venue.checks["ETH-PERP"].mismatch  # neither has a price: nothing to flag
    assert eth.bankruptcy_price is None  # 10,250 of equity for a 3,010 long: none exists


async def test_error_answers_are_raised_in_the_venues_words() -> None:
    async with FakeHyperliquid() as fake:
        fake.info["clearinghouseState"] = fixture("error_status")
        with pytest.raises(HyperliquidError, match="does not exist"):
            await watched(fake)
    async with FakeHyperliquid() as fake:
        del fake.info["frontendOpenOrders"]  # the fake answers 422 text/plain, as HL does
        with pytest.raises(HyperliquidError, match=r"deserialize.*HTTP 422"):
            await watched(fake)
    with pytest.raises(HyperliquidError, match=r"expected \[meta, assetCtxs\]"):
        parse_markets({"universe": []}, 0)


async def test_every_trading_action_is_refused() -> None:
    async with FakeHyperliquid() as fake:
        venue = await watched(fake)
        try:
            assert not venue.can_trade and not venue.paper and venue.account == ADDRESS
            calls = [
                venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.01"), price=D(60000))),
                venue.amend_order(1, price=D(1)), venue.cancel_order(1), venue.cancel_all(),
                venue.close_position("ETH-PERP"), venue.set_leverage("BTC-PERP", D(5)),
                venue.deposit("USDC", D(1)), venue.withdraw("USDC", D(1)),
                venue.convert("USDC", "USD", D(1)),
            ]  # fmt: skip
            for call in calls:
                with pytest.raises(TradingDisabled, match="Hyperliquid watch mode is read-only"):
                    await call
            for call in (venue.set_speed(D(2)), venue.set_paused(True), venue.advance(D(1)),
                         venue.shock("BTC", D("-0.1"))):  # fmt: skip
                with pytest.raises(TradingDisabled):
                    await call
            sent = [m for m in fake.client_messages if m.get("method") != "ping"]
            assert all(m["method"] in ("subscribe", "unsubscribe") for m in sent)
        finally:
            await venue.stop()
    assert all(r["type"] != "exchange" for r in fake.requests)


async def test_explain_preview_and_stress_work_on_the_watched_account() -> None:
    async with FakeHyperliquid() as fake:
        venue = await watched(fake)
        try:
            snap = await venue.snapshot("ETH-PERP")
            e = await venue.explain("ETH-PERP")
            iso = await venue.explain("SOL-PERP")
            preview = await venue.preview_order(OrderRequest("ETH-PERP", "buy", D(1),
                                                             price=D(3010)))  # fmt: skip
            with pytest.raises(HyperliquidError, match="no DOGE-PERP position"):
                await venue.explain("DOGE-PERP")
        finally:
            await venue.stop()
    rows = {p.market: p for p in snap.health.positions}
    assert e.liquidation_price == rows["ETH-PERP"].liquidation_price
    assert e.bankruptcy_price == D(510) and e.equity == D(5000) and e.mmr == D("162.9")
    assert dsum(t.value for t in e.liquidation_numerator) / dsum(
        t.value for t in e.liquidation_denominator) == e.liquidation_price  # fmt: skip
    assert iso.equity == D(400) and iso.bankruptcy_price == D(120)
    # one more ETH at the mark: MMR +60.20, IMR +301, equity unchanged; never sendable
    assert preview.position_before == 2 and preview.position_after == 3
    assert preview.imr_after - preview.imr_before == D(301)
    assert preview.would_reject and "read-only" in preview.would_reject
    grid = stress_grid(snap.health, snap.markets)
    assert set(grid.columns) == {"ETH", "BTC", "SOL", "ALL"}
    assert grid.cell("ALL", D(0)).equity == snap.health.equity
    # every underlying down 10 %: 2 ETH and 10 SOL lose, the BTC short gains
    down = grid.cell("ALL", D("-0.1"))
    assert down.equity == D(5400) - D(602) + D(340) - D(160)


def test_margin_tiers_are_continuous_and_the_first_tier_has_no_deduction() -> None:
    tiers = (MarginTier(D(0), D(10)), MarginTier(D(20000), D(5)), MarginTier(D(100000), D(3)))
    assert maintenance(tiers, D(10000)).deduction == 0
    for bound in (D(20000), D(100000)):  # MM is continuous where the tier changes
        below, at = maintenance(tiers, bound - D("0.01")), maintenance(tiers, bound)
        assert abs(below.of(bound) - at.of(bound)) < D("1e-20")
    top = maintenance(tiers, D(200000))
    assert top.mmf == D(1) / 6 and top.deduction == D(20000) * (D("0.1") - D("0.05")) + D(
        100000) * (D(1) / 6 - D("0.1"))  # fmt: skip
    states, infos = parse_markets(fixture("meta_and_asset_ctxs"), 0)
    assert infos["DOGE-PERP"].tiers == tiers and infos["BTC-PERP"].tiers == (
        MarginTier(D(0), D(40)),)  # fmt: skip
    assert "OLD-PERP" in states and states["OLD-PERP"].reduce_only


async def test_a_failing_fetch_is_not_repeated_every_frame() -> None:
    async with FakeHyperliquid() as fake:
        fake.info["l2Book"] = {"status": "err", "response": "coin not found"}
        venue = await watched(fake)
        try:
            for _ in range(5):  # five frames in a row
                snap = await venue.snapshot("BTC-PERP")
            assert snap.book.bids == [] and snap.book.asks == []
            assert [r["type"] for r in fake.requests].count("l2Book") == 1
            notices = [venue.take_notice() for _ in range(5)]
            assert any(n and "BTC-PERP: Hyperliquid: coin not found" in n for n in notices)
        finally:
            await venue.stop()


def test_the_status_word_uses_hyperliquids_backstop_level() -> None:
    from perptui.venues.hyperliquid_risk import watched_risk
    from perptui.venues.hyperliquid_wire import parse_account

    _, infos = parse_markets(fixture("meta_and_asset_ctxs"), 0)
    state = fixture("clearinghouse_state")
    state["assetPositions"] = state["assetPositions"][:1]  # 2 ETH long: MM 120.40
    words = {}
    for value in ("300", "200", "100", "70", "-5"):
        state["crossMarginSummary"]["accountValue"] = value
        health = watched_risk(parse_account(state), infos, ADDRESS).health
        words[value] = (health.status, health.warning)
    assert words == {
        "300": ("ok", False), "200": ("ok", True),  # below 2 x MM: the margin-call flag
        "100": ("liquidating", True), "70": ("backstop", True),  # below 2/3 MM: backstop
        "-5": ("bankrupt", True),
    }  # fmt: skip
