"""The Orders and Fills tabs' rows: sizes of a column line up, types read as the ticket says."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from exchange_local.orders import Fill
from perptui import format as fmt
from perptui.widgets.history import fill_rows, order_rows

D = Decimal


def test_sizes_of_a_column_line_up_on_the_point():
    assert fmt.aligned([D("0.5"), D("0.01"), D("0.125")]) == ["0.500", "0.010", "0.125"]
    assert fmt.aligned([D(3), D("1E+1")]) == ["3", "10"]
    assert fmt.aligned([D("0.123456789123")]) == ["0.12345679"]  # at most eight
    assert fmt.aligned([]) == []


def test_orders_show_aligned_sizes_and_the_tickets_type_names():
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("a")
    ex.deposit("a", "USD", D(1_000_000))
    ex.place_order("a", "BTC-PERP", "buy", D(1), price=D(100000))
    ex.create_account("b")
    ex.deposit("b", "USD", D(1_000_000))
    ex.place_order("b", "BTC-PERP", "sell", D(1), price=D(100000))
    for size in ("0.5", "0.01", "0.125"):
        ex.place_order("a", "BTC-PERP", "buy", D(size), price=D(90000))
    ex.place_order("a", "BTC-PERP", "sell", D("0.2"), type="stop_market",
                   trigger_price=D(80000), reduce_only=True)  # fmt: skip
    ex.place_order("a", "BTC-PERP", "sell", D("0.2"), type="take_profit",
                   trigger_price=D(120000), reduce_only=True)  # fmt: skip
    rows = [cells for _, cells in order_rows(ex.open_orders("a"))]
    sizes = [str(r[4]).strip() for r in rows]
    assert sizes == ["0.5000", "0.0100", "0.1250", "0.2000", "0.2000"]  # BTC's lot: 0.0001
    assert {str(r[5]).strip() for r in rows} == {"0.0000"}
    # a market nobody knows: sizes lined up on the finest among them, as before
    unknown = [replace(o, market="XYZ-PERP") for o in ex.open_orders("a")][:3]
    odd = [cells for _, cells in order_rows(unknown)]
    assert [str(r[4]).strip() for r in odd] == ["0.500", "0.010", "0.125"]
    assert [r[3] for r in rows] == ["limit", "limit", "limit", "stop", "take-profit"]


def test_the_fills_tab_lines_up_its_sizes():
    fills = [Fill(i, 0, "BTC-PERP", D(100000), D(size), "buy", "me", "them", 1, 2, D(0), D(0))
             for i, size in enumerate(("0.5", "0.0125"))]  # fmt: skip
    rows = [cells for _, cells in fill_rows(fills, "me")]
    assert [str(r[3]).strip() for r in rows] == ["0.0125", "0.5000"]  # newest first
