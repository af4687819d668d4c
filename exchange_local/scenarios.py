"""Teaching scenarios: scripted markets that show a mechanism happening, deterministic for a seed.

Why scripted accounts beside the bots: bots make the market look alive (books, trades,
funding), but a lesson needs its point to happen every time. Each scenario places a few named
accounts exactly where a stage of MECHANICS section 4 (or funding, section 5) must catch them,
moves the index on the exchange clock, checks the invariants as it goes and records a timeline.
Scenarios use exact marks (mark = index), as DESIGN.md prescribes for teaching.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from exchange_local.bots import BackstopParams, BotParams, BotSet, CrowdParams, paper_config
from exchange_local.config import AssetSpec, ExchangeConfig, MarketSpec
from exchange_local.errors import ExchangeError
from exchange_local.events import Event, LiquidationEvent, MarketEvent, OrderRefused
from exchange_local.exchange import Exchange
from exchange_local.feeds import RandomWalkFeed, attach
from exchange_local.funding import AccountFunding

D = Decimal
BTC = "BTC-PERP"
JELLY = "JELLY-PERP"  # the squeeze lesson's thin market: tick and lot
JELLY_TICK = D("0.00001")
JELLY_LOT = D(1)
# (tick, lot) of the markets only a lesson has, for a UI that shows its events' numbers on
# them (perptui's event lines: squeeze's 1,000,000 at 0.23840, as the engine's words say)
LESSON_MARKET_STEPS: dict[str, tuple[Decimal, Decimal]] = {JELLY: (JELLY_TICK, JELLY_LOT)}
CHECK_EVERY_S = 5
EVENT_WIDTH = 64  # the timeline's event column at most


@dataclass(frozen=True, slots=True)
class RealTime:
    """The clock and the sleep that pace a run to `speed` x real time. Why swappable: a test
    paces a run on a fake clock and sees what was printed at each pause, without waiting."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


REAL_TIME = RealTime()  # read by each Run as it starts (a test may replace it)


@dataclass(slots=True)
class Row:
    """One line of a scenario's timeline."""

    time: Decimal
    event: str
    account: str
    market: str
    price: Decimal | None
    equity: Decimal | None
    fund: Decimal
    oi: Decimal
    note: str = ""  # what the columns do not say: a limit, a fee, the BLPs' price, why


def stage_words(e: LiquidationEvent) -> str:
    """The timeline's words for a stage; an account closed out is "over", not "recovered"
    (the engine's own stage, whose detail says whether equity is left, to the cent)."""
    if e.stage == "over":
        return f"liquidation over: {e.detail}"
    return f"liquidation: {e.stage}"


def row_price(e: LiquidationEvent) -> Decimal | None:
    """The price the account traded at: the average fill, not the IOC's limit."""
    if e.stage in ("partial", "book_close", "backstop"):
        return e.fill_price
    return e.price


def stage_note(e: LiquidationEvent) -> str:
    """What the price and equity columns do not say: size, limit, fee, the BLPs' price, the
    fund's payment, the counterparties, why a stage went to the book."""
    fund_moved = e.fund_after - e.fund_before
    if e.stage in ("partial", "book_close"):
        limit = f"limit {_price(e.price)}" if e.price is not None else ""
        if e.size:
            did = f"filled {e.size:,f}, {limit}, fee {e.fee or 0:,.2f}"
        else:
            did = f"nothing filled, {limit}"
        if e.stage == "book_close":
            did += f"; {e.detail.split('; ')[0]}"
        return did
    if e.stage == "backstop":
        blps = f"BLPs {', '.join(e.counterparties)}"
        if e.counter_price is not None and e.counter_price != e.fill_price:
            blps += f" at {_price(e.counter_price)}"
        return f"{blps}; fund {fund_moved:+,.2f}"
    if e.stage == "insurance":  # what it paid moved the equity (coins it buys do not)
        paid = e.equity_after - e.equity_before
        return f"fund paid {paid:,.2f} of the {-e.equity_before:,.2f} deficit"
    if e.stage == "adl":
        size = abs(e.size or 0)  # with separators: squeeze's 1,000,000, not 1000000
        return f"{size:,f} at the zero price, against {', '.join(e.counterparties)}"
    if e.stage in ("cancel", "halted"):
        return e.detail
    return ""


