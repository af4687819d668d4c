"""QA (venues.md D4): the volatility lesson's risk-parameter events read as words.

The events tab showed the raw records: `risk_params_announced effective at 600, max leverage
20 → 20, ..., daily vol 0.0140467` (and `daily vol None`), and `risk_params_applied` left out
the collateral weight that had been announced. These read like the other events: a name, the
time as HH:MM:SS exchange time, the volatility as a percentage (left out when unknown), an
unchanged value said once as unchanged, and the applied line with the weights it applied.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import Exchange, ExchangeConfig
from exchange_local.events import MarketEvent
from exchange_local.server import wire
from exchange_local.server.wire_decode import load
from perptui.eventtext import describe
from tests.helpers import Recorder, funded

D = Decimal
BTC = "BTC-PERP"


def text(event: MarketEvent) -> str:
    line = describe(event, "paper")
    assert line is not None and line.kind == "market" and not line.mine
    return line.text


def swinging_exchange() -> tuple[Exchange, Recorder]:
    """BTC swings 0.4 % each minute around 100,000 with a book 0.5 % either side: the
    formula tightens every parameter of BTC-PERP each 2-minute period (simulated time)."""
    config = ExchangeConfig(mark_source="index", dynamic_risk=True,
                            dynamic_risk_period_seconds=120)  # fmt: skip
    ex = Exchange(config)
    funded(ex, "mm", "100000000")
    ex.place_order("mm", BTC, "buy", D(10), price=D(99500))
    ex.place_order("mm", BTC, "sell", D(10), price=D(100500))
    rec = Recorder(ex)
    for minute in range(4):
        move = D("0.004") if minute % 2 else D("-0.004")
        ex.set_index_price("BTC", D(100000) * (1 + move))
        ex.advance(60)
    return ex, rec


def test_the_engines_announcement_and_application_read_as_words():
    ex, rec = swinging_exchange()
    events = [e for e in rec.of("MarketEvent") if e.market == BTC]
    announced, applied = events[0], events[1]
    assert (announced.what, applied.what) == ("risk_params_announced", "risk_params_applied")
    assert (announced.time_ms, applied.time_ms) == (120_000, 240_000)
    said = text(announced)
    assert said.startswith("BTC-PERP: risk parameters announced, in force at 00:04:00 · ")
    assert "max leverage 20x → 15x" in said and "OI cap 250,000,000 → 187,500,000 USD" in said
    assert "BTC collateral weight 0.975 → 0.925 (initial 0.95 → 0.90)" in said
    vol = announced.detail["daily_vol"]  # the fraction, 0.3048
    assert said.endswith(f"daily volatility {vol * 100:.2f}%") and str(vol)[:6] not in said
    for raw in ("risk_params", "effective at", "240", "daily vol 0", "None", "_"):
        assert raw not in said, raw
    done = text(applied)
    # what the announcement said, now in force: the weights too
    assert done == ("BTC-PERP: risk parameters applied · max leverage 20x → 15x · OI cap "
                    "250,000,000 → 187,500,000 USD · BTC collateral weight 0.975 → 0.925 "
                    "(initial 0.95 → 0.90)")  # fmt: skip
    assert applied.detail["weight_total"] == (D("0.975"), D("0.925"))
    assert ex._assets["BTC"].weight_total == D("0.925")  # what the line says was applied


def test_unchanged_values_are_said_once_and_an_unknown_volatility_is_left_out():
    """The lesson's ETH line: `max leverage 20 → 20 ... weight total 0.95 → 0.95, daily
    vol None`."""
    event = MarketEvent(300_000, "ETH-PERP", "risk_params_announced", {
        "effective_at": D(600), "max_leverage": (D(20), D(20)),
        "oi_cap": (D(150000000), D(112500000)), "asset": "ETH",
        "weight_total": (D("0.95"), D("0.95")), "weight_initial": (D("0.90"), D("0.90")),
        "daily_vol": None})  # fmt: skip
    said = text(event)
    assert said == ("ETH-PERP: risk parameters announced, in force at 00:10:00 · OI cap "
                    "150,000,000 → 112,500,000 USD · unchanged: max leverage 20x, ETH "
                    "collateral weight 0.95 (initial 0.90)")  # fmt: skip
    assert "20 → 20" not in said and "0.95 → 0.95" not in said
    assert "None" not in said and "volatility" not in said


def test_the_words_are_the_same_off_the_wire():
    """A class on the server: the detail arrives as JSON (strings, lists, null)."""
    event = MarketEvent(600_000, BTC, "risk_params_announced", {
        "effective_at": D(900), "max_leverage": (D(20), D(15)),
        "oi_cap": (D(187500000), D(140625000)), "asset": "BTC",
        "weight_total": (D("0.957"), D("0.907")), "weight_initial": (D("0.932"), D("0.882")),
        "daily_vol": D("0.0309883")})  # fmt: skip
    fields = wire.dump(event)
    assert fields["detail"]["max_leverage"] == ["20", "15"]  # JSON: strings in a list
    again = load(MarketEvent, fields)
    assert text(again) == text(event)
    assert text(event) == (
        "BTC-PERP: risk parameters announced, in force at 00:15:00 · max leverage 20x → 15x · "
        "OI cap 187,500,000 → 140,625,000 USD · BTC collateral weight 0.957 → 0.907 (initial "
        "0.932 → 0.882) · daily volatility 3.10%"
    )
    older = MarketEvent(900_000, BTC, "risk_params_applied",
                        {"max_leverage": "15", "oi_cap": "140625000"})  # fmt: skip
    assert text(older) == ("BTC-PERP: risk parameters applied · max leverage 15x · OI cap "
                           "140,625,000 USD")  # fmt: skip
