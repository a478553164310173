"""pinyard rollout: start, status, report, advance, pause, abort against an in-process gateway."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from app.cli import admin_client as cli_client
from app.cli.root import app as cli_app
from app.context import AppContext
from app.main import create_app
from app.registry.db import read_session
from app.registry.rollout_repo import ShadowPairRepository
from app.settings import Settings
from tests.rollouts.rollout_helpers import spec

TOKEN = "test-admin-token-rollouts"


@pytest.fixture
def http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("PINYARD_ADMIN_TOKEN", TOKEN)
    monkeypatch.delenv("PINYARD_URL", raising=False)
    monkeypatch.setattr(cli_client, "actor", lambda: "carol")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.db",
        admin_token=SecretStr(TOKEN),
        rollout_analysis=False,
    )
    with TestClient(create_app(settings)) as client:
        monkeypatch.setattr(
            cli_client, "open_http_client", lambda base_url: contextlib.nullcontext(client)
        )
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for system in ("You help {{ customer_name }}.", "You kindly help {{ customer_name }}."):
            assert client.post("/admin/bundles", json=spec(system=system), headers=auth).is_success
        flip = {"bundle": "support-chat@1", "reason": "first"}
        client.put("/admin/environments/dev/aliases/support-chat", json=flip, headers=auth)
        yield client


def run(*args: str) -> Result:
    return CliRunner().invoke(cli_app, ["rollout", *args])


def ask(http: TestClient, n: int) -> None:
    for i in range(n):
        body = {
            "model": "support-chat",
            "user": f"user-{i}",
            "messages": [{"role": "user", "content": f"question {i}"}],
            "variables": {"customer_name": "Ada"},
        }
        assert http.post("/v1/chat/completions", json=body).status_code == 200


def wait_for_pairs(ctx: AppContext, rollout_id: str, n: int) -> None:
    for _ in range(200):
        with read_session(ctx.engine) as session:
            if len(ShadowPairRepository(session).find(rollout_id)) >= n:
                return
        time.sleep(0.02)
    raise AssertionError("shadow pairs never written")


def as_json(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_start_status_report_advance_abort(http: TestClient) -> None:
    started = run(
        "start", "dev", "support-chat", "support-chat@2", "--reason", "kinder prompt",
        "--steps", "50,100", "--shadow-rate", "1", "--min-requests", "5", "--min-duration", "0",
        "--shadow-concurrency", "20",
    )  # fmt: skip
    assert started.exit_code == 0, started.output
    assert "1/3 shadow" in started.stdout and "support-chat@2" in started.stdout

    rollout = as_json(run("status", "dev", "support-chat", "--json"))
    assert rollout["created_by"] == "admin:carol" and rollout["reason"] == "kinder prompt"
    ask(http, 6)
    ctx: AppContext = http.app.state.ctx  # type: ignore[attr-defined]
    wait_for_pairs(ctx, rollout["id"], 6)

    report = run("report", "dev", "support-chat", "--limit", "2")
    assert report.exit_code == 0, report.output
    assert "100.0%" in report.stdout and "most different pairs" in report.stdout
    assert "[fake/echo] question" in report.stdout

    advanced = run("advance", "dev", "support-chat", "--reason", "looks fine")
    assert advanced.exit_code == 0 and "2/3 canary 50%" in advanced.stdout
    paused = run("pause", "dev", "support-chat")
    assert paused.exit_code == 0 and "running (paused)" in paused.stdout

    aborted = run("abort", "dev", "support-chat", "--reason", "enough")
    assert aborted.exit_code == 0 and "aborted" in aborted.stdout and "enough" in aborted.stdout
    again = run("advance", "dev", "support-chat")
    assert again.exit_code == 2 and "was aborted" in again.stderr


def test_bad_input_exits_2_with_the_problem(http: TestClient) -> None:
    steps = run("start", "dev", "support-chat", "support-chat@2", "--reason", "x", "--steps", "1,x")
    assert steps.exit_code == 2 and "comma-separated" in steps.stderr
    order = run(
        "start", "dev", "support-chat", "support-chat@2", "--reason", "x", "--steps", "9,5,100"
    )
    assert order.exit_code == 2 and "strictly increasing" in order.stderr
    same = run("start", "dev", "support-chat", "support-chat@1", "--reason", "x")
    assert same.exit_code == 2 and "is the baseline" in same.stderr
    missing = run("status", "dev", "support-chat")
    assert missing.exit_code == 2 and "no rollout on dev/support-chat" in missing.stderr
