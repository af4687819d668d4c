"""The explain screen shows exchange_local's own explanation, term by term, and a what-if that
agrees with perptui.whatif. Pilot against a LocalVenue on a manual clock (nothing moves unless
the test advances it, so the numbers on screen can be compared exactly)."""

from __future__ import annotations

import io
from decimal import Decimal

from rich.console import Console
from textual.widget import Widget
from textual.widgets import Input, Static

from exchange_local import Exchange, ExchangeConfig
from exchange_local.explain import Explanation
from perptui import format as fmt
from perptui import whatif
from perptui.derivation import Derivation
from perptui.screens.explain import ExplainScreen
from perptui.stress import STATUS_WORDS
from perptui.venues.base import OrderRequest
from tests.tui_support import PaperHost

D = Decimal


def plain(static: Widget, width: int = 160) -> str:
    """What a Static shows, as text (Rich tables rendered at a width with no wrapping)."""
    assert isinstance(static, Static)
    content = static.content
    if hasattr(content, "plain"):
        return str(content.plain)
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(content)
    return console.export_text()


def derivation(screen: ExplainScreen) -> str:
    return "\n".join(plain(s) for s in screen.query("#derivation > Static") if s.display)


async def test_numbers_match_exchange_local_and_the_whatif_moves() -> None:
    app = PaperHost()
    async with app.run_test(size=(120, 36)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        ex = venue.ex
        assert ex is not None
        expected = ex.explain(venue.account, "BTC-PERP")
        state = ex.market("BTC-PERP")
        assert screen.expl == expected
        p_liq, p_bk = expected.liquidation_price, expected.bankruptcy_price
        assert p_liq is not None and p_bk is not None and expected.zero_price is not None
        liq_text = fmt.liq_price(p_liq, expected.mark, state.tick)
        bk_text = fmt.liq_price(p_bk, expected.mark, state.tick)  # on the tick, toward the mark

        title = plain(screen.query_one("#explain-title", Static))
        assert f"liq {liq_text}" in title and f"bk {bk_text}" in title
        assert "LONG 0.5000" in title

        text = derivation(screen)
        assert f"p_liq shown {liq_text}" in text and f"p_bk shown {bk_text}" in text
        assert fmt.num(p_liq, 6) in text and fmt.num(p_bk, 6) in text
        for term in (*expected.collateral_terms, *expected.liquidation_numerator,
                     *expected.bankruptcy_numerator, *expected.mmr_terms):  # fmt: skip
            assert term.name in text and fmt.num(term.value, 2) in text, term
        num = sum((t.value for t in expected.liquidation_numerator), D(0))
        assert fmt.num(num, 2) in text
        assert "= E_mm = C_tot + unsettled PnL" in text and fmt.usd(expected.equity) in text
        assert fmt.usd(expected.zero_price) in text
        assert "0.0975" in text  # k: 0.1 BTC of collateral at w_tot 0.975

        await pilot.press("d")  # the ledger's quantum: every term to 6 places
        assert fmt.num(expected.equity, 6) in derivation(screen)

        # what-if: three steps of 1 % down from the mark, then an exact price past p_bk
        line = whatif.from_explanation(
            expected, whatif.other_notional(ex.health(venue.account), "BTC-PERP")
        )
        await pilot.press("left", "minus", "left")
        p = expected.mark
        for _ in range(3):
            p = ((p - expected.mark / 100) / state.tick).to_integral_value() * state.tick
        assert screen.target == p
        head = plain(screen.query_one("#whatif-head", Static))
        assert fmt.price(p, state.tick) in head and fmt.usd(line.equity_at(p)) in head
        assert fmt.usd_up(line.mmr_at(p)) in head and STATUS_WORDS[line.status_at(p)] in head

        await pilot.press("p")
        assert isinstance(app.focused, Input)
        target = (p_bk - 100).quantize(D(1))
        app.focused.value = str(target)  # as typed (typing is Input's business, not ours)
        await pilot.press("enter")
        assert screen.target == target
        head = plain(screen.query_one("#whatif-head", Static))
        assert "BANKRUPT" in head and fmt.usd(line.equity_at(target)) in head
        assert line.equity_at(target) < 0
        assert app.focused is not None and app.focused.id == "derivation"  # keys work again
        await pilot.press("p")
        app.focused.value = f"{(p_liq - 1):.1f}"  # just past p_liq: under maintenance
        await pilot.press("enter")
        head = plain(screen.query_one("#whatif-head", Static))
        assert "LIQ" in head or "BACKSTOP" in head
        await pilot.press("0")
        assert screen.target is None

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExplainScreen)
    await app.venue.stop()


