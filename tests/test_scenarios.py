"""Teaching scenarios run to completion on the simulated clock and make their point."""

from __future__ import annotations

import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from exchange_local.cli import main
from exchange_local.events import MarketEvent, OrderRefused
from exchange_local.scenarios import SCENARIOS, format_timeline, run_scenario
from exchange_local.stepping import SteppedScenario

D = Decimal


def test_cascade_reaches_every_stage():
    result = run_scenario("cascade", seed=1)
    assert result.ok, result.problems
    for stage in ("cancel", "partial", "backstop", "book_close", "adl", "over"):
        assert result.stages[stage] >= 1, stage
    assert any("fund" not in r.event and r.account == "cat" for r in result.rows)
    assert result.exchange.check_invariants() == []


def test_gap_makes_the_fund_pay_and_triggers_adl():
    result = run_scenario("gap", seed=1)
    assert result.ok, result.problems
    assert result.stages["insurance"] >= 1 and result.stages["adl"] >= 1
    assert result.summary["fund"] < 12000


def test_funding_premium_raises_the_rate_and_longs_pay():
    result = run_scenario("funding", seed=1)
    assert result.ok, result.problems
    s = result.summary
    assert s["rate paid at the hour"] > s["predicted rate at the start"]
    assert s["gus (long) paid"] > 0


@pytest.mark.parametrize("name", ["cascade", "gap", "funding", "squeeze", "volatility"])
def test_same_seed_same_ledger(name):
    def ledger(result):
        ex = result.exchange
        return [(a, ex.ledger(a)) for a in [*ex.accounts(), "INSURANCE", "FEES"]]

    assert ledger(run_scenario(name, seed=3)) == ledger(run_scenario(name, seed=3))


def test_calm_looks_like_a_market():
    result = run_scenario("calm", seed=1)
    assert result.ok, result.problems
    s = result.summary
    assert s["bid levels within 1 %"] >= 20 and s["ask levels within 1 %"] >= 20
    assert s["trades"] > 50


