"""Admin routes for rollouts: start, status, pause, resume, advance, abort, report.

Roles: reading needs ``viewer``. Starting, resuming and advancing send traffic to
the candidate, so in a protected environment they need ``approver`` (the same as
a direct alias flip there; the rollout's final flip needs no further approval);
``operator`` elsewhere. Pausing and aborting only return traffic to the baseline
that is already live: ``operator`` everywhere, so the kill switch is never far.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from app.admin.auth import Principal, require_role
from app.bundles.rollout_spec import RolloutStart
from app.context import AppContext, get_context
from app.errors import PermissionDeniedError

router = APIRouter(
    prefix="/admin/environments/{environment}/aliases/{alias}/rollout",
    tags=["admin: rollouts"],
)


class RolloutAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None  # audited; a default names the action


def _may_send_traffic(ctx: AppContext, principal: Principal, environment: str) -> None:
    protected = ctx.registry.get_policy(environment)["policy"]["protected"]
    if protected and not principal.has("approver"):
        raise PermissionDeniedError(
            f"{principal.name} has the {principal.role} role; sending traffic to a candidate "
            f"in protected {environment} needs approver or above",
            code="role_required",
        )


@router.post("", status_code=201)
def start_rollout(
    environment: str,
    alias: str,
    body: RolloutStart,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    _may_send_traffic(ctx, principal, environment)
    return ctx.rollouts.service.start(environment, alias, body, actor=principal.name)


@router.get("")
def rollout_status(
    environment: str,
    alias: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.rollouts.service.status(environment, alias)


@router.get("/report")
def rollout_report(
    environment: str,
    alias: str,
    limit: int = Query(5, ge=0, le=100, description="How many of the most different pairs."),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.rollouts.service.report(environment, alias, limit)


@router.post("/pause")
def pause_rollout(
    environment: str,
    alias: str,
    body: RolloutAction | None = None,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    """Hold at the current step (the loop still rolls back a failing candidate)."""
    reason = body.reason if body else None
    return ctx.rollouts.service.pause(environment, alias, actor=principal.name, reason=reason)


@router.post("/resume")
def resume_rollout(
    environment: str,
    alias: str,
    body: RolloutAction | None = None,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    _may_send_traffic(ctx, principal, environment)
    reason = body.reason if body else None
    return ctx.rollouts.service.resume(environment, alias, actor=principal.name, reason=reason)


@router.post("/advance")
def advance_rollout(
    environment: str,
    alias: str,
    body: RolloutAction | None = None,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    """Go to the next step now, whatever the verdict; from the last step, flip the alias."""
    _may_send_traffic(ctx, principal, environment)
    reason = body.reason if body else None
    return ctx.rollouts.service.advance(environment, alias, actor=principal.name, reason=reason)


@router.post("/abort")
def abort_rollout(
    environment: str,
    alias: str,
    body: RolloutAction | None = None,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    """The kill switch: every replica serves the baseline from its next snapshot (<= 1 s)."""
    reason = body.reason if body else None
    return ctx.rollouts.service.abort(environment, alias, actor=principal.name, reason=reason)
