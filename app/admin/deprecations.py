"""Admin routes for the deprecation radar and catalog."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context
from app.deprecations.radar import build_radar

router = APIRouter(prefix="/admin/deprecations", tags=["admin: deprecations"])


@router.get("")
def radar(
    within: int | None = Query(
        None, ge=0, le=3650, description="only models shutting down within this many days"
    ),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return build_radar(ctx.engine, ctx.deprecations, within)


@router.get("/catalog")
def catalog(
    provider: str | None = Query(None, description="only this provider prefix, e.g. openai"),
    model: str | None = Query(None, description="only this model (empty when unknown)"),
    all_entries: bool = Query(
        False, alias="all", description="include entries without a shutdown date"
    ),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    now = ctx.deprecations.clock()
    current = ctx.deprecations.catalog
    if model is not None:
        entry = current.get(model)
        entries = [entry] if entry is not None else []
    else:
        entries = [e for e in current.entries(provider) if all_entries or e.retiring]
    return {"catalog": ctx.deprecations.status(), "data": [e.as_dict(now) for e in entries]}
