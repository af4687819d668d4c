"""Property: random leveraged accounts and random price paths with gaps. After every 1 s tick
the invariants of MECHANICS section 7 hold, nobody outside liquidation has negative equity,
the insurance fund never goes negative, and the ledger rebuilds every balance."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_local import Exchange, ExchangeConfig, ExchangeError
from exchange_local.ledger import INSURANCE

D = Decimal
BTC, ETH = "BTC-PERP", "ETH-PERP"

account = st.tuples(
    st.integers(1_000, 50_000),  # USD deposit
    st.sampled_from([BTC, ETH]),
    st.sampled_from(["buy", "sell"]),
    st.integers(2, 19),  # leverage used, of the maximum 20
)
step = st.tuples(
    st.sampled_from(["BTC", "ETH"]),
    st.integers(-1500, 1500),  # basis points: gaps of up to 15 %
    st.integers(1, 40),  # seconds to the next move
)


@settings(max_examples=40, deadline=None)
@given(
    accounts=st.lists(account, min_size=2, max_size=6),
    path=st.lists(step, min_size=1, max_size=12),
    with_blp=st.booleans(),
    fund=st.sampled_from([D(0), D(2_000), D(1_000_000)]),
)
def test_invariants_hold_along_random_price_paths(accounts, path, with_blp, fund):
    ex = Exchange(ExchangeConfig(mark_source="index", insurance_fund=fund,
                                 backstop_accounts=("blp",) if with_blp else ()))  # fmt: skip
    halts = []  # a stage refused by its section 7 check: never expected on sane paths
    ex.subscribe(lambda e: halts.append(e) if getattr(e, "stage", None) == "halted" else None)
    mm = ex.create_account("mm")
    ex.deposit(mm, "USD", D(10**9))
    if with_blp:
        ex.deposit(ex.create_account("blp"), "USD", D(10**8))
    prices = {"BTC": D(100000), "ETH": D(3000)}
    lots = {BTC: D("0.0001"), ETH: D("0.001")}
    users = []
    for i, (deposit, market, side, lev) in enumerate(accounts):
        name = ex.create_account(f"u{i}")
        ex.deposit(name, "USD", D(deposit))
        price = prices[market[:3]]
        size = (D(deposit) * lev / price / lots[market]).to_integral_value() * lots[market]
        if size <= 0:
            continue
        ex.place_order(mm, market, "sell" if side == "buy" else "buy", size, price=price)
        try:
            ex.place_order(name, market, side, size, price=price, tif="ioc")
        except ExchangeError:
            ex.cancel_all(mm)
        users.append(name)
    for market, tick in ((BTC, D("0.5")), (ETH, D("0.05"))):  # liquidity on both sides
        mid = prices[market[:3]]
        for k in range(1, 30):
            ex.place_order(mm, market, "buy", lots[market] * 2000, price=mid - k * 40 * tick)
            ex.place_order(mm, market, "sell", lots[market] * 2000, price=mid + k * 40 * tick)
    for asset, bps, seconds in path:
        prices[asset] = max(prices[asset] * (10000 + bps) / 10000, D(1))
        ex.set_index_price(asset, prices[asset])
        for _ in range(seconds):
            ex.advance(1)
            assert ex.check_invariants() == []
            assert halts == []
            assert ex._ledger.balance(INSURANCE, "USD") >= 0
            for name in users:
                acct = ex._accounts[name]
                if acct.liquidation_status is None:
                    assert ex.health(name).equity >= 0, name
            for market in (BTC, ETH):
                longs = sum((p.size for u in ex.accounts() for p in ex.positions(u)
                             if p.market == market and p.size > 0), D(0))  # fmt: skip
                assert ex.market(market).open_interest == longs
