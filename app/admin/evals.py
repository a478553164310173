"""Admin routes for eval runs: record one (operator: CI records runs), list them, show one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context
from app.registry.eval_runs import EvalRunIn, EvalRunService

router = APIRouter(prefix="/admin/evals", tags=["admin: evals"])


@router.post("/runs", status_code=201)
def record_run(
    body: EvalRunIn,
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return EvalRunService(ctx.engine).record(body, actor=principal.name)


@router.get("/runs")
def list_runs(
    bundle: str | None = Query(None, description="a digest, name@N, name@sha256:... or a name"),
    suite: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return {"data": EvalRunService(ctx.engine).list_runs(bundle=bundle, suite=suite, limit=limit)}


@router.get("/runs/{run_id}")
def show_run(
    run_id: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return EvalRunService(ctx.engine).get_run(run_id)
