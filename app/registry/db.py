"""Engine set-up and migrations for SQLite (embedded) and PostgreSQL.

Every registry write is serialised: the audit chain needs each event to see
the previous one's hash. SQLite gets ``BEGIN IMMEDIATE`` transactions; on
PostgreSQL each write transaction takes one advisory lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from app.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
REGISTRY_LOCK_KEY = 0x50_49_4E_59  # "PINY"

if TYPE_CHECKING:
    from alembic.config import Config


def make_engine(settings: Settings) -> Engine:
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        # A database host that stops answering must fail fast, not hang refreshes.
        connect_args={"connect_timeout": 5},
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def write_session(engine: Engine, *, registry_lock: bool = True) -> Iterator[Session]:
    """A write transaction; registry changes hold the registry lock until commit."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        if registry_lock and engine.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTRY_LOCK_KEY})
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config  # lazily: ~12 MB that a current schema never needs

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration (``pinyard db upgrade``)."""
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    from alembic import command

    # "heads": independent feature migrations may branch from a common parent.
    command.upgrade(alembic_config(database_url), "heads")