def summary_text(key: str, value: Any) -> str:
    """A summary value as a person reads it: a rate as a percentage per hour, money to the
    cent, stages as `cancel 4, partial 2`, not 34-digit decimals or a Python dict."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {summary_text(k, v)}" for k, v in value.items()) or "none"
    if value is None:
        return "none"
    if isinstance(value, Decimal):  # the lessons' Decimals are hourly rates or USD amounts
        return f"{value:.6%}/h" if "rate" in key else f"{value:,.2f} USD"
    return str(value)


RowWatcher = Callable[[Row], None]
# who sees each row as it is recorded (`exchange-local scenario --speed` prints it): a context
# variable rather than a parameter, so the scenario functions keep their (seed, speed) shape
_row_watcher: ContextVar[RowWatcher | None] = ContextVar("row_watcher", default=None)


@contextmanager
def watching_rows(on_row: RowWatcher | None) -> Iterator[None]:
    """Runs started inside see `on_row` called with each timeline row as it is recorded."""
    token = _row_watcher.set(on_row)
    try:
        yield
    finally:
        _row_watcher.reset(token)


@dataclass
class ScenarioResult:
    name: str
    seed: int
    rows: list[Row] = field(default_factory=list)
    stages: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    exchange: Exchange | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class Run:
    """Drives one scenario: the clock, the invariant checks, the timeline."""

    def __init__(
        self, name: str, seed: int, ex: Exchange, speed: float | None, market: str = BTC
    ) -> None:
        self.ex = ex
        self.market = market  # the lesson's market: rows without one of their own show it
        self.speed = speed
        self.result = ScenarioResult(name, seed, exchange=ex)
        self.scripted: list[str] = []  # the lesson's own accounts, in creation order
        self._announced: list[Event] = []  # the script's own events, emitted at the next turn
        self.real_time = REAL_TIME
        self.on_row = _row_watcher.get()
        self.label = ""  # before each row's event as the final timeline shows it (squeeze)
        ex.subscribe(self._on_event)
        self.pacer = current_pacer()
        if self.pacer is not None:
            self.pacer.attach(self)

    def _row(self, event: str, account: str = "", market: str | None = None,
             price: Decimal | None = None, equity: Decimal | None = None,
             note: str = "", fund: Decimal | None = None) -> None:  # fmt: skip
        ex = self.ex
        market = market or self.market
        oi = ex.market(market).open_interest
        fund = ex.insurance_fund() if fund is None else fund
        row = Row(ex.now, event, account, market, price, equity, fund, oi, note)
        self.result.rows.append(row)
        if self.on_row is not None:  # shown now, as the final timeline will label it
            self.on_row(replace(row, event=self.label + event) if self.label else row)

    def announce(self, event: Event, row: str, account: str = "",
                 price: Decimal | None = None) -> None:  # fmt: skip
        """An event the lesson's script makes itself (a marker, a refused order): its row now,
        the event at the next second's turn. A UI follows a new run from that turn on (squeeze
        starts a second exchange), so an event emitted while the script sets up would be lost."""
        self._row(row, account, None, price)
        self._announced.append(event)

    def _emit_announced(self) -> None:
        announced, self._announced = self._announced, []
        for event in announced:
            self.ex._emit(event)

    def _on_event(self, e: Event) -> None:
        kind = e.kind
        if isinstance(e, LiquidationEvent):
            self.result.stages[e.stage] += 1  # a closed-out account is "over", not recovered
            self._row(stage_words(e), e.account, e.market, row_price(e), e.equity_after,
                      stage_note(e), e.fund_after)  # fmt: skip
        elif kind == "FundingPaid":
            record = e.record  # type: ignore[attr-defined]
            self.result.stages["funding"] += 1
            self._row(f"funding paid, rate {record.rate:.6%}/h", "", record.market, record.index)
        elif kind == "InvariantViolated":
            self.result.problems.extend(e.problems)  # type: ignore[attr-defined]
            self._row("INVARIANT VIOLATED")

    def account(self, name: str, usd: Decimal) -> str:
        self.ex.create_account(name)
        self.ex.deposit(name, "USD", usd)
        self.scripted.append(name)
        return name

    def trade(self, buyer: str, seller: str, size: Decimal, price: Decimal) -> None:
        """Open matching positions between two scripted accounts at `price`."""
        self.ex.place_order(seller, BTC, "sell", size, price=price, post_only=False)
        self.ex.place_order(buyer, BTC, "buy", size, price=price, tif="ioc")
        self._row(f"{buyer} buys {size} from {seller}", buyer, BTC, price)

    def index(self, asset: str, price: Decimal) -> None:
        self.ex.set_index_price(asset, price)
        self._row(f"index {asset} -> {price}", "", f"{asset}-PERP", price)

    def run(self, seconds: int) -> None:
        """Advance second by second (paced to real time when a speed is given)."""
        for second in range(seconds):
            if self.pacer is not None:
                self.pacer.turn()  # a UI steps the lesson: wait for its go
            self._emit_announced()
            started = self.real_time.monotonic()
            self.ex.advance(1)
            if second % CHECK_EVERY_S == 0:
                self._check()
            if self.speed:
                elapsed = self.real_time.monotonic() - started
                self.real_time.sleep(max(0.0, 1 / self.speed - elapsed))
        self._check(full=True)

    def _check(self, full: bool = False) -> None:
        problems = self.ex.check_invariants() if full else self.ex._cheap_invariants()
        for account in self.ex.accounts():
            acct = self.ex._accounts[account]
            if acct.liquidation_status is None and self.ex._equity(acct) < 0:
                problems.append(f"{account} has negative equity outside liquidation")
        for p in problems:
            if p not in self.result.problems:
                self.result.problems.append(p)
                self._row(f"INVARIANT: {p}")


# --- the scenarios ----------------------------------------------------------------------------


def calm(seed: int, speed: float | None) -> ScenarioResult:
    """The default living market: a seeded index walk, makers, takers, trend, a leveraged crowd."""
    config = paper_config(ExchangeConfig(seed=seed))
    ex = Exchange(config)
    run = Run("calm", seed, ex, speed)
    attach(ex, RandomWalkFeed.from_config(config, seed=seed))
    BotSet(seed=seed).attach(ex)
    run.run(900)
    book = ex.book(BTC, 50)
    mark = ex.market(BTC).mark
    run.result.summary = {
        "bid levels within 1 %": sum(1 for p, _ in book.bids if p >= mark * D("0.99")),
        "ask levels within 1 %": sum(1 for p, _ in book.asks if p <= mark * D("1.01")),
        "trades": len(ex.trades(BTC, limit=0)),
        "predicted funding rate": ex.market(BTC).predicted_funding_rate,
    }
    return run.result


def _teaching_exchange(
    seed: int, speed: float | None, name: str, blps: bool = True, **config: Any
) -> Run:
    """Exact marks, bots for a live book but no crowd (the scripted accounts are the lesson)."""
    params = BotParams(crowd=CrowdParams(count=0),
                       backstop=BackstopParams(count=2 if blps else 0))  # fmt: skip
    cfg = paper_config(ExchangeConfig(mark_source="index", seed=seed, **config), params)
    ex = Exchange(cfg)
    run = Run(name, seed, ex, speed)
    BotSet(params, seed=seed).attach(ex)
    return run


def cascade(seed: int, speed: float | None) -> ScenarioResult:
    """A 5 % fall then a gap to -15 %: cancel, partial, backstop (solvent and bankrupt), fund,
    ADL, each caught by an account placed for it (20x longs of 1-2 BTC at 100,000, fees on):
    at 95,000 ada (E between ACMR and MMR) is partly liquidated on the book and ben (E below
    ACMR) is taken over by a BLP at zero prices; at 85,000 cat's small deficit goes to a BLP
    at the mark with the fund paying. Dan's deficit (6,050) is past the fund's step budget
    (10 % of the fund, 2,126.44), so no BLP takes him over at the mark although they have the
    capacity: his close on the book fills nothing, the fund pays its budget (stage 4) and ADL
    closes the rest at his zero price after that payment."""
    run = _teaching_exchange(seed, speed, "cascade", insurance_fund=D(20000),
                             backstop_minute_capacity=D(150000),
                             backstop_hour_capacity=D(200000))  # fmt: skip
    desk = run.account("desk", D(100_000_000))
    for name, usd, size in (("ada", D(14500), D(2)), ("ben", D(6000), D(1)),
                            ("cat", D(14000), D(1)), ("dan", D(9000), D(1))):  # fmt: skip
        run.account(name, usd)
        run.trade(name, desk, size, D(100000))
    run.run(60)
    run.index("BTC", D(95000))  # ada: ACMR <= E < MMR; ben: 0 <= E < ACMR
    run.run(240)
    run.index("BTC", D(85000))  # cat: a small deficit; dan: one past every backstop
    run.run(300)
    run.result.summary = {"stages": dict(run.result.stages), "fund": run.ex.insurance_fund()}
    return run.result


def gap(seed: int, speed: float | None) -> ScenarioResult:
    """An index gap through two bankruptcy prices with no BLPs; the fund's step budget is 10 %
    of its balance at the second's start. Eve's deficit (3,050) is past it: the fund pays its
    1,200 (stage 4) and ADL closes her at the zero price after that payment (91,850). Fay's
    (850) is within it: she closes on the book, past her zero price, over a few seconds; when
    the book fills nothing more within her limit (and no BLP exists to take it later), the
    fund pays what is left (952.30) and ADL closes the rest at her zero price (90,000)."""
    run = _teaching_exchange(seed, speed, "gap", blps=False, insurance_fund=D(12000))
    desk = run.account("desk", D(100_000_000))
    for name, usd in (("eve", D(7000)), ("fay", D(9200))):
        run.account(name, usd)
        run.trade(name, desk, D(1), D(100000))
    run.run(30)
    run.index("BTC", D(90000))  # eve about -3,050, fay about -850: budget 1,200
    run.run(120)
    run.result.summary = {"stages": dict(run.result.stages), "fund": run.ex.insurance_fund()}
    return run.result


def funding(seed: int, speed: float | None) -> ScenarioResult:
    """A persistent premium: a whale bids 0.3 % over the index for the last quarter of the hour;
    the predicted rate climbs and at the hour longs pay shorts (residual to the fund). The
    exchange clock starts at 00:45 so the lesson's 15 minutes end with the hourly payment."""
    run = _teaching_exchange(seed, speed, "funding", start_time_seconds=2700)
    ex = run.ex
    run.account("gus", D(50000))
    run.account("hal", D(50000))
    whale = run.account("ivy", D(5_000_000))
    run.trade("gus", "hal", D(2), D(100000))
    run.run(5)
    start_rate = ex.market(BTC).predicted_funding_rate
    for _ in range(29):  # the rest of the quarter hour: the whale renews its bid every 30 s
        ex.cancel_all(whale)
        bid = (ex.market(BTC).index * D("1.003") / D("0.5")).to_integral_value() * D("0.5")
        ex.place_order(whale, BTC, "buy", D(1), price=bid)
        run.run(30)
    run.run(25)  # to 01:00, the hourly payment
    paid = [f for f in ex.funding_history(account="gus")
            if isinstance(f, AccountFunding) and f.market == BTC]  # fmt: skip
    run.result.summary = {
        "predicted rate at the start": start_rate,
        "rate paid at the hour": paid[-1].rate if paid else None,
        "gus (long) paid": paid[-1].amount if paid else None,
    }
    return run.result


