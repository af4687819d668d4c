"""MECHANICS section 8: other venues' published examples through our two pure functions.

Each venue states its rule in its own terms; a thin adapter per venue says what it means in ours
(equity, mark, MMF, MMR_o, k). If an adapter needs more than renaming, its docstring says why.
Results are compared at the published precision: 2 decimals, half even (MECHANICS section 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from exchange_local.explain import explain
from exchange_local.margin import (
    CollateralInput,
    PositionInput,
    account_risk,
    bankruptcy_price,
    collateral_weight,
    dsum,
    imf,
    liquidation_price,
    mmf,
)

D = Decimal
CENT = D("0.01")


def cents(value: Decimal | None) -> Decimal:
    assert value is not None, "the example has a price; the function returned None"
    return value.quantize(CENT)


# --- dYdX v4 ------------------------------------------------------------------------------


def dydx_liquidation(equity: str, size: str, oracle: str, mmf: str, other_mmr: str = "0") -> D:
    """dYdX: liquidation when total account value = total maintenance requirement, moving this
    market's oracle only. Total account value is our E_mm, the oracle our mark; the other
    positions' maintenance is MMR_o. A pure renaming."""
    return cents(liquidation_price(equity=D(equity), size=D(size), mark=D(oracle), mmf=D(mmf),
                                   other_mmr=D(other_mmr)))  # fmt: skip


def test_dydx_isolated():
    assert dydx_liquidation("1000", "-3", "3000", "0.05") == D("3174.60")


def test_dydx_cross():
    strk_mmr = D(1000) * D("1.75") * D("0.10")
    assert strk_mmr == 175
    assert dydx_liquidation("1000", "-1.5", "3000", "0.05", str(strk_mmr)) == D("3380.95")


# --- BitMEX --------------------------------------------------------------------------------


def test_bitmex_linear_cross():
    """BitMEX: maintenance is a fixed 1 % of *entry* value, not of the moving mark, so it enters
    as MMR_o with MMF 0; wallet balance is equity at the entry price."""
    maintenance = D("0.01") * 20 * 1000
    args = {"equity": D(10000), "size": D(20), "mark": D(1000)}
    assert cents(liquidation_price(**args, mmf=D(0), other_mmr=maintenance)) == D("510.00")
    assert cents(bankruptcy_price(**args)) == D("500.00")


# --- Binance USD-M, one-way mode -----------------------------------------------------------


@dataclass(frozen=True)
class BinancePosition:
    size: Decimal  # signed
    entry: Decimal
    mark: Decimal
    rate: Decimal  # maintenance margin rate of its bracket
    amount: Decimal  # maintenance amount of its bracket

    @property
    def maintenance(self) -> Decimal:
        """Binance maintenance margin = notional at mark x rate - maintenance amount."""
        return abs(self.size) * self.mark * self.rate - self.amount

    @property
    def unrealized(self) -> Decimal:
        return self.size * (self.mark - self.entry)


def binance_liquidation(wallet: str, this: BinancePosition, others: list[BinancePosition]) -> D:
    """Binance's cross formula, LP = (WB - TMM1 + UPNL1 + cumB - s*EP) / (|s|*MMR_B - s),
    with TMM1 and UPNL1 the maintenance and unrealised PnL of the OTHER positions at their marks,
    cumB this bracket's maintenance amount and EP this position's entry.

    In ours it is E(p) = MMR(p) solved around the ENTRY price: mark := EP (so this position's own
    unrealised PnL is 0 and equity = WB + UPNL1), MMF := MMR_B, and since this position's
    maintenance is |s|*p*MMR_B - cumB, the constant -cumB joins the others: MMR_o = TMM1 - cumB
    (negative here, which our formula accepts). Isolated: no others, so equity = wallet.
    """
    equity = D(wallet) + sum((o.unrealized for o in others), D(0))
    other_mmr = sum((o.maintenance for o in others), D(0)) - this.amount
    return cents(liquidation_price(equity=equity, size=this.size, mark=this.entry, mmf=this.rate,
                                   other_mmr=other_mmr))  # fmt: skip


BINANCE_WALLET = "1535443.01"
BTCUSDT = BinancePosition(D("109.488"), D("32481.980"), D("31967.27"), D("0.025"), D(16300))
ETHUSDT = BinancePosition(D("3683.979"), D("1456.84"), D("1335.18"), D("0.10"), D(135365))


def test_binance_cross():
    assert binance_liquidation(BINANCE_WALLET, ETHUSDT, [BTCUSDT]) == D("1153.26")
    assert binance_liquidation(BINANCE_WALLET, BTCUSDT, [ETHUSDT]) == D("26316.89")


def test_binance_isolated():
    assert binance_liquidation(BINANCE_WALLET, ETHUSDT, []) == D("1114.78")
    assert binance_liquidation(BINANCE_WALLET, BTCUSDT, []) == D("18778.73")


