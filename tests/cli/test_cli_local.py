"""Commands that work without a server: serve (wiring only) and db upgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.cli.db import masked
from app.gateway.http_protocol import CoalescingHttpToolsProtocol
from tests.cli.helpers import Invoke


def test_serve_runs_the_factory(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    result = invoke("serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "4")
    assert result.exit_code == 0, result.output
    [(args, kwargs)] = calls
    assert args == ("app.main:create_app",)
    wiring = {"factory": True, "host": "0.0.0.0", "port": 9000, "workers": 4}
    assert {key: kwargs[key] for key in wiring} == wiring
    assert (kwargs["loop"], kwargs["http"]) == ("uvloop", CoalescingHttpToolsProtocol)
    assert kwargs["timeout_graceful_shutdown"] == 10
    assert kwargs["log_config"]["formatters"]["pinyard"]["()"].endswith("JsonFormatter")


def test_serve_defaults(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    assert invoke("serve").exit_code == 0
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8080
    assert invoke("serve", "--port", "0").exit_code == 2


def test_db_upgrade(invoke: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    monkeypatch.setenv("PINYARD_DATABASE_URL", url)
    result = invoke("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert url in result.stdout
    with sqlite3.connect(tmp_path / "fresh.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"bundles", "aliases", "audit_events"} <= tables
    assert invoke("db", "upgrade").exit_code == 0  # idempotent


def test_db_upgrade_bad_settings(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINYARD_DATABASE_URL", "mysql://u:p@h/db")
    result = invoke("db", "upgrade")
    assert result.exit_code == 2
    assert "PINYARD_DATABASE_URL must be" in result.stderr


def test_passwords_are_masked() -> None:
    shown = masked("postgresql+psycopg://pinyard:s3cret@db:5432/pinyard")
    assert "s3cret" not in shown
    assert shown == "postgresql+psycopg://pinyard:***@db:5432/pinyard"
    assert masked("sqlite:///./pinyard.db") == "sqlite:///./pinyard.db"