def test_scenario_cli_lists_runs_and_reports(capsys):
    assert main(["scenario", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SCENARIOS)
    assert main(["scenario", "gap", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "liquidation: adl" in out and "invariants: all held" in out
    assert main(["scenario", "nope"]) == 2


def test_scenario_cli_as_a_command():
    done = subprocess.run([sys.executable, "-m", "exchange_local.cli", "scenario", "gap"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "liquidation: insurance" in done.stdout


def test_squeeze_costs_the_backstop_more_without_caps():
    result = run_scenario("squeeze", seed=1)
    assert result.ok, result.problems
    s = result.summary
    assert s["backstop loss without caps"] > s["backstop loss with caps"] > 0
    assert any("refused: open_interest_cap" in r.event for r in result.rows)


def test_volatility_tightens_parameters_announced_ahead():
    result = run_scenario("volatility", seed=1)
    assert result.ok, result.problems
    ex = result.exchange
    assert ex.market("BTC-PERP").max_leverage < 20
    assert ex.market("BTC-PERP").oi_cap < 250_000_000
    announced = [r for r in result.rows if r.event.startswith("risk params announced")]
    applied = [r for r in result.rows if r.event.startswith("risk params applied")]
    assert announced and applied and min(r.time for r in announced) < min(r.time for r in applied)
    cap = ex.market("BTC-PERP").oi_cap  # the summary is read by people: separators, units
    assert result.summary["BTC-PERP OI cap"] == f"250,000,000 -> {cap:,} USD"
    assert result.summary["BTC-PERP max leverage"].endswith("x")


def test_risk_params_command(capsys):
    assert main(["risk-params", "--minutes", "5"]) == 0
    out = capsys.readouterr().out
    assert "BTC-PERP" in out and "cfg" in out
    btc = next(line for line in out.splitlines() if line.startswith("BTC-PERP"))
    assert btc.endswith("(cfg 0.975)")  # the weight's configured value too, as the rest
    assert "(not collateral)" in next(line for line in out.splitlines() if line.startswith("SOL"))
    assert main(["risk-params", "--minutes", "1"]) == 2


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_lasts_at_most_15_minutes(name):
    result = run_scenario(name, seed=1)
    ex = result.exchange
    assert ex.now - ex.config.start_time_seconds <= 900
    assert result.ok, result.problems


def test_cascade_timeline_shows_fills_fees_and_the_funds_steps():
    result = run_scenario("cascade", seed=1)
    rows = {(r.account, r.event, r.time): r for r in result.rows}
    ada = rows[("ada", "liquidation: partial", 62)]
    assert ada.price == D("94666.64")  # the average fill, not the limit 94,025
    assert "limit 94,025.00" in ada.note and "fee 189.33" in ada.note
    assert ada.fund == D("20189.333280")
    ben = rows[("ben", "liquidation: backstop", 62)]
    assert "at 94,367.00; fund +317.00" in ben.note  # the README's rounding note
    dan = [r for r in result.rows if r.account == "dan" and r.time == 302]
    assert [r.event for r in dan] == [
        "liquidation: book_close",
        "liquidation: insurance",
        "liquidation: adl",
        "liquidation over: closed out, no equity",
    ]
    assert "exceeds the fund's step budget 2,126.44" in dan[0].note
    assert "capacity" not in dan[0].note
    assert dan[1].note == "fund paid 2,126.44 of the 6,050.00 deficit"
    assert dan[1].equity == D("-3923.555117") and dan[1].fund == D("18088.003948")
    out = format_timeline(result)
    assert "liquidation: recovered" not in out  # everyone here ends closed out
    assert "94,666.64" in out


def test_readme_states_the_cascade_and_gap_numbers():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for number in ("317.00, not 316.67", "94,367", "2,126.44", "91,850", "952.30"):
        assert number in readme, number


def test_gap_adl_at_the_zero_price_after_the_funds_whole_budget():
    result = run_scenario("gap", seed=1)
    eve = [r for r in result.rows if r.account == "eve" and r.event.startswith("liquidation")]
    assert [r.event for r in eve][-3:] == [
        "liquidation: insurance",
        "liquidation: adl",
        "liquidation over: closed out, no equity",
    ]
    assert eve[-3].note == "fund paid 1,200.00 of the 3,050.00 deficit"
    assert eve[-2].price == D(91850)  # not 91,850.50: a 1e-33 residue is not a tick
    assert eve[-2].fund == D(10800)
    fay_paid = [r for r in result.rows if r.account == "fay" and "insurance" in r.event]
    assert fay_paid[0].note == "fund paid 952.30 of the 952.30 deficit"
    fay_adl = [r for r in result.rows if r.account == "fay" and r.event == "liquidation: adl"]
    assert [r.price for r in fay_adl] == [D(90000)]  # the book filled nothing more: ADL
    assert result.summary["fund"] == D("9847.700800")


def test_summaries_print_readably(capsys):
    assert main(["scenario", "funding"]) == 0
    out = capsys.readouterr().out
    assert "rate paid at the hour: 0.023755%/h" in out
    assert "gus (long) paid: 47.51 USD" in out
    assert not re.search(r"\d\.\d{9,}", out.split("summary:")[1])


def test_squeeze_marks_its_runs_and_emits_the_refusals_for_a_ui():
    result = run_scenario("squeeze", seed=1)
    events = [r.event for r in result.rows]
    assert events[0] == "[no caps] run 1 of 2: no caps"
    assert "[caps] run 2 of 2: OI cap, backstop loss cap" in events
    # a UI follows each run from its first second, as perptui's demo venue does
    stepped = SteppedScenario("squeeze", seed=1)
    stepped.start()
    seen: list = []
    watched = None
    while True:
        if stepped.run is not watched:
            watched = stepped.run
            watched.ex.subscribe(seen.append)
        if not stepped.step():
            break
    markers = [e for e in seen if isinstance(e, MarketEvent) and e.what.startswith("lesson run")]
    assert [e.detail["run"] for e in markers] == [1, 2]
    assert markers[1].what == "lesson run 2 of 2: with an open-interest cap and a backstop loss cap"
    refused = [e for e in seen if isinstance(e, OrderRefused)]
    assert [(e.account, e.code) for e in refused] == [
        ("mal-short-2", "open_interest_cap"),
        ("mal-short-3", "open_interest_cap"),
    ]
    assert refused[0].size == 1_000_000 and refused[0].side == "sell"
