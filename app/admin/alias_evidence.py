"""``GET /admin/environments/{env}/aliases/{alias}/evidence?at=``: the point-in-time evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context
from app.registry.tables import utcnow

router = APIRouter(prefix="/admin/environments/{environment}/aliases", tags=["admin: audit"])


@router.get("/{alias}/evidence")
def alias_evidence(
    environment: str,
    alias: str,
    at: datetime | None = Query(None, description="ISO time (default: now)"),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    """What served the alias at ``at``, who set and approved it, and on what evidence."""
    return ctx.governance.evidence.alias_at(environment, alias, at or utcnow())
