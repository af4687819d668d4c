"""perptui's screen-free logic: formatting, the ticket, settings, events, the paper venue."""

from __future__ import annotations

import dataclasses
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local import Exchange, ExchangeConfig, InsufficientMargin
from perptui import format as fmt
from perptui.eventtext import describe
from perptui.settings import load_settings
from perptui.ticket import TicketError, TicketForm, max_size, preview_lines
from perptui.venues.base import OrderRequest
from perptui.venues.local import PAPER_FUNDING, LocalVenue
from perptui.widgets.book import BookState, book_rows, group_levels

D = Decimal


def test_numbers_read_like_a_trading_screen():
    assert fmt.num(D("12345.675")) == "12,345.68"
    assert fmt.usd(D("84.25"), sign=True) == "+84.25"
    assert fmt.usd(D("-0.001"), sign=True) == "0.00"  # no "-0.00"
    assert fmt.price(D("58456.26"), D("0.5")) == "58,456.3"
    assert fmt.pct(D("0.0542")) == "5.42%"
    assert fmt.rate(D("0.0000126")) == "+0.00126%"
    assert fmt.rate(D("0.0000125")) == "+0.00125%"  # the usual hour: 1.25 USD per 100,000
    assert fmt.rate(D("0.0001")) == "+0.0100%"  # at least four decimals of a percent
    assert fmt.rate(D("-0.00008125")) == "-0.008125%"
    assert fmt.rate(D("0.000237553")) == "+0.023755%"  # half to even past six
    assert fmt.rate(D(0)) == "0.0000%"


def test_durations_read_as_words():
    assert [fmt.duration(s) for s in (40, 600, 3600, 3660, 90000)] == [
        "40 s", "10 min", "1 h", "1 h 1 min", "1 d 1 h"
    ]  # fmt: skip
    assert fmt.compact(D("410000000")) == "410.0M"
    assert fmt.clock(2467) == "41:07" and fmt.clock(3725) == "1:02:05"
    assert fmt.decimals_of(D("0.0001")) == 4 and fmt.decimals_of(D("1")) == 0


def test_a_liquidation_price_is_rounded_toward_the_mark():
    # a long's liquidation price is below the mark: rounding up warns earlier
    assert fmt.liq_price(D("58456.26"), D("100000"), D("0.5")) == "58,456.5"
    # a short's is above: rounding down
    assert fmt.liq_price(D("10208.33"), D("3000"), D("0.05")) == "10,208.30"


def test_health_words_follow_mechanics_statuses():
    assert fmt.health_word("ok", False) == "HEALTHY"
    assert fmt.health_word("ok", True) == "WATCH"
    assert fmt.health_word("reduce_only", True) == "DANGER"
    for status in ("liquidating", "backstop", "bankrupt"):
        assert fmt.health_word(status, True) == "LIQUIDATING"


def test_the_ticket_says_which_field_is_wrong():
    form = TicketForm("BTC-PERP", size="abc", price="100")
    with pytest.raises(TicketError, match="size 'abc' is not a number"):
        form.request()
    form = TicketForm("BTC-PERP", size="0.1", price="")
    with pytest.raises(TicketError, match="price is empty"):
        form.request()
    stop = TicketForm("BTC-PERP", side="sell", type="stop_market", size="0.1", price="90,000")
    request = stop.request("cid")
    assert (request.trigger_price, request.reduce_only, request.price) == (D(90000), True, None)


