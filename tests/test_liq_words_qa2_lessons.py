"""The lessons as a teacher demoed them (perptui demo cascade, gap, squeeze): the event lines
the events tab shows, read the way a class reads them. Margin calls before the stages they
lead to, the words of a stuck deficit true to the lesson's set-up, one readable line per
event with the market's digits, and figures that add up as shown (README "Liquidation, step
by step" and "Teaching scenarios")."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from exchange_local import scenarios
from exchange_local.events import Event, LiquidationEvent, MarginEvent
from perptui.eventtext import EventLine, describe

D = Decimal


@pytest.fixture(scope="module")
def lessons() -> dict[str, list[Event]]:
    """Every event of each lesson (squeeze: both runs), in the order emitted."""
    seen: dict[str, list[Event]] = {}
    start = scenarios.Run.__init__

    def recording(self, name, seed, ex, *args, **kwargs):  # type: ignore[no-untyped-def]
        start(self, name, seed, ex, *args, **kwargs)
        ex.subscribe(seen.setdefault(name, []).append)

    mp = pytest.MonkeyPatch()
    mp.setattr(scenarios.Run, "__init__", recording)
    try:
        for name in ("cascade", "gap", "squeeze"):
            assert scenarios.run_scenario(name, seed=1).ok
    finally:
        mp.undo()
    return seen


def lines(events: list[Event]) -> list[EventLine]:
    out = [describe(e, "nobody") for e in events]
    return [line for line in out if line is not None]


def line_of(events: list[Event], account: str, stage: str) -> str:
    (event,) = [e for e in events if isinstance(e, LiquidationEvent) and e.account == account
                and e.stage == stage]  # fmt: skip
    line = describe(event, "nobody")
    assert line is not None
    return line.text


# --- 1: the margin call before stage 1 ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lesson", "account"),
    [("cascade", "ada"), ("cascade", "ben"), ("cascade", "cat"), ("gap", "eve"), ("gap", "fay")],
)
def test_the_reduce_only_call_comes_before_stage_1_in_the_same_second(lessons, lesson, account):
    events = lessons[lesson]
    order = [(e.time_ms, "call" if isinstance(e, MarginEvent) else e.stage) for e in events
             if getattr(e, "account", None) == account
             and ((isinstance(e, MarginEvent) and e.level == "reduce_only")
                  or (isinstance(e, LiquidationEvent) and e.stage == "cancel"))]  # fmt: skip
    assert [what for _, what in order] == ["call", "cancel"], order
    assert order[0][0] == order[1][0]  # in the same second: the stage's timing is unchanged


def test_the_cascade_keeps_its_stages_times_and_money(lessons):
    stages = [(e.time_ms // 1000, e.account, e.stage, e.fund_after)
              for e in lessons["cascade"] if isinstance(e, LiquidationEvent)]  # fmt: skip
    assert [(t, a, s) for t, a, s, _ in stages] == [
        (61, "ada", "cancel"), (61, "ben", "cancel"), (62, "ada", "partial"),
        (62, "ben", "backstop"), (62, "ben", "over"), (92, "ada", "partial"), (92, "ada", "over"),
        (301, "cat", "cancel"), (301, "dan", "cancel"), (302, "cat", "backstop"),
        (302, "cat", "over"), (302, "dan", "book_close"), (302, "dan", "insurance"),
        (302, "dan", "adl"), (302, "dan", "over"),
    ]  # fmt: skip
    assert stages[-1][3].quantize(D("0.01")) == D("18088.45")


# --- 2: a stuck deficit's words true to the set-up -------------------------------------------


def test_the_gap_lesson_has_no_backstop_providers_and_says_so(lessons):
    line = line_of(lessons["gap"], "fay", "insurance")
    assert line.endswith("the book filled nothing this second and there are no backstop "
                         "providers")  # fmt: skip
    assert "capacity refills" not in line
    closes = [e.detail for e in lessons["gap"]
              if isinstance(e, LiquidationEvent) and e.stage == "book_close"]  # fmt: skip
    assert all(d.startswith("no backstop providers;") for d in closes)


def test_the_squeeze_lesson_names_why_its_provider_cannot_take_over(lessons):
    line = line_of(lessons["squeeze"], "mal-short-1", "insurance")  # run 2: hlp at its cap
    assert line.endswith("the book filled nothing this second and no backstop provider can take "
                         "over, even once its capacity refills (hlp at its loss cap 25,000.00 "
                         "USD)")  # fmt: skip


# --- 4: one readable line per event, the market's digits ------------------------------------


def test_the_squeeze_lessons_markers_read_as_one_line(lessons):
    markers = [line.text for line in lines(lessons["squeeze"]) if "lesson run" in line.text]
    assert markers == [
        "JELLY-PERP: lesson run 1 of 2: no open-interest cap, no backstop loss cap",
        "JELLY-PERP: lesson run 2 of 2: with an open-interest cap and a backstop loss cap · "
        "open-interest cap 100,000.00 USD · backstop loss cap 25,000.00 USD",
    ]


def test_the_squeeze_lines_give_sizes_on_the_lot_and_prices_on_the_tick(lessons):
    texts = [line.text for line in lines(lessons["squeeze"])]
    jelly = [t for t in texts if "JELLY-PERP" in t]
    for t in jelly:
        assert "1000000" not in t and "1,000,000.0000" not in t, t
    refused = [t for t in texts if " refused (" in t]
    assert refused and all("sell 1,000,000 JELLY-PERP @ 0.05000 refused" in t for t in refused)
    adl = line_of(lessons["squeeze"], "mal-short-1", "adl")
    assert "· size 1,000,000 · @ 0.23840 ·" in adl and "zero price 0.23840" in adl
    close = line_of(lessons["squeeze"], "mal-short-1", "book_close")
    assert "· limit 0.29973 ·" in close and "asked 1,000,000 at 0.29973 or better" in close
    takeover = next(t for t in texts if "mal-short-1: stage 3: backstop takeover" in t)
    assert "BLPs @ 0.19690" in takeover and "take the short at 0.19690" in takeover
    # every JELLY price on the tick's five places, every USD amount with separators and cents
    for t in jelly:
        for price in re.findall(r"(?:@|limit|price|at) (0\.\d+)", t):
            assert len(price) == 7, (price, t)
        if " refused (" in t:
            continue  # the refusal's own words are risk.py's (another change gives them cents)
        for usd in re.findall(r"(\d[\d,.]*) USD", t):
            assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", usd), (usd, t)


def test_the_btc_lessons_keep_their_digits(lessons):
    partial = next(t.text for t in lines(lessons["cascade"]) if "ada: stage 2" in t.text)
    assert "(0.4000 of 2.0000) · BTC-PERP · filled 0.4000 @ 94,666.64 · limit 94,025.00" in (
        partial
    )
    assert "asked 0.4000 at 94,025.00 or better: filled 0.4000 at 94,666.64" in partial


# --- 5: figures that add up as shown -----------------------------------------------------------


def shown(number: str) -> Decimal:
    return D(number.replace(",", ""))


FUND = re.compile(r"fund USD (-?[\d,.]+) → (-?[\d,.]+)")
PAID = re.compile(r"(?:fund paid(?: the whole)?|fund pays the deficit) ([\d,.]+)")


@pytest.mark.parametrize("lesson", ["cascade", "gap", "squeeze"])
def test_the_funds_figures_add_up_as_shown(lessons, lesson):
    """Each line's fund before → after is its true move at the digits shown, and a payment it
    states takes the one to the other exactly as shown."""
    for event in lessons[lesson]:
        if not isinstance(event, LiquidationEvent) or event.fund_before == event.fund_after:
            continue
        line = describe(event, "nobody")
        assert line is not None
        found = FUND.search(line.text)
        assert found, line.text
        before, after = shown(found[1]), shown(found[2])
        places = max(-before.as_tuple().exponent, -after.as_tuple().exponent)  # type: ignore[operator]
        move = (event.fund_after - event.fund_before).quantize(D(1).scaleb(-places))
        assert after - before == move, line.text
        paid = PAID.search(line.text)
        if paid and "after buying" not in line.text:
            assert before - shown(paid[1]) == after, line.text


def test_dans_payment_reads_exactly_and_the_readme_stays_true(lessons):
    fund = line_of(lessons["cascade"], "dan", "insurance")
    assert "fund USD 20,214.448831 → 18,088.003948" in fund
    assert "the fund paid 2,126.444883 of the 6,050.00 USD deficit" in fund
    adl = line_of(lessons["cascade"], "dan", "adl")
    assert "zero price 88,923.56, 88,924.00 on the tick" in adl
    (event,) = [e for e in lessons["cascade"]
                if isinstance(e, LiquidationEvent) and e.stage == "adl"]  # fmt: skip
    assert (event.fund_after - event.fund_before).quantize(D("0.01")) == D("0.44")
    from pathlib import Path

    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert ("after the fund's 2,126.44 is 88,923.56, he is closed at 88,924.00 and the fund "
            "gains 0.44") in readme  # fmt: skip


# --- 6: a liquidation order's fee ------------------------------------------------------------


def test_adas_orders_name_their_liquidation_fee(lessons):
    partials = [t.text for t in lines(lessons["cascade"]) if "ada: stage 2" in t.text]
    assert len(partials) == 2
    assert "liquidation fee 189.33 to the fund, no taker fee" in partials[0]
    assert "liquidation fee 758.12 to the fund, no taker fee" in partials[1]
