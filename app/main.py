"""``create_app(settings)``: wiring only. The lifespan starts and stops background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.admin import aliases as admin_aliases
from app.admin import audit as admin_audit
from app.admin import bundles as admin_bundles
from app.admin import policies as admin_policies
from app.context import AppContext
from app.errors import BadRequestError, PinyardError, ServiceUnavailableError
from app.gateway import routes as gateway_routes
from app.providers.client import ProviderClient
from app.registry import db
from app.registry.service import RegistryService
from app.registry.snapshot import SnapshotStore
from app.settings import Settings
from app.telemetry import routes as telemetry_routes
from app.telemetry.metrics import Metrics
from app.telemetry.records import RecordWriter

log = logging.getLogger("pinyard")


def build_context(settings: Settings) -> AppContext:
    engine = db.make_engine(settings)
    snapshots = SnapshotStore(engine)
    metrics = Metrics()
    return AppContext(
        settings=settings,
        engine=engine,
        registry=RegistryService(engine, settings.environments, on_change=snapshots.refresh),
        snapshots=snapshots,
        providers=ProviderClient.from_settings(settings),
        records=RecordWriter(
            engine,
            metrics,
            queue_size=settings.record_queue_size,
            batch_size=settings.record_batch_size,
            flush_interval_s=settings.record_flush_interval_s,
        ),
        metrics=metrics,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: AppContext = app.state.ctx
    settings = ctx.settings
    if settings.auto_migrate if settings.auto_migrate is not None else settings.is_sqlite:
        await asyncio.to_thread(db.upgrade, settings.database_url)
    try:
        await asyncio.to_thread(ctx.snapshots.refresh, force=True)
    except SQLAlchemyError as exc:
        # Readiness reports it; the watcher keeps trying.
        ctx.snapshots.last_error = f"database unreachable at start: {type(exc).__name__}"
        log.error("could not load the registry snapshot: %s", exc)
    ctx.records.start()
    watcher = asyncio.create_task(ctx.snapshots.watch(settings.snapshot_poll_interval_s))
    try:
        yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await ctx.records.close()
        ctx.engine.dispose()


def _error_response(exc: PinyardError) -> JSONResponse:
    return JSONResponse(exc.envelope(), status_code=exc.status_code, headers=exc.headers)


async def _pinyard_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PinyardError)
    return _error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ())[1:])
    problem = "unknown field" if first.get("type") == "extra_forbidden" else first.get("msg", "")
    return _error_response(BadRequestError(f"{where or 'body'}: {problem}", param=where or None))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error = PinyardError(str(exc.detail), code=None)
    error.status_code = exc.status_code
    error.error_type = "invalid_request_error" if exc.status_code < 500 else "api_error"
    return _error_response(error)


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    log.error("database error: %s", exc)
    return _error_response(
        ServiceUnavailableError("the registry database is unavailable; try again shortly")
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="Pinyard", version="0.1.0", lifespan=lifespan)
    app.state.ctx = build_context(settings)
    app.add_exception_handler(PinyardError, _pinyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.include_router(gateway_routes.router)
    app.include_router(admin_bundles.router)
    app.include_router(admin_aliases.router)
    app.include_router(admin_audit.router)
    app.include_router(admin_policies.router)
    app.include_router(telemetry_routes.router)
    return app
