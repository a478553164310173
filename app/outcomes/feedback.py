"""Feedback on answers: bound to the version and arm that produced them, checked, stored.

``POST /v1/feedback`` carries one item ``{request_id, metric, value, comment?}``
or a batch ``{"items": [...]}``. A batch is all or nothing: the first item that
names an unknown metric, a value of the wrong type or out of range, or a
request the caller's key cannot see refuses the whole batch, nothing stored.

Feedback may come days later (the record is in the database by then) or within
milliseconds (the record may still be in this replica's write buffer, which is
searched first). A request id younger than ``RECORD_GRACE_S`` that is found
nowhere is most likely in another replica's buffer: the answer is a retryable
503 with ``Retry-After``, not a 404.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from app.errors import BadRequestError, NotFoundError, ServiceUnavailableError
from app.outcomes.declarations import MAX_TEXT, Value, check_value
from app.registry.db import write_session
from app.registry.feedback_repo import FeedbackRepository
from app.registry.outcome_tables import FeedbackMetricRow, FeedbackRow
from app.registry.record_repo import AnsweredRequest, RequestRecordRepository, request_id_time
from app.registry.tables import utcnow
from app.telemetry.records import RecordWriter

MAX_BATCH = 1000
# How long a request's record may take to reach the database from any replica's buffer.
RECORD_GRACE_S = 60.0
_FIELDS = frozenset({"request_id", "metric", "value", "comment"})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends feedback: the environment of their key and the aliases it may call."""

    environment: str
    aliases: frozenset[str] | None  # None: every alias
    actor: str


@dataclass(frozen=True, slots=True)
class _Item:
    request_id: str
    metric: str
    value: Any
    comment: str | None
    at: str  # "" for a single item, "items[3]." in a batch: where params point


def parse_feedback(body: dict[str, Any]) -> tuple[list[_Item], bool]:
    """The items of a body and whether it was a batch; shape errors are 400s naming the field."""
    if "items" not in body:
        return [_item(body, "")], False
    if set(body) != {"items"}:
        extra = sorted(set(body) - {"items"})[0]
        raise BadRequestError(f"a batch holds only 'items', not {extra!r}", param=extra)
    raw = body["items"]
    if not isinstance(raw, list) or not raw or len(raw) > MAX_BATCH:
        raise BadRequestError(
            f"'items' must be a list of 1 to {MAX_BATCH} feedback objects", param="items"
        )
    return [_item(entry, f"items[{i}].") for i, entry in enumerate(raw)], True


def _item(raw: Any, at: str) -> _Item:
    if not isinstance(raw, dict):
        raise BadRequestError("each feedback item must be an object", param=at.rstrip(".") or None)
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise BadRequestError(f"unknown field {unknown[0]!r}", param=at + unknown[0])
    for name in ("request_id", "metric"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise BadRequestError(f"'{name}' is required (a string)", param=at + name)
    if "value" not in raw:
        raise BadRequestError("'value' is required", param=at + "value")
    comment = raw.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_TEXT):
        raise BadRequestError(
            f"'comment' must be text of at most {MAX_TEXT} characters", param=at + "comment"
        )
    return _Item(raw["request_id"], raw["metric"], raw["value"], comment, at)


class FeedbackService:
    def __init__(
        self, engine: Engine, records: RecordWriter, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.engine = engine
        self.records = records
        self.clock = clock

    async def submit(self, items: list[_Item], caller: Caller) -> list[str]:
        """Store every item (ids in order) or none; runs its queries off the event loop."""
        wanted = {item.request_id for item in items}
        # The buffer first: a record only ever moves from there to the database.
        buffered = {r.id: AnsweredRequest.of(r) for r in self.records.find(wanted)}
        return await asyncio.to_thread(self._store, items, buffered, caller)

    def _store(
        self, items: list[_Item], buffered: dict[str, AnsweredRequest], caller: Caller
    ) -> list[str]:
        now = self.clock()
        with write_session(self.engine, registry_lock=False) as session:
            repo = FeedbackRepository(session)
            metrics = {m.name: m for m in repo.metrics({item.metric for item in items})}
            stored = RequestRecordRepository(session).answered(
                {i.request_id for i in items} - set(buffered)
            )
            rows = []
            for item in items:
                metric = metrics.get(item.metric)
                if metric is None:
                    raise BadRequestError(
                        f"unknown metric {item.metric!r}: declare it first "
                        "(POST /admin/metrics or `pinyard metric create`)",
                        param=item.at + "metric",
                        code="metric_not_found",
                    )
                value = check_value(metric, item.value, item.at + "value")
                answered = buffered.get(item.request_id) or stored.get(item.request_id)
                subject = self._visible(item, answered, caller, now)
                rows.append(_row(item, metric, value, subject, caller.actor, now))
            repo.add_feedback(rows)
        return [row.id for row in rows]

    @staticmethod
    def _visible(
        item: _Item, answered: AnsweredRequest | None, caller: Caller, now: datetime
    ) -> AnsweredRequest:
        """The request, if the caller's key may score it; never says whether another key could."""
        param = item.at + "request_id"
        if (
            answered is not None
            and answered.environment == caller.environment
            and (caller.aliases is None or answered.alias in caller.aliases)
        ):
            if answered.version_digest is None:
                raise BadRequestError(
                    f"request {item.request_id} was not answered by a bundle "
                    "(it failed before one was resolved): there is no version to score",
                    param=param,
                    code="request_without_bundle",
                )
            return answered
        made = request_id_time(item.request_id)
        if answered is None and made is not None and now - made < timedelta(seconds=RECORD_GRACE_S):
            raise ServiceUnavailableError(
                f"request {item.request_id} is not recorded yet (its record is on its way "
                "to the database); retry in a second",
                param=param,
                code="request_not_recorded_yet",
                headers={"Retry-After": "1"},
            )
        raise NotFoundError(
            f"no request {item.request_id} in environment {caller.environment!r}",
            param=param,
            code="request_not_found",
        )


def _row(
    item: _Item,
    metric: FeedbackMetricRow,
    value: Value,
    subject: AnsweredRequest,
    actor: str,
    now: datetime,
) -> FeedbackRow:
    assert subject.version_digest is not None
    return FeedbackRow(
        id="fb_" + secrets.token_hex(16),
        created_at=now,
        request_id=item.request_id,
        metric=metric.name,
        value=value.number,
        text=value.text,
        comment=item.comment,
        actor=actor,
        request_created_at=subject.created_at,
        environment=subject.environment,
        alias=subject.alias,
        bundle_digest=subject.version_digest,
        rollout_id=subject.rollout_id,
        arm=subject.arm,
        rollout_step=subject.rollout_step,
    )
