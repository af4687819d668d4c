"""The ticket as a keyboard-only trader sees it, at the sizes TUI.md names (80x24, 120x36,
160x48) and the 30-row ones testers use: what is on screen, not what the widgets hold.

"On screen" is read from the composited screen: a widget is in view when the screen's
widget at each of its corners is the widget itself (nothing scrolled over it, no container
clipping it) and the row there shows its text.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from perptui.app import PREVIEW_EVERY_FRAMES, PerpApp
from perptui.settings import Settings
from tests.tui_support import app_for, teaching_venue

D = Decimal
SIZES = [(80, 24), (100, 30), (130, 30), (120, 36), (160, 48)]


def screen_rows(app: PerpApp) -> list[Strip]:
    return app.screen._compositor.render_strips()


def row_text(app: PerpApp, y: int, region: Region | None = None) -> str:
    strip = screen_rows(app)[y]
    if region is not None:
        strip = strip.crop(region.x, region.right)
    return strip.text


def assert_in_view(app: PerpApp, widget: Widget) -> None:
    """The whole of `widget` is on the screen and drawn: inside the screen, inside its
    scrolling column's visible region, and the topmost widget at its four corners."""
    region = widget.region
    assert region.height > 0 and region.width > 0, f"{widget} has no room on screen"
    assert app.screen.region.contains_region(region), f"{widget} {region} is off the screen"
    column = app.main.query_one("#right")
    assert column.region.contains_region(region), (
        f"{widget} {region} is scrolled out of the column {column.region}"
    )
    for x, y in ((region.x, region.y), (region.right - 1, region.bottom - 1)):
        top, _ = app.screen.get_widget_at(x, y)
        assert top is widget or widget in top.ancestors, f"{widget} is covered at {x},{y} by {top}"


