"""The bottom tabs' tables: open orders, fills, funding payments, ledger, events.

Why one small table class: each tab is a list of rows keyed by id that grows or shrinks; the
table rebuilds only when the rows really changed, so the cursor stays where the trader put it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog

from exchange_local.engine import MarketState
from exchange_local.funding import AccountFunding
from exchange_local.ledger import LedgerEntry, display_ref
from exchange_local.orders import Fill, OrderInfo
from perptui import format as fmt
from perptui.eventtext import EventLine, remark
from perptui.theme import rich_colour
from perptui.widgets.keyed_table import KeyedTable

Row = tuple[str, Sequence[str | Text]]


class RowsTable(KeyedTable):
    """A DataTable fed whole lists of keyed rows; unchanged lists cost nothing."""

    DEFAULT_CSS = "RowsTable { height: 1fr; }"

    def __init__(self, columns: Sequence[str], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._column_names = tuple(columns)
        self._signature: object = None

    def on_mount(self) -> None:
        for name in self._column_names:
            self.add_column(name, key=name)

    def set_rows(self, rows: list[Row]) -> None:
        signature = tuple((k, tuple(str(c) for c in cells)) for k, cells in rows)
        if signature == self._signature:
            return
        self._signature = signature
        cursor = self.cursor_row
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1))
        self.redraw_when_measured()


def right(text: str) -> Text:
    return Text(text, justify="right")


ORDER_COLUMNS = ("Id", "Market", "Side", "Type", "Size", "Filled", "Price", "Trigger", "TIF",
                 "Flags", "Status")  # fmt: skip


ORDER_TYPES = {"stop_market": "stop", "take_profit": "take-profit"}  # as the ticket names them


def order_steps(
    order: OrderInfo, markets: Mapping[str, MarketState] | None
) -> tuple[Decimal, Decimal] | None:
    """(tick, lot) of an order's market: the venue's, else the exchange's default market's
    where the order lies on them (another venue's BTC-PERP may have a finer lot, and its
    0.00001 must not read 0.0000), else None (a market nobody here knows)."""
    ms = markets.get(order.market) if markets is not None else None
    if ms is not None:
        return ms.tick, ms.lot
    steps = fmt.MARKET_STEPS.get(order.market)
    if steps is None:
        return None
    tick, lot = steps
    prices = [p for p in (order.price, order.trigger_price) if p is not None]
    if any(p % tick for p in prices) or order.size % lot or order.filled % lot:
        return None
    return steps


def order_rows(
    orders: Iterable[OrderInfo], markets: Mapping[str, MarketState] | None = None
) -> list[Row]:
    """Open orders with each market's tick and lot decimals, as the book and the ticket show
    them: a 0.5 tick read 100,091.00 here and 100,091.0 there, a size 0.1 beside 0.1000."""
    orders = list(orders)
    fallback = fmt.aligned([o.size for o in orders] + [o.filled for o in orders])
    rows: list[Row] = []
    for i, o in enumerate(orders):
        steps = order_steps(o, markets)
        if steps is not None:
            tick, lot = steps
            size, filled = fmt.size(o.size, lot), fmt.size(o.filled, lot)
            price = fmt.price(o.price, tick) if o.price else "market"
            trigger = fmt.price(o.trigger_price, tick) if o.trigger_price else fmt.DASH
        else:  # sizes lined up on the finest among them, prices with the digits they have
            size, filled = fallback[i], fallback[len(orders) + i]
            price = fmt.tick_price(o.price) if o.price else "market"
            trigger = fmt.tick_price(o.trigger_price) if o.trigger_price else fmt.DASH
        flags = " ".join(f for f, on in (("reduce", o.reduce_only), ("post", o.post_only)) if on)
        rows.append((str(o.order_id), (
            str(o.order_id), o.market, o.side.upper(), ORDER_TYPES.get(o.type, o.type),
            right(size), right(filled), right(price), right(trigger), o.tif.upper(),
            flags or fmt.DASH, str(o.status.value if hasattr(o.status, "value") else o.status),
        )))  # fmt: skip
    return rows


FILL_COLUMNS = ("Time", "Market", "Side", "Size", "Price", "Fee", "Role")


def fill_rows(
    fills: Iterable[Fill], me: str, markets: Mapping[str, MarketState] | None = None
) -> list[Row]:
    """Fills, newest first, each price on its market's tick as the book and the trades show
    it (100,100.0 at a 0.5 tick, not 100,100.00; 149.730 at 0.001, not 149.73): the venue's
    market where it is known, else the exchange's default market's, else every digit the
    price has (a market nobody here knows, such as a remote venue's JELLY-PERP at 0.29973)."""
    newest_first = list(reversed(list(fills)))
    sizes = fmt.aligned([f.size for f in newest_first])
    rows: list[Row] = []
    for f, aligned_size in zip(newest_first, sizes, strict=True):
        taker = f.taker == me
        side = f.taker_side if taker else ("sell" if f.taker_side == "buy" else "buy")
        fee = f.taker_fee if taker else f.maker_fee
        ms = markets.get(f.market) if markets is not None else None
        # on the market's lot where it is known, as the positions show it (ETH's 4.168 read
        # 4.1680 aligned with BTC's four decimals)
        size = fmt.size(f.size, ms.lot) if ms is not None else aligned_size
        price = (
            fmt.fill_price(f.price, ms.tick)
            if ms is not None
            else fmt.market_price(f.market, f.price)
        )
        rows.append((str(f.fill_id), (
            fmt.exchange_time(f.time_ms), f.market, side.upper(), right(size),
            right(price), right(fmt.num(fee, 6)), "taker" if taker else "maker",
        )))  # fmt: skip
    return rows


FUNDING_COLUMNS = ("Time", "Market", "Size", "Rate /h", "Amount")


def funding_rows(payments: Iterable[AccountFunding]) -> list[Row]:
    rows: list[Row] = []
    for i, p in enumerate(reversed(list(payments))):
        rows.append((f"{p.time}-{p.market}-{i}", (
            fmt.exchange_time(int(p.time * 1000)), p.market,
            right(fmt.market_size(p.market, p.size, sign=True)),
            right(fmt.rate(p.rate)), right(fmt.num(-p.amount, 6, sign=True)),
        )))  # fmt: skip
    return rows


LEDGER_COLUMNS = ("Tx", "Time", "Type", "Asset", "Amount", "Balance", "Ref")


def ledger_rows(entries: Iterable[LedgerEntry]) -> list[Row]:
    """Newest first; the venue has chosen the legs (its type filter applies before its limit)."""
    rows: list[Row] = []
    for i, e in enumerate(reversed(list(entries))):
        places = ledger_places(e.asset)
        rows.append((f"{e.txid}-{e.asset}-{i}", (
            str(e.txid), fmt.exchange_time(int(e.time * 1000)), e.type, e.asset,
            right(fmt.num(e.amount, places, sign=True)), right(fmt.num(e.balance, places)),
            display_ref(e.ref),
        )))  # fmt: skip
    return rows


def ledger_places(asset: str) -> int:
    """Decimals of an asset's legs in the Ledger tab: the asset's own (AssetSpec.decimals:
    USD to the micro-unit, BTC to the satoshi, AAPL to six). A fixed eight for every coin
    showed AAPL legs with two digits it never has; six for every coin lost a satoshi."""
    return fmt.asset_decimals(asset)


class EventsLog(RichLog):
    """The whole market's events, newest last; lines that concern you are highlighted."""

    DEFAULT_CSS = "EventsLog { height: 1fr; }"

    def __init__(self, **kwargs: object) -> None:
        # wrapped, with a hanging indent under the text: a stage's fund before -> after is at
        # the end of a long line, and it is what the lesson is about
        super().__init__(max_lines=2000, wrap=True, markup=False, **kwargs)  # type: ignore[arg-type]
        self.lines_seen: deque[EventLine] = deque(maxlen=2000)
        self._colours = ("", "")  # the theme's accent and liq of the last add, for a reflow
        self._laid_out_width = 0  # the width the lines in the log were last laid out at

    def on_resize(self, event: Resize) -> None:
        """Lay the lines out again at a new width. Why: RichLog keeps each line as drawn at
        the width it had when written, so a projector plugged in mid-lesson (160 columns to
        120) cut every stage's line, the fund's before -> after at its end included."""
        width = self.scrollable_content_region.width
        # RichLog draws a line at least min_width wide (78 by default), and a hidden log has
        # no width of its own: stage lines written while another tab was open wrapped at
        # half a 160-column screen, and `w` there laid every line out at 78. The last width
        # the log was shown at is the width it will most likely be shown at again (set
        # before RichLog writes what waited for a size, so a log under 78 wide fits too).
        if width:
            self.min_width = width
        super().on_resize(event)
        if not width:
            return  # hidden in its tab: lines written now take the last width (min_width)
        if width == self._laid_out_width:
            return
        known, self._laid_out_width = self._laid_out_width, width
        if known and self.lines_seen:
            self._relay(list(self.lines_seen))

    def _relay(self, lines: list[EventLine]) -> None:
        self.lines_seen.clear()
        self.clear()
        self.add(lines, *self._colours)

    def remark(self, me: str, you: str) -> None:
        """Mark the lines afresh for another watched account (a demo's or a replay's `w`).
        Why: the log kept the first account's lines marked ▶ and bold, so after `w` the
        new account's liquidation read as somebody else's and the old one's as ours."""
        self._relay([remark(line, me, you) for line in self.lines_seen])

    def add(self, lines: list[EventLine], highlight: str, liq: str) -> None:
        self._colours = (highlight, liq)
        highlight, liq = rich_colour(highlight), rich_colour(liq)
        for line in lines:
            self.lines_seen.append(line)
            stamp = fmt.exchange_time(line.time_ms)
            style = ""
            if line.kind in ("liquidation", "invariant"):
                style = liq
            if line.mine:
                style = f"bold {highlight}"
            marker = "▶" if line.mine else " "
            row = Table.grid(padding=(0, 1), expand=True)
            row.add_column(no_wrap=True)
            row.add_column(ratio=1, overflow="fold")
            row.add_row(Text(f"{stamp} {marker}", style=style), Text(line.text, style=style))
            self.write(row, expand=True)