async def test_a_zero_price_below_nothing_reads_as_none_in_the_header() -> None:
    app = PaperHost()
    async with app.run_test(size=(80, 24)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.05"), type="market"))
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.expl is not None and screen.expl.zero_price is not None
        assert screen.expl.zero_price < 0  # 22,600 of collateral behind 5,000 of BTC
        title = plain(screen.query_one("#explain-title", Static))
        assert title.endswith("zero —") and "-" not in title.split("zero")[-1], title
        assert fmt.usd(screen.expl.zero_price) in derivation(screen)  # the formula's answer
    await app.venue.stop()


async def test_no_position_says_so_and_t_closes() -> None:
    app = PaperHost()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ExplainScreen(app.venue, "SOL-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        assert screen.expl is None
        assert "There is no SOL-PERP position" in plain(screen.query_one("#no-position", Static))
        assert not screen.query_one("#whatif").display
        await pilot.press("left")  # nothing to move: no error
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, ExplainScreen)
    await app.venue.stop()


async def test_the_screen_follows_the_venue() -> None:
    """A shock on the venue shows up at the next poll (the timer runs it at about 2 Hz)."""
    app = PaperHost()
    async with app.run_test(size=(80, 24)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("ETH-PERP", "sell", D("2"), type="market"))
        screen = ExplainScreen(venue, "ETH-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        before = screen.expl
        assert before is not None and before.size == D(-2)
        assert screen.has_class("-narrow")
        await venue.shock("ETH", D("0.05"))
        await venue.advance(D(1))
        await screen.poll()
        assert screen.expl is not None and screen.expl != before
        assert venue.ex is not None
        assert screen.expl == venue.ex.explain(venue.account, "ETH-PERP")
        head = plain(screen.query_one("#whatif-head", Static))
        assert "What if p =" in head  # the one-line form of the narrow layout
    await app.venue.stop()


def tables_text(expl: Explanation, ex: Exchange, market: str) -> str:
    console = Console(width=160, record=True, file=io.StringIO(), color_system=None)
    for table in Derivation(expl, ex.health("a"), ex.market(market)).tables():
        console.print(table)
    return console.export_text()


def test_no_price_and_liquidation_now_are_said_in_words() -> None:
    """A short hedged by more coins than it shorts has no liquidation price; a crashed long
    is liquidated "now" and the derivation says the price is where it would recover."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("a")
    ex.deposit("a", "ETH", D(10))
    ex.create_account("b")
    ex.deposit("b", "USD", D(10_000_000))
    ex.place_order("b", "ETH-PERP", "buy", D(1), price=D(3000))
    ex.place_order("a", "ETH-PERP", "sell", D(1), type="market")
    expl = ex.explain("a", "ETH-PERP")
    assert expl.liquidation_price is None and expl.bankruptcy_price is None
    text = tables_text(expl, ex, "ETH-PERP")
    assert "p_liq: none" in text and "p_bk: none" in text
    assert "no positive price solves it" in text

    ex.place_order("b", "BTC-PERP", "sell", D(2), price=D(100_000))
    ex.place_order("a", "BTC-PERP", "buy", D(2), type="market")
    ex.set_index_price("BTC", D(88_000))  # no tick yet: the engine has not acted
    expl = ex.explain("a", "BTC-PERP")
    assert expl.liq_state == "now"
    text = tables_text(expl, ex, "BTC-PERP")
    assert "state: now: E_mm < MMR already" in text
    assert "where the account would recover" in text
    assert ExplainScreen.liq_text(expl, D("0.5")) == "now"


def test_a_narrow_derivation_keeps_the_words_of_its_terms_whole():
    from rich.console import Console

    from exchange_local import Exchange, ExchangeConfig
    from perptui.derivation import Derivation

    ex = Exchange(ExchangeConfig(mark_source="index"))
    for name in ("u", "mm"):
        ex.create_account(name)
        ex.deposit(name, "USD", D(100000))
    ex.deposit("u", "BTC", D("0.1"))
    ex.place_order("mm", "BTC-PERP", "sell", D(1), price=D(100000))
    ex.place_order("u", "BTC-PERP", "buy", D(1), type="market")
    e, h, ms = ex.explain("u", "BTC-PERP"), ex.health("u"), ex.market("BTC-PERP")
    console = Console(width=38, record=True)
    for table in Derivation(e, h, ms, 2, width=38).tables():
        console.print(table)
    text = console.export_text()
    broken = [
        line for line in text.splitlines() if "collatera" in line and "collateral" not in line
    ]
    assert "collateral" in text and not broken  # at 100 columns it was "collatera" / "l"


async def test_the_adl_queue_is_explained_with_the_exchanges_own_ranking() -> None:
    """TUI.md's teach screen has an ADL explanation; it had none. Its score is the engine's."""
    from perptui.adl_text import adl_score

    app = PaperHost()
    async with app.run_test(size=(160, 48)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D("0.5"), type="market"))
        ex = venue.ex
        assert ex is not None
        ex.set_index_price("BTC", D(101_000))
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        health = ex.health(venue.account)
        position = next(p for p in health.positions if p.market == "BTC-PERP")
        ranking = ex._adl_ranking(ex._markets["BTC-PERP"], long_side=True)
        engine = next(-score for score, _, who in ranking if who == venue.account)
        ratio, leverage, score = adl_score(position, health.equity)
        assert score == engine
        text = plain(screen.query_one("#adl", Static))
        assert text.startswith("Auto-deleveraging (stage 5)")
        assert "If a short goes bankrupt" in text and "closes long positions" in text
        assert f"mark / entry {fmt.num(ratio, 4)} × notional / E_mm {fmt.num(leverage, 2)}" in text
        assert f"score {fmt.num(score, 2)}" in text
        quintile = position.adl_quintile
        assert (f"quintile {quintile} of 5" if quintile else "not ranked yet") in text


async def test_the_ladder_marks_liq_and_bk_on_their_own_prices_with_what_they_bring() -> None:
    """ "◀ liq" sat on the row nearest p_liq, 225 above it and still WATCH; "◀ bk" on a
    BACKSTOP row: the rows are now drawn at those prices, with the status a tick past them."""
    from perptui.widgets.whatif_plot import WhatIfPlot

    app = PaperHost()
    async with app.run_test(size=(160, 48)) as pilot:
        venue = app.venue
        await venue.place_order(OrderRequest("BTC-PERP", "buy", D(3), type="market"))
        screen = ExplainScreen(venue, "BTC-PERP")
        await app.push_screen(screen)
        await pilot.pause()
        e = screen.expl
        assert e is not None and e.liquidation_price and e.bankruptcy_price
        rows = screen.query_one(WhatIfPlot).render().plain.splitlines()
        tick = screen.tick()
        liq = next(r for r in rows if r.rstrip().endswith("◀ liq"))
        bk = next(r for r in rows if r.rstrip().endswith("◀ bk"))
        # on the tick toward the mark, as the title and the positions table show them
        shown_liq = fmt.liq_price(e.liquidation_price, e.mark, tick)
        shown_bk = fmt.liq_price(e.bankruptcy_price, e.mark, tick)
        assert liq.split()[0] == shown_liq and " LIQ " in liq
        assert bk.split()[0] == shown_bk and " BANKRUPT " in bk
