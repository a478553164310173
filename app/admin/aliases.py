"""Admin routes for aliases: set, show, list, history, point-in-time, rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from app.admin.auth import Principal, require_role
from app.admin.schemas import AliasRollback, AliasSet
from app.context import AppContext, get_context
from app.evals.promotion import run_missing_suites
from app.governance.alias_changes import is_pending

router = APIRouter(prefix="/admin/environments/{environment}/aliases", tags=["admin: aliases"])


@router.get("")
def list_aliases(
    environment: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return {"data": ctx.registry.list_aliases(environment)}


@router.put("/{alias}")
async def set_alias(
    environment: str,
    alias: str,
    body: AliasSet,
    response: Response,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    """200 with the flip; 202 with the pending change where the policy requires approval."""
    where = f"alias/{environment}/{alias}"
    await run_in_threadpool(ctx.governance.aliases.authorize, principal, environment, where=where)
    # Suites the policy says to run on promotion run (and are recorded) before the
    # flip's transaction; the eval gate inside it then judges the recorded runs.
    await run_missing_suites(
        ctx, environment, alias, body.bundle, actor=principal.name, override=body.override
    )
    answer: dict[str, Any] = await run_in_threadpool(
        ctx.registry.set_alias,
        environment,
        alias,
        body.bundle,
        actor=principal.name,
        reason=body.reason,
        expected=body.expected,
        override=body.override,
    )
    if is_pending(answer):
        response.status_code = 202
    return answer


@router.get("/{alias}")
def show_alias(
    environment: str,
    alias: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.get_alias(environment, alias)


@router.get("/{alias}/history")
def alias_history(
    environment: str,
    alias: str,
    at: datetime | None = Query(None, description="ISO time: what was live then"),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    if at is not None:
        return ctx.registry.live_at(environment, alias, at)
    return {
        "environment": environment,
        "alias": alias,
        "data": ctx.registry.history(environment, alias),
    }


@router.post("/{alias}/rollback")
def rollback_alias(
    environment: str,
    alias: str,
    body: AliasRollback,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    ctx.governance.aliases.authorize(
        principal, environment, where=f"alias/{environment}/{alias}", rollback=True, to=body.to
    )
    return ctx.registry.rollback(
        environment, alias, actor=principal.name, reason=body.reason, to=body.to
    )