def volatility(seed: int, speed: float | None) -> ScenarioResult:
    """Dynamic risk parameters: the index swings wider every minute; every 5 minutes the
    exchange announces tighter leverage, OI caps and collateral weights and applies what it
    announced 5 minutes before (a teaching period: the default is an hour)."""
    run = _teaching_exchange(seed, speed, "volatility", dynamic_risk=True,
                             dynamic_risk_period_seconds=300)  # fmt: skip
    ex = run.ex
    ex.subscribe(lambda e: run._row(f"{e.what.replace('_', ' ')} {e.market}", "", e.market)  # type: ignore[attr-defined]
                 if e.kind == "MarketEvent" else None)  # fmt: skip
    start = ex.market(BTC)
    weight_before = ex._assets["BTC"].weight_total
    swing = D("0.001")
    for minute in range(15):
        for k in range(12):  # every 5 s the index swings the other way
            sign = 1 if k % 2 else -1
            run.ex.set_index_price("BTC", D(100000) * (1 + sign * swing))
            run.run(5)
        swing = min(swing * D("1.25"), D("0.03"))
        if minute % 5 == 4:
            run._row(f"swings now {swing:.2%}", "", BTC)
    end = ex.market(BTC)
    run.result.summary = {  # read by people: money with separators, the weights as they were
        "BTC-PERP max leverage": f"{start.max_leverage}x -> {end.max_leverage}x",
        "BTC-PERP OI cap": f"{start.oi_cap:,} -> {end.oi_cap:,} USD",
        "BTC collateral weight": f"{weight_before} -> {ex._assets['BTC'].weight_total}",
        "daily volatility now": f"{ex.risk_parameters(BTC).daily_vol:.2%}",
    }
    return run.result


