"""Liveness, readiness and Prometheus metrics; no token needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from app.context import AppContext, get_context

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ctx: AppContext = Depends(get_context)) -> Response:
    """Ready, degraded or not ready; answered from memory, never by waiting on the database.

    ``degraded`` (the database is away, the last-known-good snapshot serves) is
    still 200: a load balancer must keep such a replica in rotation, or a
    database outage would take the whole data plane out with it.
    """
    snapshot = ctx.snapshots.current
    problems = [p for p in (ctx.snapshots.last_error, ctx.records.last_error) if p]
    problem = "; ".join(problems) or None
    body: dict[str, Any] = {
        "revision": snapshot.revision,
        "database": ctx.snapshots.last_error or "ok",  # as the registry watcher last saw it
        "records": {"buffered": ctx.records.buffered, "writes": ctx.records.last_error or "ok"},
    }
    if not snapshot.loaded:
        reason = "no registry snapshot loaded yet" + (f"; {problem}" if problem else "")
        body.update(status="not_ready", reason=reason)
        return JSONResponse(body, status_code=503)
    if problem is not None:
        body.update(status="degraded", reason=f"serving the last-known-good snapshot; {problem}")
        return JSONResponse(body)
    body["status"] = "ready"
    return JSONResponse(body)


@router.get("/metrics")
async def metrics(ctx: AppContext = Depends(get_context)) -> Response:
    ctx.metrics.snapshot_revision.set(ctx.snapshots.current.revision)
    ctx.metrics.records_buffered.set(ctx.records.buffered)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
