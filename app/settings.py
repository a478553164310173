"""Gateway settings, read from ``PINYARD_*`` environment variables.

Settings refuse unsafe or contradictory values at start-up rather than at the
first request: an unknown default environment, a malformed database URL or an
empty admin token are configuration bugs, not runtime conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PINYARD_", extra="ignore")

    database_url: str = "sqlite:///./pinyard.db"
    # Ordered: the promotion path. Comma-separated in the environment.
    environments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ENVIRONMENTS)
    )
    # The caller's environment when no API keys are configured (local mode).
    environment: str = "dev"
    admin_token: SecretStr | None = None
    # Apply migrations on start (unset: only for the embedded SQLite default;
    # PostgreSQL deployments run `pinyard db upgrade` as a release step).
    auto_migrate: bool | None = None
    # Store full request and response bodies in request records.
    log_payloads: bool = False
    record_queue_size: int = Field(default=10_000, ge=1)
    record_batch_size: int = Field(default=200, ge=1)
    record_flush_interval_s: float = Field(default=0.5, gt=0)
    # How often each replica checks the registry revision (safety net for
    # missed change notifications).
    snapshot_poll_interval_s: float = Field(default=1.0, gt=0)
    # Optional YAML file mapping provider prefixes to base URLs / key env vars.
    providers_file: Path | None = None
    # Optional YAML list of negotiated model prices, over litellm's (cost per request).
    prices_file: Path | None = None
    # Retry policy for provider calls (per bundle attempt).
    provider_max_attempts: int = Field(default=3, ge=1, le=10)
    provider_backoff_base_s: float = Field(default=0.25, ge=0)
    provider_backoff_max_s: float = Field(default=8.0, ge=0)
    # How `openai/` (and providers-file `openai_compatible`) models are called:
    # a pooled direct HTTP client (fast), or through litellm like every other provider.
    openai_transport: Literal["direct", "litellm"] = "direct"
    # Pool size for PostgreSQL connections.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    # -- production shape (replicas, outages, shutdown, logs) -----------------
    # Listen for registry changes (PostgreSQL LISTEN/NOTIFY) so every replica
    # refreshes within milliseconds; off behind a transaction-mode pooler, where
    # LISTEN cannot work and the revision poll alone keeps replicas in step.
    db_notify: bool = True
    # Request records held in memory while the database is unreachable; past
    # this bound they are dropped and counted (reason "buffer_full").
    record_buffer_size: int = Field(default=50_000, ge=1)
    # Longest wait between retries of a failed record write (backoff doubles up to it).
    record_retry_max_s: float = Field(default=5.0, gt=0)
    # On SIGTERM: how long in-flight requests (streams included) may take to finish,
    # and then how long the record writer may take to flush.
    shutdown_grace_s: int = Field(default=10, ge=0)
    # `pinyard serve` logging: JSON lines (with the request id) or plain text.
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # -- request limits (app/gateway/request_shapes.py) -------------------------
    # Choices one chat request may ask for (`n`); more is refused with 400.
    max_n: int = Field(default=8, ge=1, le=128)
    # Messages in one chat request; more is refused with 400.
    max_messages: int = Field(default=2048, ge=1)

    @field_validator("environments", mode="before")
    @classmethod
    def _split_environments(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("environments")
    @classmethod
    def _check_environments(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("PINYARD_ENVIRONMENTS must name at least one environment")
        if len(set(value)) != len(value):
            raise ValueError(f"PINYARD_ENVIRONMENTS has duplicates: {value}")
        return value

    @field_validator("admin_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if len(value.get_secret_value()) < 16:
            raise ValueError("PINYARD_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError(
                "PINYARD_DATABASE_URL must be sqlite:///PATH or postgresql+psycopg://..."
            )
        return value

    @model_validator(mode="after")
    def _check_default_environment(self) -> Settings:
        if self.environment not in self.environments:
            raise ValueError(
                f"PINYARD_ENVIRONMENT={self.environment!r} is not one of "
                f"PINYARD_ENVIRONMENTS={','.join(self.environments)}"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    # -- deprecation radar ------------------------------------------------------
    # Operator overrides of the deprecation catalog: a YAML list of
    # {model, deprecation_date, shutdown_date, replacement, source, note, moving_pointer}.
    deprecations_file: Path | None = None
    # Registering a bundle whose model shuts down within this many days warns.
    deprecation_warning_days: int = Field(default=90, ge=0, le=3650)
    # How often each replica re-reads the overrides file and checks alert thresholds.
    deprecation_check_interval_s: float = Field(default=3600.0, gt=0)
    # Optional webhook for threshold events; it may embed a token, so it is never logged.
    alert_webhook_url: SecretStr | None = None
    alert_webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    alert_webhook_backoff_s: float = Field(default=1.0, ge=0)
    alert_webhook_timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("alert_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().strip().startswith(("http://", "https://")):
            raise ValueError("PINYARD_ALERT_WEBHOOK_URL must be an http(s) URL")
        return SecretStr(value.get_secret_value().strip())

    # -- evals -----------------------------------------------------------------
    # Where the gateway finds `<suite>.yaml` for aliases whose policy says
    # run_on_promotion (relative to the gateway's working directory).
    evals_dir: Path = Path("evals")
    # The response cache of eval runs (keyed by bundle digest, case, repeat);
    # the CLI defaults to .pinyard-cache, the gateway caches only when this is set.
    eval_cache_dir: Path | None = None
    # Cases in flight at once when the gateway runs suites on promotion.
    eval_concurrency: int = Field(default=4, ge=1, le=64)

    # -- governance ------------------------------------------------------------
    # Shares per-key rate-limit counts across replicas (else PostgreSQL, else
    # in-process on SQLite), e.g. redis://127.0.0.1:6379/0.
    redis_url: str | None = None
    # How often each replica exchanges its rate-limit counts with the shared store.
    rate_limit_sync_interval_s: float = Field(default=0.5, gt=0)
    # Request records older than this are deleted by a periodic job (0: keep forever).
    record_retention_days: float = Field(default=30.0, ge=0)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    # How long a change waiting for approval stays approvable.
    change_ttl_hours: float = Field(default=72.0, gt=0)
    # How often refused attempts (bad tokens, keys, roles) are written to the audit trail.
    denial_flush_interval_s: float = Field(default=0.5, gt=0)

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("PINYARD_REDIS_URL must be a redis:// or rediss:// URL")
        return value.strip()

    # -- rollouts --------------------------------------------------------------
    # Run the rollout analysis loop here (one replica at a time holds its lease).
    rollout_analysis: bool = True
    rollout_analysis_interval_s: float = Field(default=2.0, gt=0)
    # A replica that stops renewing the lease loses it after this long.
    rollout_lease_ttl_s: float = Field(default=15.0, gt=0)
    # Shadow calls queued or running at once, all rollouts together; past it
    # samples are dropped and counted (pinyard_shadow_dropped_total).
    rollout_shadow_max_pending: int = Field(default=256, ge=1)
    # Keep both answers' text in shadow pairs (what `pinyard rollout report` shows).
    rollout_shadow_keep_text: bool = True

    # -- batches (app/batches/) -----------------------------------------------------
    # Largest batch input file accepted by POST /v1/files (413 past it), and most lines.
    batch_max_file_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    batch_max_requests: int = Field(default=50_000, ge=1)
    # Run batches in this gateway's own worker task (off where only dedicated
    # workers should run them, see docs/batches.md).
    batch_worker: bool = True
    # Lines of one batch in flight at once, and of all batches on one provider
    # (the model's prefix, e.g. openai) in one process.
    batch_concurrency: int = Field(default=16, ge=1, le=1024)
    batch_provider_concurrency: int = Field(default=64, ge=1, le=4096)
    # Batches one worker runs at once; how often it looks for new ones.
    batch_max_active: int = Field(default=4, ge=1, le=64)
    batch_poll_interval_s: float = Field(default=1.0, gt=0)
    # A worker that stops renewing its lease on a batch loses it after this long.
    batch_lease_ttl_s: float = Field(default=30.0, gt=0)
    # Where lines run: "gateway" (each gateway's own worker) or "dramatiq" (the
    # gateway hands chunks of lines to Dramatiq workers through the broker;
    # `pip install 'pinyard[workers]'`, docs/batches.md).
    batch_executor: Literal["gateway", "dramatiq"] = "gateway"
    # The Dramatiq broker: amqp://... (RabbitMQ) or redis://...; may hold a password.
    batch_broker_url: SecretStr | None = None
    batch_queue: str = Field(default="pinyard-batches", pattern=r"^[\w.-]{1,64}$")
    # Lines in one chunk message.
    batch_chunk_size: int = Field(default=100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check_batch_executor(self) -> Settings:
        if self.batch_executor == "dramatiq" and self.batch_broker_url is None:
            raise ValueError(
                "PINYARD_BATCH_EXECUTOR=dramatiq needs PINYARD_BATCH_BROKER_URL "
                "(amqp://... or redis://...)"
            )
        return self
