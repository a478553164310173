"""Admin routes for outcomes: declaring feedback metrics (and reading them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context
from app.outcomes.declarations import MetricDeclaration

router = APIRouter(prefix="/admin", tags=["admin: outcomes"])


@router.post("/metrics")
def declare_metric(
    body: MetricDeclaration,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> JSONResponse:
    """201 with the metric; 200 (``created: false``) for the same declaration again."""
    metric, created = ctx.outcomes.metrics.declare(body, actor=principal.name)
    return JSONResponse({**metric, "created": created}, status_code=201 if created else 200)


@router.get("/metrics")
def list_metrics(
    _: Principal = Depends(require_role("viewer")), ctx: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return {"data": ctx.outcomes.metrics.list()}


@router.get("/metrics/{name}")
def show_metric(
    name: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.outcomes.metrics.get(name)
