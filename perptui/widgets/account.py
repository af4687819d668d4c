"""Cross-margin account health: the one panel that says how far the account is from trouble.

Why the gauge is margin usage (MMR / E_mm) and not a margin ratio of another venue's: it is
MECHANICS' own number, 100 % is exactly where liquidation starts, and the warning (E = 2 MMR,
50 %) and backstop (E = ACMR, MMR/ACMR) levels sit on the same scale.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from rich.markup import escape
from textual.content import Content
from textual.widgets import Static

from exchange_local.health import AccountHealth, CollateralLine
from perptui import format as fmt
from perptui.widgets.cached import update_static

WORD_STYLE = {"HEALTHY": "$success", "WATCH": "$warn", "DANGER": "$danger",
              "LIQUIDATING": "$liq", "NO EQUITY": "$liq", "NO ACCOUNT": "$primary"}  # fmt: skip
NO_ACCOUNT = "NO ACCOUNT"


def watch_only(health: AccountHealth) -> bool:
    """A venue with no account (a server key bound to none: the projector's, the teacher's)
    hands over an empty health without an account id; its zeros are nobody's equity."""
    return not health.account


def account_word(health: AccountHealth) -> str:
    """The panel's word: MECHANICS' status, except that an account a liquidation left flat
    with nothing is not called HEALTHY (students read that as "nothing happened"), and that
    a key with no account is not called anything an account can be."""
    if watch_only(health):
        return NO_ACCOUNT
    if health.status == "ok" and not health.positions and health.equity <= 0:
        return "NO EQUITY"
    return fmt.health_word(health.status, health.warning)


GAUGE_WIDTH = 30


def nearest_liquidation(health: AccountHealth) -> tuple[str, Decimal] | None:
    """(market, distance) of the position whose liquidation price is closest to its mark."""
    rows = [(p.market, p.distance_to_liquidation) for p in health.positions
            if p.distance_to_liquidation is not None]  # fmt: skip
    return min(rows, key=lambda r: r[1]) if rows else None


def gauge(health: AccountHealth, width: int = GAUGE_WIDTH) -> str:
    """`▕██████┊·····┃·······║▏ 43.1%`: usage, warning (50 %), liquidation (100 %), backstop."""
    usage = health.margin_usage
    backstop = health.mmr / health.acmr if health.acmr > 0 else Decimal(2)
    scale = max(backstop, Decimal(1)) * Decimal("1.05")
    marks = {int(Decimal("0.5") / scale * width): "┊", int(1 / scale * width): "┃",
             min(width - 1, int(backstop / scale * width)): "║"}  # fmt: skip
    if usage is None:
        filled = width if health.equity <= 0 and health.notional else 0
    else:
        filled = min(width, int(usage / scale * width))
    colour = "$success" if filled < width * 0.5 / float(scale) else "$warn"
    if (usage is not None and usage >= 1) or (usage is None and filled):
        colour = "$liq"
    cells = []
    for i in range(width):
        mark = marks.get(i)
        if i < filled:
            cells.append(f"[{colour}]{'█' if mark is None else mark}[/]")
        else:
            cells.append(mark or "·")
    label = fmt.pct(usage, 1) if usage is not None else ("∞" if health.notional else "0.0%")
    return "▕" + "".join(cells) + f"▏ {label}"


def status_markup(health: AccountHealth) -> str:
    """`● LIQUIDATING (backstop)`: the word, and the status where the word does not say it
    already ("● LIQUIDATING (liquidating)" said it twice)."""
    word = account_word(health)
    said = health.status in ("ok", "reduce_only") or health.status.upper() == word
    detail = "" if said else f" ({health.status})"
    return f"[b {WORD_STYLE[word]}]● {word}{detail}[/]"


def cells(markup: str) -> int:
    """Columns a line of content markup takes on screen."""
    return Content.from_markup(markup).cell_length


def fit(forms: list[str], width: int | None) -> str:
    """The first of `forms` (longest first) that fits `width` columns; the last where none
    does; the first where the width is not known."""
    if width is None:
        return forms[0]
    return next((f for f in forms if cells(f) <= width), forms[-1])


