"""``pinyard deprecations list|check``, ``bundle push`` warnings and force, ``bundle successor``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from app.bundles.loader import load_bundle_file
from tests.cli.helpers import Invoke, MakeBundle
from tests.deprecations.conftest import SHUTDOWN, FixedClock


def test_check_exit_codes_follow_the_window(
    dep_server: TestClient, invoke: Invoke, make_bundle: MakeBundle, clock: FixedClock
) -> None:
    clock.days_before(60)
    assert invoke("deprecations", "check").exit_code == 0  # nothing live yet
    assert (
        invoke("bundle", "push", str(make_bundle(name="legacy", model="fake/retiring"))).exit_code
        == 0
    )
    assert invoke("bundle", "push", str(make_bundle("v2"))).exit_code == 0
    assert (
        invoke("alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "r").exit_code
        == 0
    )
    clean = invoke("deprecations", "check", "--within", "90")
    assert clean.exit_code == 0, clean.output  # registered, but no live alias pins it
    assert "no live alias pins a model retiring within 90 days" in clean.stdout

    assert invoke("alias", "set", "dev", "legacy", "legacy@1", "--reason", "r").exit_code == 0
    hit = invoke("deprecations", "check", "--within", "90")
    assert hit.exit_code == 1, hit.output
    assert "fake/retiring" in hit.stdout and "dev/legacy" in hit.stdout
    assert str(SHUTDOWN) in hit.stdout and "fake/echo" in hit.stdout
    assert "scope: live aliases, and the candidates of running rollouts" in hit.stdout
    assert invoke("deprecations", "check", "--within", "59").exit_code == 0
    assert invoke("deprecations", "check", "--within", "60").exit_code == 1
    assert invoke("deprecations", "check").exit_code == 1  # default: the 90-day window
    as_json = invoke("deprecations", "check", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["data"][0]["usages"][0]["alias"] == "legacy"
    assert invoke("deprecations", "check", "--within", "-1").exit_code == 2
    clock.days_before(91)
    assert invoke("deprecations", "check").exit_code == 0  # outside the default 90 days
    assert invoke("deprecations", "check", "--within", "91").exit_code == 1


def test_check_exits_3_when_the_server_is_unreachable(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PINYARD_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PINYARD_ADMIN_TOKEN", "test-admin-token-123456")
    assert invoke("deprecations", "check").exit_code == 3


def test_list_shows_the_catalog(dep_server: TestClient, invoke: Invoke, clock: FixedClock) -> None:
    clock.days_before(45)
    listed = invoke("deprecations", "list", "--provider", "fake")
    assert listed.exit_code == 0, listed.output
    assert "fake/retiring" in listed.stdout and "45" in listed.stdout
    assert "overrides" in listed.stdout and "openai/" not in listed.stdout
    openai = json.loads(invoke("deprecations", "list", "--provider", "openai", "--json").stdout)
    assert any(e["model"] == "openai/gpt-4o-2024-11-20" for e in openai["data"])


def test_push_warns_refuses_and_forces(
    dep_server: TestClient, invoke: Invoke, make_bundle: MakeBundle, clock: FixedClock
) -> None:
    folder = make_bundle(name="legacy", model="fake/retiring")
    clock.days_before(30)
    warned = invoke("bundle", "push", str(folder))
    assert warned.exit_code == 0
    assert "warning:" in warned.stderr and "shuts down on 2027-03-01" in warned.stderr

    clock.days_before(-1)
    other = make_bundle("v2", name="legacy2", model="fake/retiring")
    refused = invoke("bundle", "push", str(other))
    assert refused.exit_code == 1 and "was shut down on 2027-03-01" in refused.stderr
    assert invoke("bundle", "push", str(other), "--force").exit_code == 2  # no reason
    forced = invoke("bundle", "push", str(other), "--force", "--reason", "replay INC-7")
    assert forced.exit_code == 0, forced.output
    assert "forced" in forced.stderr


def test_successor_writes_a_candidate_pinned_to_the_replacement(
    dep_server: TestClient,
    invoke: Invoke,
    make_bundle: MakeBundle,
    clock: FixedClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock.days_before(30)
    folder = make_bundle(
        name="legacy",
        model="fake/retiring",
        extra={"guardrails": {"input": [], "output": []}, "metadata": {"owner": "support"}},
    )
    assert invoke("bundle", "push", str(folder)).exit_code == 0
    monkeypatch.chdir(tmp_path)
    written = invoke("bundle", "successor", "legacy")
    assert written.exit_code == 0, written.output
    target = tmp_path / "prompts" / "legacy-successor" / "bundle.yaml"
    assert "legacy@1 (fake/retiring) -> fake/echo" in written.stdout
    candidate = load_bundle_file(target)
    original = load_bundle_file(folder)
    assert candidate.model == "fake/echo"
    assert candidate.name == "legacy"
    assert candidate.prompt == original.prompt  # templates inlined, unchanged
    assert candidate.guardrails == original.guardrails
    assert candidate.variables_schema == original.variables_schema
    assert candidate.metadata == {
        "owner": "support",
        "successor_of": "legacy@1",
        "replaces_model": "fake/retiring",
    }
    assert invoke("bundle", "successor", "legacy").exit_code == 2  # exists: no overwrite
    out = tmp_path / "elsewhere.yaml"
    custom = invoke("bundle", "successor", "legacy", "--out", str(out), "--model", "fake/echo-2")
    assert custom.exit_code == 0, custom.output
    assert yaml.safe_load(out.read_text())["model"] == "fake/echo-2"
    pushed = invoke("bundle", "push", str(target), "--json")
    assert pushed.exit_code == 0 and json.loads(pushed.stdout)["version"] == 2

    assert invoke("bundle", "push", str(make_bundle("plain", name="plain"))).exit_code == 0
    none = invoke("bundle", "successor", "plain", "--out", str(tmp_path / "x.yaml"))
    assert none.exit_code == 2 and "names no replacement for fake/echo" in none.stderr
    assert invoke("bundle", "successor", "nope").exit_code == 2