def _squeeze_once(seed: int, speed: float | None, capped: bool) -> tuple[Run, Decimal, Decimal]:
    """One JELLY-style squeeze (Hyperliquid, March 2025) in a thin market: the manipulator
    shorts through several accounts against its own long, then the spot price is pumped; the
    shorts are liquidated into the backstop, which holds them as the pump goes on. With caps,
    the OI cap refuses half the shorts and the backstop's loss cap stops it after the first
    takeover; the rest is auto-deleveraged against the manipulator's own long. Returns the
    run, the backstop's loss and the manipulator's net result."""
    market = MarketSpec(JELLY, "JELLY", JELLY_TICK, JELLY_LOT, D(3), D(0),
                        D(100_000) if capped else D(10) ** 12, D(1_000))  # fmt: skip
    asset = AssetSpec("JELLY", D("0.5"), D("0.5"), D(0), 0, D("0.05"), collateral=False)
    base = ExchangeConfig()
    config = ExchangeConfig(
        markets=(*base.markets, market), assets=(*base.assets, asset), mark_source="index",
        backstop_accounts=("hlp",), backstop_minute_capacity=D(10**8),
        backstop_hour_capacity=D(10**8),
        backstop_loss_cap=D(25_000) if capped else D(10) ** 12, seed=seed,
    )  # fmt: skip
    ex = Exchange(config)
    run = Run("squeeze", seed, ex, speed, market=JELLY)
    run.label = "[caps] " if capped else "[no caps] "  # the two runs' rows, told apart
    if capped:
        what = "lesson run 2 of 2: with an open-interest cap and a backstop loss cap"
        caps: dict[str, Any] = {"run": 2, "of": 2, "open_interest_cap_usd": market.oi_cap,
                                "backstop_loss_cap_usd": config.backstop_loss_cap}  # fmt: skip
    else:
        what = "lesson run 1 of 2: no open-interest cap, no backstop loss cap"
        caps = {"run": 1, "of": 2, "open_interest_cap_usd": "none",
                "backstop_loss_cap_usd": "none"}  # fmt: skip
    row = "run 2 of 2: OI cap, backstop loss cap" if capped else "run 1 of 2: no caps"
    run.announce(MarketEvent(ex.now_ms, JELLY, what, caps), row)
    hlp = run.account("hlp", D(10_000_000))
    long_side = run.account("mal-long", D(400_000))
    # different margins: the shorts are liquidated one after another as the pump goes on
    shorts = [run.account(f"mal-short-{i}", D(100_000 + 50_000 * i)) for i in range(4)]
    opened = 0
    for short in shorts:  # each short 1,000,000 JELLY (50,000 USD) against the manipulator
        try:
            ex.place_order(short, JELLY, "sell", D(1_000_000), price=D("0.05"))
            ex.place_order(long_side, JELLY, "buy", D(1_000_000), price=D("0.05"), tif="ioc")
            opened += 1
        except ExchangeError as refusal:
            ex.cancel_all(short)
            refused = OrderRefused(ex.now_ms, short, JELLY, "sell", D(1_000_000), D("0.05"),
                                   refusal.code, str(refusal))  # fmt: skip
            run.announce(refused, f"refused: {refusal.code}", short, D("0.05"))
    run._row(f"manipulator opened {opened} of 4 shorts", "mal-long", JELLY, D("0.05"))
    fund_equity = {a: ex._equity(ex._accounts[a]) for a in (hlp, long_side, *shorts)}
    price = D("0.05")
    for _ in range(10):  # the spot price is pumped 25 % every 30 s
        price = (price * D("1.25")).quantize(D("0.00001"))
        run.index("JELLY", price)
        run.run(30)
    run.run(300)
    loss = fund_equity[hlp] - ex._equity(ex._accounts[hlp])
    manipulator = sum((ex._equity(ex._accounts[a]) - fund_equity[a]
                       for a in (long_side, *shorts)), D(0))  # fmt: skip
    return run, loss, manipulator


