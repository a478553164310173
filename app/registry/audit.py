"""The append-only, hash-chained audit log.

Each event's ``hash`` is sha256 over its canonical content including the
previous event's hash, so editing, deleting or reordering any row breaks every
link after it. ``verify`` walks the chain and names the first broken link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, not_, or_
from sqlmodel import Session, col, select

from app.bundles.spec import canonical_json
from app.errors import BadRequestError
from app.registry.tables import AuditEventRow, as_utc, utcnow

GENESIS_HASH = "0" * 64
# Values never written to the audit trail, whatever a caller passes.
_SECRET_KEYS = {"api_key", "token", "authorization", "password", "secret"}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("[redacted]" if k.lower() in _SECRET_KEYS else _scrub(v)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def event_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    before: str | None,
    after: str | None,
    reason: str,
    prev_hash: str,
) -> str:
    content = {
        "seq": seq,
        "at": as_utc(at).isoformat(),
        "actor": actor,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content)).hexdigest()


def require_reason(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise BadRequestError("a non-empty reason is required for every change", param="reason")
    return reason.strip()


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def last(self) -> AuditEventRow | None:
        return self.session.exec(
            select(AuditEventRow).order_by(col(AuditEventRow.seq).desc()).limit(1)
        ).first()

    def append(
        self,
        *,
        actor: str,
        action: str,
        target: str,
        reason: str,
        before: Any = None,
        after: Any = None,
    ) -> AuditEventRow:
        """Append one event; the caller holds the registry write lock."""
        previous = self.last()
        seq = previous.seq + 1 if previous else 1
        prev_hash = previous.hash if previous else GENESIS_HASH
        at = utcnow()
        before_json = None if before is None else canonical_json(_scrub(before)).decode()
        after_json = None if after is None else canonical_json(_scrub(after)).decode()
        reason = require_reason(reason)
        row = AuditEventRow(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            target=target,
            before=before_json,
            after=after_json,
            reason=reason,
            prev_hash=prev_hash,
            hash=event_hash(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                target=target,
                before=before_json,
                after=after_json,
                reason=reason,
                prev_hash=prev_hash,
            ),
        )
        self.session.add(row)
        self.session.flush()
        return row

    def find(
        self,
        *,
        after_seq: int = 0,
        limit: int = 100,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        environment: str | None = None,
        alias: str | None = None,
    ) -> list[AuditEventRow]:
        query = select(AuditEventRow).where(col(AuditEventRow.seq) > after_seq)
        if action:
            query = query.where(AuditEventRow.action == action)
        if actor:
            query = query.where(AuditEventRow.actor == actor)
        if target:
            query = query.where(col(AuditEventRow.target).startswith(target))
        if environment or alias:
            query = query.where(_scoped_target(environment, alias))
        if since:
            query = query.where(col(AuditEventRow.at) >= since)
        if until:
            query = query.where(col(AuditEventRow.at) <= until)
        return list(self.session.exec(query.order_by(col(AuditEventRow.seq)).limit(limit)))

    def iter_all(self, batch: int = 1000) -> Iterator[AuditEventRow]:
        after = 0
        while True:
            rows = self.find(after_seq=after, limit=batch)
            if not rows:
                return
            yield from rows
            after = rows[-1].seq


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _scoped_target(environment: str | None, alias: str | None) -> ColumnElement[bool]:
    """Targets shaped ``<noun>/<environment>[/<name>]`` (aliases, policies, keys, rollouts).

    The environment must be the second path segment and the alias the third, so
    ``alias/dev/prod`` is not an event of environment ``prod``.
    """
    target = col(AuditEventRow.target)

    def like(pattern: str) -> ColumnElement[bool]:
        return target.like(pattern, escape="\\")

    env = _like(environment) if environment else "%"
    if alias:
        name = _like(alias)
        return and_(like(f"%/{env}/{name}"), not_(like(f"%/%/%/{name}")))
    return or_(
        and_(like(f"%/{env}/%"), not_(like(f"%/%/{env}/%"))),
        and_(like(f"%/{env}"), not_(like(f"%/%/{env}"))),
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    events: int
    broken_at: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "broken_at": self.broken_at,
            "problem": self.problem,
        }


def verify_chain(rows: Iterator[AuditEventRow]) -> ChainReport:
    """Walk events in ``seq`` order; the first mismatch is the broken link."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            return ChainReport(
                False, count, row.seq, f"event {expected_seq} is missing (next is {row.seq})"
            )
        if row.prev_hash != prev_hash:
            return ChainReport(
                False, count, row.seq, f"event {row.seq} does not link to event {row.seq - 1}"
            )
        recomputed = event_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            before=row.before,
            after=row.after,
            reason=row.reason,
            prev_hash=row.prev_hash,
        )
        if recomputed != row.hash:
            return ChainReport(
                False, count, row.seq, f"event {row.seq} was altered (its hash does not match)"
            )
        expected_seq, prev_hash = row.seq + 1, row.hash
    return ChainReport(True, count)


def event_as_dict(row: AuditEventRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "at": as_utc(row.at).isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "before": orjson.loads(row.before) if row.before else None,
        "after": orjson.loads(row.after) if row.after else None,
        "reason": row.reason,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }
