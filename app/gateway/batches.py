"""The OpenAI Files and Batch API: ``/v1/files`` and ``/v1/batches``. Thin: parse, call.

The caller's API key decides the environment, as for chat: a batch sees only
its own environment's files and batches, and its lines' model must be one the
key may call. ``x-pinyard-environment`` (what ``pinyard batch --env`` sends)
must name that environment; in local mode (no keys) it must name
``PINYARD_ENVIRONMENT``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from app.batches.objects import batch_object, file_object
from app.batches.service import BatchService
from app.context import AppContext, get_context
from app.errors import BadRequestError, PermissionDeniedError
from app.gateway.resolve import lookup_model
from app.gateway.routes import caller_environment, read_json
from app.governance.caller import ENVIRONMENT_HEADER
from app.governance.credential_kinds import CLIENT_KEY
from app.registry.batch_tables import FileRow

router = APIRouter(prefix="/v1", tags=["batches"])

# Room for the multipart framing around the file in an upload's Content-Length.
_MULTIPART_SLACK = 64 * 1024


def _caller(request: Request, ctx: AppContext) -> tuple[str, str]:
    """The caller's environment and the name its writes are recorded under."""
    environment = caller_environment(request, ctx)
    asked = request.headers.get(ENVIRONMENT_HEADER)
    if asked and asked != environment:
        raise PermissionDeniedError(
            f"without API keys (local mode) this gateway serves environment {environment!r}, "
            f"not {asked!r}: create a key for {asked!r} to run batches there",
            code="key_environment_mismatch",
        )
    key = getattr(request.state, "api_key", None)
    return environment, CLIENT_KEY.actor(key.name) if key is not None else "local"


def _service(ctx: AppContext) -> BatchService:
    return ctx.batches.service


@router.post("/files")
async def upload_file(request: Request, ctx: AppContext = Depends(get_context)) -> Any:
    """A batch input file (``purpose=batch``), checked line by line before it is stored."""
    environment, actor = _caller(request, ctx)
    service = _service(ctx)
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > service.limits.max_file_bytes + _MULTIPART_SLACK:
        service.check_size(int(length) - _MULTIPART_SLACK)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except (AssertionError, ValueError) as exc:  # no multipart body, or a malformed one
        raise BadRequestError(f"send multipart/form-data with 'file' and 'purpose': {exc}") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise BadRequestError("'file' is required: the JSONL file to upload", param="file")
    purpose = form.get("purpose")
    content = await upload.read()
    parsed = await asyncio.to_thread(
        service.read_upload, purpose if isinstance(purpose, str) else "", content
    )
    ctx.governance.callers.authorize_model(request, parsed.model)
    row = await asyncio.to_thread(
        service.store_file, environment, actor, upload.filename or "", content, parsed
    )
    return file_object(row)


@router.get("/files/{file_id}")
async def get_file(file_id: str, request: Request, ctx: AppContext = Depends(get_context)) -> Any:
    environment, _ = _caller(request, ctx)
    return file_object(await _file(ctx, environment, file_id))


@router.get("/files/{file_id}/content")
async def file_content(
    file_id: str, request: Request, ctx: AppContext = Depends(get_context)
) -> Response:
    """An input as uploaded, or a batch's output or error lines (JSONL, in input order)."""
    environment, _ = _caller(request, ctx)
    row = await _file(ctx, environment, file_id)
    return StreamingResponse(_service(ctx).file_content(row), media_type="application/jsonl")


async def _file(ctx: AppContext, environment: str, file_id: str) -> FileRow:
    return await asyncio.to_thread(_service(ctx).file, environment, file_id)


@router.post("/batches")
async def create_batch(request: Request, ctx: AppContext = Depends(get_context)) -> Any:
    """Pin the input's model to the bundle it names now; every line runs on that digest."""
    body = await read_json(request)
    environment, actor = _caller(request, ctx)
    service = _service(ctx)
    prepared = await asyncio.to_thread(service.prepare, environment, body)
    ctx.governance.callers.authorize_model(request, prepared.model)
    bundle = lookup_model(ctx.snapshots.current, environment, prepared.model).bundle
    row = await asyncio.to_thread(service.create, environment, actor, prepared, bundle)
    ctx.batches.wake()
    return batch_object(row)


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, request: Request, ctx: AppContext = Depends(get_context)) -> Any:
    environment, _ = _caller(request, ctx)
    return batch_object(await asyncio.to_thread(_service(ctx).get, environment, batch_id))


@router.get("/batches")
async def list_batches(
    request: Request,
    ctx: AppContext = Depends(get_context),
    after: str | None = None,
    limit: int = Query(20, ge=1, le=100),
) -> dict[str, Any]:
    environment, _ = _caller(request, ctx)
    rows, more = await asyncio.to_thread(_service(ctx).page, environment, after, limit)
    data = [batch_object(row) for row in rows]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(
    batch_id: str, request: Request, ctx: AppContext = Depends(get_context)
) -> Any:
    environment, _ = _caller(request, ctx)
    row = await asyncio.to_thread(_service(ctx).cancel, environment, batch_id)
    ctx.batches.cancelled(batch_id)  # other replicas see it within a second
    return batch_object(row)
