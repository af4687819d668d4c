"""The main screen: header, chart, book and tape, account and ticket, and the six tabs.

It only lays widgets out and hands each its slice of a frame; the app fetches frames from the
venue and decides what actions do.
"""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from perptui import format as fmt
from perptui.venues.base import VenueLiquidation, VenueSnapshot
from perptui.widgets.account import AccountPanel
from perptui.widgets.book import BookState, OrderBookView
from perptui.widgets.cached import update_static
from perptui.widgets.chart import ChartLine, ChartState, PriceChart
from perptui.widgets.header import MarketHeader
from perptui.widgets.history import (
    FILL_COLUMNS,
    FUNDING_COLUMNS,
    LEDGER_COLUMNS,
    ORDER_COLUMNS,
    EventsLog,
    RowsTable,
)
from perptui.widgets.order_ticket import OrderTicket
from perptui.widgets.positions import PositionsTable
from perptui.widgets.tape import TradeTape
from perptui.widgets.type_filter import TypeFilter
from perptui.widgets.watch_panel import WatchPanel, WatchState

TABS = ("positions", "orders", "fills", "funding", "ledger", "events")
NARROW_WIDTH = 100
WIDE_WIDTH = 150  # from here the account and ticket column gets its full 64 columns
# From CHART_WIDTH to WIDE_WIDTH (the medium layout) the three columns share the screen: the
# book and tape column gets MID_WIDTH (their rows are 33 wide: less cut the tape's times),
# the account and ticket column RIGHT_MIN, the chart the rest, CHART_MIN at 120 (34 columns to
# draw in: the liquidation line across 22 candles). Past 120 the account and ticket column
# grows first, to RIGHT_SHORT (the ticket takes its short form under 60 columns and needs 62
# for its long one: at 60 to 63 its time in force was cut), and to RIGHT_MAX where the chart
# keeps CHART_MIN. Below CHART_WIDTH the chart would get under 32 columns (9 at 100: "Chart
# BT"): it gives its room to the account and ticket column instead.
# Why the account does not fit at 120: its rows are up to 47 wide (figures), 58 (the tight
# form's "Margin frac ... Lev ... Nearest liq 36.1% BTC-PERP") and 48 to 52 (a balance), so
# with its padding and scrollbar it needs 61 (the ticket's long form 62): the chart 23. Here
# it has 50 (its right padding goes) and a longer row ends in "…" rather than wrapping: a
# wrapped row pushed the balances under the ticket, as its row count is by lines.
CHART_WIDTH = 120
MID_WIDTH = 34
RIGHT_MIN, RIGHT_SHORT, RIGHT_MAX = 51, 59, 64
CHART_MIN = CHART_WIDTH - MID_WIDTH - RIGHT_MIN
# below this many rows the docked ticket leaves the account panel too little room for its
# table (at 100x30 it showed six lines, not the margin fraction or the nearest liquidation):
# it takes its one-line form, as at 80 columns
SHORT_HEIGHT = 34
SPARK = "▁▂▃▄▅▆▇█"


def funding_line(snap: VenueSnapshot, paper: bool = True, width: int | None = None) -> str:
    """Hourly funding history as a sparkline, with the predicted rate and its APR.

    Why pieces dropped by width: under the chart the line has about 56 columns at 160, and the
    whole of it needs about 80, so it was cut in the middle of the APR; what is left out is
    the least read first (the 8-hour figure, the history, the APR), never the rate, and the
    insurance fund last of the others: a teacher's liquidation demo is about it, and at 160
    columns it was the first to go, so the main screen showed it nowhere."""
    ms = snap.markets[snap.market]
    rates = [r.rate for r in snap.funding_history][-24:]
    if rates:
        lo, hi = min(rates), max(rates)
        span = (hi - lo) or Decimal(1)
        spark = "".join(SPARK[int((r - lo) / span * (len(SPARK) - 1))] for r in rates)
    else:
        spark = "no funding paid yet"
    pred = ms.predicted_funding_rate
    apr = fmt.pct(pred * 24 * 365, 1, sign=True) if pred is not None else fmt.DASH
    eight = fmt.rate(pred * 8) if pred is not None else fmt.DASH
    # (place on the line, text), in the order they are given up when the line is too narrow
    optional = [(2, f"8h-equiv {eight}"), (0, f"24h {spark}"), (3, f"APR {apr}")]
    if paper:
        optional.append((4, f"fund ${fmt.compact(snap.insurance_fund)}"))
    kept = [(1, f"pred {fmt.rate(pred)}/h"), *optional[::-1]]
    while width is not None and len(kept) > 1 and len(_funding_text(kept)) > width:
        kept.remove(optional.pop(0))
    return _funding_text(kept)


