"""Deprecation radar fixtures: an overrides file, a fixed clock, an app that uses both.

The overrides file dates ``fake/retiring`` (a model litellm does not know) to
shut down on ``SHUTDOWN``; ``clock.days_before(n)`` puts "now" n whole days
before it, at noon UTC, so every window boundary is exact and nothing sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from app.cli import admin_client as cli_client
from app.main import create_app
from app.settings import Settings
from tests.cli.conftest import invoke, make_bundle  # noqa: F401  (CLI fixtures, reused)
from tests.conftest import ADMIN_TOKEN, BASE, make_settings

SHUTDOWN = date(2027, 3, 1)
DEPRECATED = date(2026, 12, 1)
RETIRING = "fake/retiring"
REPLACEMENT = "fake/echo"
SOURCE = "https://example.com/notices/fake-retiring"
CLI_TOKEN = "test-admin-token-123456"

OVERRIDES = f"""\
- model: {RETIRING}
  deprecation_date: {DEPRECATED}
  shutdown_date: {SHUTDOWN}
  replacement: {REPLACEMENT}
  source: {SOURCE}
  note: test model
- model: vllm/llama-pointer
  moving_pointer: true
"""


class FixedClock:
    """``now()`` for the deprecation service; moved by tests, never by time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def days_before(self, days: int, shutdown: date = SHUTDOWN) -> None:
        self.now = datetime.combine(shutdown - timedelta(days=days), time(12), tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    fixed = FixedClock(datetime(2026, 11, 22, 12, tzinfo=UTC))
    fixed.days_before(120)
    return fixed


@pytest.fixture
def overrides_file(tmp_path: Path) -> Path:
    path = tmp_path / "deprecations.yaml"
    path.write_text(textwrap.dedent(OVERRIDES), encoding="utf-8")
    return path


@pytest.fixture
def dep_settings(settings: Settings, overrides_file: Path) -> Settings:
    return make_settings(settings, deprecations_file=overrides_file)


async def started(application: Any, clock: FixedClock) -> None:
    """Wait for the monitor's first check, so tests own every later one."""
    application.state.ctx.deprecations.clock = clock
    for _ in range(500):
        if application.state.ctx.deprecation_monitor.ticks:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the deprecation monitor never ran")


@pytest.fixture
async def dep_app(dep_settings: Settings, clock: FixedClock) -> AsyncIterator[Any]:
    application = create_app(dep_settings)
    application.state.ctx.deprecations.clock = clock
    async with application.router.lifespan_context(application):
        await started(application, clock)
        yield application


@pytest.fixture
async def dep_admin(dep_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=dep_app),
        base_url=BASE,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "x-pinyard-actor": "tester"},
    ) as client:
        yield client


@pytest.fixture
def dep_server(
    tmp_path: Path,
    overrides_file: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    """The gateway in-process for CLI tests, with the overrides file and the fixed clock."""
    monkeypatch.setenv("PINYARD_ADMIN_TOKEN", CLI_TOKEN)
    monkeypatch.delenv("PINYARD_URL", raising=False)
    monkeypatch.setattr(cli_client, "actor", lambda: "alice")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cli.db",
        admin_token=SecretStr(CLI_TOKEN),
        deprecations_file=overrides_file,
    )
    application = create_app(settings)
    application.state.ctx.deprecations.clock = clock
    with TestClient(application) as http:
        monkeypatch.setattr(
            cli_client, "open_http_client", lambda base_url: contextlib.nullcontext(http)
        )
        yield http


def retiring_spec(name: str = "legacy-chat", model: str = RETIRING, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "model": model,
        "prompt": {"system": "You help {{ customer_name }}."},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}},
            "required": ["customer_name"],
        },
        **extra,
    }
