"""Shared fixtures: an app per test on a fresh database, an admin client, an OpenAI client.

Every database test runs on SQLite; with ``PINYARD_TEST_DATABASE_URL`` set it
runs on PostgreSQL too. Real provider calls are impossible: litellm is pointed
at an unroutable base URL and respx intercepts what tests mock.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import respx
from sqlalchemy import create_engine, text

from app.main import create_app
from app.settings import Settings

ADMIN_TOKEN = "test-admin-token-0123456789"
CALENDAR_NEUTRAL = Path(__file__).parent / "fixtures" / "calendar-neutral-deprecations.yaml"
BASE = "http://pinyard.test"

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ["DISABLE_AIOHTTP_TRANSPORT"] = "True"
os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-a-real-key")
os.environ.setdefault("OPENAI_BASE_URL", "http://upstream.invalid/v1")
# The direct OpenAI client's own pool speaks httpcore's transport interface: respx
# mocks it like httpcore's pools (respx's documented way to add a transport).
respx.mocks.HTTPCoreMocker.add_targets("app.providers.upstream_pool.ConnectionPool")

PG_URL = os.environ.get("PINYARD_TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if PG_URL else [])


def postgres_schema_url(url: str, schema: str) -> str:
    """The same database, with ``schema`` first on the search path: one test, one schema."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def _postgres_admin(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/pinyard.db"
        return
    assert PG_URL is not None
    url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _postgres_admin(url, f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema_url(url, schema)
    finally:
        _postgres_admin(url, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        auto_migrate=True,
        provider_backoff_base_s=0.0,
        provider_backoff_max_s=0.0,
        record_flush_interval_s=0.05,
        deprecations_file=CALENDAR_NEUTRAL,
    )


def make_settings(base: Settings, **changes: Any) -> Settings:
    return Settings(**{**base.model_dump(), **changes})


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def admin(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "x-pinyard-actor": "tester"},
    ) as client:
        yield client


@pytest.fixture
async def oai(app: Any) -> AsyncIterator[openai.AsyncOpenAI]:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    client = openai.AsyncOpenAI(
        base_url=f"{BASE}/v1", api_key="unused-in-local-mode", http_client=http, max_retries=0
    )
    yield client
    await client.close()


def fake_spec(name: str = "support-chat", **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "model": "fake/echo",
        "params": {"temperature": 0.2},
        "client_params": ["user", "seed"],
        "prompt": {"system": "You help {{ customer_name }} with orders."},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}},
            "required": ["customer_name"],
        },
    }
    spec.update(overrides)
    return spec


async def push(admin: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    response = await admin.post("/admin/bundles", json=spec)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def set_alias(
    admin: httpx.AsyncClient, env: str, alias: str, ref: str, reason: str = "test"
) -> dict[str, Any]:
    response = await admin.put(
        f"/admin/environments/{env}/aliases/{alias}", json={"bundle": ref, "reason": reason}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def wait_for_record(admin: httpx.AsyncClient, request_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = await admin.get(f"/admin/requests/{request_id}")
        if response.status_code == 200:
            record: dict[str, Any] = response.json()
            return record
        await asyncio.sleep(0.02)
    raise AssertionError(f"record {request_id} never written")
