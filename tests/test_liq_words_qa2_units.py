"""A teacher's second QA pass on the liquidation words, engine by engine: margin calls come
before the stage they lead to, stage 1 says what it canceled, the words of a deficit ADL must
close name the set-up (no providers, or providers that cannot take it), amounts that add up as
shown, and a liquidation order's fee named as such (MECHANICS section 4, README "Liquidation,
step by step")."""

from __future__ import annotations

from decimal import Decimal

from exchange_local.backstop import exact_usd_text, move_text
from exchange_local.events import LiquidationEvent, MarginEvent
from perptui.eventtext import balance_pair, describe
from tests.helpers import Recorder, funded
from tests.test_liquidation import BTC, exchange, open_long, two_btc_long
from tests.test_liquidation_wording import liquidations, text

D = Decimal


def calls_and_stages(rec: Recorder, account: str) -> list[str]:
    """The account's margin-call levels and liquidation stages, in the order emitted."""
    out = []
    for e in rec.events:
        if isinstance(e, MarginEvent) and e.account == account:
            out.append(f"margin {e.level}")
        elif isinstance(e, LiquidationEvent) and e.account == account:
            out.append(e.stage)
    return out


# --- 1: the margin call before the stage it leads to -----------------------------------------


def test_a_margin_call_in_the_same_second_comes_before_stage_1():
    """u long 1 BTC on 6,000 with an order resting: a gap to 96,800 puts E 2,800 under MMR
    2,904 at once. The reduce-only call is announced, then stage 1 cancels the order."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.place_order(u, BTC, "buy", D("0.01"), price=D(90000))
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(96800))
    ex.advance(1)
    assert calls_and_stages(rec, u) == ["margin reduce_only", "cancel"]
    times = {e.time_ms for e in rec.events if isinstance(e, (MarginEvent, LiquidationEvent))}
    assert len(times) == 1  # one second, stage timing unchanged


def test_a_warning_then_a_reduce_only_call_each_before_its_stage_and_recovery_after():
    """Warning first (E under 2 x MMR), then the gap: reduce-only before stage 1; the stage 2
    order closing the position comes before "margin calls over", which it brings."""
    ex, u = two_btc_long()
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(98000))  # E 10,500 < 2 x MMR 5,880, >= IMR: a warning
    ex.advance(1)
    ex.set_index_price("BTC", D(95000))
    ex.advance(33)
    seen = calls_and_stages(rec, u)
    assert seen[:4] == ["margin warning", "margin reduce_only", "cancel", "partial"], seen
    assert seen[-2:] == ["over", "margin recovered"], seen  # the recovery after the stage


def test_a_shock_of_minus_10_percent_calls_before_it_cancels():
    """The paper market's -10 % shock (shock_index), as the teacher ran it."""
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "9000")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    ex.shock_index("BTC", D("-0.10"))
    ex.advance(1)
    seen = calls_and_stages(rec, u)
    assert seen[:2] == ["margin reduce_only", "cancel"], seen


# --- 3: stage 1 says what it canceled --------------------------------------------------------


def cancel_event(detail: str) -> LiquidationEvent:
    return LiquidationEvent(61_000, "ada", None, "cancel", None, None, D(4400), D(4400),
                            D(5700), D(5700), (), D(20000), D(20000), detail)  # fmt: skip


def test_stage_1_with_nothing_to_cancel_does_not_say_orders_canceled():
    line = text(cancel_event("no open orders to cancel"))
    assert line.startswith("ada: stage 1: no open orders to cancel · equity 4,400.00")
    assert "orders canceled" not in line
    assert line.count("no open orders to cancel") == 1


def test_stage_1_says_how_many_orders_it_canceled():
    assert text(cancel_event("1 open order canceled")).startswith(
        "ada: stage 1: 1 open order canceled · equity"
    )
    line = text(cancel_event("3 open orders canceled"))
    assert line.startswith("ada: stage 1: 3 open orders canceled · equity")
    assert line.count("canceled") == 1  # the detail is not repeated after the figures


def test_stage_1_from_the_engine_reads_as_one_statement():
    ex = exchange()
    funded(ex, "mm", "100000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    ex.place_order(u, BTC, "buy", D("0.01"), price=D(90000))
    ex.place_order(u, BTC, "buy", D("0.01"), price=D(89000))
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(96800))
    ex.advance(1)
    (cancel,) = liquidations(rec, u)
    assert text(cancel).startswith("u: stage 1: 2 open orders canceled · equity")


def test_an_older_servers_stage_1_keeps_its_words_and_detail():
    line = text(cancel_event("orders gone"))
    assert line.startswith("ada: stage 1: orders canceled ·") and line.endswith("· orders gone")


# --- 5: amounts that add up as shown -----------------------------------------------------------


def test_a_payment_is_to_the_cent_when_the_cents_add_up_else_exact():
    assert move_text(D("-1050"), D("21264.448831")) == "1,050.00"
    assert move_text(D("-2126.444883"), D("20214.448831")) == "2,126.444883"
    assert move_text(D("-1200"), D("12000")) == "1,200.00"
    assert exact_usd_text(D("2126.4400")) == "2,126.44"


def test_the_funds_before_and_after_add_up_to_its_move_as_shown():
    assert balance_pair(D("20000"), D("20189.33328")) == "20,000.00 → 20,189.33"
    pair = balance_pair(D("20214.448831"), D("18088.003948"))
    assert pair == "20,214.448831 → 18,088.003948"  # 20,214.45 → 18,088.00 did not add up
    assert balance_pair(D("18088.003948"), D("18088.448831")) == "18,088.003948 → 18,088.448831"


# --- 6: a liquidation order's fee ------------------------------------------------------------


def test_a_stage_2_line_names_its_liquidation_fee_and_that_its_fills_paid_no_taker_fee():
    ex, u = two_btc_long()
    rec = Recorder(ex)
    ex.set_index_price("BTC", D(95000))
    ex.advance(2)
    (order,) = [e for e in liquidations(rec, u) if e.stage == "partial"]
    assert order.fee
    line = text(order)
    assert "stage 2: liquidation order on the book" in line
    assert f"· liquidation fee {order.fee:,.2f} to the fund, no taker fee ·" in line
    assert "· fee " not in line


def test_a_filled_book_close_says_it_was_a_liquidation_order():
    event = LiquidationEvent(2000, "u", BTC, "book_close", D("0.25"), D(89650), D(-850),
                             D(-900), D(2700), D(2000), (), D(1000), D(1010),
                             "no backstop providers", D("89800.5"), None, D(10))  # fmt: skip
    line = describe(event, "")
    assert line is not None
    assert line.text.startswith("u: stage 3: closed on the book by a liquidation order · ")
    assert "liquidation fee 10.00 to the fund, no taker fee" in line.text
