"""The stress grid and the what-if line against the exchange itself.

Why rebuild the exchange per shock: the grid claims "this is what health() would say after the
move"; the only honest check is to make the move on an identical exchange and ask it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange_local import Exchange, ExchangeConfig
from perptui import whatif
from perptui.stress import (
    ALL,
    SHOCKS,
    classify,
    exposures,
    shocked_risk,
    stress_cell,
    stress_grid,
)

D = Decimal
ACCOUNT = "alice"


def build(moves: dict[str, Decimal] | None = None, usd: str = "2000") -> Exchange:
    """USD + BTC + ETH collateral, long 1 BTC-PERP, short 10 ETH-PERP, marks off entry (so
    unsettled PnL is not 0); then each underlying in `moves` shocked by its fraction."""
    ex = Exchange(ExchangeConfig(mark_source="index"))
    a = ex.create_account(ACCOUNT)
    for asset, amount in (("USD", D(usd)), ("BTC", D("0.2")), ("ETH", D(1))):
        ex.deposit(a, asset, amount)
    b = ex.create_account("bob")
    ex.deposit(b, "USD", D(10_000_000))
    ex.place_order(b, "BTC-PERP", "sell", D(1), price=D(100_000))
    ex.place_order(a, "BTC-PERP", "buy", D(1), type="market")
    ex.place_order(b, "ETH-PERP", "buy", D(10), price=D(3000))
    ex.place_order(a, "ETH-PERP", "sell", D(10), type="market")
    ex.set_index_price("BTC", D(101_000))
    ex.set_index_price("ETH", D(2990))
    for u, x in (moves or {}).items():
        # both prices times (1 + x) land on the tick, so the exchange does not round them
        ex.set_index_price(u, ex.market(f"{u}-PERP").index * (1 + x))
    return ex


def markets(ex: Exchange) -> dict:
    return {m: ex.market(m) for m in ex.markets()}


@pytest.fixture(scope="module")
def base() -> Exchange:
    return build()


def test_columns_are_the_exposures_then_all(base: Exchange) -> None:
    grid = stress_grid(base.health(ACCOUNT), markets(base))
    assert grid.columns == ("BTC", "ETH", ALL)
    assert grid.shocks == SHOCKS
    assert [str(x) for x in SHOCKS[:6]] == ["-0.5", "-0.4", "-0.3", "-0.2", "-0.1", "-0.05"]
    assert SHOCKS[6] == 0 and SHOCKS[-1] == D("0.5") and len(SHOCKS) == 13


@pytest.mark.parametrize("column", ["BTC", "ETH", ALL])
def test_every_cell_equals_the_exchange_after_the_same_move(base: Exchange, column: str) -> None:
    grid = stress_grid(base.health(ACCOUNT), markets(base))
    for x in SHOCKS:
        moves = {"BTC": x, "ETH": x} if column == ALL else {column: x}
        after = build(moves).health(ACCOUNT)
        cell = grid.cell(column, x)
        assert cell.equity == after.equity, (column, x)
        assert cell.mmr == after.mmr, (column, x)
        assert cell.acmr == after.acmr, (column, x)
        assert cell.notional == after.notional, (column, x)
        assert cell.margin_fraction == after.margin_fraction, (column, x)
        assert cell.margin_usage == after.margin_usage, (column, x)
        # under maintenance the exchange's word is the table's too, before any tick
        under = cell.status in ("liquidating", "backstop", "bankrupt")
        assert under == (after.status in ("liquidating", "backstop", "bankrupt")), (column, x)
        if under:  # one table for both (margin.liquidation_word)
            assert cell.status == after.status, (column, x)
        assert (cell.status == "warning") == (after.warning and not under), (column, x)


def test_the_grid_reaches_every_stage_somewhere(base: Exchange) -> None:
    grid = stress_grid(base.health(ACCOUNT), markets(base))
    btc = [grid.cell("BTC", x).status for x in SHOCKS]
    assert btc[:5] == ["bankrupt", "bankrupt", "bankrupt", "backstop", "ok"]
    assert grid.cell("BTC", D("-0.2")).stage == "stage 3: backstop"
    assert grid.cell("BTC", D("-0.5")).word == "BANKRUPT"
    # the short ETH hedges the long BTC: together, -20 % is survivable, alone it is not
    assert grid.cell(ALL, D("-0.2")).status == "ok"
    # in 1 % steps the BTC fall passes through every status, in order, each checked directly
    fine = [D(-p) / 100 for p in range(10, 24)]
    steps = stress_grid(base.health(ACCOUNT), markets(base), fine)
    words = [steps.cell("BTC", x).word for x in fine]
    assert words == ["OK"] * 6 + ["WATCH"] * 3 + ["LIQ"] + ["BACKSTOP"] * 2 + ["BANKRUPT"] * 2
    for x in fine:
        after = build({"BTC": x}).health(ACCOUNT)
        assert steps.cell("BTC", x).equity == after.equity
        assert steps.cell("BTC", x).mmr == after.mmr


def test_one_cell_by_the_formulas_of_the_brief(base: Exchange) -> None:
    """E' = E + sum s*M*x + sum amount*price*w*x; MMR' and N' scale by (1 + x)."""
    h = base.health(ACCOUNT)
    x = D("-0.3")
    moved_positions = sum((p.size * p.mark_price * x for p in h.positions), D(0))
    moved_collateral = sum(
        (c.amount * c.price * c.weight * x for c in h.collateral if c.asset != "USD"), D(0)
    )
    cell = stress_cell(h, markets(base), ALL, x)
    assert cell.equity == h.equity + moved_positions + moved_collateral
    assert cell.mmr == h.mmr * (1 + x)
    assert cell.notional == h.notional * (1 + x)
    assert cell.margin_fraction == cell.equity / cell.notional
    assert cell.status == "bankrupt" and cell.equity < 0 and cell.margin_usage is None


