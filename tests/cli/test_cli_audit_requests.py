"""pinyard audit verify/export and pinyard requests show."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

import app.cli.audit as audit_cli
from tests.cli.helpers import Invoke, MakeBundle


def _some_events(invoke: Invoke, make_bundle: MakeBundle) -> None:
    assert invoke("bundle", "push", str(make_bundle())).exit_code == 0
    flip = invoke("alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "go")
    assert flip.exit_code == 0, flip.output


def test_verify_ok(invoke: Invoke, make_bundle: MakeBundle, server: TestClient) -> None:
    _some_events(invoke, make_bundle)
    result = invoke("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "audit chain ok: 2 events" in result.stdout
    report = json.loads(invoke("audit", "verify", "--json").stdout)
    assert report == {"ok": True, "events": 2, "broken_at": None, "problem": None}


def test_verify_detects_an_edited_event(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient, tmp_path: Path
) -> None:
    _some_events(invoke, make_bundle)
    with sqlite3.connect(tmp_path / "t.db") as db:
        # Someone with database access removes the guard first.
        db.execute("DROP TRIGGER audit_events_no_update")
        db.execute("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 1")
    result = invoke("audit", "verify")
    assert result.exit_code == 1
    assert "broken at event 1: event 1 was altered" in result.stdout
    as_json = invoke("audit", "verify", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["broken_at"] == 1


def test_export_writes_one_event_per_line(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient, tmp_path: Path
) -> None:
    _some_events(invoke, make_bundle)
    out = tmp_path / "audit.jsonl"
    result = invoke("audit", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 2 events" in result.stderr
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in events] == [1, 2]
    assert [e["action"] for e in events] == ["bundle.register", "alias.set"]
    assert events[1]["actor"] == "admin:alice"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".audit.jsonl")]

    stdout = invoke("audit", "export")
    assert stdout.exit_code == 0, stdout.output
    assert [json.loads(line) for line in stdout.stdout.splitlines()] == events


def test_export_pages_until_the_end(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_cli, "PAGE_SIZE", 1)
    _some_events(invoke, make_bundle)
    result = invoke("audit", "export")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["seq"] for line in result.stdout.splitlines()] == [1, 2]


def test_export_to_an_unwritable_place(invoke: Invoke, server: TestClient, tmp_path: Path) -> None:
    result = invoke("audit", "export", "--out", str(tmp_path / "missing-dir" / "a.jsonl"))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


def test_requests_show_unknown_id(invoke: Invoke, server: TestClient) -> None:
    result = invoke("requests", "show", "req_does_not_exist")
    assert result.exit_code == 2
    assert "error: no request record 'req_does_not_exist'" in result.stderr


def test_requests_show_a_served_answer(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient
) -> None:
    _some_events(invoke, make_bundle)
    answer = server.post(
        "/v1/chat/completions",
        json={
            "model": "support-chat",
            "messages": [{"role": "user", "content": "hi"}],
            "variables": {"customer_name": "Ann"},
        },
    )
    assert answer.status_code == 200, answer.text
    request_id = answer.headers["x-pinyard-request-id"]
    deadline = time.monotonic() + 10  # records are written in the background
    while (result := invoke("requests", "show", request_id, "--json")).exit_code != 0:
        assert time.monotonic() < deadline, result.output
        time.sleep(0.1)
    record = json.loads(result.stdout)
    assert record["id"] == request_id
    assert record["bundle_digest"] == answer.headers["x-pinyard-bundle-digest"]
    human = invoke("requests", "show", request_id)
    assert human.exit_code == 0, human.output
    assert human.stdout.index("id") < human.stdout.index("bundle_digest")
    assert "fake/echo" in human.stdout
