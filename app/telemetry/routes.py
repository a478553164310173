"""Liveness, readiness and Prometheus metrics; no token needed."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.context import AppContext, get_context

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(ctx: AppContext = Depends(get_context)) -> Response:
    snapshot = ctx.snapshots.current
    database = await asyncio.to_thread(_database_ok, ctx)
    body: dict[str, Any] = {"revision": snapshot.revision, "database": database or "ok"}
    if not snapshot.loaded:
        body.update(status="not_ready", reason="no registry snapshot loaded yet")
        return JSONResponse(body, status_code=503)
    if database is not None:
        body.update(status="degraded", reason=f"serving the last-known-good snapshot; {database}")
        return JSONResponse(body, status_code=503)
    body["status"] = "ready"
    return JSONResponse(body)


def _database_ok(ctx: AppContext) -> str | None:
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


@router.get("/metrics")
async def metrics(ctx: AppContext = Depends(get_context)) -> Response:
    ctx.metrics.snapshot_revision.set(ctx.snapshots.current.revision)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
