"""SQLModel tables of the registry. The initial Alembic revision mirrors these."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """A stored time as the API shows it (ISO 8601, UTC), or None."""
    return as_utc(value).isoformat() if value is not None else None


def _ts(index: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False, index=index)


class BundleRow(SQLModel, table=True):
    __tablename__ = "bundles"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_bundles_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63, index=True)
    version: int
    digest: str = Field(max_length=71, unique=True)
    model: str = Field(max_length=255)
    spec: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=255)


class AliasRow(SQLModel, table=True):
    __tablename__ = "aliases"

    environment: str = Field(max_length=63, primary_key=True)
    name: str = Field(max_length=63, primary_key=True)
    bundle_digest: str = Field(max_length=71, foreign_key="bundles.digest")
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(max_length=255)


class AliasHistoryRow(SQLModel, table=True):
    __tablename__ = "alias_history"

    id: int | None = Field(default=None, primary_key=True)
    environment: str = Field(max_length=63, index=True)
    alias: str = Field(max_length=63, index=True)
    action: str = Field(max_length=32)
    from_digest: str | None = Field(default=None, max_length=71)
    to_digest: str = Field(max_length=71, foreign_key="bundles.digest")
    actor: str = Field(max_length=255)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = Field(sa_column=_ts(index=True))


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=_ts(index=True))
    actor: str = Field(max_length=255, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(max_length=255, index=True)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class EnvironmentPolicyRow(SQLModel, table=True):
    __tablename__ = "environment_policies"

    environment: str = Field(max_length=63, primary_key=True)
    policy: str = Field(sa_column=Column(Text, nullable=False))  # EnvironmentPolicy as JSON
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(max_length=255)


class RegistryStateRow(SQLModel, table=True):
    """One row: a revision bumped by every registry change, for snapshot refresh."""

    __tablename__ = "registry_state"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0


class RequestRecordRow(SQLModel, table=True):
    __tablename__ = "request_records"
    # The rollout analysis reads one arm of one step, newest first (migration 0008).
    __table_args__ = (
        Index(
            "ix_request_records_rollout_sample", "rollout_id", "rollout_step", "arm", "created_at"
        ),
    )

    id: str = Field(max_length=64, primary_key=True)
    created_at: datetime = Field(sa_column=_ts(index=True))
    environment: str = Field(max_length=63)
    alias: str | None = Field(default=None, max_length=140, index=True)
    bundle_name: str | None = Field(default=None, max_length=63)
    bundle_version: int | None = None
    bundle_digest: str | None = Field(default=None, max_length=71, index=True)
    route: str | None = Field(default=None, max_length=16)
    provider_model: str | None = Field(default=None, max_length=255)
    endpoint: str = Field(max_length=64)
    stream: bool = False
    attempts: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    input_digest: str | None = Field(default=None, max_length=71)
    latency_ms: float | None = None
    ttft_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    status: int
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ignored_params: str | None = Field(default=None, max_length=1024)
    request_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Guardrails and retrieval (migration 0003): queryable for rollout analysis.
    guardrail_blocked: bool = Field(
        default=False, sa_column_kwargs={"server_default": false(), "nullable": False}
    )
    guardrails: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    retrieved_sources: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    retrieval_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # Rollouts (migration 0006): which rollout, arm and step served the request.
    rollout_id: str | None = Field(default=None, max_length=40)
    arm: str | None = Field(default=None, max_length=16)
    rollout_step: int | None = None
    # Which bundle of the chain answered (migration 0009): 0 the resolved one, k its
    # k-th fallback, None when none answered.
    fallback_index: int | None = None
    # The bundle the request was routed to, when one of its fallbacks answered instead
    # (migration 0010): outcomes count the request for the version it was routed to.
    routed_digest: str | None = Field(default=None, max_length=71)
    # What the answer cost in USD: usage x the model's price (migration 0011); None
    # when the price or the usage is unknown.
    cost_usd: float | None = None


class RolloutRow(SQLModel, table=True):
    """One rollout of an alias from its baseline to a candidate; ended rows are kept."""

    __tablename__ = "rollouts"

    id: str = Field(max_length=40, primary_key=True)
    environment: str = Field(max_length=63, index=True)
    alias: str = Field(max_length=63, index=True)
    # "<env>/<alias>" while the rollout runs, NULL once it ended: one running per alias.
    active_key: str | None = Field(default=None, max_length=140, unique=True)
    baseline_digest: str = Field(max_length=71, foreign_key="bundles.digest")
    candidate_digest: str = Field(max_length=71, foreign_key="bundles.digest")
    plan: str = Field(sa_column=Column(Text, nullable=False))  # RolloutPlan as JSON
    state: str = Field(max_length=16)  # running, completed, rolled_back, aborted
    paused: bool = False
    step: int = 0
    step_started_at: datetime = Field(sa_column=_ts())
    version: int = 0  # bumped by every transition; decisions name the version they saw
    override: bool = False  # promotion gates overridden at start (audited)
    verdict: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evaluated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    created_at: datetime = Field(sa_column=_ts(index=True))
    created_by: str = Field(max_length=255)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(sa_column=_ts())
    ended_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    end_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ShadowPairRow(SQLModel, table=True):
    """A live request answered by the baseline and, off the client's path, the candidate."""

    __tablename__ = "shadow_pairs"

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: str = Field(max_length=40, index=True)
    step: int
    created_at: datetime = Field(sa_column=_ts())
    request_id: str = Field(max_length=64)
    primary_ok: bool
    candidate_ok: bool
    # The client's answer came from a fallback, not the baseline itself (migration 0009).
    primary_fallback: bool = Field(
        default=False, sa_column_kwargs={"server_default": false(), "nullable": False}
    )
    primary_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    candidate_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    primary_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    candidate_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    exact_match: bool = False
    similarity: float | None = None
    json_equal: bool | None = None
    json_shape_equal: bool | None = None
    length_ratio: float | None = None
    primary_latency_ms: float
    candidate_latency_ms: float
    latency_delta_ms: float
    primary_tokens: int | None = None
    candidate_tokens: int | None = None
    token_delta: int | None = None


class RolloutLeaseRow(SQLModel, table=True):
    """Who runs the rollout analysis loop: one replica at a time, until the lease expires."""

    __tablename__ = "rollout_leases"

    name: str = Field(max_length=63, primary_key=True)
    holder: str = Field(max_length=64)
    expires_at: datetime = Field(sa_column=_ts())