def _funding_text(pieces: list[tuple[int, str]]) -> str:
    return " Funding " + "  ".join(text for _, text in sorted(pieces))


def right_width(width: int) -> int:
    """The account and ticket column of the medium layout: what the chart can spare over
    its CHART_MIN, from RIGHT_MIN to RIGHT_SHORT, then RIGHT_MAX once it can be spared."""
    spare = width - MID_WIDTH - CHART_MIN
    return RIGHT_MAX if spare >= RIGHT_MAX else max(RIGHT_MIN, min(RIGHT_SHORT, spare))


class MainScreen(Screen[None]):
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    #top { height: 1fr; }
    #left { width: 1fr; border-right: solid $panel-lighten-2; }
    #mid { width: 38; border-right: solid $panel-lighten-2; }
    #right { width: 64; scrollbar-size-vertical: 1; }
    /* the ticket stays in view under the account, which scrolls above it when short */
    #right #ticket, #right #watch { dock: bottom; }
    /* a venue that only watches (a demo, a replay, a read key): the watch panel, no ticket */
    MainScreen.-watching #ticket, MainScreen #watch { display: none; }
    MainScreen.-watching #watch { display: block; }
    #funding { height: 1; color: $text-muted; }
    #bottom { height: 30%; min-height: 7; }
    #bottom TabPane { padding: 0; }
    #ledger-filter { height: 1; }
    /* MID_WIDTH; the medium layout's #right: right_width(), set in on_resize */
    MainScreen.-medium #mid, MainScreen.-no-chart #mid { width: 34; }
    /* the medium layout's account: a row too long for it ends in "…" (see CHART_WIDTH) */
    MainScreen.-medium AccountPanel {
        padding: 0 0 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    MainScreen.-medium TradeTape, MainScreen.-no-chart TradeTape { min-width: 33; }
    MainScreen.-narrow #left, MainScreen.-no-chart #left { display: none; }
    MainScreen.-no-chart #right { width: 1fr; }
    MainScreen.-narrow TradeTape { display: none; }
    MainScreen.-narrow #mid { width: 34; }
    MainScreen.-narrow #bottom { height: 7; }
    MainScreen.-narrow #right { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield MarketHeader(id="header")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield PriceChart(id="chart")
                yield Static("", id="funding")
            with Vertical(id="mid"):
                yield OrderBookView(id="book")
                yield TradeTape(id="tape")
            with VerticalScroll(id="right"):
                yield AccountPanel(id="account")
                yield OrderTicket(id="ticket")
                yield WatchPanel(id="watch")
        with TabbedContent(id="bottom", initial="positions"):
            with TabPane("1 Positions", id="positions"):
                yield PositionsTable(id="positions-table")
            with TabPane("2 Orders", id="orders"):
                yield RowsTable(ORDER_COLUMNS, id="orders-table")
            with TabPane("3 Fills", id="fills"):
                yield RowsTable(FILL_COLUMNS, id="fills-table")
            with TabPane("4 Funding", id="funding-tab"):
                yield RowsTable(FUNDING_COLUMNS, id="funding-table")
            with TabPane("5 Ledger", id="ledger"):
                yield TypeFilter(placeholder="filter by type: SETTLE, FUNDING, FEE, TRADE, LIQ…"
                                 " (type; digits switch tabs)", id="ledger-filter",
                                 compact=True)  # fmt: skip
                yield RowsTable(LEDGER_COLUMNS, id="ledger-table")
            with TabPane("6 Events", id="events"):
                yield EventsLog(id="events-log")
        yield Footer()

    def on_resize(self) -> None:
        """The layout classes: `-narrow` under 100 columns, `-no-chart` from there to
        CHART_WIDTH, `-medium` from there to WIDE_WIDTH, none from there on."""
        width = self.size.width
        narrow = width < NARROW_WIDTH
        self.set_class(narrow, "-narrow")
        medium = CHART_WIDTH <= width < WIDE_WIDTH
        self.set_class(medium, "-medium")
        self.set_class(NARROW_WIDTH <= width < CHART_WIDTH, "-no-chart")
        # inline, as none of the classes can say it (a `max-width` on an `fr` column gave the
        # chart 96 columns of a 130-column screen); None hands the width back to the classes
        self.query_one("#right").styles.width = right_width(width) if medium else None
        self.query_one(AccountPanel).narrow = narrow or self.size.height < SHORT_HEIGHT
        self.query_one(PositionsTable).narrow = narrow  # wider: its columns fit its width

    def show(self, snap: VenueSnapshot, venue_name: str, paper: bool, paused_for_s: float,
             own_trade_ids: set[int],
             venue_liqs: dict[str, VenueLiquidation] | None = None,
             watching: WatchState | None = None) -> None:  # fmt: skip
        """`watching`: the venue cannot trade; the watch panel stands in the ticket's place."""
        ms = snap.markets[snap.market]
        h = snap.health
        self.query_one(MarketHeader).show(ms, snap.connection, snap.clock, venue_name, paper,
                                          paused_for_s)  # fmt: skip
        self.set_class(watching is not None, "-watching")
        if watching is not None:
            self.query_one(WatchPanel).show(watching)
        account = self.query_one(AccountPanel)
        right = self.query_one("#right")
        ticket = self.query_one(WatchPanel) if watching is not None else self.query_one(OrderTicket)
        height = right.size.height  # 0 before the first layout: no limit yet
        account.rows = height - ticket.outer_size.height if height else None
        account.show(h, snap.insurance_fund if paper else None)  # a real venue: none
        pos = next((p for p in h.positions if p.market == snap.market), None)
        liq_prices = tuple(
            p.liquidation_price for p in h.positions if p.liquidation_price is not None
            and p.market == snap.market
        )  # fmt: skip
        own = frozenset(o.price for o in snap.open_orders
                        if o.market == snap.market and o.price is not None)  # fmt: skip
        self.query_one(OrderBookView).show(BookState(
            snap.market, ms.tick, ms.lot, snap.book.bids, snap.book.asks, own, liq_prices,
            snap.connection.state == "stale", ms.mark))  # fmt: skip
        # a demo's or a replay's trades are the watched account's, not the viewer's
        own_label = watching.account if watching is not None and watching.account else "you"
        self.query_one(TradeTape).show(snap.trades, ms.tick, ms.lot, own_trade_ids, own_label)
        lines = []
        liq_state = pos.liquidation_state if pos is not None else "ok"
        if pos is not None:
            lines.append(ChartLine("entry", pos.entry_price, "entry"))
            # below maintenance the prices are behind the mark: no line says "22% above"
            if pos.liquidation_price is not None and liq_state == "ok":
                lines.append(ChartLine("liq", pos.liquidation_price, "liq"))
            if pos.bankruptcy_price is not None and liq_state != "bankrupt":
                lines.append(ChartLine("bkr", pos.bankruptcy_price, "bk"))
        for o in snap.open_orders:
            level = o.price or o.trigger_price
            if o.market == snap.market and level:
                lines.append(ChartLine(f"{o.side} {o.order_id}", level, "order"))
        self.query_one(PriceChart).show(ChartState(snap.market, ms.tick, snap.candles, ms.index,
                                                   ms.mark, lines, snap.index_candles,
                                                   liq_state))  # fmt: skip
        funding = self.query_one("#funding", Static)
        width = funding.size.width or None
        update_static(funding, escape(funding_line(snap, paper, width)))
        stale = snap.connection.state == "stale"
        self.query_one(PositionsTable).show(h.positions, snap.markets, snap.open_orders, stale,
                                            venue_liqs)  # fmt: skip
        self.query_one(OrderTicket).set_market(
            ms, h, snap.leverage.get(snap.market, ms.max_leverage)
        )
