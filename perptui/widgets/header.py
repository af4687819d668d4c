"""The market header: venue and connection, prices, open interest, funding and the countdowns.

Why countdowns to both funding and settlement: funding moves cash once an hour, settlement
every 30 s turns unsettled PnL into USD that can open new risk; both change what a trader sees.
"""

from __future__ import annotations

from decimal import Decimal

from textual.content import Content
from textual.markup import escape
from textual.widgets import Static

from exchange_local.engine import MarketState
from perptui import format as fmt
from perptui.venues.base import ClockInfo, Connection
from perptui.widgets.cached import update_static

COMPACT_WIDTH = 100  # columns under which the header takes its short form
# What the full form gives up, in this order, before it falls to the short form: each is read
# less than what is still there. At 120 columns the header went straight from the full form
# to the short one, and the index, 24 h change and OI left the screen: the OI cap (a real
# venue has none), the second funding rate (the last one paid stays, or the predicted one,
# saying so), the " │ " between the pieces (two spaces, as in TUI.md's sketch), the words
# "Fund" and "settle" (F and S, as in the short form), the venue's longer name (a demo's
# lesson, a server's port, a replay's file: `venue_forms`), the settlement countdown, then
# OI and last the 24 h change; mark, index and the funding countdown go on to the short
# form. Why the settlement countdown before OI: from 120 columns the README promises mark,
# index, 24 h, OI and funding, and a demo at 20x still lost OI for "S 00:18".
TRIMS = ("oi cap", "one rate", "bars", "letters", "venue", "settle", "oi", "24h")
VENUE_CUTS = (12, 8)  # cells a longer venue name is cut to in the last forms, "…" included


def shown_venue(venue: str) -> str:
    """The venue's name as a header shows it: a file's path as its file name (`perptui
    replay --db /home/teacher/classes/2025-03/crash.sqlite` put the whole path in the header
    and pushed the index, the 24 h change and OI off it at 120 columns)."""
    return " ".join(word.rsplit("/", 1)[-1] or word if "/" in word else word
                    for word in venue.split(" "))  # fmt: skip


def venue_forms(venue: str) -> list[str]:
    """The venue's name as the tightest header form may show it, longest first: whole; a
    server's host without its port (`127.0.0.1:8811` → `127.0.0.1`) or the first word of
    another name (`DEMO cascade` → `DEMO`, `PAPER · HL prices` → `PAPER`); where that is
    longer than the first of VENUE_CUTS, cut to each of them with "…" (a name that short is
    kept whole: a reconnecting chip overflows the line anyway, and "127.0.0…" names nothing).
    Why never dropped: TUI.md's "PAPER vs venue name always shown" (at 80 columns a class
    server's header read like a paper market's)."""
    host, _, port = venue.rpartition(":")
    short = (host if host and port.isdigit() else venue.split(" ", 1)[0]) or venue
    cuts = [short[: most - 1] + "…" for most in VENUE_CUTS] if len(short) > VENUE_CUTS[0] else []
    return list(dict.fromkeys((venue, short, *cuts)))


def connection_chip(conn: Connection, venue: str, paper: bool) -> str:
    """`PAPER ● live 14ms` / `◐ reconnecting (3)` / `○ STALE 12s` / `⏸ paused` / `▶ replay` /
    `✗ NOT SAVED: …` (a paper store that could not be written), with the
    reason where the venue gives one: `◐ rate limited, retry in 2s`, `✗ KEY REFUSED: the API
    key was revoked`, `○ STALE 4s ◐ reconnecting (2): server stopping…`. The age is whole
    seconds, counted up (3.9 s without an answer is "3s", never rounded to a live-looking 4)."""
    label = "" if not venue else f"[b]{venue}[/b]" if paper else f"[b $accent]{venue}[/]"
    detail = escape(conn.detail)
    if conn.cause == "refused":
        return f"{label} [b $error]✗ KEY REFUSED: {detail}[/]"
    why = f": {detail}" if detail else ""
    waiting = {  # the reason, where the venue gives one: the same words live or stale
        "limited": f"[$warning]rate limited, {detail}[/]",
        "rate limited": f"[$warning]rate limited, {detail}[/]",
        "reconnecting": f"[$warning]◐ reconnecting ({conn.attempts}){why}[/]",
        "no answer": "[$error]not answering[/]",
    }
    if conn.state == "live":
        latency = f" {conn.latency_ms:.0f}ms" if conn.latency_ms else ""
        return f"{label} [$success]● live{latency}[/]"
    if conn.state == "replay":  # a recorded session: never "live", also where the name is cut
        icon = {"": "▶", "paused": "⏸", "ended": "■"}.get(conn.detail, "▶")
        return f"{label} [$accent]{icon} replay{' ' + detail if detail else ''}[/]"
    if conn.state == "failed":  # the store could not be written: nothing is saved any more
        return f"{label} [b $error]✗ NOT SAVED: {detail}[/]"
    if conn.state == "limited":
        return f"{label} [$warning]◐[/] {waiting['limited']}"
    if conn.state == "reconnecting":
        return f"{label} {waiting['reconnecting']}"
    if conn.state == "paused":
        return f"{label} [$warning]⏸ paused[/]"
    stale = f"{label} [$error]○ STALE {int(conn.age_s)}s[/]"
    return f"{stale} {waiting[conn.cause]}" if conn.cause in waiting else stale


