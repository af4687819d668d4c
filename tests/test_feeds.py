"""Index feeds: the seeded random walk, CSV replay and driving an exchange's index on its clock."""

from __future__ import annotations

import math
import pickle
from decimal import Decimal
from itertools import pairwise

import pytest

from exchange_local import Exchange, ExchangeConfig
from exchange_local.feeds import (
    ORDER_INDEX,
    AssetDynamics,
    CsvFeedError,
    CsvReplayFeed,
    FeedError,
    GroupDynamics,
    PriceFeed,
    RandomWalkFeed,
    WalkParams,
    attach,
)

D = Decimal
MINUTE = 60_000


def path(feed: RandomWalkFeed, steps: int, every_ms: int = MINUTE) -> list[dict[str, Decimal]]:
    start = feed.last_ms
    return [feed.step(start + i * every_ms) for i in range(1, steps + 1)]


@pytest.fixture(scope="module")
def long_path() -> tuple[RandomWalkFeed, list[dict[str, Decimal]], list[bool]]:
    """Ten days at one-minute steps, with the crypto regime after each step."""
    feed = RandomWalkFeed(11)
    prices, turbulent = [], []
    for i in range(1, 10 * 24 * 60 + 1):
        prices.append(feed.step(i * MINUTE))
        turbulent.append(feed.turbulent["crypto"])
    return feed, prices, turbulent


def log_returns(prices: list[dict[str, Decimal]], symbol: str) -> list[float]:
    xs = [math.log(p[symbol]) for p in prices]
    return [b - a for a, b in pairwise(xs)]


# --- random walk -------------------------------------------------------------------------------


def test_same_seed_same_path_and_different_seeds_differ() -> None:
    a, b, c = RandomWalkFeed(5), RandomWalkFeed(5), RandomWalkFeed(6)
    pa, pb, pc = path(a, 500), path(b, 500), path(c, 500)
    assert pa == pb
    assert pa != pc
    assert a.events == b.events


def test_emits_decimals_on_tick_and_positive(long_path) -> None:
    feed, prices, _ = long_path
    ticks = {a.symbol: a.tick for a in feed.params.assets}
    assert set(prices[0]) == {"BTC", "ETH", "SOL", "EUR", "AAPL"}
    for row in prices[::50] + prices[-5:]:
        for symbol, price in row.items():
            assert type(price) is Decimal
            assert price > 0
            assert price % ticks[symbol] == 0, (symbol, price)


def test_btc_and_eth_returns_are_positively_correlated(long_path) -> None:
    _, prices, _ = long_path
    btc, eth = log_returns(prices, "BTC"), log_returns(prices, "ETH")
    n = len(btc)
    mb, me = sum(btc) / n, sum(eth) / n
    cov = sum((x - mb) * (y - me) for x, y in zip(btc, eth, strict=True))
    var_b = sum((x - mb) ** 2 for x in btc)
    var_e = sum((y - me) ** 2 for y in eth)
    corr = cov / math.sqrt(var_b * var_e)
    assert 0.5 < corr < 0.99
    # EUR has its own dynamics: essentially uncorrelated with BTC
    eur = log_returns(prices, "EUR")
    m_eur = sum(eur) / n
    cov_eur = sum((x - mb) * (y - m_eur) for x, y in zip(btc, eur, strict=True))
    corr_eur = cov_eur / math.sqrt(var_b * sum((y - m_eur) ** 2 for y in eur))
    assert abs(corr_eur) < 0.1


def test_regimes_switch_jumps_happen_and_turbulence_is_wilder(long_path) -> None:
    feed, prices, turbulent = long_path
    assert feed.switches >= 2 and feed.jumps >= 5
    kinds = {kind for _, kind, _ in feed.events}
    assert {"turbulent", "calm", "jump"} <= kinds
    btc = log_returns(prices, "BTC")
    calm = [r * r for r, t in zip(btc, turbulent[1:], strict=True) if not t]
    wild = [r * r for r, t in zip(btc, turbulent[1:], strict=True) if t]
    assert calm and wild
    assert sum(wild) / len(wild) > 2 * sum(calm) / len(calm)


def test_calm_vol_is_realistic() -> None:
    """With no regime switches and no jumps, BTC's realised vol is near the 55 % default."""
    groups = (GroupDynamics("crypto", 0.0, 0.0),)
    btc = AssetDynamics("BTC", D(100000), D("0.5"), 0.55, "crypto", 0.9)
    feed = RandomWalkFeed(3, WalkParams(groups, (btc,)))
    prices = path(feed, 20_000)
    r = log_returns(prices, "BTC")
    annual = math.sqrt(sum(x * x for x in r) / len(r) * 365 * 24 * 60)
    assert 0.50 < annual < 0.60


