"""Liquidation and bankruptcy prices through the facade (MECHANICS section 3, property tests).

For random cross-margin accounts built with ordinary commands (deposits, resting counterparty
orders, IOC takes, an index move and a 30 s settlement), moving one underlying's index to the
reported price must put the account where MECHANICS says: E_mm = MMR at p_liq and E_mm = 0 at
p_bk, within the rounding of the price to the market's tick. A None must mean that no positive
price solves the equation, and a price must mean that one does.

Why the checks are exact up to the tick: with mark_source "index" and no clock movement,
`set_index_price(u, p)` changes only the mark of u's market and the price of u's collateral.
Collateral weights depend on balances, MMF on |s|, and nothing settles, so
    E(p)   = E_mm + (s + k)(p - M)                  (k = w_tot(u, b_u) * b_u)
    MMR(p) = MMR_o + MMF*|s|*p
are linear in p, and rounding p to the tick moves p by at most tick/2 (ROUND_HALF_EVEN).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from exchange_local import Exchange, ExchangeConfig, InsufficientMargin
from exchange_local.config import MarketSpec, default_assets, default_markets
from exchange_local.health import AccountHealth, PositionRisk

D = Decimal
BTC, ETH, SOL = "BTC-PERP", "ETH-PERP", "SOL-PERP"
MARKETS: dict[str, MarketSpec] = {
    m.symbol: replace(m, maker_fee=D(0), taker_fee=D(0)) for m in default_markets()
}
START_PRICES: dict[str, Decimal] = {a.symbol: a.price for a in default_assets()}
# asset -> (decimals, largest whole amount deposited); SOL is not collateral (k = 0 for SOL-PERP)
COLLATERAL: dict[str, tuple[int, int]] = {
    "USD": (6, 1_000_000),
    "USDC": (6, 1_000_000),
    "BTC": (8, 10),
    "ETH": (8, 300),
    "EUR": (6, 1_000_000),
    "AAPL": (6, 4_000),
}
MOVABLE = ("BTC", "ETH", "SOL", "EUR", "AAPL")
MM = "mm"


def zero_fee_exchange() -> Exchange:
    ex = Exchange(ExchangeConfig(mark_source="index", markets=tuple(MARKETS.values())))
    ex.create_account(MM)
    ex.deposit(MM, "USD", D(1_000_000_000))  # the richly funded counterparty
    return ex


def take(ex: Exchange, acct: str, market: str, side: str, size: Decimal) -> bool:
    """The counterparty rests at the index, `acct` takes it IOC. False (and the counterparty's
    order canceled) when the account's order is refused for margin."""
    price = ex.market(market).index
    rest = ex.place_order(MM, market, "sell" if side == "buy" else "buy", size, price=price)
    try:
        res = ex.place_order(acct, market, side, size, price=price, tif="ioc")
    except InsufficientMargin:
        ex.cancel_order(MM, rest.order_id)
        return False
    assert res.filled == size
    return True


def tally(label: str) -> None:
    """Count a case in hypothesis' statistics (pytest --hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(label)


def position(h: AccountHealth, market: str) -> PositionRisk:
    return next(p for p in h.positions if p.market == market)


def same_underlying_coins(h: AccountHealth, underlying: str) -> Decimal:
    """k from the health view's collateral lines: w_tot * b of the underlying, if held."""
    return sum(
        (c.weight * c.amount for c in h.collateral if c.asset == underlying and c.amount > 0),
        D(0),
    )


def precision_slack(*magnitudes: Decimal) -> Decimal:
    """Room for the 34-digit context: each product in E and MMR is rounded at 34 significant
    digits, so the error is far below 1e-25 of the largest magnitude involved."""
    return D("1e-12") + D("1e-25") * max(abs(x) for x in magnitudes)


def at_price(ex: Exchange, acct: str, market: str, p: Decimal) -> tuple[AccountHealth, Decimal]:
    """Health with the index of `market`'s underlying at p (the exchange rounds p to the tick),
    and the bound on |p_set - p| that rounding allows. Restores the mark afterwards."""
    spec = MARKETS[market]
    mark = ex.market(market).mark
    if p >= spec.tick:
        ex.set_index_price(spec.underlying, p)
        distance = spec.tick / 2  # ROUND_HALF_EVEN to the tick
    else:  # a price below one tick would round to 0, which the exchange refuses
        ex.set_index_price(spec.underlying, spec.tick)
        distance = spec.tick
    h = ex.health(acct)
    assert abs(position(h, market).mark_price - p) <= distance
    ex.set_index_price(spec.underlying, mark)
    return h, distance