async def type_size(pilot, app: PerpApp, size: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("b", *size)
    await pilot.pause()
    await app.frame()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(
    ("typed", "verdict"), [("0.5", "✓ would be accepted"), ("50", "✗ would be refused")]
)
async def test_while_typing_the_verdict_and_the_send_button_are_in_view(
    size: tuple[int, int], typed: str, verdict: str
):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await type_size(pilot, app, typed)
        preview = app.main.query_one("#preview")
        submit = app.main.query_one("#submit")
        assert_in_view(app, submit)
        assert f"BUY / LONG {typed} BTC-PERP" in row_text(app, submit.region.y, submit.region)
        assert_in_view(app, preview)
        # the verdict is the preview's last line, one row, right over the button
        rows = range(preview.region.y, preview.region.bottom)
        shown = [row_text(app, y, preview.region) for y in rows]
        verdicts = [line for line in shown if line.strip().startswith(("✓", "✗"))]
        assert verdicts and verdicts[0].strip().startswith(verdict), shown
        assert "IMR" in " ".join(shown) and "Est. liq" in " ".join(shown), shown
        # the account stays on screen too, if only its first line on the smallest screen
        account = app.main.query_one("#account")
        assert app.main.query_one("#right").region.contains_point(account.region.offset)


async def test_a_fill_is_reported_above_the_refusal_of_sending_it_again_at_80x24():
    venue = teaching_venue()
    app = app_for(venue)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")  # market
        await type_size(pilot, app, "4")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        for _ in range(PREVIEW_EVERY_FRAMES + 1):  # the preview of sending it again
            await app.frame()
            await pilot.pause()
        assert venue.ex.positions(venue.account), "the market order did not fill"
        message = app.main.query_one("#message")
        preview = app.main.query_one("#preview")
        assert_in_view(app, message)
        assert_in_view(app, preview)
        assert_in_view(app, app.main.query_one("#submit"))
        text = row_text(app, message.region.y, message.region)
        assert text.strip().startswith("✓ order") and "filled" in text, text
        refusal = next(y for y in range(preview.region.y, preview.region.bottom)
                       if "would be refused" in row_text(app, y, preview.region))  # fmt: skip
        assert message.region.y < refusal
        # the refusal's whole text is at hand though its line is cut to the column
        assert "insufficient margin" in str(preview.tooltip)


@pytest.mark.parametrize("size", [*SIZES, (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_order_type_reads_take_profit_in_full(size: tuple[int, int]):
    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.press("m", "m", "m")
        await pilot.pause()
        kind = app.main.query_one("#type")
        tif = app.main.query_one("#tif")
        assert "Take-profit" in row_text(app, kind.region.y, kind.region)
        assert "GTC" in row_text(app, tif.region.y, tif.region)
        assert app.main.query_one("#right").region.contains_region(tif.region)


def label_style(app: PerpApp, widget: Widget) -> tuple[str, Style]:
    """The text a one-row button shows and the style of its first letter, as composited."""
    region = widget.region
    strip = screen_rows(app)[region.y].crop(region.x, region.right)
    style = next((seg.style for seg in strip if seg.text.strip() and seg.style), Style())
    return strip.text, style


def visible_colours(style: Style) -> tuple[object, object]:
    fg, bg = style.color, style.bgcolor
    return (bg, fg) if style.reverse else (fg, bg)


@pytest.mark.parametrize(
    "theme", ["ansi-dark", "ansi-light", "perptui-dark", "perptui-light", "perptui-cb"]
)
async def test_the_chosen_side_is_labelled_and_marked_in_every_theme(theme: str):
    app = PerpApp(teaching_venue(), Settings(theme=theme), frame_loop=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        for key, chosen, other in (("b", "BUY", "SELL"), ("s", "SELL", "BUY")):
            await pilot.press(key)
            await pilot.pause()
            mine = app.main.query_one(f"#side-{chosen.lower()}")
            text, style = label_style(app, mine)
            assert f"▶ {chosen}" in text, (theme, text)
            fg, bg = visible_colours(style)
            assert fg != bg, (theme, style)
            _, other_style = label_style(app, app.main.query_one(f"#side-{other.lower()}"))
            assert visible_colours(style) != visible_colours(other_style), (theme, style)


async def test_a_side_chosen_with_its_own_button_stays_marked():
    """Enter on the SELL button: Button's press flash (its class -active) went off after
    a moment and took the ticket's mark of the chosen side with it."""
    app = app_for(teaching_venue())
    async with app.run_test(size=(120, 36)) as pilot:
        await app.frame()
        _, before = label_style(app, app.main.query_one("#side-sell"))
        app.main.query_one("#side-sell").focus()
        await pilot.press("enter")
        await pilot.pause(0.5)  # longer than the press flash
        app.screen.set_focus(None)  # compared unfocused, as before
        await pilot.pause()
        assert app.main.query_one("OrderTicket").form.side == "sell"
        text, after = label_style(app, app.main.query_one("#side-sell"))
        assert "▶ SELL" in text
        assert after.bgcolor != before.bgcolor, (before, after)


async def test_an_order_with_only_warnings_still_says_it_would_be_accepted():
    """With a warning alone (liquidation within 10 % of the mark) the ✓ line was missing."""
    app = app_for(teaching_venue())
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("b")
        await type_size(pilot, app, "4")
        shown = str(app.main.query_one("#preview").render())
        assert "⚠" in shown and "✗" not in shown, shown
        lines = shown.splitlines()
        ok = [i for i, line in enumerate(lines) if "✓ would be accepted now" in line]
        warn = [i for i, line in enumerate(lines) if line.startswith("⚠")]
        assert ok and warn and ok[0] < warn[0], shown


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_a_market_order_shows_no_price_and_a_limit_gets_its_price_back(
    size: tuple[int, int],
) -> None:
    """The greyed-out limit price stayed in a market order's row and read as the price it
    would pay; it now says the book's prices and the limit comes back with a limit order."""
    from perptui.widgets.order_ticket import OrderTicket

    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await type_size(pilot, app, "0.5")
        ticket = app.main.query_one(OrderTicket)
        price = ticket.query_one("#price")
        limit = price.value  # type: ignore[attr-defined]
        row = price.region.y
        await pilot.press("m")  # limit -> market
        await pilot.pause()
        assert ticket.form.type == "market"
        shown = row_text(app, row, ticket.region)
        assert "best book prices, see Est. fill" in shown  # whole, also at 80 columns
        assert limit not in shown.replace(",", "")
        for _ in range(3):  # market -> stop -> take-profit -> limit
            await pilot.press("m")
            await pilot.pause()
        assert ticket.form.type == "limit" and ticket.form.price == limit
        assert limit in row_text(app, row, ticket.region)


@pytest.mark.parametrize("size", [(120, 36), (124, 40), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_collateral_balance_is_in_view_above_the_ticket(size: tuple[int, int]) -> None:
    """At 120x36 (a size TUI.md names) the full panel needed 13 rows of the 10 above the
    ticket, and its collateral rows were under it: a tight form takes over where it must."""
    from perptui.widgets.account import AccountPanel
    from perptui.widgets.order_ticket import OrderTicket

    app = app_for(teaching_venue())
    async with app.run_test(size=size) as pilot:
        await app.frame()
        await pilot.pause()
        await app.frame()
        await pilot.pause()
        panel = app.main.query_one(AccountPanel)
        assert panel.region.height >= panel.virtual_region.height  # nothing scrolled away
        shown = "\n".join(row_text(app, y) for y in range(app.screen.size.height))
        assets = [c.asset for c in app.snapshot.health.collateral if c.amount]  # type: ignore[union-attr]
        assert assets and all(f" {asset} " in shown for asset in assets), (assets, shown)
        assert "Usage" in shown and "Free" in shown
        venue = app.venue
        venue.ex.place_order(venue.account, "BTC-PERP", "buy", D("1.5"), type="market")
        await type_size(pilot, app, "20")  # a refusal previewed in the ticket: more rows below
        await app.frame()
        await pilot.pause()
        ticket = app.main.query_one(OrderTicket)
        column = app.main.query_one("#right").region
        above = "\n".join(row_text(app, y, column) for y in range(panel.region.y, ticket.region.y))
        assert all(f" {asset} " in above for asset in assets), (assets, above)
        assert "Usage" in above and "Equity" in above
