"""Every query on ``request_records``, and the shape of one record on its way there."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Dialect
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from app.registry.tables import RequestRecordRow, as_utc


class RequestRecord(NamedTuple):
    """One request's record as the gateway hands it to the writer.

    A tuple, not a ``RequestRecordRow``: building one costs ~1 µs on the hot path
    (the SQLModel instance ~10 µs), and its values go to the database as they are,
    in field order (``RecordInsert``). Fields are the columns of
    ``request_records``; a test holds the two together.
    """

    id: str
    created_at: datetime
    environment: str
    endpoint: str
    status: int
    alias: str | None = None
    bundle_name: str | None = None
    bundle_version: int | None = None
    bundle_digest: str | None = None
    route: str | None = None
    provider_model: str | None = None
    stream: bool = False
    attempts: str = "[]"
    input_digest: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error: str | None = None
    ignored_params: str | None = None
    request_body: str | None = None
    response_body: str | None = None
    guardrail_blocked: bool = False
    guardrails: str | None = None
    retrieved_sources: str | None = None
    retrieval_error: str | None = None
    rollout_id: str | None = None
    arm: str | None = None
    rollout_step: int | None = None
    fallback_index: int | None = None
    routed_digest: str | None = None
    cost_usd: float | None = None


class AnsweredRequest(NamedTuple):
    """What feedback needs to know about the request it scores (a record's lineage)."""

    id: str
    created_at: datetime
    environment: str
    alias: str | None
    version_digest: str | None  # the bundle routed to (a fallback's answer counts for it)
    rollout_id: str | None
    arm: str | None
    rollout_step: int | None

    @classmethod
    def of(cls, record: RequestRecord | RequestRecordRow) -> AnsweredRequest:
        return cls(
            record.id,
            as_utc(record.created_at),
            record.environment,
            record.alias,
            record.routed_digest or record.bundle_digest,
            record.rollout_id,
            record.arm,
            record.rollout_step,
        )


def request_id_time(request_id: str) -> datetime | None:
    """When a request id was made: ``req_`` + 12 hex digits of Unix milliseconds + 20 more.

    The format is ``app.gateway.lineage.new_request_id``'s; None for anything else.
    """
    if not request_id.startswith("req_") or len(request_id) != 36:
        return None
    try:
        return datetime.fromtimestamp(int(request_id[4:16], 16) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return None


# 33 columns: 300 rows stay far below SQLite's (32,766) and PostgreSQL's (65,535) bound
# on parameters in one statement.
ROWS_PER_STATEMENT = 300


class RecordInsert:
    """The batch INSERT for one dialect, prepared once.

    Multi-row ``INSERT ... VALUES`` statements sent as they are through the DBAPI,
    with each column's bind processor (SQLite stores datetimes as text) applied
    by hand: the Core ``insert()`` path spent ~30 µs a row building and
    processing parameter dictionaries, twice what SQLite needs to store the row.
    """

    def __init__(self, dialect: Dialect) -> None:
        table = RequestRecordRow.__table__  # type: ignore[attr-defined]
        quote = dialect.identifier_preparer.quote
        names = RequestRecord._fields
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._head = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
        )
        self._row = f"({', '.join(mark for _ in names)})"
        self._statements: dict[int, str] = {}
        processors = [table.c[name].type.bind_processor(dialect) for name in names]
        self._processors = [(i, p) for i, p in enumerate(processors) if p is not None]

    def statements(self, records: list[RequestRecord]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Multi-row INSERTs of at most ``ROWS_PER_STATEMENT`` records each."""
        for start in range(0, len(records), ROWS_PER_STATEMENT):
            chunk = records[start : start + ROWS_PER_STATEMENT]
            sql = self._statements.get(len(chunk))
            if sql is None:
                sql = self._statements[len(chunk)] = self._head + ", ".join(
                    [self._row] * len(chunk)
                )
            yield sql, tuple(value for record in chunk for value in self._values(record))

    def _values(self, record: RequestRecord) -> tuple[Any, ...] | list[Any]:
        if not self._processors:
            return record
        row = list(record)
        for index, process in self._processors:
            if row[index] is not None:
                row[index] = process(row[index])
        return row


class RequestRecordRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_many(self, records: list[RequestRecord], insert: RecordInsert) -> None:
        """The batch in a few multi-row INSERTs, in the session's transaction."""
        connection = self.session.connection()
        for sql, parameters in insert.statements(records):
            connection.exec_driver_sql(sql, parameters)

    def get(self, request_id: str) -> RequestRecordRow | None:
        return self.session.get(RequestRecordRow, request_id)

    def answered(self, request_ids: Iterable[str]) -> dict[str, AnsweredRequest]:
        """The lineage of each stored request among ``request_ids`` (payloads not loaded)."""
        r = RequestRecordRow
        wanted = sorted(set(request_ids))
        columns = [
            col(c) for c in (r.id, r.created_at, r.environment, r.alias, r.bundle_digest,
                             r.routed_digest, r.rollout_id, r.arm, r.rollout_step)
        ]  # fmt: skip
        query = sa_select(*columns).where(col(r.id).in_(wanted))
        found: dict[str, AnsweredRequest] = {}
        for rid, at, env, alias, digest, routed, rollout, arm, step in self.session.execute(query):
            found[rid] = AnsweredRequest(
                rid, as_utc(at), env, alias, routed or digest, rollout, arm, step
            )
        return found


def record_as_dict(row: RequestRecordRow) -> dict[str, Any]:
    data = row.model_dump()
    data["created_at"] = as_utc(row.created_at).isoformat()
    data["attempts"] = orjson.loads(row.attempts)
    data["ignored_params"] = row.ignored_params.split(",") if row.ignored_params else []
    for key in ("request_body", "response_body", "guardrails", "retrieved_sources"):
        if data[key] is not None:
            data[key] = orjson.loads(data[key])
    return data
