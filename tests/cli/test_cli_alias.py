"""pinyard alias: set, show, history, promote, rollback, optimistic concurrency."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.cli.helpers import Invoke, MakeBundle


def _json(invoke: Invoke, *args: str) -> dict[str, Any]:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def two_versions(invoke: Invoke, make_bundle: MakeBundle, server: TestClient) -> list[str]:
    """Digests of support-chat@1 and @2."""
    digests = []
    for folder, text in (
        ("v1", "Hello {{ customer_name }}.\n"),
        ("v2", "Hi {{ customer_name }}.\n"),
    ):
        digests.append(
            _json(invoke, "bundle", "push", str(make_bundle(folder, system=text)))["digest"]
        )
    return digests


def test_set_show_history(invoke: Invoke, two_versions: list[str]) -> None:
    result = invoke("alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "first")
    assert result.exit_code == 0, result.output
    assert "dev/support-chat" in result.stdout and "support-chat@1" in result.stdout
    assert "nothing" in result.stdout  # was: nothing

    flipped = _json(
        invoke, "alias", "set", "dev", "support-chat", "support-chat@2", "--reason", "friendlier"
    )
    assert flipped["bundle"]["digest"] == two_versions[1]
    assert flipped["previous"]["version"] == 1

    shown = invoke("alias", "show", "dev", "support-chat")
    assert shown.exit_code == 0, shown.output
    assert two_versions[1] in shown.stdout
    assert "admin:alice" in shown.stdout  # the OS user, through x-pinyard-actor

    history = invoke("alias", "history", "dev", "support-chat")
    assert history.exit_code == 0, history.output
    assert "friendlier" in history.stdout and "first" in history.stdout
    entries = _json(invoke, "alias", "history", "dev", "support-chat")["data"]
    assert [e["reason"] for e in entries] == ["friendlier", "first"]

    now = datetime.now(UTC).isoformat()
    live = _json(invoke, "alias", "history", "dev", "support-chat", "--at", now)
    assert live["live"]["to"]["version"] == 2
    human = invoke("alias", "history", "dev", "support-chat", "--at", now)
    assert human.exit_code == 0, human.output
    assert "support-chat@2" in human.stdout


def test_history_rejects_a_bad_time(invoke: Invoke) -> None:
    result = invoke("alias", "history", "dev", "support-chat", "--at", "yesterday")
    assert result.exit_code == 2
    assert "ISO 8601" in result.stderr


def test_promote_same_digest_to_staging(invoke: Invoke, two_versions: list[str]) -> None:
    digest = two_versions[0]
    _json(invoke, "alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "try")
    promoted = _json(
        invoke,
        "alias",
        "set",
        "staging",
        "support-chat",
        f"support-chat@{digest}",
        "--reason",
        "promote",
        "--expected",
        "none",
    )
    assert promoted["environment"] == "staging"
    assert promoted["bundle"] == {"name": "support-chat", "version": 1, "digest": digest}


def test_rollback_to_previous_and_to_ref(invoke: Invoke, two_versions: list[str]) -> None:
    for ref in ("support-chat@1", "support-chat@2"):
        _json(invoke, "alias", "set", "prod", "support-chat", ref, "--reason", f"ship {ref}")
    result = invoke("alias", "rollback", "prod", "support-chat", "--reason", "bad answers")
    assert result.exit_code == 0, result.output
    assert "-> support-chat@1" in result.stdout
    assert _json(invoke, "alias", "show", "prod", "support-chat")["bundle"]["version"] == 1

    back = _json(
        invoke,
        "alias",
        "rollback",
        "prod",
        "support-chat",
        "--reason",
        "fixed",
        "--to",
        "support-chat@2",
    )
    assert back["bundle"]["version"] == 2
    assert back["previous"]["version"] == 1


def test_stale_expected_digest_is_refused(invoke: Invoke, two_versions: list[str]) -> None:
    _json(invoke, "alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "one")
    stale = "sha256:" + "0" * 64
    result = invoke(
        "alias",
        "set",
        "dev",
        "support-chat",
        "support-chat@2",
        "--reason",
        "two",
        "--expected",
        stale,
    )
    assert result.exit_code == 2
    assert f"not the expected {stale}" in result.stderr
    ok = invoke(
        "alias",
        "set",
        "dev",
        "support-chat",
        "support-chat@2",
        "--reason",
        "two",
        "--expected",
        two_versions[0],
    )
    assert ok.exit_code == 0, ok.output


@pytest.mark.parametrize("command", ["set", "rollback"])
def test_reason_is_required(invoke: Invoke, command: str) -> None:
    args = ["alias", command, "dev", "support-chat"] + (
        ["support-chat@1"] if command == "set" else []
    )
    missing = invoke(*args)
    assert missing.exit_code == 2
    assert "--reason" in missing.output
    empty = invoke(*args, "--reason", "  ")
    assert empty.exit_code == 2
    assert "--reason must not be empty" in empty.stderr


def test_unknown_environment_is_named(invoke: Invoke, two_versions: list[str]) -> None:
    result = invoke("alias", "set", "qa", "support-chat", "support-chat@1", "--reason", "x")
    assert result.exit_code == 2
    assert "unknown environment 'qa'" in result.stderr


def test_show_unset_alias(invoke: Invoke, server: TestClient) -> None:
    result = invoke("alias", "show", "dev", "nobody")
    assert result.exit_code == 2
    assert "not set in dev" in result.stderr


def test_rollback_without_history(invoke: Invoke, two_versions: list[str]) -> None:
    _json(invoke, "alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "one")
    result = invoke("alias", "rollback", "dev", "support-chat", "--reason", "undo")
    assert result.exit_code == 2
    assert "no previous entry" in result.stderr
