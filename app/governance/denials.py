"""Refused attempts go into the audit trail, without letting a flood of them flood it.

A refusal (bad token, revoked key, role too low, self-approval...) is recorded
from whatever thread refused it without blocking that request; a background
task writes what accumulated every ``interval_s`` as audit events, identical
refusals coalesced into one event with a count and the first and last time
(the event's own time is when it was written). The presented secret is never
part of an event: callers pass only the principal's name (or "anonymous"), the
request and the reason they were given.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.errors import PinyardError
from app.registry.audit import AuditRepository
from app.registry.db import write_session
from app.registry.tables import utcnow

if TYPE_CHECKING:
    from fastapi import Request

Refusal = TypeVar("Refusal", bound=PinyardError)

log = logging.getLogger("pinyard.denials")

ANONYMOUS = "anonymous"
MAX_DISTINCT = 1000  # distinct refusals held between writes; more are only counted


@dataclass(frozen=True, slots=True)
class Denial:
    actor: str
    action: str  # "auth.denied", "change.denied", ...
    target: str
    reason: str
    status: int
    code: str | None


class DenialRecorder:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dropped = 0
        self._pending: Counter[Denial] = Counter()
        self._seen: dict[Denial, tuple[datetime, datetime]] = {}  # first and last refusal
        self._lock = threading.Lock()
        self._write_lock = asyncio.Lock()

    def record(self, denial: Denial) -> None:
        """Thread-safe and non-blocking; written by the next ``flush``."""
        denial = Denial(
            denial.actor[:255],
            denial.action,
            denial.target[:255],
            denial.reason[:1000],
            denial.status,
            denial.code,
        )
        now = utcnow()
        with self._lock:
            if denial in self._pending or len(self._pending) < MAX_DISTINCT:
                self._pending[denial] += 1
                self._seen[denial] = (self._seen.get(denial, (now, now))[0], now)
            else:
                self.dropped += 1

    def refused(self, request: Request, error: Refusal, actor: str) -> Refusal:
        """Record an HTTP request's refusal (``auth.denied``) and hand the error back to raise."""
        self.record(
            Denial(
                actor=actor,
                action="auth.denied",
                target=f"{request.method} {request.url.path}",
                reason=error.message,
                status=error.status_code,
                code=error.code,
            )
        )
        return error

    async def flush(self) -> int:
        """Write what accumulated; how many events were appended."""
        async with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, Counter()
                seen, self._seen = self._seen, {}
                dropped, self.dropped = self.dropped, 0
            if not batch and not dropped:
                return 0
            try:
                return await asyncio.to_thread(self._write, batch, seen, dropped)
            except SQLAlchemyError as exc:
                log.warning("could not audit %d refused attempts: %s", sum(batch.values()), exc)
                return 0

    def _write(
        self,
        batch: Counter[Denial],
        seen: dict[Denial, tuple[datetime, datetime]],
        dropped: int,
    ) -> int:
        with write_session(self.engine) as session:
            audit = AuditRepository(session)
            for denial, count in batch.items():
                audit.append(
                    actor=denial.actor,
                    action=denial.action,
                    target=denial.target,
                    reason=denial.reason,
                    after={
                        "status": denial.status,
                        "code": denial.code,
                        "count": count,
                        "first_at": seen[denial][0].isoformat(),
                        "last_at": seen[denial][1].isoformat(),
                    },
                )
            if dropped:
                audit.append(
                    actor="system",
                    action="auth.denied.overflow",
                    target="gateway",
                    reason=f"{dropped} further refused attempts were not itemised",
                    after={"count": dropped},
                )
        return len(batch) + (1 if dropped else 0)

    async def run(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()
