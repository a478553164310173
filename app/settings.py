"""Gateway settings, read from ``PINYARD_*`` environment variables.

Settings refuse unsafe or contradictory values at start-up rather than at the
first request: an unknown default environment, a malformed database URL or an
empty admin token are configuration bugs, not runtime conditions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    # Retry policy for provider calls (per bundle attempt).
    provider_max_attempts: int = Field(default=3, ge=1, le=10)
    provider_backoff_base_s: float = Field(default=0.25, ge=0)
    provider_backoff_max_s: float = Field(default=8.0, ge=0)
    # Pool size for PostgreSQL connections.
    db_pool_size: int = Field(default=5, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

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