def test_prices_never_reach_zero_even_for_a_wild_penny_asset() -> None:
    groups = (GroupDynamics("g", 0.0, 0.0),)
    penny = AssetDynamics("BTC", D("0.002"), D("0.001"), 20.0, "g", 0.0, 50.0, -0.5, 0.5)
    feed = RandomWalkFeed(1, WalkParams(groups, (penny,)))
    assert all(p["BTC"] >= D("0.001") for p in path(feed, 2000, every_ms=3_600_000))


def test_pickle_round_trip_continues_identically() -> None:
    feed = RandomWalkFeed(42)
    path(feed, 1000)
    copy = pickle.loads(pickle.dumps(feed))
    assert path(copy, 1000) == path(feed, 1000)
    assert copy.events == feed.events and copy.switches == feed.switches


def test_time_cannot_go_backwards_and_zero_dt_holds() -> None:
    feed = RandomWalkFeed(1)
    first = feed.step(5000)
    assert feed.step(5000) == first
    with pytest.raises(FeedError) as err:
        feed.step(4000)
    assert isinstance(err.value, ValueError)


def test_from_config_uses_market_ticks_and_config_prices() -> None:
    config = ExchangeConfig()
    feed = RandomWalkFeed.from_config(config)
    dyn = {a.symbol: a for a in feed.params.assets}
    assert set(dyn) == {"BTC", "ETH", "SOL", "EUR", "AAPL"}
    assert dyn["BTC"].tick == D("0.5") and dyn["SOL"].tick == D("0.001")
    assert dyn["EUR"].tick == D("0.000001")  # no market: the asset's quantum
    assert feed.step(0)["BTC"] == D(100000)
    assert RandomWalkFeed.from_config(config).step(MINUTE) == feed.step(MINUTE)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(FeedError):
        RandomWalkFeed(1, assets=["DOGE"])
    with pytest.raises(FeedError):
        WalkParams((GroupDynamics("g", 0.1, 1.0),), (AssetDynamics("X", D(1), D(1), 0.1, "h"),))
    with pytest.raises(FeedError):
        RandomWalkFeed(1.5)  # type: ignore[arg-type]


def test_both_kinds_of_feed_satisfy_the_protocol() -> None:
    assert isinstance(RandomWalkFeed(1), PriceFeed)
    assert isinstance(CsvReplayFeed("time,symbol,price\n"), PriceFeed)


# --- CSV replay --------------------------------------------------------------------------------

TICKS = """# recorded index
time,symbol,price
0,BTC,60000.5
0,ETH,3000
1.5,BTC,60010

3,ETH,2990.25
3,BTC,59990
"""


def test_csv_exact_replay_holds_each_price_until_its_next_row(tmp_path) -> None:
    file = tmp_path / "ticks.csv"
    file.write_text(TICKS)
    for feed in (CsvReplayFeed(TICKS), CsvReplayFeed(file), CsvReplayFeed(str(file))):
        assert feed.step(0) == {"BTC": D("60000.5"), "ETH": D(3000)}
        assert feed.step(1499) == {"BTC": D("60000.5"), "ETH": D(3000)}
        assert feed.step(1500) == {"BTC": D(60010), "ETH": D(3000)}
        assert feed.step(10_000) == {"BTC": D(59990), "ETH": D("2990.25")}
        assert feed.end_ms == 3000


def test_csv_symbol_absent_before_its_first_row() -> None:
    feed = CsvReplayFeed.from_text("time,symbol,price\n2,SOL,150")
    assert feed.step(1000) == {}
    assert feed.step(2000) == {"SOL": D(150)}


OHLC = """time,symbol,open,high,low,close,volume
0,BTC,100,130,70,120,5
60,BTC,110,115,85,90,3
"""


def test_ohlc_up_bar_goes_open_low_high_close() -> None:
    feed = CsvReplayFeed(OHLC)
    at = lambda s: feed.price_at("BTC", int(s * 1000))  # noqa: E731
    assert at(0) == 100
    assert at(10) == 85  # halfway from open 100 to low 70
    assert at(20) == 70
    assert at(30) == 100  # halfway from low 70 to high 130
    assert at(40) == 130
    assert at(50) == 125  # halfway from high 130 to close 120
    assert at(60) == 110  # the next bar's open wins at its own start


def test_ohlc_down_bar_goes_open_high_low_close_then_close_holds() -> None:
    feed = CsvReplayFeed(OHLC)
    at = lambda s: feed.price_at("BTC", int(s * 1000))  # noqa: E731
    assert at(80) == 115
    assert at(100) == 85
    assert at(110) == 88  # 87.5, rounded half even to the bar's finest places (whole numbers)
    assert at(120) == 90
    assert at(1000) == 90


