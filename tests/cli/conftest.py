"""CLI fixtures: a real app on a temporary SQLite DB, reached through the client hook."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from app.cli import admin_client as cli_client
from app.cli.root import app as cli_app
from app.main import create_app
from app.settings import Settings
from tests.cli.helpers import Invoke, MakeBundle

ADMIN_TOKEN = "test-admin-token-123456"


@pytest.fixture(autouse=True)
def _cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Known environment for every CLI test; the actor is a fixed user name."""
    monkeypatch.setenv("PINYARD_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.delenv("PINYARD_URL", raising=False)
    monkeypatch.setattr(cli_client, "actor", lambda: "alice")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The gateway in-process; every AdminClient talks to it."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.db", admin_token=SecretStr(ADMIN_TOKEN)
    )
    with TestClient(create_app(settings)) as http:
        monkeypatch.setattr(
            cli_client, "open_http_client", lambda base_url: contextlib.nullcontext(http)
        )
        yield http


@pytest.fixture
def invoke() -> Invoke:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(cli_app, list(args))

    return run


@pytest.fixture
def make_bundle(tmp_path: Path) -> MakeBundle:
    """Write ``tmp_path/<folder>/bundle.yaml`` + ``system.jinja``; return the folder."""

    def make(
        folder: str = "v1",
        *,
        name: str = "support-chat",
        model: str = "fake/echo",
        system: str = "Hello {{ customer_name }}.\nBe brief.\n",
        schema: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        raw: str | None = None,
    ) -> Path:
        directory = tmp_path / folder
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "system.jinja").write_text(system, encoding="utf-8")
        if raw is not None:
            (directory / "bundle.yaml").write_text(textwrap.dedent(raw), encoding="utf-8")
            return directory
        spec: dict[str, Any] = {
            "name": name,
            "model": model,
            "params": {"temperature": 0.2},
            "prompt": {"system": "system.jinja"},
            "variables_schema": schema
            or {"type": "object", "properties": {"customer_name": {"type": "string"}}},
            **(extra or {}),
        }
        (directory / "bundle.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        return directory

    return make
