"""Fixtures for the production shape: real gateway processes, fresh PostgreSQL schemas.

PostgreSQL tests skip cleanly unless ``PINYARD_TEST_DATABASE_URL`` is set.
Each one gets its own schema, migrated by ``pinyard db upgrade``, and every
gateway process a test starts is stopped when it ends, whatever happened.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import postgres_schema_url
from tests.production.procs import Gateway, base_env, gateways, run_pinyard

PG_URL = os.environ.get("PINYARD_TEST_DATABASE_URL")
needs_postgres = pytest.mark.skipif(not PG_URL, reason="PINYARD_TEST_DATABASE_URL is unset")


@dataclass(frozen=True)
class Schema:
    """A fresh schema: its URL, and the same schema reached through another host/port."""

    name: str
    server_url: str  # the database, no schema chosen

    @property
    def url(self) -> str:
        return postgres_schema_url(self.server_url, self.name)

    def via(self, host: str, port: int) -> str:
        rerouted = make_url(self.server_url).set(host=host, port=port)
        return postgres_schema_url(rerouted.render_as_string(hide_password=False), self.name)

    def scalar(self, query: str, **params: object) -> Any:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return connection.execute(text(query), params).scalar()
        finally:
            engine.dispose()


def _admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_schema() -> Iterator[Schema]:
    """An empty schema of its own (not migrated)."""
    if not PG_URL:
        pytest.skip("PINYARD_TEST_DATABASE_URL is unset")
    server_url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = Schema(f"p_{uuid.uuid4().hex[:12]}", server_url)
    _admin(server_url, f"CREATE SCHEMA {schema.name}")
    try:
        yield schema
    finally:
        _admin(server_url, f"DROP SCHEMA {schema.name} CASCADE")


@pytest.fixture
def pg_schema(fresh_schema: Schema, tmp_path: Path) -> Schema:
    """A fresh schema migrated the way a release does it: ``pinyard db upgrade``."""
    done = run_pinyard(["db", "upgrade"], base_env(PINYARD_DATABASE_URL=fresh_schema.url), tmp_path)
    assert done.returncode == 0, done.stderr
    return fresh_schema


@pytest.fixture
def gateway_factory(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    with gateways(tmp_path) as make:
        yield make