def check_position(ex: Exchange, acct: str, market: str) -> None:
    """Every section 3 claim about one position of an account with E_mm >= MMR."""
    h = ex.health(acct)
    assert h.equity >= h.mmr > 0
    pos = position(h, market)
    tick = MARKETS[market].tick
    s, mark, mmf = pos.size, pos.mark_price, pos.mmf
    k = same_underlying_coins(h, MARKETS[market].underlying)
    slope_bk = s + k  # dE/dp
    slope_liq = s + k - mmf * abs(s)  # d(E - MMR)/dp
    p_liq, p_bk = pos.liquidation_price, pos.bankruptcy_price
    high = mark * 100

    if p_liq is None:
        tally("p_liq None")
        # no positive root: E - MMR >= 0 at the lowest price a tick allows and far above
        for p in (tick, high):
            probe, _ = at_price(ex, acct, market, p)
            assert probe.equity - probe.mmr >= -precision_slack(probe.equity, k * p, s * p)
    else:
        assert p_liq > 0
        assert slope_liq != 0
        # tolerance: E - MMR has slope s + k - MMF*|s| in p, and the tick rounding moves p by
        # at most tick/2, so |E - MMR| <= (|s + k| + MMF*|s|) * tick/2 at the rounded p_liq
        probe, distance = at_price(ex, acct, market, p_liq)
        tolerance = (abs(s + k) + mmf * abs(s)) * distance
        slack = precision_slack(probe.equity, k * p_liq, s * p_liq, p_liq)
        assert abs(probe.equity - probe.mmr) <= tolerance + slack
        # direction: by the sign of s + k - MMF*|s| (a fall when positive, a rise when negative)
        if slope_liq > 0:
            assert p_liq <= mark
        else:
            assert p_liq >= mark
        if s < 0 and s + k > 0:
            tally(f"hedged short, p_liq {'below' if p_liq < mark else 'above'} the mark")

    if p_bk is None:
        tally("p_bk None" + (" (s + k = 0)" if slope_bk == 0 else ""))
        for p in (tick, high):
            probe, _ = at_price(ex, acct, market, p)
            assert probe.equity >= -precision_slack(probe.equity, k * p, s * p)
    else:
        assert p_bk > 0
        assert slope_bk != 0
        # tolerance: E has slope s + k in p, so |E| <= |s + k| * tick/2 at the rounded p_bk
        probe, distance = at_price(ex, acct, market, p_bk)
        slack = precision_slack(probe.equity, k * p_bk, s * p_bk, p_bk)
        assert abs(probe.equity) <= abs(s + k) * distance + slack

    if p_liq is not None and p_bk is not None:
        tally("both prices")
        assert min(mark, p_bk) <= p_liq <= max(mark, p_bk)

    assert ex.health(acct) == h  # the probes left the account as it was


# --- random accounts ------------------------------------------------------------------------


@st.composite
def amounts(draw: st.DrawFn) -> dict[str, Decimal]:
    """1-4 collateral assets; the first is worth at least about 100 USD so that some position
    can be opened, the others may be as small as one unit of their last decimal."""
    assets = draw(st.lists(st.sampled_from(sorted(COLLATERAL)), min_size=1, max_size=4,
                           unique=True))  # fmt: skip
    out = {}
    for i, asset in enumerate(assets):
        decimals, largest = COLLATERAL[asset]
        smallest = 1 if i else int(100 / START_PRICES[asset] * 10**decimals)
        units = draw(st.integers(smallest, largest * 10**decimals))
        out[asset] = D(units).scaleb(-decimals)
    return out