def account_markup(
    health: AccountHealth,
    narrow: bool = False,
    rows: int | None = None,
    width: int | None = None,
    fund: Decimal | None = None,
) -> str:
    """The panel as content markup; `narrow` is the one-line form of the 80-column layout.
    `rows`: the rows the panel has above the ticket; where the full form needs more, the
    tight form drops the gauge's legend, puts the nearest liquidation beside the leverage and
    writes each balance as "amount @ price × weight = value" with no header (at 120x36 the
    full form hid every collateral row under the ticket). `width`: the columns the panel has
    (None: not known yet); a line too long for them takes a shorter form rather than being
    cut (at 120 columns "● LIQUIDATING (liquidatin…" and "USD 12,077.32272 1.00 1.000
    12,077.…"). `fund`: the insurance fund's balance, to the cent, where the venue has one
    (a liquidation lesson is about it: "$20.0K" under the chart could not show +0.45)."""
    h = health
    if watch_only(h):
        return watch_only_markup(narrow)
    near = nearest_liquidation(h)
    gone = next((p for p in h.positions if p.liquidation_state != "ok"), None)
    if gone is not None:  # below maintenance: "0.0%" read as if a price were still ahead
        distance = gone.liquidation_state
        near_text = f"{distance} {gone.market}"
    else:
        distance = fmt.distance(near[1]) if near else fmt.DASH
        near_text = f"{distance} {near[0]}" if near else fmt.DASH
    # no leverage figure without equity: "0.00x" beside 326k of notional read as flat
    undefined = fmt.DASH if h.notional else None
    lev = f"{h.leverage:.2f}x" if h.leverage is not None else undefined or "0.00x"
    if narrow:  # one line of the 80-column layout: the word, equity, usage, leverage, nearest
        word = account_word(h)
        short_lev = f"{h.leverage:.1f}x" if h.leverage is not None else undefined or "0.0x"
        return (f"[b {WORD_STYLE[word]}]{word}[/] Eq {fmt.num(h.equity, 0)} "
                f"use {fmt.pct(h.margin_usage, 1)} {short_lev} liq {distance}")  # fmt: skip

    def pnl(v: Decimal, width: int) -> str:  # padded as plain text, then coloured
        colour = "$profit" if v > 0 else "$loss" if v < 0 else "$foreground"
        return f"[{colour}]{fmt.usd(v, sign=True):>{width}}[/]"

    full = _full_lines(h, near_text, lev, pnl, width, fund)
    if rows is None or len(full) <= rows:
        return "\n".join(squeezed(line, width) for line in full)
    tight = _tight_lines(h, near_text, lev, pnl, width, fund)
    for line in TIGHT_DROPS:  # a preview in the ticket takes more rows: give up these first
        if len(tight) <= rows:
            break
        tight = [t for t in tight if not t.startswith(line)]
    return "\n".join(squeezed(line, width) for line in tight)


def squeezed(line: str, width: int | None) -> str:
    """`line`, or where it is too long for `width`, with one space wherever it had several
    (the columns give way before a number is cut: "Equity E_mm 12,345,678.90" at 120)."""
    if width is None or cells(line) <= width:
        return line
    return line[:1] + re.sub(r" {2,}", " ", line[1:])


# rows the tight form gives up, in order, where even it does not fit above the ticket (a
# preview showing): each balance stays, the ETH row went under the ticket unseen. Unsettled
# PnL is settled into USD within 30 s, the fund is the market's, not the account's (and still
# under the chart at 160 columns), Free is in the preview, ACMR on the gauge's scale.
TIGHT_DROPS = (" Unsettled ", " Ins. fund ", " ACMR ", " IMR ")


def _title(h: AccountHealth, width: int | None) -> str:
    status = status_markup(h)
    return fit([f"[b]Account[/b] · cross · USD   {status}", f"[b]Account[/b] · cross {status}",
                f"[b]Account[/b] {status}", status], width)  # fmt: skip


def _figures(h: AccountHealth, pnl: Any, width: int | None) -> list[str]:
    """The title, equity and requirement rows and the gauge: the same in both forms.
    Requirements are rounded up to the cent and free collateral down (a requirement shown
    a cent short read as met when it was not)."""
    return [
        _title(h, width),
        f" Equity E_mm {fmt.usd(h.equity):>11}  Init E_im {fmt.usd(h.initial_equity):>11}",
        f" Unsettled   {pnl(h.unsettled_pnl, 11)}  uPnL      {pnl(h.unrealized_pnl, 11)}",
        f" IMR         {fmt.usd_up(h.imr):>11}  MMR       {fmt.usd_up(h.mmr):>11}",
        f" ACMR        {fmt.usd_up(h.acmr):>11}  Free      {fmt.usd_down(h.free_collateral):>11}",
        f" Usage {gauge(h)}",
    ]


