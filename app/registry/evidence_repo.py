"""Queries behind the evidence for a change: eval runs of a digest, the audit events of a flip.

Eval runs live in a table another feature owns (``eval_runs``); its columns are
discovered at run time so evidence works with whatever that table records (a
digest column named ``bundle_digest``, ``digest`` or ``target_digest``) and
degrades to "no runs" when the table does not exist yet.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Column, MetaData, Table, inspect, select
from sqlmodel import Session, col
from sqlmodel import select as model_select

from app.registry.tables import AuditEventRow, as_utc

EVAL_TABLE = "eval_runs"
_DIGEST_COLUMNS = ("bundle_digest", "digest", "target_digest")
_TIME_COLUMNS = ("finished_at", "created_at", "recorded_at", "started_at", "at")
_MAX_VALUE = 4000  # evidence carries summaries, not whole reports
_BULKY = frozenset({"cases", "baseline"})  # per-case results: in the eval run itself


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"[{len(value)} bytes]"
    if isinstance(value, str):
        if len(value) > _MAX_VALUE:
            return f"[omitted: {len(value)} characters]"
        if value[:1] in ("{", "["):
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return value
    return value


def run_passed(run: dict[str, Any]) -> bool | None:
    """Whether a run passed, from whichever verdict column the table has; None if unknown."""
    if isinstance(run.get("passed"), bool):
        return bool(run["passed"])
    for name in ("status", "verdict", "outcome", "result"):
        value = run.get(name)
        if isinstance(value, str):
            return value.lower() in ("passed", "pass", "ok", "success", "succeeded")
    return None


class EvidenceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def eval_runs(
        self, digest: str, *, until: datetime | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        connection = self.session.connection()
        if not inspect(connection).has_table(EVAL_TABLE):
            return []
        table = Table(EVAL_TABLE, MetaData(), autoload_with=connection)
        digest_column = next((table.c[n] for n in _DIGEST_COLUMNS if n in table.c), None)
        if digest_column is None:
            return []
        time_column: Column[Any] | None = next(
            (table.c[n] for n in _TIME_COLUMNS if n in table.c), None
        )
        query = select(table).where(digest_column == digest)
        if time_column is not None:
            if until is not None:
                query = query.where(time_column <= until)
            query = query.order_by(time_column.desc())
        runs = []
        for row in self.session.connection().execute(query.limit(limit)).mappings():
            run = {str(k): _plain(v) for k, v in row.items() if str(k) not in _BULKY}
            run["passed"] = run_passed(run)
            runs.append(run)
        return runs

    def events(self, seqs: list[int]) -> list[AuditEventRow]:
        if not seqs:
            return []
        return list(
            self.session.exec(
                model_select(AuditEventRow)
                .where(col(AuditEventRow.seq).in_(seqs))
                .order_by(col(AuditEventRow.seq))
            )
        )

    def flip_event(self, target: str, at: datetime) -> AuditEventRow | None:
        """The audit event an alias flip wrote in its transaction: the first alias.* at or after."""
        return self.session.exec(
            model_select(AuditEventRow)
            .where(
                AuditEventRow.target == target,
                col(AuditEventRow.action).startswith("alias."),
                col(AuditEventRow.at) >= at,
            )
            .order_by(col(AuditEventRow.seq))
            .limit(1)
        ).first()
