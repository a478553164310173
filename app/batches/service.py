"""Files and batches: upload, create (pinning the alias to a digest), read, cancel.

Each change is one transaction: a refused upload stores nothing, and a batch
is created together with every one of its requests or not at all. The batch
is pinned here, once: the bundle its model names *now* is what every line
runs on, whatever the alias serves later.

Synchronous on purpose (database work): the HTTP routes call these in a thread.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Engine

from app.batches.endpoints import BatchEndpoints
from app.batches.jsonl import InputFile, parse_input
from app.errors import BadRequestError, ConflictError, NotFoundError, PayloadTooLarge
from app.registry.batch_repo import COMPLETED, FAILED, BatchRepository, FileRepository
from app.registry.batch_tables import BatchRow, FileRow
from app.registry.db import read_session, write_session
from app.registry.snapshot import ServedBundle
from app.registry.tables import utcnow

_WINDOW = re.compile(r"^(\d{1,3})h$")
MAX_WINDOW_HOURS = 168
MAX_METADATA_PAIRS = 16
CANCELLABLE = ("validating", "in_progress")
# Lines read from the database at a time when an output file is served.
_OUTPUT_PAGE = 1000


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """A checked ``POST /v1/batches`` body, before its model is pinned."""

    endpoint: str
    window_hours: int
    labels: dict[str, str] | None
    source: FileRow
    model: str  # what every line of the input names


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_file_bytes: int
    max_requests: int


class BatchService:
    def __init__(
        self,
        engine: Engine,
        endpoints: BatchEndpoints,
        limits: BatchLimits,
    ) -> None:
        self.engine = engine
        self.endpoints = endpoints
        self.limits = limits

    # -- files ----------------------------------------------------------------------

    def read_upload(self, purpose: str, content: bytes) -> InputFile:
        """Check an upload before anything is stored; refusals name the bad lines."""
        if purpose != "batch":
            raise BadRequestError(
                f"purpose {purpose!r} is not supported: files here are batch inputs "
                "(purpose 'batch')",
                param="purpose",
            )
        self.check_size(len(content))
        return parse_input(content, self.endpoints, max_lines=self.limits.max_requests)

    def check_size(self, size: int) -> None:
        if size > self.limits.max_file_bytes:
            raise PayloadTooLarge(
                f"the file is {size} bytes; the limit is {self.limits.max_file_bytes} "
                "(PINYARD_BATCH_MAX_FILE_BYTES)",
                param="file",
            )

    def store_file(
        self, environment: str, actor: str, filename: str, content: bytes, parsed: InputFile
    ) -> FileRow:
        row = FileRow(
            id=new_file_id(),
            environment=environment,
            purpose="batch",
            kind="input",
            filename=filename[:255] or "input.jsonl",
            bytes=len(content),
            created_at=utcnow(),
            created_by=actor,
            content=content.decode("utf-8"),
            endpoint=parsed.endpoint,
            model=parsed.model,
            lines=len(parsed.lines),
        )
        with write_session(self.engine, registry_lock=False) as session:
            return FileRepository(session).add(row)

    def file(self, environment: str, file_id: str) -> FileRow:
        with read_session(self.engine) as session:
            row = FileRepository(session).get(environment, file_id)
        if row is None:
            raise NotFoundError(
                f"no file {file_id!r} in environment {environment!r}", param="file_id"
            )
        return row

    def file_content(self, row: FileRow) -> Iterator[bytes]:
        """A file's bytes; an output or error file is read from its batch, in line order."""
        if row.content is not None:
            yield row.content.encode("utf-8")
            return
        assert row.batch_id is not None
        status = COMPLETED if row.kind == "output" else FAILED
        after = 0
        while True:
            with read_session(self.engine) as session:
                page = BatchRepository(session).outputs(row.batch_id, status, after, _OUTPUT_PAGE)
            if not page:
                return
            yield b"".join(output.encode("utf-8") + b"\n" for _, output in page)
            after = page[-1][0]

    # -- batches --------------------------------------------------------------------

    def prepare(self, environment: str, body: dict[str, Any]) -> BatchRequest:
        """Check a ``POST /v1/batches`` body and find its input file (nothing is written)."""
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str) or endpoint not in self.endpoints:
            raise BadRequestError(
                f"endpoint must be one of {', '.join(sorted(self.endpoints))}, not {endpoint!r}",
                param="endpoint",
            )
        window = _window_hours(body.get("completion_window"))
        labels = _metadata(body.get("metadata"))
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or not file_id:
            raise BadRequestError("'input_file_id' is required", param="input_file_id")
        source = self.file(environment, file_id)
        if source.kind != "input" or source.content is None or source.model is None:
            raise BadRequestError(
                f"file {file_id!r} is a batch's {source.kind} file, not an input",
                param="input_file_id",
            )
        if source.endpoint != endpoint:
            raise BadRequestError(
                f"the lines of {file_id!r} call {source.endpoint}, not {endpoint}",
                param="endpoint",
            )
        return BatchRequest(endpoint, window, labels, source, source.model)

    def create(
        self, environment: str, actor: str, request: BatchRequest, bundle: ServedBundle
    ) -> BatchRow:
        """The batch, pinned to ``bundle`` (what ``request.model`` names now), with every line."""
        kind = self.endpoints[request.endpoint].kind
        if bundle.compiled.spec.kind != kind:
            raise BadRequestError(
                f"{request.model!r} serves a {bundle.compiled.spec.kind} model; "
                f"{request.endpoint} needs a {kind} model",
                param="input_file_id",
            )
        assert request.source.content is not None
        parsed = parse_input(
            request.source.content.encode("utf-8"),
            self.endpoints,
            max_lines=self.limits.max_requests,
        )
        now = utcnow()
        row = BatchRow(
            id="batch_" + secrets.token_hex(12),
            environment=environment,
            alias=request.model,
            bundle_digest=bundle.digest,
            bundle_name=bundle.name,
            bundle_version=bundle.version,
            endpoint=request.endpoint,
            completion_window=f"{request.window_hours}h",
            input_file_id=request.source.id,
            status="validating",
            labels=orjson.dumps(request.labels).decode() if request.labels is not None else None,
            total=len(parsed.lines),
            created_at=now,
            created_by=actor,
            expires_at=now + timedelta(hours=request.window_hours),
        )
        lines = ((i.line, i.custom_id, orjson.dumps(i.body).decode()) for i in parsed.lines)
        with write_session(self.engine, registry_lock=False) as session:
            return BatchRepository(session).add(row, lines)

    def get(self, environment: str, batch_id: str) -> BatchRow:
        with read_session(self.engine) as session:
            row = BatchRepository(session).get(batch_id, environment)
        if row is None:
            raise NotFoundError(
                f"no batch {batch_id!r} in environment {environment!r}", param="batch_id"
            )
        return row

    def page(self, environment: str, after: str | None, limit: int) -> tuple[list[BatchRow], bool]:
        """Newest first, and whether more follow."""
        with read_session(self.engine) as session:
            rows = BatchRepository(session).page(environment, after, limit + 1)
        return rows[:limit], len(rows) > limit

    def cancel(self, environment: str, batch_id: str) -> BatchRow:
        """No new line starts once the worker sees ``cancelling``; lines in flight finish."""
        with write_session(self.engine, registry_lock=False) as session:
            batches = BatchRepository(session)
            row = batches.get(batch_id, environment)
            if row is None:
                raise NotFoundError(
                    f"no batch {batch_id!r} in environment {environment!r}", param="batch_id"
                )
            if row.status in ("cancelling", "cancelled"):
                return row
            if row.status not in CANCELLABLE:
                raise ConflictError(
                    f"batch {batch_id!r} is {row.status}; only a validating or in_progress "
                    "batch can be cancelled",
                    param="batch_id",
                )
            row.status, row.cancelling_at = "cancelling", utcnow()
            batches.save(row)
        return row


def _window_hours(value: Any) -> int:
    match = _WINDOW.match(value) if isinstance(value, str) else None
    hours = int(match.group(1)) if match else 0
    if not 1 <= hours <= MAX_WINDOW_HOURS:
        raise BadRequestError(
            f"completion_window must be like '24h' (1 to {MAX_WINDOW_HOURS} hours), not {value!r}",
            param="completion_window",
        )
    return hours


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > MAX_METADATA_PAIRS
        or not all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in value.items()
        )
    ):
        raise BadRequestError(
            f"metadata must be at most {MAX_METADATA_PAIRS} string pairs "
            "(keys up to 64 characters, values up to 512)",
            param="metadata",
        )
    return value