PRICE_PLACES = 10  # an index's own digits, at most: EUR 0.951234567 is nine


def balance_amount(line: CollateralLine) -> str:
    """A balance with the digits it has, on its asset's decimals (AssetSpec.decimals, as the
    venue noted them, else the exchange's defaults), at least cents: 0.00999 BTC read 0.0100
    and AAPL 6.666667 read 6.6667 on a fixed four, and the row did not add up."""
    places = fmt.asset_decimals(line.asset)
    return fmt.trimmed(line.amount, places)


def row_label(line: CollateralLine) -> str:
    """What a collateral row is when its asset alone misleads: Hyperliquid's isolated margin
    is USDC too, and a second "USDC 300.00" row read as a duplicate. "" for a plain one."""
    return str(getattr(line, "label", ""))


def balance_price(line: CollateralLine) -> str:
    """The index with its own digits, at least cents: amount x price x weight then gives the
    value shown to the cent (EUR at 0.951234567 read 0.95, and 1,000.00 x 0.95 x 0.99 is not
    the 941.72 beside it)."""
    return fmt.trimmed(line.price, PRICE_PLACES)


def balance_weight(line: CollateralLine) -> str:
    """The weight to four decimals, rounded down (fmt.weight): AAPL's 0.85970512 read 0.860,
    and 50,000 x 230 x 0.860 is 9,890,000, not the 9,886,608.83 beside it."""
    return fmt.weight(line.weight)


def at_par(line: CollateralLine) -> bool:
    """A balance counted one for one (USD, USDC): its value is its amount, so its amount to
    the cent and its price and weight say nothing the value does not."""
    return line.price == 1 and line.weight == 1 and not row_label(line)


Balance = tuple[str, str, str, str, str, str]  # asset, amount, price, weight, value, label


def balances(h: AccountHealth, cents: bool = False) -> list[Balance]:
    """Each non-zero balance's cells as plain text; `cents`: a balance at par to the cent."""
    out = []
    for c in h.collateral:
        if c.amount == 0:
            continue
        amount = fmt.usd(c.amount) if cents and at_par(c) else balance_amount(c)
        out.append((c.asset, amount, balance_price(c), balance_weight(c), fmt.usd(c.value),
                    escape(row_label(c))))  # fmt: skip
    return out


# the collateral rows' forms, widest first: (the fixed columns, balances at par to the cent,
# with the price and weight columns)
COLLATERAL_FORMS = ((True, False, True), (False, False, True), (False, True, True),
                    (False, True, False))  # fmt: skip
FIXED_WIDTHS = {False: (5, 10, 11, 6, 11), True: (4, 9, 10, 6, 9)}  # full, tight form
COLLATERAL = " [b]Collateral[/b] "  # 12 cells: the header over the asset and amount columns


def _collateral_forms(h: AccountHealth, tight: bool) -> list[list[str]]:
    """The balance rows (with their header in the full form), widest first: the columns the
    panel has always had; each column as wide as its widest cell; balances at par to the
    cent; without the price and weight columns (the value stays: it is what counts)."""
    forms = []
    for fixed, cents, priced in COLLATERAL_FORMS:
        rows = balances(h, cents)
        if fixed:
            a, m, p, w, v = FIXED_WIDTHS[tight]
        else:
            a, m, p, w, v = (max([len(r[i]) for r in rows], default=0) for i in range(5))
            labels = max([len(r[5]) for r in rows], default=0)
            p = max(p, labels - 1 - w) if priced else p
            if not tight:  # the header's words: "Collateral amount" over the first two
                a, p, w, v = max(a, 5), max(p, 5), max(w, 6), max(v, 5)
                m = max(m, 15 - a)
        lines = []
        if not tight:
            head = f"{COLLATERAL}{'amount':>{2 + a + 1 + m - 12}}"
            tail = f" {'price':>{p}} {'weight':>{w}}" if priced else ""
            lines.append(f"{head}{tail} {'value':>{v}}")
        for asset, amount, price, weight, value, label in rows:
            if tight:
                middle = (f"   {label:<{p + 3 + w}}" if label else
                          f" @ {price:>{p}} × {weight}" if priced else "")  # fmt: skip
                equals = " = " if priced or label else " → "
                lines.append(f" [b]{asset:<{a}}[/b] {amount:>{m}}{middle}{equals}{value:>{v}}")
            else:
                middle = (f" {label:>{p + 1 + w}}" if label and priced else f" {label}" if label
                          else f" {price:>{p}} {weight:>{w}}" if priced else "")  # fmt: skip
                lines.append(f"  {asset:<{a}} {amount:>{m}}{middle} {value:>{v}}")
        forms.append(lines)
    return forms