def squeeze(seed: int, speed: float | None) -> ScenarioResult:
    """JELLY: the same squeeze without and with open-interest caps and a backstop loss cap.
    Each run starts with a MarketEvent "lesson run N of 2: ..." (its timeline row says the
    same), and an order the OI cap refuses is an OrderRefused event."""
    free, free_loss, free_gain = _squeeze_once(seed, speed, capped=False)
    capped, capped_loss, capped_gain = _squeeze_once(seed, speed, capped=True)
    result = capped.result
    uncapped_rows = [replace(r, event=f"{free.label}{r.event}") for r in free.result.rows]
    capped_rows = [replace(r, event=f"{capped.label}{r.event}") for r in capped.result.rows]
    result.rows = uncapped_rows + capped_rows
    result.stages = free.result.stages + capped.result.stages
    result.problems = free.result.problems + capped.result.problems
    result.summary = {
        "backstop loss without caps": free_loss.quantize(D("0.01")),
        "backstop loss with caps": capped_loss.quantize(D("0.01")),
        "manipulator net without caps": free_gain.quantize(D("0.01")),
        "manipulator net with caps": capped_gain.quantize(D("0.01")),
    }
    return result


SCENARIOS: dict[str, tuple[str, Callable[[int, float | None], ScenarioResult]]] = {
    "calm": ("the default live market: index walk, makers, takers, trend, leveraged crowd", calm),
    "cascade": ("a 5 % fall then a gap: every liquidation stage, the fund and ADL", cascade),
    "gap": ("an index gap through bankruptcy prices: the fund pays, then ADL", gap),
    "funding": ("a persistent premium and the hourly payments it causes", funding),
    "squeeze": ("a JELLY-style squeeze of a thin market, without and with caps", squeeze),
    "volatility": (
        "dynamic risk parameters tighten, announced ahead, as volatility rises",
        volatility,
    ),
}