def test_ohlc_rounding_and_explicit_bar_length() -> None:
    text = "time,symbol,open,high,low,close\n0,ETH,1.00,1.30,1.00,1.30\n"
    feed = CsvReplayFeed(text, bar_seconds=3)
    assert str(feed.price_at("ETH", 1000)) == "1.00"  # open -> low (= open) at 1 s
    assert str(feed.price_at("ETH", 1500)) == "1.15"  # two places, as written in the bar
    assert str(feed.price_at("ETH", 1550)) == "1.16"  # 1.165 half even
    assert str(feed.price_at("ETH", 2000)) == "1.30"
    feed = CsvReplayFeed(text, bar_seconds=3, ticks={"ETH": D("0.5")})
    assert feed.price_at("ETH", 1500) == D("1.0")  # 1.15 on a 0.5 tick
    with_gap = "time,symbol,open,high,low,close\n0,X,10,10,10,10\n60,X,11,11,11,11\n300,X,9,9,9,9"
    assert CsvReplayFeed(with_gap).price_at("X", 200_000) == 11  # a gap holds the close


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("time,symbol,prize\n0,BTC,1\n", 1, "unknown columns ['prize']"),
        ("# c\n\ntime,symbol,price,extra\n", 3, "unknown columns ['extra']"),
        ("time,symbol,price\n0,BTC,1\n1,BTC,abc\n", 3, "not a decimal"),
        ("time,symbol,price\n0,BTC,1\n1,BTC,-5\n", 3, "positive"),
        ("time,symbol,price\n0,BTC,1\n0,BTC,2\n", 3, "twice"),
        ("time,symbol,price\n5,BTC,1\n4,ETH,2\n", 3, "before the previous"),
        ("time,symbol,price\n0,BTC\n", 2, "expected 3 fields"),
        ("time,symbol,price\n0.0001,BTC,1\n", 2, "whole milliseconds"),
        ("time,symbol,price\n,BTC,1\n", 2, "not a decimal"),
        ("time,symbol,price\n1,,1\n", 2, "symbol is empty"),
        ("time,symbol,open,high,low,close\n0,B,10,9,8,9\n60,B,1,1,1,1\n", 2, "low <="),
        ("time,symbol,open,high,low,close\n0,B,10,11,8,9\n", 2, "bar_seconds"),
        ("time,symbol,time,price\n", 1, "duplicate"),
        ("# only a comment\n", 0, "no header"),
    ],
)
def test_csv_errors_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(CsvFeedError) as err:
        CsvReplayFeed(text)
    assert isinstance(err.value, ValueError)
    assert err.value.line == line
    assert words in str(err.value)
    if line:
        assert str(err.value).startswith(f"line {line}: ")


def test_overlapping_bars_with_explicit_length_are_refused() -> None:
    text = "time,symbol,open,high,low,close\n0,B,1,1,1,1\n30,B,1,1,1,1\n"
    with pytest.raises(CsvFeedError, match="line 3"):
        CsvReplayFeed(text, bar_seconds=60)


# --- attach ------------------------------------------------------------------------------------


def test_attach_drives_the_index_on_the_exchange_clock() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    feed = CsvReplayFeed("time,symbol,price\n0,BTC,60000\n2,BTC,61000.5\n5,ETH,2500\n")
    handle = attach(ex, feed, period_ms=1000)
    assert (
        handle.job.order
        == ORDER_INDEX
        < min(j.order for j in ex.scheduler.jobs() if j is not handle.job)
    )
    assert ex.market("BTC-PERP").index == 60000  # primed at attach time
    ex.advance(1)
    assert ex.market("BTC-PERP").index == 60000
    ex.advance(1)
    btc = ex.market("BTC-PERP")
    assert btc.index == D("61000.5") and btc.mark == D("61000.5")
    ex.advance(3)
    assert ex.market("ETH-PERP").index == 2500 and ex.prices["ETH"] == 2500
    handle.detach()
    assert handle.job not in ex.scheduler.jobs()
    ex.set_index_price("BTC", D(50000))
    ex.advance(10)
    assert ex.market("BTC-PERP").index == 50000


def test_attach_random_walk_moves_every_period() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    feed = RandomWalkFeed.from_config(ex.config, seed=9)
    twin = RandomWalkFeed.from_config(ex.config, seed=9)
    attach(ex, feed, period_ms=500)
    seen = set()
    for k in range(1, 21):
        ex.advance(D("0.5"))
        expected = twin.step(k * 500)
        assert ex.market("BTC-PERP").index == expected["BTC"]
        assert ex.prices["AAPL"] == expected["AAPL"]
        seen.add(ex.market("BTC-PERP").index)
    assert len(seen) > 5


def test_attach_refuses_bad_input_and_leaves_no_job() -> None:
    ex = Exchange(ExchangeConfig(mark_source="index"))
    before = len(ex.scheduler.jobs())
    with pytest.raises(FeedError):
        attach(ex, RandomWalkFeed(1), period_ms=0)
    with pytest.raises(FeedError):
        attach(ex, object())  # type: ignore[arg-type]
    with pytest.raises(Exception, match="DOGE"):
        attach(ex, CsvReplayFeed("time,symbol,price\n0,DOGE,1\n"))
    assert len(ex.scheduler.jobs()) == before