def header_markup(
    ms: MarketState,
    conn: Connection,
    clock: ClockInfo,
    venue: str,
    paper: bool,
    paused_for_s: float = 0.0,
    compact: bool = False,
    named: bool = True,
    tight: bool = False,
    trim: int = 0,
) -> str:
    """One line of the header as Textual content markup (values are numbers: nothing to escape).

    `compact` is the 80-column form: the same venue, market, mark, funding and settlement
    countdowns in short words, without the name, the index, the 24 h change and OI, which
    otherwise pushed the countdowns off the line. `named=False` drops only the program's name:
    the step before it, which a server's address and latency in the chip need at 160.
    `tight` is the last resort of the compact form: the mark beside the symbol, so the
    countdowns stay; the venue's name stays too, which the caller shortens (`venue_forms`).
    `trim`: how many of TRIMS the full form gives up (the steps between 160 and 100 columns)."""
    stale = conn.state == "stale"
    dim = "[dim]" if stale else ""
    undim = "[/dim]" if stale else ""
    price = lambda v: fmt.price(v, ms.tick)  # noqa: E731
    change = ms.change_24h
    arrow = "▲" if change > 0 else "▼" if change < 0 else "·"
    colour = "$up" if change > 0 else "$down" if change < 0 else "$foreground"
    now_s = Decimal(clock.now_ms) / 1000
    if compact:
        return _compact(ms, conn, clock, venue, paper, now_s, dim, undim, tight)
    gone = set(TRIMS[:trim])
    if "venue" in gone:  # its shorter name (`DEMO`, a host without its port, `REPLAY`)
        venue = [*venue_forms(venue), venue][1]
    cap = f"/{fmt.compact(ms.oi_cap)}" if ms.oi_cap and "oi cap" not in gone else ""
    parts = [
        *(["[b]perptui[/b]"] if named else []),
        connection_chip(conn, venue, paper)
        + (f" [$accent]resumed after {fmt.duration(paused_for_s)}[/]" if paused_for_s >= 1 else ""),
        f"[b]{ms.symbol}[/b]",
        f"{dim}Mark [b]{price(ms.mark)}[/b]  Index {price(ms.index)}{undim}",
        *([] if "24h" in gone else
          [f"{dim}24h [{colour}]{arrow}{fmt.pct(change, 2, sign=True)}[/]{undim}"]),
        # a real venue publishes no cap
        *([] if "oi" in gone else [f"{dim}OI ${fmt.compact(ms.open_interest_usd)}{cap}{undim}"]),
    ]  # fmt: skip
    countdowns = _countdowns(ms, clock, now_s, dim, undim, short=False,
                             one_rate="one rate" in gone, letters="letters" in gone,
                             settle="settle" not in gone)  # fmt: skip
    return ("  " if "bars" in gone else " │ ").join(parts + countdowns)


def _compact(ms: MarketState, conn: Connection, clock: ClockInfo, venue: str, paper: bool,
             now_s: Decimal, dim: str, undim: str, tight: bool = False) -> str:  # fmt: skip
    mark = f"{dim}[b]{fmt.price(ms.mark, ms.tick)}[/b]{undim}"
    parts = [connection_chip(conn, venue, paper).lstrip()]
    if tight:
        parts.append(f"[b]{ms.symbol}[/b] {mark}")
    else:
        parts += [f"[b]{ms.symbol}[/b]", f"{dim}Mark [b]{fmt.price(ms.mark, ms.tick)}[/b]{undim}"]
    return " │ ".join(parts + _countdowns(ms, clock, now_s, dim, undim, short=True))