def current_pacer() -> Any:
    """The SteppedScenario driving this thread's scenario, if a UI runs it (stepping.py)."""
    from exchange_local.stepping import current

    return current()


def run_scenario(
    name: str, seed: int = 1, speed: float | None = None, on_row: RowWatcher | None = None
) -> ScenarioResult:
    """Run a scenario headless on the simulated clock (paced to `speed` x real time if given);
    `on_row` sees each timeline row as it is recorded, so a paced run can be watched."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; scenarios: {', '.join(SCENARIOS)}")
    with watching_rows(on_row):
        return SCENARIOS[name][1](seed, speed)


def _price(p: Decimal) -> str:
    """Enough decimals to see the move: cents for BTC, five places for a 0.05 token."""
    return f"{p:,.2f}" if p >= 100 else f"{p:,.4f}" if p >= 1 else f"{p:.5f}"


def format_timeline(result: ScenarioResult) -> str:
    """One line a row: time, event, account, the price traded at (a liquidation order's
    average fill, not its limit), equity after, insurance fund after, open interest, then a
    note (limit, fee, the BLPs' price, the fund's payment, why a stage went to the book)."""
    width = min(EVENT_WIDTH, max((len(r.event) for r in result.rows), default=5))
    return "\n".join([timeline_header(width), *(timeline_line(r, width) for r in result.rows)])


def timeline_header(width: int) -> str:
    """The timeline's column names, the event column `width` wide. Apart from the rows so a
    paced run can print it before any row exists (it then uses EVENT_WIDTH)."""
    return (f"{'time':>8}  {'event':<{width}} {'account':<12} {'price':>12} {'equity':>12}"
            f" {'fund':>12} {'OI':>8}  note")  # fmt: skip


def timeline_line(r: Row, width: int) -> str:
    """One row of the timeline, the event cut to `width` (see format_timeline)."""
    price = _price(r.price) if r.price is not None else ""
    equity = f"{r.equity:,.2f}" if r.equity is not None else ""
    line = (f"{r.time:>8}  {r.event[:width]:<{width}} {r.account[:12]:<12} {price:>12}"
            f" {equity:>12} {r.fund:>12,.2f} {r.oi:>8}  {r.note}")  # fmt: skip
    return line.rstrip()


def format_summary(result: ScenarioResult) -> list[str]:
    """The summary's lines, readable (see summary_text)."""
    return [f"{key}: {summary_text(key, value)}" for key, value in result.summary.items()]
