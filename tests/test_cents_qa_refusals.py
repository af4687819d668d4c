"""QA "every number to the cent": refusals near the open-interest cap, the preview's free
collateral after, the ledger's readable refs, separators in refusal amounts.

1. Near the OI cap the refusal named no size, so the ticket's max read 0 while a buy of
   39,000 SOL passed, and it said "only orders that reduce a position are accepted" with
   millions of USD of room left. It now names the room and the largest size that passes
   (the margin check's limit where that is lower) and carries it as `max_size`.
2. The preview's free collateral after took a favourable fill-to-mark gap out twice (E_im's
   min(0, sum of unsettled) had left it out already), so it disagreed with the gate's
   shortfall by the gap; for an order the gate judges it is now the gate's own figure.
3. The Ledger tab showed a funding rate with 37 digits and prices without separators.
4. USD amounts in refusals had no thousands separators while every screen shows them.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, Decimal

import pytest

from exchange_local import (
    Exchange,
    ExchangeConfig,
    InsufficientMargin,
    OpenInterestCap,
    ReduceOnlyMode,
)
from exchange_local.config import default_markets
from exchange_local.ledger import display_ref, readable_ref
from perptui import format as fmt
from perptui.sizing import largest_size
from perptui.ticket import TicketForm, max_size
from perptui.venues.local import LocalVenue
from tests.helpers import funded

D = Decimal
BTC, SOL = "BTC-PERP", "SOL-PERP"


def sol_capped() -> Exchange:
    """Exact marks (SOL 150); SOL-PERP's OI cap 50,000 USD; `a` long 200 SOL from `b`
    (30,000 USD of OI, so 20,000 of room). `mm1` and `mm2` offer 100 SOL each at 150 and
    `b` bids 100 at 149 to reduce its short (quotes that grow a position are capped too)."""
    markets = tuple(replace(m, oi_cap=D(50000)) if m.symbol == SOL else m
                    for m in default_markets())  # fmt: skip
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index"))
    for name in ("a", "b", "mm1", "mm2"):
        funded(ex, name, "1000000")
    ex.place_order("b", SOL, "sell", D(200), price=D(150))
    ex.place_order("a", SOL, "buy", D(200), price=D(150), tif="ioc")
    ex.place_order("mm1", SOL, "sell", D(100), price=D(150))
    ex.place_order("mm2", SOL, "sell", D(100), price=D(150))
    ex.place_order("b", SOL, "buy", D(100), price=D(149))
    assert ex.market(SOL).open_interest == D(200)
    return ex


# --- 1: the OI cap's refusal names the room and the largest size that passes ---------------


def test_the_oi_cap_refusal_names_the_room_and_the_largest_size_that_passes():
    ex = sol_capped()
    u = funded(ex, "u", "1000000")
    with pytest.raises(OpenInterestCap) as refused:
        ex.place_order(u, SOL, "buy", D(1000), type="market")
    words = str(refused.value)
    # 20,000 USD of room is 133.33 SOL on the lot (133.34 x 150 = 20,001)
    assert words == (
        "SOL-PERP open interest is 30,000.00 USD against a cap of 50,000 USD, room for "
        "20,000.00 USD more; this order would add up to 150,000.00 USD, and an order adding "
        "more than 133.33 SOL-PERP would go over the cap; the largest size that would pass "
        "is 133.33"
    )
    assert "only orders that reduce" not in words
    assert refused.value.max_size == D("133.33")
    preview = ex.preview_order(u, SOL, "buy", D(1000))
    assert preview.would_reject == words and preview.max_size == D("133.33")
    over = ex.preview_order(u, SOL, "buy", D("133.34"))
    assert over.would_reject is not None and over.max_size == D("133.33")
    res = ex.place_order(u, SOL, "buy", D("133.33"), type="market")  # what it said passes
    assert res.filled == D("133.33")
    assert ex.market(SOL).open_interest * ex.market(SOL).mark <= D(50000)
    # now the cap is full to a lot: the words say so, and the largest size is 0
    with pytest.raises(OpenInterestCap) as full:
        ex.place_order(u, SOL, "buy", D("0.01"), type="market")
    assert "room for 0.50 USD more" in str(full.value)
    assert (
        "not one lot (0.01 SOL-PERP) fits under the cap, so only orders that do not grow a "
        "position are accepted; the largest size that would pass is 0" in str(full.value)
    )
    assert full.value.max_size == 0


def test_the_largest_size_under_the_cap_is_the_margins_where_that_is_lower():
    ex = sol_capped()
    poor = funded(ex, "poor", "1000")  # 10x at most: about 66 SOL, under the cap's 133.33
    with pytest.raises(OpenInterestCap) as refused:
        ex.place_order(poor, SOL, "buy", D(1000), type="market")
    best = refused.value.max_size
    assert best is not None and D(60) < best < D("133.33")
    assert str(refused.value).endswith(
        f"the largest size that would pass is {best} (initial margin allows no more)"
    )
    # the margin check's own refusal names the same size
    with pytest.raises(InsufficientMargin) as short:
        ex.place_order(poor, SOL, "buy", D(100), type="market")
    assert short.value.max_size == best
    assert ex.preview_order(poor, SOL, "buy", best).would_reject is None
    assert ex.place_order(poor, SOL, "buy", best, type="market").filled == best


def test_an_order_against_the_position_may_flip_it_before_it_adds():
    """Acceptance judges |position|'s growth: a buy against a short of 50 grows nothing up to
    100, then takes the cap's 133.33."""
    ex = sol_capped()
    u = funded(ex, "u", "1000000")
    ex.place_order(u, SOL, "sell", D(50), type="market")  # to b's bid: short 50, OI unchanged
    assert ex.market(SOL).open_interest == D(200)
    with pytest.raises(OpenInterestCap) as refused:
        ex.place_order(u, SOL, "buy", D(1000), price=D(140))
    assert refused.value.max_size == D("233.33")
    assert "an order adding more than 133.33 SOL-PERP would go over the cap" in str(refused.value)
    assert ex.preview_order(u, SOL, "buy", D("233.33"), price=D(140)).would_reject is None
    assert ex.preview_order(u, SOL, "buy", D("233.34"), price=D(140)).would_reject is not None