def test_zero_shock_is_the_account_now(base: Exchange) -> None:
    h = base.health(ACCOUNT)
    for column in ("BTC", "ETH", ALL):
        cell = stress_cell(h, markets(base), column, D(0))
        assert (cell.equity, cell.mmr, cell.acmr) == (h.equity, h.mmr, h.acmr)
        assert cell.margin_usage == h.margin_usage


def test_collateral_only_account_and_bad_shocks() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    ex.create_account("c")
    ex.deposit("c", "BTC", D(1))
    h = ex.health("c")
    ms = markets(ex)
    assert exposures(h, ms) == ("BTC",)
    grid = stress_grid(h, ms)
    assert grid.columns == ("BTC", ALL)
    assert grid.cell("BTC", D("-0.5")).equity == h.equity / 2
    assert grid.cell(ALL, D("-0.5")).status == "ok"  # nothing to liquidate
    assert grid.cell("BTC", D("-0.5")).margin_fraction is None
    with pytest.raises(ValueError, match="to or below 0"):
        shocked_risk(h, ms, {"BTC": D(-1)})
    empty = Exchange(ExchangeConfig(mark_source="index"))
    empty.create_account("d")
    assert stress_grid(empty.health("d"), markets(empty)).columns == ()


def test_classify_boundaries() -> None:
    n = D(100)
    assert classify(D(20), D(10), D(5), n) == "ok"  # E = 2 MMR is not yet a warning
    assert classify(D("19.99"), D(10), D(5), n) == "warning"
    assert classify(D(10), D(10), D(5), n) == "warning"
    assert classify(D("9.99"), D(10), D(5), n) == "liquidating"
    assert classify(D("4.99"), D(10), D(5), n) == "backstop"
    assert classify(D(-1), D(10), D(5), n) == "bankrupt"
    assert classify(D(-1), D(0), D(0), D(0)) == "bankrupt"
    assert classify(D(1), D(0), D(0), D(0)) == "ok"


# --- the what-if line -------------------------------------------------------------------------


@pytest.mark.parametrize("market", ["BTC-PERP", "ETH-PERP"])
def test_whatif_meets_the_explain_prices(base: Exchange, market: str) -> None:
    expl = base.explain(ACCOUNT, market)
    h = base.health(ACCOUNT)
    line = whatif.from_explanation(expl, whatif.other_notional(h, market))
    assert expl.liquidation_price is not None and expl.bankruptcy_price is not None
    tolerance = D("1e-20")
    p_liq, p_bk = expl.liquidation_price, expl.bankruptcy_price
    assert abs(line.equity_at(p_liq) - line.mmr_at(p_liq)) < tolerance
    assert abs(line.equity_at(p_bk)) < tolerance
    assert line.equity_at(expl.mark) == h.equity
    assert line.mmr_at(expl.mark) == h.mmr
    assert line.acmr_at(expl.mark) == h.acmr
    # the health-only path gives the same line
    same = whatif.from_health(h, market, expl.underlying)
    assert (same.equity, same.slope, same.mmf) == (line.equity, line.slope, line.mmf)
    assert abs(same.other_mmr - line.other_mmr) < tolerance
    assert same.other_notional == line.other_notional
    # statuses on either side of the liquidation price
    toward = -1 if line.slope - line.mmf * abs(line.size) > 0 else 1
    assert line.status_at(expl.mark) in ("ok", "warning")
    assert line.status_at(p_liq * (1 + toward * D("0.0001"))) in ("liquidating", "backstop")
    assert line.status_at(p_bk * (1 + toward * D("0.01"))) == "bankrupt"


def test_whatif_equals_the_exchange_at_a_moved_price(base: Exchange) -> None:
    """Basis constant and collateral moving with the mark: the exchange after the move agrees."""
    expl = base.explain(ACCOUNT, "BTC-PERP")
    line = whatif.from_explanation(expl, whatif.other_notional(base.health(ACCOUNT), "BTC-PERP"))
    after = build({"BTC": D("-0.1")}).health(ACCOUNT)
    p = D(101_000) * D("0.9")
    assert line.equity_at(p) == after.equity
    assert line.mmr_at(p) == after.mmr
    assert line.acmr_at(p) == after.acmr
    assert line.status_at(p) == classify(after.equity, after.mmr, after.acmr, after.notional)


def test_whatif_without_position_refuses(base: Exchange) -> None:
    with pytest.raises(ValueError, match="no SOL-PERP position"):
        whatif.from_health(base.health(ACCOUNT), "SOL-PERP", "SOL")
