"""The teacher's class actions (admin scope): pause, resume, speed and advance the class
market's clock; run a scenario on it; reset one student's account or adjust a balance.

Every action is in the audit log and on the public events stream with the acting key's name
(routes_admin.audit), as the issue asks: the class sees what the teacher did.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from exchange_local.money import plain
from exchange_local.operator import AccountReset
from exchange_local.server import wire
from exchange_local.server.deps import context
from exchange_local.server.idempotency import once
from exchange_local.server.json_body import UniqueKeysRoute
from exchange_local.server.live_scenarios import BUILDERS, LIVE
from exchange_local.server.market import check_adjustment
from exchange_local.server.problems import ApiError
from exchange_local.server.responses import (
    Adjusted,
    PausedOrResumed,
    ResetDone,
    ScenarioList,
    ScenarioStarted,
    ScenarioStopped,
    ServerTime,
    declared,
)
from exchange_local.server.routes_admin import (
    AccountId,
    Admin,
    audit,
    note_action,
    user_account,
)
from exchange_local.server.schemas import (
    AdjustBody,
    AdvanceBody,
    ResetBody,
    ScenarioBody,
    SpeedBody,
)

router = APIRouter(prefix="/admin", tags=["admin"], route_class=UniqueKeysRoute)


@router.post("/pause", **declared(PausedOrResumed))
async def pause(request: Request, key: Admin) -> dict[str, Any]:
    """Pause the class clock; a second pause changes nothing and is neither logged nor
    announced (it told the class "admin paused the class market" again)."""
    ctx = context(request)
    changed = not ctx.runtime.paused
    if changed:
        ctx.runtime.set_paused(True)
        await audit(ctx, key, "pause")
    return {**ctx.runtime.clock_json(), "changed": changed}


@router.post("/resume", **declared(PausedOrResumed))
async def resume(request: Request, key: Admin) -> dict[str, Any]:
    ctx = context(request)
    changed = ctx.runtime.paused or ctx.runtime.speed == 0
    if ctx.runtime.speed == 0:
        ctx.runtime.speed = Decimal(1)
    if changed:
        ctx.runtime.set_paused(False)
        await audit(ctx, key, "resume")
    return {**ctx.runtime.clock_json(), "changed": changed}


@router.put("/speed", **declared(ServerTime))
async def speed(request: Request, body: SpeedBody, key: Admin) -> dict[str, Any]:
    ctx = context(request)
    if not 0 <= body.speed <= 1000:
        raise ApiError(
            400, "INVALID_REQUEST", f"speed must be between 0 and 1000, got {plain(body.speed)}"
        )
    ctx.runtime.set_speed(body.speed)
    await audit(ctx, key, "speed", speed=body.speed)
    return ctx.runtime.clock_json()


@router.post("/advance", **declared(ServerTime))
async def advance(request: Request, body: AdvanceBody, key: Admin) -> dict[str, Any]:
    """Move the exchange clock forward now (a paused class market, tests, demonstrations); a
    live scenario's steps run at their times on the way."""
    ctx = context(request)
    if not 0 <= body.seconds <= 86_400:
        raise ApiError(400, "INVALID_REQUEST", "seconds must be between 0 and 86400")
    await ctx.runtime.advance(body.seconds)
    await ctx.runtime.publish_now()
    return ctx.runtime.clock_json()


@router.get("/scenarios", **declared(ScenarioList))
async def scenarios(request: Request, key: Admin) -> dict[str, Any]:
    """The scenarios a live class market runs, and the running (or last) one with its steps:
    `current` is null when none has run since this server started (a restart forgets the
    scenario; the steps it ran stay in effect, and the audit log has its start)."""
    rt = context(request).runtime
    current = rt.scenario or rt.last_scenario
    return {
        "available": {"calm": "the living market: index walk and bots", **LIVE},
        "current": current.json() if current is not None else None,
    }


@router.post("/scenarios/{name}", **declared(ScenarioStarted))
async def scenario(
    request: Request,
    name: Annotated[str, Path(max_length=32)],
    key: Admin,
    body: ScenarioBody | None = None,
) -> dict[str, Any]:
    """`calm` starts the living market (index walk and bots) if it is not running. `crash`,
    `gap`, `funding` and `volatility` run on the live market, on the exchange clock (while it
    is paused, their later steps wait for it); one at a time. The other lessons build their
    own exchange (`exchange-local scenario NAME`)."""
    ctx = context(request)
    rt = ctx.runtime
    if name == "calm":
        from exchange_local.server.market import start_living_market

        started = await rt.run(start_living_market, ctx.ex, ctx.ex.config.seed)
        await audit(ctx, key, "scenario", name=name, started=started)
        return {"scenario": name, "started": started}
    builder = BUILDERS.get(name)
    if builder is None:
        raise ApiError(
            422,
            "SCENARIO_NOT_LIVE",
            f"scenario {name!r} does not run on a live class market (here: calm, "
            f"{', '.join(BUILDERS)}); the lesson runs on its own exchange: "
            f"exchange-local scenario {name}",
        )
    params = body.model_dump(exclude_none=True) if body is not None else {}

    def start() -> dict[str, Any]:
        if rt.scenario is not None:
            raise ApiError(
                409,
                "SCENARIO_RUNNING",
                f"the scenario {rt.scenario.name!r} is running; stop it first "
                "(exchange-local admin scenario stop, or DELETE /api/v1/admin/scenarios/current)",
            )
        rt.scenario = builder(ctx.ex, key.name, params)  # refuses bad params: no audit
        # announced before its first step, which is due now (the class read the index fall
        # before "admin started the crash lesson"), in one lock hold so no step gets between
        note_action(ctx, key, "scenario", name=name, params=rt.scenario.params)
        rt.run_scenario()
        live = rt.scenario or rt.last_scenario
        assert live is not None
        return live.json()

    result = await rt.run(start)
    return {"scenario": name, "started": True, **result}


