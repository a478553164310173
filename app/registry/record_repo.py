"""Every query on ``request_records``."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import insert
from sqlmodel import Session

from app.registry.tables import RequestRecordRow, as_utc

_COLUMNS = tuple(RequestRecordRow.model_fields)  # one field per column


class RequestRecordRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, rows: list[RequestRecordRow]) -> None:
        """One Core INSERT for the batch: ~4x cheaper than the ORM unit of work, and it takes
        rows built with ``model_construct`` (the gateway's hot path, see ``lineage.record``)."""
        values = [{column: getattr(row, column) for column in _COLUMNS} for row in rows]
        self.session.execute(insert(RequestRecordRow), values)

    def get(self, request_id: str) -> RequestRecordRow | None:
        return self.session.get(RequestRecordRow, request_id)


def record_as_dict(row: RequestRecordRow) -> dict[str, Any]:
    data = row.model_dump()
    data["created_at"] = as_utc(row.created_at).isoformat()
    data["attempts"] = orjson.loads(row.attempts)
    data["ignored_params"] = row.ignored_params.split(",") if row.ignored_params else []
    for key in ("request_body", "response_body", "guardrails", "retrieved_sources"):
        if data[key] is not None:
            data[key] = orjson.loads(data[key])
    return data
