"""Admin routes for the audit trail and request records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context

router = APIRouter(prefix="/admin", tags=["admin: audit"])


@router.get("/audit")
def list_events(
    after: int = Query(0, ge=0, description="return events with seq greater than this"),
    limit: int = Query(100, ge=1, le=1000),
    action: str | None = None,
    actor: str | None = None,
    target: str | None = Query(None, description="target prefix, e.g. alias/prod/"),
    since: datetime | None = None,
    until: datetime | None = None,
    environment: str | None = Query(None, description="events about this environment"),
    alias: str | None = Query(None, description="events about this alias (with environment)"),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    events = ctx.registry.audit_events(
        after=after,
        limit=limit,
        action=action,
        actor=actor,
        target=target,
        since=since,
        until=until,
        environment=environment,
        alias=alias,
    )
    return {"data": events, "next_after": events[-1]["seq"] if len(events) == limit else None}


@router.get("/audit/verify")
def verify(
    _: Principal = Depends(require_role("viewer")), ctx: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return ctx.registry.verify_audit().as_dict()


@router.get("/requests/{request_id}")
def show_request(
    request_id: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.request_record(request_id)
