"""Teaching scenarios run to completion on the simulated clock and make their point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from exchange_local.cli import main
from exchange_local.scenarios import SCENARIOS, run_scenario


def test_cascade_reaches_every_stage():
    result = run_scenario("cascade", seed=1)
    assert result.ok, result.problems
    for stage in ("cancel", "partial", "backstop", "book_close", "adl", "recovered"):
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


def test_risk_params_command(capsys):
    assert main(["risk-params", "--minutes", "5"]) == 0
    out = capsys.readouterr().out
    assert "BTC-PERP" in out and "cfg" in out
    assert main(["risk-params", "--minutes", "1"]) == 2


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_lasts_at_most_15_minutes(name):
    result = run_scenario(name, seed=1)
    ex = result.exchange
    assert ex.now - ex.config.start_time_seconds <= 900
    assert result.ok, result.problems