@settings(max_examples=300)
@given(collateral=amounts(), data=st.data())
def test_reported_prices_solve_their_equations(
    collateral: dict[str, Decimal], data: st.DataObject
) -> None:
    ex = zero_fee_exchange()
    acct = ex.create_account("u")
    for asset, amount in collateral.items():
        ex.deposit(acct, asset, amount)
    markets = data.draw(st.lists(st.sampled_from([BTC, ETH, SOL]), min_size=1, max_size=3,
                                 unique=True), label="markets")  # fmt: skip
    for i, market in enumerate(markets):
        spec = MARKETS[market]
        price = ex.market(market).index
        h = ex.health(acct)
        budget = max(h.free_collateral, D(0)) / (len(markets) - i)
        max_lots = int(budget * spec.max_leverage / (price * spec.lot))
        side = data.draw(st.sampled_from(["buy", "sell"]), label=f"{market} side")
        k = same_underlying_coins(h, spec.underlying)
        if side == "sell" and k > 0 and data.draw(st.booleans(), label=f"{market} hedge"):
            # a short near the collateral it is hedged by: s + k around 0 and MMF*|s|
            lots = int(k / spec.lot) + data.draw(st.integers(-50, 50), label="offset")
        else:
            lots = max_lots * data.draw(st.integers(1, 100), label=f"{market} %") // 100
        if lots >= 1:
            take(ex, acct, market, side, lots * spec.lot)
    assume(any(p.size for p in ex.positions(acct)))
    move = data.draw(st.none() | st.tuples(st.sampled_from(MOVABLE), st.integers(-150, 150)),
                     label="index move (asset, bp)")  # fmt: skip
    if move is not None:
        asset, bp = move
        market = f"{asset}-PERP"
        now = ex.market(market).index if market in MARKETS else START_PRICES[asset]
        ex.set_index_price(asset, now * (10_000 + bp) / 10_000)
    h = ex.health(acct)
    assume(h.equity >= h.mmr)  # else the 1 s liquidation scan would act on the account
    ex.advance(D(30))  # settles every position: USD (weight 1) absorbs the PnL, E_mm unchanged
    h = ex.health(acct)
    assert h.unsettled_pnl == 0 and h.status != "liquidating"
    for p in h.positions:
        k = same_underlying_coins(h, MARKETS[p.market].underlying)
        side = "long" if p.size > 0 else ("hedged short" if p.size + k > 0 else "short")
        event(f"{p.market} {side}")
        check_position(ex, acct, p.market)


@settings(max_examples=150)
@given(
    btc=st.integers(10**7, 10**9),  # 0.1 to 10 BTC, in satoshi
    short_pct=st.integers(1, 100),
    eth_pct=st.integers(0, 100),
    eth_drop_bp=st.integers(0, 2_500),
)
def test_hedged_shorts_are_liquidated_by_a_fall(
    btc: int, short_pct: int, eth_pct: int, eth_drop_bp: int
) -> None:
    """A BTC-PERP short hedged by BTC collateral with s + k > MMF*|s| (here up to k/(1 + MMF)
    coins) loses as BTC falls, so any liquidation price lies below the mark. Losses on an ETH
    long, settled into negative USD, bring that price into range."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC=str(D(btc).scaleb(-8)))
    k = same_underlying_coins(ex.health(acct), "BTC")
    lot = MARKETS[BTC].lot
    lots = int(k / (1 + D("0.03")) * short_pct / 100 / lot)
    assume(lots >= 1)
    assert take(ex, acct, BTC, "sell", lots * lot)
    free = ex.health(acct).free_collateral
    eth_lots = int(free * 20 / D(3000) / MARKETS[ETH].lot) * eth_pct // 100
    if eth_lots:
        assume(take(ex, acct, ETH, "buy", eth_lots * MARKETS[ETH].lot))
    ex.set_index_price("ETH", D(3000) * (10_000 - eth_drop_bp) / 10_000)
    h = ex.health(acct)
    assume(h.equity >= h.mmr)
    ex.advance(D(30))
    h = ex.health(acct)
    btc_pos = position(h, BTC)
    assert btc_pos.size + k > btc_pos.mmf * abs(btc_pos.size)
    if btc_pos.liquidation_price is not None:
        assert btc_pos.liquidation_price < btc_pos.mark_price
    for p in h.positions:
        check_position(ex, acct, p.market)


# --- the cases MECHANICS names ----------------------------------------------------------------


def account(ex: Exchange, **deposits: str) -> str:
    acct = ex.create_account("u")
    for asset, amount in deposits.items():
        ex.deposit(acct, asset, D(amount))
    return acct


def test_hedged_short_is_liquidated_by_a_fall():
    """Short 1 BTC-PERP with 3 BTC of collateral: s + k = -1 + 2.925 > 0, so the account loses
    as BTC falls. A losing ETH long (settled into negative USD) brings p_liq into range."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC="3")
    assert take(ex, acct, BTC, "sell", D(1))
    assert take(ex, acct, ETH, "buy", D(500))
    ex.set_index_price("ETH", D(2700))
    ex.advance(D(30))
    h = ex.health(acct)
    assert ex.balances(acct)["USD"] == D(-150_000)
    assert h.equity == D(142_500) and h.mmr == D(43_500)
    btc = position(h, BTC)
    assert btc.mark_price == D(100_000)
    assert btc.liquidation_price is not None and btc.bankruptcy_price is not None
    # p_liq = (142,500 - 1.925*100,000 - 40,500) / (0.03 - 1.925); p_bk = M - 142,500 / 1.925
    assert round(btc.liquidation_price, 2) == D("47757.26")
    assert round(btc.bankruptcy_price, 2) == D("25974.03")
    assert btc.bankruptcy_price < btc.liquidation_price < btc.mark_price
    check_position(ex, acct, BTC)
    check_position(ex, acct, ETH)