def test_every_ticket_type_makes_a_request_the_exchange_accepts():
    """The time in force chosen for a limit order must not leak into other types: the
    exchange refuses a tif on anything but a limit order (every market order once was)."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name, usd in (("maker", 10**8), ("taker", 10**6)):
        ex.create_account(name)
        ex.deposit(name, "USD", D(usd))
    mark = ex.market("BTC-PERP").mark
    ex.place_order("maker", "BTC-PERP", "sell", D(1), price=mark)
    tickets = (("buy", "limit", mark), ("buy", "market", ""), ("sell", "stop_market", mark / 2))
    for side, kind, price in tickets:
        form = TicketForm("BTC-PERP", side=side, type=kind, size="0.01", price=str(price),
                          tif="ioc")  # fmt: skip
        r = form.request()
        assert r.tif == ("ioc" if kind == "limit" else "gtc")
        result = ex.place_order("taker", r.market, r.side, r.size, price=r.price, type=r.type,
                                tif=r.tif, reduce_only=r.reduce_only,
                                trigger_price=r.trigger_price)  # fmt: skip
        assert result.status.value in ("filled", "untriggered"), (kind, result)


def test_grouping_never_shows_a_better_price_than_exists():
    bids = [(D("100.4"), D(1)), (D("100.1"), D(2)), (D("99.9"), D(3))]
    assert group_levels(bids, D(1), True) == [(D(100), D(3)), (D(99), D(3))]
    asks = [(D("100.1"), D(1)), (D("100.9"), D(2))]
    assert group_levels(asks, D(1), False) == [(D(101), D(3))]


def test_the_book_marks_own_orders_and_a_liquidation_price_in_range():
    state = BookState("BTC-PERP", D("0.5"), D("0.001"), bids=[(D(99), D(1)), (D(98), D(1))],
                      asks=[(D(101), D(1))], own_prices=frozenset({D(98)}),
                      liq_prices=(D("98.5"),))  # fmt: skip
    rows = book_rows(state, 5, 1)
    kinds = [r[0] for r in rows]
    assert kinds == ["ask", "mid", "bid", "liq", "bid"]
    assert rows[4][1].startswith("•") and not rows[2][1].startswith("•")


def test_the_books_liq_row_is_on_the_tick_rounded_toward_the_mark_as_the_positions_table():
    # a long's 98.3 was shown "98.3" (off the 0.5 tick), grouped by 10 "98"; the positions
    # table says 98.5, rounded toward the mark so that it warns early
    for grouping in (1, 10):
        state = BookState("BTC-PERP", D("0.5"), D("0.001"), bids=[(D(99), D(1)), (D(90), D(1))],
                          asks=[(D(101), D(1))], liq_prices=(D("98.3"),), mark=D(100))  # fmt: skip
        (liq,) = [text for kind, text, _, _ in book_rows(state, 5, grouping) if kind == "liq"]
        assert liq == " ◀ your liq 98.5 ▶"  # fmt.liq_price(98.3, mark 100, tick 0.5)
    short = BookState("BTC-PERP", D("0.5"), D("0.001"), bids=[(D(99), D(1))],
                      asks=[(D(101), D(1)), (D(103), D(1))], liq_prices=(D("102.2"),),
                      mark=D(100))  # fmt: skip
    assert [t for k, t, _, _ in book_rows(short, 5, 1) if k == "liq"] == [" ◀ your liq 102.0 ▶"]


async def test_preview_lines_say_why_an_order_would_be_refused():
    venue = LocalVenue(clock="manual")
    await venue.start()
    await venue.advance(D(3))
    preview = await venue.preview_order(OrderRequest("BTC-PERP", "buy", D(100), "market"))
    ms = venue._exchange().market("BTC-PERP")
    lines = preview_lines(preview, ms)
    assert any(style == "danger" and "would be refused" in text for style, text in lines)
    with pytest.raises(InsufficientMargin):
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D(100), "market"))
    health = venue._exchange().health(venue.account)
    top = max_size(health, ms, D(20), None)
    assert top > 0 and top * ms.mark <= health.free_collateral * 20
    await venue.stop()


async def test_the_paper_account_is_funded_and_still_there_tomorrow(tmp_path):
    db = tmp_path / "paper.sqlite"
    venue = LocalVenue(db, clock="manual")
    await venue.start()
    balances = venue._exchange().balances(venue.account)
    assert {a: balances[a] for a, _ in PAPER_FUNDING} == dict(PAPER_FUNDING)
    await venue.advance(D(5))
    result = await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.1"), "market"))
    assert result.filled == D("0.1")
    now_ms = venue._exchange().now_ms
    await venue.stop()
    pause_file = db.with_suffix(".sqlite.perptui.json")
    pause_file.write_text(json.dumps({"closed_at": time.time() - 3600}))  # closed an hour ago
    again = LocalVenue(db, clock="manual")
    await again.start()
    ex = again._exchange()
    assert [p.size for p in ex.positions(again.account)] == [D("0.1")]
    assert ex.now_ms == now_ms  # the market was paused, not run, while closed
    assert 3590 < again.paused_for_s < 3700
    assert ex.living_market_running
    await again.stop()


def test_settings_are_written_with_defaults_and_bad_ones_are_reported(tmp_path):
    path = tmp_path / "settings.toml"
    settings = load_settings(path)
    assert path.exists() and settings.confirm_orders and settings.theme == "perptui-dark"
    path.write_text('confirm_orders = "often"\ntheme = "perptui-cb"\n[keymap]\n"order.buy" = "B"\n')
    settings = load_settings(path)
    assert settings.theme == "perptui-cb" and settings.keymap == {"order.buy": "B"}
    assert settings.confirm_orders and "confirm_orders must be true or false" in settings.problem
    path.write_text("theme = [")
    assert "using the defaults" in load_settings(path).problem


async def test_events_name_every_stage_and_mark_our_own():
    from exchange_local.events import LiquidationEvent

    event = LiquidationEvent(1000, "paper", "BTC-PERP", "backstop", D(1), D("94333.5"), D(100),
                             D(0), D(300), D(0), ("blp-1",), D(1000), D("1033.33"))  # fmt: skip
    line = describe(event, "paper")
    assert line is not None and line.mine and line.kind == "liquidation"
    assert "YOU: stage 3: backstop takeover" in line.text and "with blp-1" in line.text
    assert "fund USD 1,000.00 → 1,033.33" in line.text
    other = describe(event, "someone-else")
    assert other is not None and not other.mine and other.text.startswith("paper:")
    tried = LiquidationEvent(2000, "paper", "BTC-PERP", "book_close", D(0), D("0.5"), D(-10),
                             D(-10), D(300), D(300), (), D(1000), D(1000))  # fmt: skip
    assert "nothing filled" in describe(tried, "paper").text  # type: ignore[union-attr]
    over = LiquidationEvent(3000, "paper", None, "recovered", None, None, D(0), D(0), D(0),
                            D(0), (), D(1000), D(1000))  # fmt: skip
    assert "liquidation over" in describe(over, "paper").text  # type: ignore[union-attr]


async def test_advancing_the_clock_gives_the_screen_its_turns():
    """An hour of the living market takes seconds to compute: in one piece it froze the
    terminal, so the venue advances a minute at a time and yields between the steps."""
    import asyncio

    from perptui.teaching import teaching_venue

    venue = teaching_venue()
    start = venue.ex.now_ms
    turns = 0

    async def screen() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(screen())
    await asyncio.sleep(0)
    await venue.advance(D(600))
    task.cancel()
    assert venue.ex.now_ms - start == 600_000
    assert turns >= 10  # a turn after each of the ten minutes


def test_the_80_column_header_keeps_the_countdowns_on_the_line():
    from rich.text import Text

    from perptui.venues.base import ClockInfo, Connection
    from perptui.widgets.header import header_markup

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3500))  # funding sampled: a rate and both countdowns exist
    ms = ex.market("BTC-PERP")
    assert ms.next_funding_time is not None and ms.next_settlement_time is not None
    conn, clock = Connection("live"), ClockInfo(ex.now_ms, D(1), False, True)

    def plain(markup: str) -> str:
        return Text.from_markup(markup.replace("$", "")).plain

    full = plain(header_markup(ms, conn, clock, "PAPER", True))
    short = plain(header_markup(ms, conn, clock, "PAPER", True, compact=True))
    assert "Index" in full and len(full) > 78
    assert short.startswith("PAPER") and "⏱" in short and " S 0" in short
    assert len(short) <= 78  # 80 columns less the header's padding
    server = Connection("live", latency_ms=12.0)  # a class server's chip is longer
    named = plain(header_markup(ms, server, clock, "127.0.0.1:8761", True))
    unnamed = plain(header_markup(ms, server, clock, "127.0.0.1:8761", True, named=False))
    assert unnamed == named.removeprefix("perptui │ ") and "Index" in unnamed
    assert len(unnamed) <= 158  # at 160 it keeps the index, 24h and OI
    assert "F pred" in short or "F +" in short or "F -" in short
    halted = dataclasses.replace(ms, reduce_only=True)
    fast = ClockInfo(ex.now_ms, D(30), False, True)
    short = plain(header_markup(halted, server, fast, "127.0.0.1:8761", True, compact=True))
    assert short.index("REDUCE-ONLY") < short.index("30x") < short.index("⏱")  # seen first
    assert len(short[: short.index("30x") + 3]) <= 78  # at 80 columns the halt was cut off


def test_a_key_without_a_server_is_refused_and_the_announced_url_is_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from perptui.cli import main
    from perptui.venues.remote import RemoteVenue

    key = tmp_path / "bob.key"
    key.write_text("k")
    assert main(["--key-file", str(key), "--memory"]) == 2  # not the paper market, silently
    assert "add --connect URL" in capsys.readouterr().err
    announced = RemoteVenue("http://127.0.0.1:8741/api/v1", "k")  # as `serve` prints it
    assert announced.base_url == "http://127.0.0.1:8741"
    assert announced.ws_url == "ws://127.0.0.1:8741/api/v1/ws"
    behind_proxy = RemoteVenue("https://school.example/perp/api/v1/", "k")
    assert behind_proxy.base_url == "https://school.example/perp"


def test_a_lessons_summary_reads_as_words_not_python():
    from perptui.venues.demo import summary_value

    stages = summary_value({"cancel": 2, "book_close": 6, "adl": 1})
    assert stages == "cancel 2, book_close 6, adl 1"
    assert summary_value(D("0.0002375540925178083024557275752366084")) == "0.023755%"
    assert summary_value(D("998953.760000")) == "998,953.76"
    assert summary_value(D(1000000)) == "1,000,000" and summary_value(None) == "—"


def test_market_event_details_read_as_words_not_python():
    from exchange_local.events import MarketEvent

    announced = MarketEvent(900, "BTC-PERP", "risk_params_announced", {
        "effective_at": 900, "max_leverage": (D(20), D(15)),
        "oi_cap": (D(187500000), D(150000000))})  # fmt: skip
    text = describe(announced, "paper").text  # type: ignore[union-attr]
    assert (
        "risk parameters announced, in force at 00:15:00 · max leverage 20x → 15x · "
        "OI cap 187,500,000 → 150,000,000 USD"
    ) in text
    assert "Decimal(" not in text
    step = MarketEvent(1000, "*", "lesson volatility: swing", {
        "by": "admin", "fraction": "0.002004008016032064128256513026052",
        "params": {"asset": "BTC", "first": "-0.05"}})  # fmt: skip
    text = describe(step, "paper").text  # type: ignore[union-attr]
    assert "fraction 0.00200401" in text and "params (asset BTC, first -0.05)" in text
    assert "{" not in text


def test_an_account_left_with_nothing_is_not_called_healthy():
    from perptui.widgets.account import account_word

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("u")
    assert account_word(ex.health("u")) == "NO EQUITY"  # flat, nothing deposited
    ex.deposit("u", "USD", D(100))
    assert account_word(ex.health("u")) == "HEALTHY"


async def test_a_header_too_long_for_its_width_takes_the_short_form_and_says_paused_once():
    from textual.app import App, ComposeResult

    from perptui.venues.base import ClockInfo, Connection
    from perptui.widgets.header import MarketHeader

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3500))
    ms = ex.market("BTC-PERP")

    class Bar(App[None]):
        def compose(self) -> ComposeResult:
            yield MarketHeader()

    async with Bar().run_test(size=(160, 3)) as pilot:
        header = pilot.app.query_one(MarketHeader)
        paused = ClockInfo(ex.now_ms, D(5), True, True)
        long_name = "DEMO a-lesson-with-a-name-long-enough-to-push-the-countdowns-off"
        header.show(ms, Connection("paused"), paused, long_name, True)
        text = str(header.render())
        assert "⏱" in text and " S 0" in text  # the countdowns stayed on the line
        assert text.count("paused") == 1
        header.show(ms, Connection("live"), ClockInfo(ex.now_ms, D(5), False, True), "PAPER", True)
        text = str(header.render())
        assert "Index" in text and "settle" in text and "5x" in text  # it fits: the full form


def test_the_chart_says_an_off_chart_liquidation_price_rounded_toward_the_mark():
    from exchange_local.marketdata import Candle
    from perptui.widgets.chart import ChartLine, ChartState, chart_grid

    candle = Candle(0, D(100000), D(100100), D(99900), D(100000), D(1))
    state = ChartState("BTC-PERP", D("0.5"), [candle], D(100000), D(100000), [
        ChartLine("liq", D("64126.14"), "liq"),  # a long's: rounded up, never down to 64,126.0
        ChartLine("bkr", D("62518.6"), "bk"),
        ChartLine("liq", D("135000.2"), "liq"),  # a short's: rounded down
    ])  # fmt: skip
    _, notes = chart_grid(state, 60, 12, "candle")
    assert any(n.startswith("liq 64,126.5 is off chart") for n in notes)
    assert any(n.startswith("bkr 62,519.0 is off chart") for n in notes)
    assert any(n.startswith("liq 135,000.0 is off chart") for n in notes)
    assert not any(n.startswith("liq is") for n in notes)  # the off-chart note says how far
    _, narrow = chart_grid(state, 34, 12, "candle")  # the chart at 120 columns
    # distances toward zero (35.87 %, 37.48 %): never further from the mark than they are
    assert narrow[:3] == ["liq 64,126.5 ↓35.8% off chart", "bkr 62,519.0 ↓37.4% off chart",
                          "liq 135,000.0 ↑35.0% off chart"], narrow  # fmt: skip
    assert all(len(n) + 1 <= 34 for n in narrow)


def test_event_prices_keep_every_digit_of_a_fine_tick():
    price_text = fmt.tick_price

    assert price_text(D("0.29973")) == "0.29973"  # JELLY's tick: 0.30 was 270 USD off
    assert price_text(D("94025.00")) == "94,025.00"
    assert price_text(D("91850.5")) == "91,850.50"
    assert price_text(D("100")) == "100.00"


async def test_a_paper_clock_slowed_to_zero_says_paused_and_p_restarts_it():
    venue = LocalVenue(clock="manual", seed=1, speed=D(0))
    await venue.start()
    try:
        snap = await venue.snapshot("BTC-PERP")
        assert snap.connection.state == "paused" and snap.clock.paused  # it said "● live 0x"
        await venue.set_paused(False)  # `p`
        snap = await venue.snapshot("BTC-PERP")
        assert venue.speed == 1 and snap.connection.state == "live"
    finally:
        await venue.stop()


def test_the_fills_tab_keeps_a_fine_ticks_digits():
    from exchange_local.orders import Fill
    from perptui.widgets.history import fill_rows

    fill = Fill(1, 0, "JELLY-PERP", D("0.29973"), D(1000), "buy", "me", "them", 1, 2,
                D("0.149865"), D("0.059946"))  # fmt: skip
    ((_, cells),) = fill_rows([fill], "me")
    assert "0.29973" in [str(c).strip() for c in cells]  # it showed 0.30


async def test_a_second_perptui_on_the_same_store_is_refused_until_the_first_closes(tmp_path):
    from exchange_local.errors import StoreError

    db = tmp_path / "paper.sqlite"
    first = LocalVenue(db, clock="manual")
    await first.start()
    second = LocalVenue(db, clock="manual")
    with pytest.raises(StoreError, match="open in another process"):
        await second.start()  # it ran beside the first until one died on a journal entry
    await first.stop()
    await second.start()
    await second.stop()


async def test_in_reduce_only_mode_the_largest_closing_size_is_the_position():
    from perptui.sizing import largest_size
    from perptui.teaching import move_index_near_liquidation, teaching_venue

    venue = teaching_venue()
    await venue.start()  # the paper account, funded
    venue.ex.place_order(venue.account, "BTC-PERP", "buy", D(3), type="market")
    move_index_near_liquidation(venue, "BTC-PERP", D("1.01"))  # above it: still maintained
    assert venue.ex.health(venue.account).status == "reduce_only"
    form = TicketForm("BTC-PERP", side="sell", type="market")
    top = await largest_size(venue, form, D(0), D(3), D("0.0001"))
    assert top == D(3)  # a risk-reducing order always passes; it said 0 (the flip's refusal)
    await venue.stop()


def test_averages_read_to_the_cent_and_fills_with_their_tick():
    assert fmt.average_price(D("94776.78173741")) == "94,776.78"
    assert fmt.average_price(D("0.29973120")) == "0.299731"
    from exchange_local import events as ev
    from exchange_local.orders import Fill

    fill = Fill(1, 0, "BTC-PERP", D("100576.0"), D("0.1"), "buy", "me", "x", 1, 2, D(5), D(2))
    line = describe(ev.FillEvent(0, fill), "me")
    # on the market's tick and lot, as the book shows them (it read "@ 100576.0", then
    # "0.1 BTC-PERP @ 100,576.00")
    assert line is not None and "YOU buy 0.1000 BTC-PERP @ 100,576.0 (taker)" in line.text
    odd = Fill(2, 0, "BTC-PERP", D("100576.25"), D("0.00015"), "buy", "me", "x", 1, 2, D(5), D(2))
    line = describe(ev.FillEvent(0, odd), "me")  # off this exchange's steps: every digit kept
    assert line is not None and "0.00015 BTC-PERP @ 100,576.25 (taker)" in line.text


async def test_the_funding_line_gives_up_its_least_read_pieces_to_fit():
    from perptui.screens.main import funding_line
    from perptui.venues.local import LocalVenue

    venue = LocalVenue(clock="manual", seed=1)
    await venue.start()
    await venue.advance(D(3600 * 2 + 30))  # two payments and a predicted rate
    snap = await venue.snapshot("BTC-PERP")
    whole = funding_line(snap)
    assert all(word in whole for word in ("24h", "pred", "8h-equiv", "APR", "fund $"))
    for width in (40, 56, 70, len(whole)):
        line = funding_line(snap, width=width)
        assert len(line) <= width and ("pred +" in line or "pred -" in line), (width, line)
    assert funding_line(snap, width=len(whole)) == whole
    under_chart = funding_line(snap, width=56)
    assert "APR" in under_chart and "fund $" in under_chart and "8h-equiv" not in under_chart
    assert funding_line(snap, width=10) == " Funding " + whole.split("  ")[1]  # the rate stays
    await venue.stop()


async def test_at_160_columns_the_whole_header_shows_once_a_funding_rate_exists():
    """The width test took the padding off twice: a 158-cell line was cut to the short form."""
    from textual.app import App, ComposeResult
    from textual.content import Content

    from perptui.venues.base import ClockInfo, Connection
    from perptui.widgets.header import MarketHeader, header_markup

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3700))  # an hour's funding paid: the rate exists beside the predicted one
    ms = ex.market("BTC-PERP")
    assert ms.funding_rate is not None
    server, clock = Connection("live", latency_ms=6.0), ClockInfo(ex.now_ms, D(1), False, False)
    full = Content.from_markup(
        header_markup(ms, server, clock, "127.0.0.1:18741", True, named=False)
    ).plain
    assert len(full) == 158  # 160 columns less the header's padding: it just fits

    class Bar(App[None]):
        def compose(self) -> ComposeResult:
            yield MarketHeader()

    async with Bar().run_test(size=(160, 3)) as pilot:
        header = pilot.app.query_one(MarketHeader)
        header.show(ms, server, clock, "127.0.0.1:18741", True)
        text = str(header.render())
        assert "Index" in text and "24h" in text and "OI" in text and "pred" in text
        assert text == full


def test_the_connection_chip_says_why_it_is_not_live():
    from perptui.venues.base import Connection
    from perptui.widgets.header import connection_chip

    def chip(conn: Connection) -> str:
        from rich.text import Text

        return Text.from_markup(connection_chip(conn, "srv", True).replace("$", "")).plain

    assert chip(Connection("stale", age_s=3.9, cause="no answer")) == "srv ○ STALE 3s not answering"
    limited = Connection("limited", cause="rate limited", detail="retry in 2s")
    assert chip(limited) == "srv ◐ rate limited, retry in 2s"
    stale_limited = Connection("stale", age_s=4.2, cause="rate limited", detail="retry in 1s")
    assert chip(stale_limited) == "srv ○ STALE 4s rate limited, retry in 1s"
    refused = Connection("stale", age_s=9, cause="refused", detail="the API key was revoked; [x]")
    assert chip(refused) == "srv ✗ KEY REFUSED: the API key was revoked; [x]"
    down = Connection("stale", attempts=2, age_s=5, cause="reconnecting", detail="server stopping")
    assert chip(down) == "srv ○ STALE 5s ◐ reconnecting (2): server stopping"
    back = Connection("reconnecting", attempts=1, cause="reconnecting", detail="server stopping")
    assert chip(back) == "srv ◐ reconnecting (1): server stopping"
    assert chip(Connection("stale", age_s=12)) == "srv ○ STALE 12s"  # other venues: as before


async def test_at_80_columns_a_long_venue_name_gives_way_to_the_countdowns():
    """`perptui demo cascade` and a server's address ran the funding and settlement
    countdowns off the 80-column line; the tightest form keeps them."""
    from textual.app import App, ComposeResult

    from perptui.venues.base import ClockInfo, Connection
    from perptui.widgets.header import MarketHeader

    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.advance(D(3500))
    ms = ex.market("BTC-PERP")

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield MarketHeader()

    for venue, paper, conn, speed in (
        ("DEMO cascade", True, Connection("live"), D(5)),
        ("127.0.0.1:18777", False, Connection("live", latency_ms=1.0), D(1)),
        ("PAPER", True, Connection("live"), D(2)),
    ):
        app = Host()
        async with app.run_test(size=(80, 3)) as pilot:
            header = app.query_one(MarketHeader)
            header.show(ms, conn, ClockInfo(ex.now_ms, speed, False, True), venue, paper)
            await pilot.pause()
            line = str(header.render())
            assert "⏱" in line and " S 0" in line and line.rstrip().endswith(line.split()[-1])
            assert len(line.rstrip()) <= 78, line
            assert "BTC-PERP" in line and fmt.price(ms.mark, ms.tick) in line


def test_a_refusal_gives_the_largest_size_that_passes_before_its_reasons():
    """The verdict is one row cut at its end: "(max ≈ …)" at the end was the part lost."""
    from perptui.ticket import preview_lines

    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name in ("a", "mm"):
        ex.create_account(name)
    ex.deposit("a", "USD", D(1_000))
    ex.deposit("mm", "USD", D(10_000_000))
    ex.place_order("mm", "BTC-PERP", "sell", D(10), price=D(100000))
    preview = ex.preview_order("a", "BTC-PERP", "buy", D(5), price=D(100000))
    assert preview.would_reject and preview.max_size
    (verdict,) = [text for style, text in preview_lines(preview, ex.market("BTC-PERP"))
                  if style == "danger"]  # fmt: skip
    assert verdict.startswith(f"✗ would be refused (max ≈ {preview.max_size}): "), verdict


def test_the_preview_gives_positions_in_the_lots_decimals_with_a_sign():
    """It read "Position 0 → 0.1000" flat and "Position 0 → -5" for a take-profit."""
    from perptui.ticket import preview_lines

    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name in ("a", "mm"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(10_000_000))
    ex.place_order("mm", "BTC-PERP", "buy", D(10), price=D(100000))
    preview = ex.preview_order("a", "BTC-PERP", "sell", D(5), type="market")
    texts = [text for _, text in preview_lines(preview, ex.market("BTC-PERP"))]
    assert any(t.endswith("Position 0.0000 → -5.0000") for t in texts), texts
    narrow = [text for _, text in preview_lines(preview, ex.market("BTC-PERP"), narrow=True)]
    assert any(t.endswith("pos → -5.0000") for t in narrow), narrow


def test_your_own_trade_on_the_tape_is_marked_in_any_column_width():
    """The book's column is 35 wide between 100 and 160 terminal columns: " you" after the
    time was cut to " y"; then "you" took the time's place, and the trade read as having
    none. Now ▶ in its first column marks it (as the events log marks yours), the time
    stays, and "you" follows where there is room."""
    from exchange_local.marketdata import Trade
    from perptui.widgets.tape import own_row, tape_rows

    trade = Trade(7, 10_000, Decimal("100116.5"), Decimal("0.05"), "buy")
    ((_, text),) = tape_rows([trade], Decimal("0.5"), Decimal("0.0001"))
    assert own_row(text, 35) == "▶" + text[1:] and text.endswith("▲ 00:00:10")
    assert own_row(text, 60) == "▶" + text[1:] + " you"


async def test_a_killed_perptui_is_reopened_with_its_real_pause(tmp_path, monkeypatch):
    """The pause file was written on a clean close only: after a kill -9 the reopened market
    said no pause, or the pause after the last clean close (an hour for six seconds)."""
    import asyncio

    from perptui.venues import local

    monkeypatch.setattr(local, "HEARTBEAT_S", 0.05)
    monkeypatch.setattr(local, "TICK_S", 0.01)
    db = tmp_path / "paper.sqlite"
    pause_file = db.with_suffix(".sqlite.perptui.json")
    venue = LocalVenue(db, speed=D(0))
    await venue.start()
    pause_file.write_text(json.dumps({"closed_at": time.time() - 3600}))  # an old clean close
    for _ in range(100):  # the running market's heartbeat replaces it within HEARTBEAT_S
        await asyncio.sleep(0.01)
        if json.loads(pause_file.read_text())["closed_at"] > time.time() - 60:
            break
    # killed here: no stop(), so no clean close is written; the lock goes with the process
    venue._driver.cancel()  # type: ignore[union-attr]
    venue._store_lock.close()
    again = LocalVenue(db, clock="manual")
    await again.start()
    assert again.paused_for_s < 5  # not the hour of the old close
    await again.stop()


async def test_a_store_that_cannot_be_written_stops_the_paper_market_and_says_why(
    tmp_path, monkeypatch
):
    """A full disk under the running market: the clock stops, the notice says why, orders
    are refused in the engine's words, and quitting writes no snapshot of the unsaved step."""
    import asyncio

    from perptui.venues import local
    from tests.test_store_failure import FullDisk

    monkeypatch.setattr(local, "TICK_S", 0.01)
    venue = LocalVenue(tmp_path / "paper.sqlite", speed=D(100))
    await venue.start()
    store = venue._exchange()._store
    disk = FullDisk(store.db)
    disk.full = True
    store.db = disk
    for _ in range(300):
        await asyncio.sleep(0.01)
        if venue.stopped:
            break
    assert venue.stopped
    notice = venue.take_notice() or ""
    assert "could not be written (database or disk is full)" in notice and "Quit" in notice
    with pytest.raises(Exception, match="disk is full"):
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.1"), "market"))
    snap = await venue.snapshot("BTC-PERP")
    assert snap.connection.state == "failed" and "nothing after it is saved" in (
        snap.connection.detail
    )
    with pytest.raises(Exception, match="disk is full"):  # p: it said "live", stopped for good
        await venue.set_paused(False)
    assert venue.stopped
    disk.full = False
    await venue.stop()
    again = LocalVenue(tmp_path / "paper.sqlite", clock="manual")
    await again.start()
    assert again._exchange().check_invariants() == []
    await again.stop()


def test_a_tiny_amount_reads_as_typed_never_in_scientific_notation():
    """The convert dialog offered 9.8E-7 in a field that takes digits and a point."""
    assert fmt.plain(D("9.8E-7")) == "0.00000098" and fmt.plain(D("12.50")) == "12.50"
