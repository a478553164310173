"""Admin routes for pending changes: list and show (viewer), approve and reject (approver).

A requester may also reject (withdraw) their own change; the rules live in
``app.governance.changes``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context

router = APIRouter(prefix="/admin/changes", tags=["admin: changes"])


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


@router.get("")
def list_changes(
    state: str | None = Query(None, description="pending, expired, applied or rejected"),
    environment: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    changes = ctx.governance.changes.list(state=state, environment=environment, limit=limit)
    return {"data": changes}


@router.get("/{change_id}")
def show_change(
    change_id: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.governance.changes.get(change_id)


@router.post("/{change_id}/approve")
def approve_change(
    change_id: str,
    body: Decision,
    principal: Principal = Depends(require_role("approver")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.governance.changes.approve(change_id, principal, reason=body.reason)


@router.post("/{change_id}/reject")
def reject_change(
    change_id: str,
    body: Decision,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.governance.changes.reject(change_id, principal, reason=body.reason or "")
