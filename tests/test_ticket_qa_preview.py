"""QA's order-ticket defects, held on the screen-free logic (perptui/ticket.py, sizing.py)
against a real in-process exchange: the teaching venue's desk quotes 0.5 BTC every 100 USD
around 100,000 on both sides (asks 100,100, 100,200, ...; bids 99,900, 99,800, ...).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from perptui.teaching import move_index_near_liquidation, teaching_venue
from perptui.ticket import (
    TicketForm,
    liq_labels,
    order_value,
    position_state,
    preview_lines,
    wrap_line,
)
from tests.test_ticket_qa_sizing import paper_venue

D = Decimal
BTC = "BTC-PERP"


# --- 2: a FOK that cannot fill is not "accepted" -----------------------------------------------


async def test_a_fok_that_cannot_fill_says_it_would_be_canceled_unfilled():
    venue = await paper_venue()
    form = TicketForm(BTC, side="buy", type="limit", price="100250", tif="fok", size="2")
    preview = await venue.preview_order(form.request())
    assert preview.would_reject is None and preview.fillable_now == 0
    lines = preview_lines(preview, venue.ex.market(BTC), form=form)
    danger = [text for style, text in lines if style == "danger"]
    assert danger == [
        "✗ would be canceled unfilled: fill-or-kill: only 1.0000 fillable now at 100250 or better"
    ], lines
    # said once: the engine's warning it came from is not repeated under it
    assert not any("canceled unfilled" in text for style, text in lines if style == "warn")
    # an IOC below the book, and a market order with nothing on the book, say it too
    ioc = dataclasses.replace(form, tif="ioc", price="99000")
    preview = await venue.preview_order(ioc.request())
    lines = preview_lines(preview, venue.ex.market(BTC), form=ioc)
    assert any(style == "danger" and text.startswith("✗ would be canceled unfilled: ")
               for style, text in lines), lines  # fmt: skip
    # one that fills is no such verdict
    fills = dataclasses.replace(form, size="1")
    preview = await venue.preview_order(fills.request())
    assert not [t for s, t in preview_lines(preview, venue.ex.market(BTC), form=fills) if s]
    await venue.stop()


# --- 4: value at the price the order would trade at ---------------------------------------------


async def test_the_value_of_an_unfillable_fok_is_at_its_limit_not_the_mark():
    venue = await paper_venue()
    venue.ex.set_index_price("BTC", D(100050))  # the mark off the limit, as in QA's case
    form = TicketForm(BTC, side="buy", type="limit", price="99000", tif="fok", size="2")
    preview = await venue.preview_order(form.request())
    ms = venue.ex.market(BTC)
    assert preview.est_fill_price is None and ms.mark != D(99000)
    assert order_value(preview, ms.mark, D(99000)) == D(198000)
    head = preview_lines(preview, ms, form=form)[0][1]
    assert head.startswith("Value 198,000.00  Est. fill —"), head
    # a market order: the est. fill; a limit that crosses: what it takes at its est. fill
    market = TicketForm(BTC, side="buy", type="market", size="1")
    mp = await venue.preview_order(market.request())
    assert mp.est_fill_price == D(100150)  # 0.5 at 100,100 and 0.5 at 100,200
    assert preview_lines(mp, ms, form=market)[0][1].startswith("Value 100,150.00  Est. fill")
    await venue.stop()


# --- 5: a resting limit's "after" figures are what happens if it fills --------------------------


async def test_a_resting_limit_is_previewed_as_if_filled_at_its_limit():
    venue = await paper_venue(short="1")
    ms = venue.ex.market(BTC)
    form = TicketForm(BTC, side="buy", type="limit", price="99500", size="1")  # below the asks
    preview = await venue.preview_order(form.request())
    assert preview.fillable_now == 0 and preview.position_after == 0
    for narrow in (False, True):
        lines = [text for _, text in preview_lines(preview, ms, narrow, form)]
        assert lines[0].startswith("If filled at 99,500.0: "), lines
        assert any("→ 0.0000" in text for text in lines), lines  # the numbers kept
    assert preview_lines(preview, ms, form=form)[0][1] == (
        f"If filled at 99,500.0: value 99,500.00  fee ~{preview.fee:.2f}"
    )
    # partly crossing: what takes now and the rest's limit
    part = dataclasses.replace(form, price="100100", size="1")
    preview = await venue.preview_order(part.request())
    assert preview.fillable_now == D("0.5")
    head = preview_lines(preview, ms, form=part)[0][1]
    assert head.startswith("If filled (100,100.0 now, rest 100,100.0): value 100,100.00"), head
    # an IOC does not rest: no "if filled"
    ioc = dataclasses.replace(part, tif="ioc")
    preview = await venue.preview_order(ioc.request())
    assert preview_lines(preview, ms, form=ioc)[0][1].startswith("Value ")
    await venue.stop()


# --- 6: long verdicts wrap onto a second row ------------------------------------------------------


def test_a_long_verdict_wraps_onto_a_second_row_and_is_cut_only_past_it():
    text = "✗ would be refused: post-only order at 3005 would take liquidity (3001.35)"
    rows = wrap_line(text, 60)
    assert rows == ["✗ would be refused: post-only order at 3005 would take",
                    "  liquidity (3001.35)"]  # fmt: skip
    assert all(len(row) <= 60 for row in rows)
    assert wrap_line("short", 60) == ["short"]
    long = " ".join(["word"] * 40)
    cut = wrap_line(long, 30)
    assert len(cut) == 2 and cut[-1].endswith("…") and all(len(r) <= 30 for r in cut)


# --- 7: liquidation "now" / "bankrupt" instead of a stale price -------------------------------


async def test_an_account_under_liquidation_previews_now_not_its_old_liq_price():
    venue = teaching_venue()
    await venue.start()
    venue.ex.place_order(venue.account, BTC, "buy", D(3), type="market")
    move_index_near_liquidation(venue, BTC, D("0.995"))  # under it: E_mm < MMR
    health = venue.ex.health(venue.account)
    state = position_state(health, BTC)
    assert state == "now"
    ms = venue.ex.market(BTC)
    add = TicketForm(BTC, side="buy", type="limit", price=str(ms.mark), size="0.1")
    preview = await venue.preview_order(add.request())
    assert preview.liquidation_price_before is not None  # a number, though liquidation is here
    assert liq_labels(preview, ms, state) == ("now", "now")
    lines = [text for _, text in preview_lines(preview, ms, form=add, liq_state_before=state)]
    assert any(text.startswith("Est. liq now → now") for text in lines), lines
    # a sale that brings it back above maintenance: now -> a price again
    cut = TicketForm(BTC, side="sell", type="market", size="1")
    preview = await venue.preview_order(cut.request())
    before, after = liq_labels(preview, ms, state)
    assert before == "now" and after[0].isdigit(), (before, after)
    # bankrupt where the engine says the account would be under liquidation with E_mm < 0
    broke = dataclasses.replace(preview, warnings=[*preview.warnings,
                                "the account would be under liquidation after this order"],
                                margin_fraction_after=D("-0.01"))  # fmt: skip
    assert liq_labels(broke, ms, "bankrupt") == ("bankrupt", "bankrupt")
    assert position_state(health, "ETH-PERP") == "ok" and position_state(None, BTC) == "ok"
    await venue.stop()


async def test_an_ioc_is_worth_what_it_fills_not_its_canceled_rest():
    """Review: an IOC buy of 2 at 100,150 takes 0.5 at 100,100 and the rest is canceled; its
    value counted the canceled 1.5 at the limit too."""
    venue = await paper_venue()
    ms = venue.ex.market(BTC)
    form = TicketForm(BTC, side="buy", type="limit", price="100150", tif="ioc", size="2")
    preview = await venue.preview_order(form.request())
    assert preview.fillable_now == D("0.5") and preview.est_fill_price == D(100100)
    assert preview_lines(preview, ms, form=form)[0][1].startswith("Value 50,050.00  Est. fill")
    await venue.stop()