def test_binance_adapter_needs_the_entry_price_not_the_mark():
    """Feeding Binance's numbers at the mark instead (an easy mistake) misses the published
    figure, so the test above really checks the convention."""
    wrong = BinancePosition(ETHUSDT.size, ETHUSDT.mark, ETHUSDT.mark, ETHUSDT.rate, ETHUSDT.amount)
    assert binance_liquidation(BINANCE_WALLET, wrong, [BTCUSDT]) != D("1153.26")


# --- our defaults (regression) -------------------------------------------------------------

ASSETS = {  # Wtot, Winit, f: MECHANICS section 1 defaults
    "USD": (D(1), D(1), D(0)),
    "BTC": (D("0.975"), D("0.95"), D("0.002")),
    "ETH": (D("0.95"), D("0.90"), D("0.0004")),
}
PRICES = {"USD": D(1), "BTC": D(100000), "ETH": D(3000)}
MARKETS = {"BTC-PERP": ("BTC", D("0.002")), "ETH-PERP": ("ETH", D("0.0004"))}  # maxLev 20 both


def collateral(balances: dict[str, str]) -> list[CollateralInput]:
    rows = []
    for asset, amount in balances.items():
        w_tot, w_init, f = ASSETS[asset]
        b = D(amount)
        rows.append(CollateralInput(asset, b, PRICES[asset], collateral_weight(w_tot, f, b),
                                    collateral_weight(w_init, f, b)))  # fmt: skip
    return rows


def position(market: str, size: str) -> PositionInput:
    """Settled at the mark (S = M = entry), mark = index ("index" mark source), leverage 20."""
    underlying, f = MARKETS[market]
    s, price = D(size), PRICES[underlying]
    return PositionInput(market, underlying, s, price, price, price,
                         imf(20, 20, f, abs(s)), mmf(20, f, s), abs(s))  # fmt: skip


POSITIONS = [position("BTC-PERP", "1"), position("ETH-PERP", "-10")]


def test_defaults_requirements_and_weights():
    assert [p.mmf for p in POSITIONS] == [D("0.03"), D("0.03")]
    assert [p.imf for p in POSITIONS] == [D("0.05"), D("0.05")]  # IMR = 0.05 x 130,000
    risk = account_risk(collateral({"USD": "10000", "BTC": "0.5", "ETH": "2"}), POSITIONS)
    assert (risk.c_tot, risk.c_init, risk.mmr, risk.imr) == (64450, 62900, 3900, 6500)
    assert risk.equity == 64450 and risk.notional == 130000
    assert risk.free_collateral == 62900 - 6500
    assert risk.acmr == 1950  # max(3900/2, 3900 - 0.06 x 130,000)


@pytest.mark.parametrize(
    ("balances", "btc", "eth"),
    [
        ({"USD": "10000", "BTC": "0.5", "ETH": "2"}, ("58456.26", "56672.27"),
         ("10208.33", "10956.79")),
        ({"USD": "64450"}, ("37577.32", "35550.00"), ("8878.64", "9445.00")),
    ],
    ids=["with same-underlying collateral", "same C_tot all in USD"],
)  # fmt: skip
def test_defaults_liquidation_and_bankruptcy_prices(balances, btc, eth):
    risk = account_risk(collateral(balances), POSITIONS)
    assert risk.c_tot == 64450 and risk.mmr == 3900
    got = {p.market: (cents(p.liquidation_price), cents(p.bankruptcy_price))
           for p in risk.positions}  # fmt: skip
    assert got == {"BTC-PERP": (D(btc[0]), D(btc[1])), "ETH-PERP": (D(eth[0]), D(eth[1]))}
    assert all(p.liq_state == "ok" for p in risk.positions)


def test_defaults_zero_prices_and_explain():
    rows = collateral({"USD": "10000", "BTC": "0.5", "ETH": "2"})
    risk = account_risk(rows, POSITIONS)
    zero = {p.market: cents(p.zero_price) for p in risk.positions}
    assert zero == {"BTC-PERP": D("50423.08"), "ETH-PERP": D("4487.31")}
    for row in risk.positions:
        exp = explain(rows, POSITIONS, row.market)
        num = dsum(t.value for t in exp.liquidation_numerator)
        den = dsum(t.value for t in exp.liquidation_denominator)
        assert num / den == row.liquidation_price == exp.liquidation_price
        bk = dsum(t.value for t in exp.bankruptcy_numerator) / dsum(
            t.value for t in exp.bankruptcy_denominator
        )
        assert bk == row.bankruptcy_price
        assert dsum(t.value for t in exp.zero_price_terms) == row.zero_price
    btc = explain(rows, POSITIONS, "BTC-PERP")
    assert [t.value for t in btc.liquidation_numerator] == [64450, -100000, -48750, -900]
    assert [t.value for t in btc.liquidation_denominator] == [D("0.03"), -1, D("-0.4875")]