def test_the_per_account_cap_names_the_largest_size_that_passes():
    markets = tuple(replace(m, max_account_position=D(100)) if m.symbol == SOL else m
                    for m in default_markets())  # fmt: skip
    ex = Exchange(ExchangeConfig(markets=markets, mark_source="index"))
    u = funded(ex, "u", "1000000")
    ex.place_order(u, SOL, "buy", D(30), price=D(140))  # rests: open size 30
    with pytest.raises(OpenInterestCap) as refused:
        ex.place_order(u, SOL, "buy", D(120), price=D(140))
    assert str(refused.value) == (
        "SOL-PERP: this order would take the account's position and orders to 150.00 "
        "against the per-account cap of 100 (now 0); the largest size that would pass is 70.00"
    )
    assert refused.value.max_size == D(70)
    assert ex.preview_order(u, SOL, "buy", D(120), price=D(140)).max_size == D(70)
    ex.place_order(u, SOL, "buy", D(70), price=D(140))
    poor = funded(ex, "poor", "500")
    with pytest.raises(OpenInterestCap) as short:
        ex.place_order(poor, SOL, "buy", D(120), price=D(140))
    assert str(short.value).endswith("(initial margin allows no more)")
    best = short.value.max_size
    assert best is not None and 0 < best < 100
    assert ex.preview_order(poor, SOL, "buy", best, price=D(140)).would_reject is None


async def test_the_tickets_max_near_the_cap_is_the_caps_room_not_zero():
    ex = sol_capped()
    funded(ex, "u", "1000000")
    venue = LocalVenue(exchange=ex, living=False, clock="manual", account="u")
    await venue.start()
    ms = ex.market(SOL)
    for form in (TicketForm(SOL, side="buy", type="market"),
                 TicketForm(SOL, side="buy", type="limit", price="150")):  # fmt: skip
        estimate = max_size(ex.health("u"), ms, D(10), D(150))
        assert estimate > D("133.33")  # the free-collateral estimate knows nothing of the cap
        top = await largest_size(venue, form, estimate, D(0), ms.lot)
        assert top == D("133.33"), form
    await venue.stop()


# --- 2: the preview's free collateral after is the gate's figure ---------------------------


