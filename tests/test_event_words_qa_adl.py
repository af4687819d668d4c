"""QA (venues.md D11): the fund's payment before ADL says "its step budget" only when the
budget limited it, and "ADL takes the other ..." only when something is left for ADL.

The gap and squeeze lessons read "the fund paid 952.30 of the 952.30 USD deficit, its step
budget; ADL takes the other 0.00 at the zero price" for a payment below a budget of 1,080.00.
When the fund pays it all, ADL still runs because nothing filled on the book and no backstop
provider can take the account (liquidation.py, `stuck`): the words say that instead.
"""

from __future__ import annotations

from decimal import Decimal

from exchange_local import scenarios
from exchange_local.events import LiquidationEvent
from tests.helpers import Recorder, funded
from tests.test_liquidation import exchange, open_long
from tests.test_liquidation_wording import liquidations, text
from tests.test_liquidation_wording_more import past_the_budget

D = Decimal


def test_a_deficit_within_the_budget_says_the_fund_paid_it_all_and_why_adl_still_runs():
    """No BLPs, an empty book, a fund of 1,000,000 (step budget 100,000): u's deficit of
    1,000 is paid whole, and ADL closes the position against mm's short at the zero price."""
    ex = exchange()
    funded(ex, "mm", "1000000")
    u = funded(ex, "u", "6000")
    open_long(ex, u, "1")
    rec = Recorder(ex)
    fund0 = ex.insurance_fund()
    ex.set_index_price("BTC", D(93000))  # E 6,000 - 7,000 = -1,000
    ex.advance(3)
    events = liquidations(rec, u)
    stages = [e.stage for e in events]
    assert stages[-3:] == ["insurance", "adl", "over"]
    fund = events[-3]
    assert fund0 - ex.insurance_fund() == D(1000)  # all of it, below the budget
    assert fund.detail == (
        "the fund paid the whole 1,000.00 USD deficit, within its step budget 100,000.00 USD; "
        "ADL still closes the position at the zero price, which now leaves no equity: the book "
        "filled nothing this second and there are no backstop providers"  # none exist here
    )
    line = text(fund)
    assert "its step budget;" not in line and "ADL takes the other" not in line
    assert "0.00 at the zero price" not in line
    assert ex.positions(u) == [] and ex.positions("mm") == []  # ADL did close it


def test_a_deficit_past_the_budget_says_it_paid_its_budget_and_adl_takes_the_rest():
    """Step budget 500 (fund 5,000) < deficit 1,000: the budget limited the payment."""
    _, rec, u = past_the_budget()
    fund = next(e for e in liquidations(rec, u) if e.stage == "insurance")
    assert fund.detail == ("the fund paid 500.00 of the 1,000.00 USD deficit, all of its step "
                           "budget; ADL takes the other 500.00 at the zero price")  # fmt: skip


def test_the_gap_and_squeeze_lessons_no_longer_say_adl_takes_the_other_zero(monkeypatch):
    """The lessons the tester read: eve's deficit (gap) is past the budget, fay's (gap) and
    mal-short-1's (squeeze, run 2: hlp at its loss cap) are within it."""
    seen: list[LiquidationEvent] = []
    start = scenarios.Run.__init__

    def recording(self, name, seed, ex, *args, **kwargs):  # type: ignore[no-untyped-def]
        start(self, name, seed, ex, *args, **kwargs)
        ex.subscribe(lambda e: seen.append(e) if isinstance(e, LiquidationEvent) else None)

    monkeypatch.setattr(scenarios.Run, "__init__", recording)
    for name in ("gap", "squeeze"):
        assert scenarios.run_scenario(name, seed=1).ok
    paid = {e.account: e.detail for e in seen if e.stage == "insurance"}
    assert paid["eve"].startswith("the fund paid 1,200.00 of the 3,050.00 USD deficit, all of "
                                  "its step budget; ADL takes the other 1,850.00")  # fmt: skip
    for whole in ("fay", "mal-short-1"):
        assert paid[whole].startswith("the fund paid the whole "), whole
        assert "ADL still closes the position" in paid[whole]
        assert "ADL takes the other" not in paid[whole]
    assert paid["fay"].startswith("the fund paid the whole 952.30 USD deficit, within its step "
                                  "budget 1,080.00 USD")  # fmt: skip
