"""Files and batches in the OpenAI wire shapes, plus a ``pinyard`` block saying what ran."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from app.registry.batch_tables import BatchRow, FileRow
from app.registry.tables import as_utc


def unix(value: datetime | None) -> int | None:
    return None if value is None else int(as_utc(value).timestamp())


def file_object(row: FileRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": unix(row.created_at),
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
        "status_details": None,
        "expires_at": None,
        "pinyard": {
            "environment": row.environment,
            "kind": row.kind,
            "endpoint": row.endpoint,
            "model": row.model,
            "requests": row.lines if row.kind == "input" else None,
            "batch_id": row.batch_id,
        },
    }


def batch_object(row: BatchRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "errors": None,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id,
        "created_at": unix(row.created_at),
        "in_progress_at": unix(row.in_progress_at),
        "expires_at": unix(row.expires_at),
        "finalizing_at": unix(row.finalizing_at),
        "completed_at": unix(row.completed_at),
        "failed_at": unix(row.failed_at),
        "expired_at": unix(row.expired_at),
        "cancelling_at": unix(row.cancelling_at),
        "cancelled_at": unix(row.cancelled_at),
        "request_counts": {"total": row.total, "completed": row.completed, "failed": row.failed},
        "metadata": orjson.loads(row.labels) if row.labels else None,
        "pinyard": {
            "environment": row.environment,
            "alias": row.alias,
            "bundle": f"{row.bundle_name}@{row.bundle_version}",
            "bundle_digest": row.bundle_digest,
        },
    }