@router.delete("/scenarios/current", **declared(ScenarioStopped))
async def stop_scenario(request: Request, key: Admin) -> dict[str, Any]:
    """Stop the running live scenario: its remaining steps are dropped and the funding
    scenario's bid withdrawn."""
    ctx = context(request)
    rt = ctx.runtime

    def stop() -> dict[str, Any]:
        live = rt.scenario
        if live is None:
            raise ApiError(404, "NO_SCENARIO", "no live scenario is running")
        dropped = [s.label for s in live.steps]
        undone = live.stop(ctx.ex)
        rt.scenario, rt.last_scenario = None, live
        return {"scenario": live.name, "droppedSteps": dropped, "undone": undone}

    result = await rt.run(stop)
    await audit(ctx, key, "stop_scenario", name=result["scenario"])
    return result


@router.post("/accounts/{accountId}/reset", **declared(ResetDone))
async def reset(
    request: Request, response: Response, accountId: AccountId, body: ResetBody, key: Admin
) -> dict[str, Any]:
    """Start a student's account again: its orders canceled, its positions handed to the
    backstop providers at the mark, its balances moved to `deposits` by DEPOSIT and WITHDRAW
    transactions (the ledger keeps all that came before). `deposits` (or `initialBalance`)
    is required: without it, 400 BAD_REQUEST. When no backstop provider can take the
    positions: 400 INVALID_REQUEST, nothing changes."""
    ctx = context(request)
    user_account(ctx, accountId)
    if not body.deposits and body.initialBalance is None:
        # an empty body used to empty the account: an omission must not wipe a student
        raise ApiError(
            400,
            "BAD_REQUEST",
            "deposits are required: the balances the account holds after the reset, e.g. "
            '{"deposits": {"USD": "10000"}} ({"USD": "0"} empties the account on purpose)',
        )
    deposits = dict(body.deposits)
    if body.initialBalance is not None:
        deposits["USD"] = deposits.get("USD", Decimal(0)) + body.initialBalance

    def answer(done: AccountReset) -> dict[str, Any]:
        hub = ctx.runtime.hub
        hub.dirty_accounts.add(accountId)
        hub.dirty_accounts.update(b for _, _, _, takers in done.closed for b in takers)
        hub.dirty_markets.update(symbol for symbol, _, _, _ in done.closed)
        return {
            "accountId": accountId,
            "canceled": [str(i) for i in done.canceled],
            "closed": [
                {"symbol": s, "size": wire.dec(q), "px": wire.dec(p), "takenBy": list(t)}
                for s, q, p, t in done.closed
            ],
            "moved": {a: wire.dec(v) for a, v in done.moved.items()},
        }

    owner = f"admin:{key.key_id}"
    args = {"account": accountId, "deposits": deposits}
    result = await once(request, response, owner, body, "reset_account", args, answer)
    if response.headers.get("Idempotent-Replayed") is None:
        await audit(ctx, key, "reset_account", **result)
    return result


@router.post("/accounts/{accountId}/adjust", **declared(Adjusted))
async def adjust(
    request: Request, response: Response, accountId: AccountId, body: AdjustBody, key: Admin
) -> dict[str, Any]:
    """Add to (amount > 0) or take from (amount < 0) one balance: a DEPOSIT or WITHDRAW marked
    "adjustment"; a removal follows the withdrawal rules (balance, margin)."""
    ctx = context(request)
    user_account(ctx, accountId)

    def check() -> None:
        check_adjustment(ctx.ex, body.asset, body.amount)

    def answer(balance: Decimal) -> dict[str, Any]:
        ctx.runtime.hub.dirty_accounts.add(accountId)
        return {
            "accountId": accountId,
            "asset": body.asset,
            "amount": wire.dec(body.amount),
            "balance": wire.dec(balance),
        }

    owner = f"admin:{key.key_id}"
    args = {"account": accountId, "asset": body.asset, "amount": body.amount}
    result = await once(request, response, owner, body, "adjust_balance", args, answer, check)
    if response.headers.get("Idempotent-Replayed") is None:
        await audit(ctx, key, "adjust_balance", **result)
    return result
