"""Cross-margin account health: the one panel that says how far the account is from trouble.

Why the gauge is margin usage (MMR / E_mm) and not a margin ratio of another venue's: it is
MECHANICS' own number, 100 % is exactly where liquidation starts, and the warning (E = 2 MMR,
50 %) and backstop (E = ACMR, MMR/ACMR) levels sit on the same scale.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.markup import escape
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
    word = account_word(health)
    detail = "" if health.status in ("ok", "reduce_only") else f" ({health.status})"
    return f"[b {WORD_STYLE[word]}]● {word}{detail}[/]"


def account_markup(health: AccountHealth, narrow: bool = False, rows: int | None = None) -> str:
    """The panel as content markup; `narrow` is the one-line form of the 80-column layout.
    `rows`: the rows the panel has above the ticket; where the full form needs more, the
    tight form drops the gauge's legend, puts the nearest liquidation beside the leverage and
    writes each balance as "amount @ price × weight = value" with no header (at 120x36 the
    full form hid every collateral row under the ticket)."""
    h = health
    if watch_only(h):
        return watch_only_markup(narrow)
    near = nearest_liquidation(h)
    gone = next((p for p in h.positions if p.liquidation_state != "ok"), None)
    if gone is not None:  # below maintenance: "0.0%" read as if a price were still ahead
        distance = gone.liquidation_state
        near_text = f"{distance} {gone.market}"
    else:
        distance = fmt.pct(near[1], 1) if near else fmt.DASH
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

    full = _full_lines(h, near_text, lev, pnl)
    if rows is None or len(full) <= rows:
        return "\n".join(full)
    tight = _tight_lines(h, near_text, lev, pnl)
    for line in TIGHT_DROPS:  # a preview in the ticket takes more rows: give up these first
        if len(tight) <= rows:
            break
        tight = [t for t in tight if not t.startswith(line)]
    return "\n".join(tight)


# rows the tight form gives up, in order, where even it does not fit above the ticket (a
# preview showing): each balance stays, the ETH row went under the ticket unseen. Unsettled
# PnL and uPnL are in the positions table, Free in the preview, ACMR on the gauge's scale.
TIGHT_DROPS = (" Unsettled ", " ACMR ", " IMR ")


def _figures(h: AccountHealth, pnl: Any) -> list[str]:
    """The title, equity and requirement rows and the gauge: the same in both forms."""
    return [
        f"[b]Account[/b] · cross · USD   {status_markup(h)}",
        f" Equity E_mm {fmt.usd(h.equity):>11}  Init E_im {fmt.usd(h.initial_equity):>11}",
        f" Unsettled   {pnl(h.unsettled_pnl, 11)}  uPnL      {pnl(h.unrealized_pnl, 11)}",
        f" IMR         {fmt.usd(h.imr):>11}  MMR       {fmt.usd(h.mmr):>11}",
        f" ACMR        {fmt.usd(h.acmr):>11}  Free      {fmt.usd(h.free_collateral):>11}",
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


def _full_lines(h: AccountHealth, near_text: str, lev: str, pnl: Any) -> list[str]:
    lines = [
        *_figures(h, pnl),
        f"        warn 50% ┊ liq 100% ┃ backstop ║ {fmt.pct(h.mmr / h.acmr, 0) if h.acmr else ''}",
        f" Margin frac {fmt.pct(h.margin_fraction, 2):>11}  Leverage  {lev:>11}",
        f" Nearest liq {near_text:>11}",
        f" [b]Collateral[/b] {'amount':>6} {'price':>11} {'weight':>6} {'value':>11}",
    ]
    for c in h.collateral:
        if c.amount == 0:
            continue
        label = escape(row_label(c))  # an isolated margin says so where price x weight was
        middle = f" {label:>18}" if label else (
            f" {balance_price(c):>11} {fmt.num(c.weight, 3):>6}")  # fmt: skip
        lines.append(f"  {c.asset:<5} {balance_amount(c):>10}{middle} {fmt.usd(c.value):>11}")
    lines += _negative_usd(h)
    return lines


def _tight_lines(h: AccountHealth, near_text: str, lev: str, pnl: Any) -> list[str]:
    lines = [
        *_figures(h, pnl),
        # MECHANICS's MF: "Margin frac" cut the market off the line's end at 120 columns
        f" MF {fmt.pct(h.margin_fraction, 2)}  Lev {lev}  Nearest liq {near_text}",
    ]
    for c in h.collateral:
        if c.amount == 0:
            continue
        label = escape(row_label(c))
        middle = f"   {label:<18}" if label else (
            f" @ {balance_price(c):>10} × {fmt.num(c.weight, 3)}")  # fmt: skip
        lines.append(f" [b]{c.asset:<4}[/b] {balance_amount(c):>9}{middle} = "
                     f"{fmt.usd(c.value):>9}")  # fmt: skip
    return lines + _negative_usd(h)


def _negative_usd(h: AccountHealth) -> list[str]:
    if any(c.amount < 0 for c in h.collateral):
        return [" [$warn]USD is negative: a loan against your coins (u: convert to repay)[/]"]
    return []


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

    def show(self, health: AccountHealth) -> None:
        update_static(self, account_markup(health, self.narrow, self.rows))
