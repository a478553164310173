"""Governance fixtures: tokens of each role, clients holding them, and key helpers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from tests.conftest import BASE

ClientFor = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]
Invoke = Callable[..., Result]


async def make_token(admin: httpx.AsyncClient, name: str, role: str, **extra: Any) -> str:
    response = await admin.post("/admin/tokens", json={"name": name, "role": role, **extra})
    assert response.status_code == 201, response.text
    token: str = response.json()["token"]
    return token


async def make_key(admin: httpx.AsyncClient, environment: str, **extra: Any) -> dict[str, Any]:
    response = await admin.post("/admin/keys", json={"environment": environment, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def audit_events(app: Any, admin: httpx.AsyncClient, **filters: Any) -> list[dict[str, Any]]:
    """The audit events matching ``filters``, after writing any buffered refusals."""
    await app.state.ctx.governance.denials.flush()
    response = await admin.get("/admin/audit", params={"limit": 1000, **filters})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["data"]
    return events


@pytest.fixture
def client_for(app: Any) -> ClientFor:
    """``async with client_for(token) as http:``: an HTTP client presenting ``token``."""

    def make(token: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE,
            headers={"Authorization": f"Bearer {token}"},
        )

    return make


@pytest.fixture
async def role_tokens(admin: httpx.AsyncClient) -> AsyncIterator[dict[str, str]]:
    """One named token per role (plus a second approver), created by the bootstrap admin."""
    tokens = {
        role: await make_token(admin, f"{role}-1", role)
        for role in ("viewer", "operator", "approver", "admin")
    }
    tokens["approver2"] = await make_token(admin, "approver-2", "approver")
    yield tokens


CLI_ADMIN_TOKEN = "cli-bootstrap-token-0123456789"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """``cli(*args, token=...)`` runs ``pinyard`` against an in-process gateway as ``token``."""
    from app.cli import admin_client as cli_client
    from app.cli.root import app as cli_app
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/cli.db",
        admin_token=SecretStr(CLI_ADMIN_TOKEN),
        denial_flush_interval_s=0.05,
    )
    monkeypatch.delenv("PINYARD_URL", raising=False)
    monkeypatch.setattr(cli_client, "actor", lambda: "alice")
    runner = CliRunner()
    with TestClient(create_app(settings)) as http:
        monkeypatch.setattr(
            cli_client, "open_http_client", lambda base_url: contextlib.nullcontext(http)
        )

        def run(*args: str, token: str = CLI_ADMIN_TOKEN) -> Result:
            monkeypatch.setenv("PINYARD_ADMIN_TOKEN", token)
            return runner.invoke(cli_app, list(args))

        yield run