def _countdowns(ms: MarketState, clock: ClockInfo, now_s: Decimal, dim: str, undim: str,
                short: bool, one_rate: bool = False, letters: bool = False,
                settle: bool = True) -> list[str]:  # fmt: skip
    """A halt, the paper clock's speed, funding with its countdown and the settlement
    countdown: the end of both header forms, in words or in letters (`short`). The full form
    trimmed: `one_rate` (the last rate paid, else the predicted one, with its period),
    `letters` (F and S for the words), `settle=False` (no settlement countdown)."""
    parts = []
    # a halt and the clock's speed first: they matter most and a tight line cuts the end
    if ms.reduce_only:
        parts.append("[b $error]REDUCE-ONLY[/]")
    if clock.adjustable and clock.speed != 1 and not clock.paused:
        parts.append(f"[$warning]{clock.speed}x[/]")  # paused: the chip says so already
    if ms.funding_rate is not None or ms.predicted_funding_rate is not None:
        if short:  # the last rate paid, or the predicted one, saying which
            if ms.funding_rate is not None:
                funding = f"F {fmt.rate(ms.funding_rate)}"
            else:
                funding = f"F pred {fmt.rate(ms.predicted_funding_rate)}"
        elif one_rate:  # the period stays: a rate without it is read per 8 h elsewhere
            word = "F" if letters else "Fund"
            if ms.funding_rate is not None:
                funding = f"{word} {fmt.rate(ms.funding_rate)}/1h"
            else:
                funding = f"{word} pred {fmt.rate(ms.predicted_funding_rate)}/1h"
        else:
            funding = (f"Fund {fmt.rate(ms.funding_rate)}/1h "
                       f"pred {fmt.rate(ms.predicted_funding_rate)}")  # fmt: skip
        if ms.next_funding_time is not None:
            funding += f" ⏱{fmt.clock(int(ms.next_funding_time - now_s))}"
        parts.append(dim + funding + undim)
    if ms.next_settlement_time is not None and settle:
        label = "S" if short or letters else "settle"
        parts.append(f"{label} {fmt.clock(int(ms.next_settlement_time - now_s))}")
    return parts


class MarketHeader(Static):
    """One line at the top; updated from each frame, never by polling the venue."""

    DEFAULT_CSS = """
    MarketHeader { height: 1; background: $panel; padding: 0 1; }
    """

    def show(
        self, ms: MarketState, conn: Connection, clock: ClockInfo, venue: str, paper: bool,
        paused_for_s: float = 0.0,
    ) -> None:  # fmt: skip
        width = self.size.width
        venue = shown_venue(venue)
        # the screen's columns, not the content's: at 100 the 98 left inside the padding took
        # the short form, and with the chart hidden the index was nowhere on screen
        compact = self.outer_size.width < COMPACT_WIDTH
        markup = header_markup(ms, conn, clock, venue, paper, paused_for_s, compact)
        # a long venue (a server's address and latency, a demo's lesson, "resumed after 3
        # min") pushed the countdowns off: first without the program's name, then without the
        # resumed note (the start-up toast says it too), then TRIMS one by one, then the
        # short form, then the tight one with the venue's name shorter and shorter (never
        # without it: at 80 columns a server's header read like a paper market's)
        steps = [
            (venue, False, paused_for_s, compact, False, 0),
            (venue, False, 0.0, compact, False, 0),
            # the trims are the full form's: the short one would be built again unchanged
            *((venue, False, 0.0, False, False, trim) for trim in range(1, len(TRIMS) + 1)
              if not compact),
            (venue, False, 0.0, True, False, 0),
            *((name, False, 0.0, True, True, 0) for name in venue_forms(venue)),
        ]  # fmt: skip
        for name, named, resumed, short, tight, trim in steps:
            # `size` is the content box, the padding already taken off (`width - 2` took it
            # off twice and dropped Index, 24h and OI at 160 columns with 158 to show)
            if not width or Content.from_markup(markup).cell_length <= width:
                break
            markup = header_markup(ms, conn, clock, name, paper, resumed, short, named, tight,
                                   trim)  # fmt: skip
        update_static(self, markup)
