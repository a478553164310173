"""Migrations build exactly the schema the SQLModel tables describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.registry import db
from app.registry.metadata import metadata


def test_upgrade_on_an_empty_database_matches_the_models(database_url: str) -> None:
    db.upgrade(database_url)
    db.upgrade(database_url)  # idempotent
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert diffs == []
    assert {"bundles", "aliases", "alias_history", "audit_events", "request_records"} <= tables