def sol_below_the_mark(usd: str) -> tuple[Exchange, str]:
    """`u` long 1 SOL settled at 150 beside a BTC long; SOL's index then 160 while `mm`
    still offers at 150, so a buy fills 10 under the mark; BTC 500 under its settle."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", usd)
    ex.place_order("mm", SOL, "sell", D(100000), price=D(150))
    ex.place_order(u, SOL, "buy", D(1), type="market")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D("0.1"), type="market")
    ex.advance(D(31))  # settled: S = 150 and 100,000
    ex.set_index_price("SOL", D(160))
    ex.set_index_price("BTC", D(95000))
    h = ex.health(u)
    assert h.unsettled_pnl == D(10) - D(500)  # a net loss: E_im counts it
    return ex, u


def test_a_refused_orders_free_collateral_after_is_minus_its_shortfall():
    ex, u = sol_below_the_mark("20000")
    p = ex.preview_order(u, SOL, "buy", D(3000), type="market")
    with pytest.raises(InsufficientMargin) as refused:
        ex.place_order(u, SOL, "buy", D(3000), type="market")
    assert p.would_reject == str(refused.value)
    # it read 29,510 USD lower: the 10 USD gap on 3,000 SOL taken out a second time, less
    # the 490 USD of BTC loss that gap would net out of E_im's min(0, sum of unsettled)
    assert p.free_collateral_after == -refused.value.shortfall
    short = refused.value.shortfall.quantize(D("0.01"), rounding=ROUND_CEILING)
    assert f"short by {fmt.usd(short)} USD" in str(refused.value)


def test_an_accepted_orders_free_collateral_after_is_what_the_gate_left():
    ex, u = sol_below_the_mark("100000")
    p = ex.preview_order(u, SOL, "buy", D(200), type="market")
    assert p.would_reject is None
    acct, m = ex._accounts[u], ex._markets[SOL]
    gate = ex._gate(acct, m, True, D(200), None, False)
    assert p.free_collateral_after == gate.initial_equity_after - gate.imr_after
    ex.place_order(u, SOL, "buy", D(200), type="market")
    h = ex.health(u)
    # booked, the 2,000 USD gap under the mark is unsettled profit; E_im counts none of it
    # but it nets the BTC loss out of min(0, sum), so health reads the 490 USD more the gate
    # does not count (the preview read 1,510 under the gate's: the gap taken out again)
    assert h.free_collateral == p.free_collateral_after + D(490)
    assert p.imr_after == h.imr and p.margin_fraction_after == h.margin_fraction


# --- 3: the ledger's refs as people read them --------------------------------------------


def test_a_funding_rate_reads_as_the_funding_tabs_percent_and_prices_have_separators():
    raw = "funding SOL-PERP rate 0.002356471097124326055220612835669651"
    assert display_ref(raw) == "funding SOL-PERP rate +0.235647%"
    for rate in ("0.0000125", "-1.50E-7", "0", "0.0001", "0.15", "-0.0000000001"):
        ref = f"funding BTC-PERP rate {rate}"
        assert display_ref(ref) == f"funding BTC-PERP rate {fmt.rate(D(rate))}"
        assert display_ref(readable_ref(ref)) == display_ref(ref)  # from the wire too
    assert display_ref("settle BTC-PERP at 101234.5") == "settle BTC-PERP at 101,234.5"
    assert display_ref("settle SOL-PERP at 147.123") == "settle SOL-PERP at 147.123"
    assert (
        display_ref("convert BTC->USD: BTC at 96123.5, USD at 1, spread 48.06175 USD")
        == "convert BTC->USD: BTC at 96,123.5, USD at 1, spread 48.06175 USD"
    )
    for other in ("fill:12", "deposit", "adl alice", "rollback of fill:3"):
        assert display_ref(other) == other
    # the export and the wire keep the exact numbers a program parses back
    assert readable_ref(raw) == raw
    assert readable_ref("settle BTC-PERP at 101234.5") == "settle BTC-PERP at 101234.5"


def test_a_settlement_ref_is_stored_as_it_was_and_read_with_separators():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "100000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D("0.1"), type="market")
    ex.set_index_price("BTC", D("101234.5"))
    ex.advance(D(30))
    settle = [e.ref for e in ex.ledger(u) if e.type == "SETTLE"]
    assert settle == ["settle BTC-PERP at 101234.5"]  # stored text unchanged
    assert [display_ref(r) for r in settle] == ["settle BTC-PERP at 101,234.5"]


# --- 4: USD amounts in refusals have thousands separators -------------------------------


def test_margin_refusals_give_usd_with_separators_and_sizes_with_their_lot_digits():
    ex, u = sol_below_the_mark("20000")
    with pytest.raises(InsufficientMargin) as refused:
        ex.place_order(u, SOL, "buy", D(3000), type="market")
    words = str(refused.value)
    head, largest = words.rsplit("; ", 1)
    amounts = [w for w in head.replace(":", "").split() if w[0].isdigit()]
    assert len(amounts) == 4 and amounts[0] == "3000"  # the size as typed
    for usd in amounts[1:]:  # needs, would be, short by: each above 1,000 USD
        assert "," in usd and D(usd.replace(",", "")) >= 1000, words
    best = refused.value.max_size
    assert largest == f"the largest size that would pass is {best}" and "," not in largest


def test_the_reduce_only_refusal_gives_usd_with_separators():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    ex.place_order("mm", BTC, "sell", D(1), price=D(100000))
    ex.place_order(u, BTC, "buy", D(1), type="market")
    ex.set_index_price("BTC", D(98900))  # E_im 4,900 below IMR 4,945: reduce-only
    h = ex.health(u)
    assert h.initial_equity < h.imr
    with pytest.raises(ReduceOnlyMode) as refused:
        ex.place_order(u, BTC, "buy", D("0.01"), price=D(90000))
    e_im = h.initial_equity.quantize(D("0.01"), rounding="ROUND_FLOOR")
    im = h.imr.quantize(D("0.01"), rounding=ROUND_CEILING)
    assert f"initial equity {e_im:,.2f} USD is below its initial requirement {im:,.2f} USD" in str(
        refused.value
    )
    assert "," in f"{e_im:,.2f}"