def test_hedged_short_without_other_losses_has_no_prices():
    """Short 1 BTC-PERP with 3 BTC only: E(p) = 1.925 p + 100,000 - 1.925*100,000 stays above
    0.03 p for every p > 0, so neither equation has a positive root: both prices are None."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC="3")
    assert take(ex, acct, BTC, "sell", D(1))
    btc = position(ex.health(acct), BTC)
    assert btc.liquidation_price is None and btc.bankruptcy_price is None
    check_position(ex, acct, BTC)


def test_fully_hedged_short_has_no_bankruptcy_price():
    """1 BTC at weight 0.975 (k = 0.975) hedges a 0.975 BTC-PERP short exactly: s + k = 0, so
    E_mm does not move with BTC and there is no bankruptcy price; MMR still grows with the
    mark, so the liquidation price exists, above the mark: E / (0.975 * 0.03)."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC="1")
    assert take(ex, acct, BTC, "sell", D("0.975"))
    h = ex.health(acct)
    btc = position(h, BTC)
    assert same_underlying_coins(h, "BTC") == D("0.975")
    assert btc.bankruptcy_price is None
    assert btc.liquidation_price == h.equity / (D("0.975") * D("0.03"))
    for p in (D("0.5"), D(1_000_000)):
        probe, _ = at_price(ex, acct, BTC, p)
        assert probe.equity == h.equity  # the hedge is exact at every price
    check_position(ex, acct, BTC)


def test_zero_denominator_has_no_liquidation_price():
    """Short 0.975 BTC-PERP with 1.03 BTC: k = 1.00425 = |s| * (1 + MMF), so E - MMR does not
    move with BTC (denominator 0): no liquidation price, and E - MMR is the same everywhere."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC="1.03")
    assert take(ex, acct, BTC, "sell", D("0.975"))
    h = ex.health(acct)
    btc = position(h, BTC)
    assert btc.liquidation_price is None
    for p in (D("0.5"), D(1_000_000)):
        probe, _ = at_price(ex, acct, BTC, p)
        assert probe.equity - probe.mmr == h.equity - h.mmr
    check_position(ex, acct, BTC)


def test_thinly_hedged_short_is_liquidated_by_a_rise():
    """0 < s + k < MMF*|s| (short 1 with k = 0.975 * 1.04 = 1.014): equity rises with BTC, but
    MMR rises faster, so p_liq lies ABOVE the mark although s + k > 0; p_bk = M - E/0.014 < 0
    is None. The direction of p_liq follows the sign of s + k - MMF*|s|."""
    ex = zero_fee_exchange()
    acct = account(ex, BTC="1.04")
    assert take(ex, acct, BTC, "sell", D(1))
    btc = position(ex.health(acct), BTC)
    assert btc.bankruptcy_price is None
    assert btc.liquidation_price is not None and btc.liquidation_price > btc.mark_price
    check_position(ex, acct, BTC)


def test_overcollateralised_long_has_no_prices():
    """Long 0.1 BTC-PERP on 1,000,000 USD: both solutions are negative, so both are None."""
    ex = zero_fee_exchange()
    acct = account(ex, USD="1000000")
    assert take(ex, acct, BTC, "buy", D("0.1"))
    btc = position(ex.health(acct), BTC)
    assert btc.liquidation_price is None and btc.bankruptcy_price is None
    check_position(ex, acct, BTC)


def test_long_on_its_own_coin_has_prices_below_the_mark():
    """Long 1 BTC-PERP on 0.5 BTC + 10,000 USD: s + k = 1.4875 > 0, so both prices are falls,
    p_bk < p_liq < M (the section 8 regression account without the ETH leg)."""
    ex = zero_fee_exchange()
    acct = account(ex, USD="10000", BTC="0.5")
    assert take(ex, acct, BTC, "buy", D(1))
    btc = position(ex.health(acct), BTC)
    assert btc.liquidation_price is not None and btc.bankruptcy_price is not None
    assert btc.bankruptcy_price < btc.liquidation_price < btc.mark_price
    check_position(ex, acct, BTC)