def _fitted(forms: list[list[str]], width: int | None) -> list[str]:
    """The first form whose every line fits `width` (the last where none does)."""
    if width is None:
        return forms[0]
    return next((f for f in forms if all(cells(line) <= width for line in f)), forms[-1])


def _full_lines(h: AccountHealth, near_text: str, lev: str, pnl: Any, width: int | None = None,
                fund: Decimal | None = None) -> list[str]:  # fmt: skip
    lines = [
        *_figures(h, pnl, width),
        f"        warn 50% ┊ liq 100% ┃ backstop ║ {fmt.pct(h.mmr / h.acmr, 0) if h.acmr else ''}",
        f" Margin frac {fmt.pct(h.margin_fraction, 2):>11}  Leverage  {lev:>11}",
    ]
    near = f" Nearest liq {near_text:>11}"
    if fund is None:
        lines.append(near)
    else:  # beside the nearest liquidation where it fits, else under it
        beside = f"{near}  Ins. fund {fmt.usd(fund):>11}"
        if width is None or cells(beside) <= width:
            lines.append(beside)
        else:
            lines += [near, f" Ins. fund   {fmt.usd(fund):>11}"]
    lines += _fitted(_collateral_forms(h, tight=False), width)
    return lines + _negative_usd(h, width)


def _tight_lines(h: AccountHealth, near_text: str, lev: str, pnl: Any, width: int | None = None,
                 fund: Decimal | None = None) -> list[str]:  # fmt: skip
    # MECHANICS's MF: "Margin frac" cut the market off the line's end at 120 columns
    risk = f" MF {fmt.pct(h.margin_fraction, 2)}  Lev {lev}"
    lines = [
        *_figures(h, pnl, width),
        fit([f"{risk}  Nearest liq {near_text}", f"{risk}  liq {near_text}"], width),
    ]
    if fund is not None:
        lines.append(f" Ins. fund   {fmt.usd(fund):>11}")
    lines += _fitted(_collateral_forms(h, tight=True), width)
    return lines + _negative_usd(h, width)


def _negative_usd(h: AccountHealth, width: int | None = None) -> list[str]:
    """The loan's warning, in the words that fit (at 120 columns the panel has 50, and the
    whole sentence is 66)."""
    if any(c.amount < 0 for c in h.collateral):
        return [fit([f" [$warn]{words}[/]" for words in NEGATIVE_USD], width)]
    return []


NEGATIVE_USD = ("USD is negative: a loan against your coins (u: convert to repay)",
                "USD is negative: a loan (u: convert to repay)",
                "USD < 0: a loan (u: convert)")  # fmt: skip


def watch_only_markup(narrow: bool = False) -> str:
    """The panel of a key bound to no account: what it is, not an empty account's zeros."""
    word = f"[b {WORD_STYLE[NO_ACCOUNT]}]{NO_ACCOUNT}[/]"
    if narrow:
        return f"{word} watch-only: the market only"  # one line of 80 columns
    return "\n".join([
        f"[b]Account[/b] · watch-only   {word}",
        " watch-only: this key has no account — the market only",
        " (no equity, margin, positions or orders of its own)",
    ])  # fmt: skip


class AccountPanel(Static):
    """Updated from each frame; the layout class `-narrow` on the screen picks the short form."""

    DEFAULT_CSS = """
    AccountPanel { height: auto; padding: 0 1; }
    """

    narrow = False
    rows: int | None = None  # the rows above the ticket (MainScreen), None: no limit

    def show(self, health: AccountHealth, fund: Decimal | None = None) -> None:
        """`fund`: the insurance fund's balance where the venue has one (None: not shown)."""
        width = self.content_region.width or None  # 0 before the first layout: not known
        update_static(self, account_markup(health, self.narrow, self.rows, width, fund))
