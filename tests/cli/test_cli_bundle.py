"""pinyard bundle: validate (local), push, list, show, diff."""

from __future__ import annotations

import json
from typing import Any

from starlette.testclient import TestClient

from tests.cli.helpers import Invoke, MakeBundle


def _push(invoke: Invoke, folder: object, *extra: str) -> dict[str, Any]:
    result = invoke("bundle", "push", str(folder), "--json", *extra)
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_validate_prints_name_model_digest_and_variables(
    invoke: Invoke, make_bundle: MakeBundle
) -> None:
    result = invoke("bundle", "validate", str(make_bundle()))
    assert result.exit_code == 0, result.output
    assert "support-chat" in result.stdout
    assert "fake/echo" in result.stdout
    assert "sha256:" in result.stdout
    assert "customer_name" in result.stdout


def test_validate_json_digest_matches_push(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient
) -> None:
    folder = make_bundle()
    result = invoke("bundle", "validate", str(folder / "bundle.yaml"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["variables"] == ["customer_name"]
    assert summary["digest"] == _push(invoke, folder)["digest"]


def test_validate_malformed_yaml(invoke: Invoke, make_bundle: MakeBundle) -> None:
    result = invoke("bundle", "validate", str(make_bundle(raw="name: [unclosed\n")))
    assert result.exit_code == 2
    assert "malformed YAML" in result.stderr
    assert result.stderr.startswith("error: ")


def test_validate_unknown_field(invoke: Invoke, make_bundle: MakeBundle) -> None:
    result = invoke("bundle", "validate", str(make_bundle(extra={"colour": "red"})))
    assert result.exit_code == 2
    assert "colour: unknown field" in result.stderr


def test_validate_refuses_floating_model(invoke: Invoke, make_bundle: MakeBundle) -> None:
    result = invoke("bundle", "validate", str(make_bundle(model="openai/gpt-4o")))
    assert result.exit_code == 2
    assert "openai/gpt-4o" in result.stderr
    assert "floating" in result.stderr


def test_validate_missing_path(invoke: Invoke, tmp_path: object) -> None:
    result = invoke("bundle", "validate", f"{tmp_path}/nope")
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_push_twice_returns_the_same_version(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient
) -> None:
    folder = make_bundle()
    first = invoke("bundle", "push", str(folder), "--reason", "first cut")
    assert first.exit_code == 0, first.output
    assert "support-chat@1" in first.stdout
    assert "created" in first.stdout
    again = invoke("bundle", "push", str(folder))
    assert again.exit_code == 0, again.output
    assert "support-chat@1" in again.stdout
    assert "already registered" in again.stdout
    assert _push(invoke, folder)["created"] is False


def test_push_invalid_bundle_never_reaches_the_server(
    invoke: Invoke, make_bundle: MakeBundle
) -> None:
    # No server fixture: a request would fail with exit 3, not 2.
    result = invoke("bundle", "push", str(make_bundle(model="openai/gpt-4o")))
    assert result.exit_code == 2
    assert "floating" in result.stderr


def test_list_and_show(invoke: Invoke, make_bundle: MakeBundle, server: TestClient) -> None:
    one = _push(invoke, make_bundle("v1"))
    two = _push(invoke, make_bundle("v2", system="Hi {{ customer_name }}.\n"))
    assert (one["version"], two["version"]) == (1, 2)

    listed = invoke("bundle", "list")
    assert listed.exit_code == 0, listed.output
    assert "support-chat@1" in listed.stdout and "support-chat@2" in listed.stdout
    assert two["digest"] in listed.stdout
    as_json = json.loads(invoke("bundle", "list", "support-chat", "--json").stdout)
    assert sorted(b["version"] for b in as_json["data"]) == [1, 2]
    assert json.loads(invoke("bundle", "list", "other", "--json").stdout)["data"] == []
    assert "no bundles registered named other" in invoke("bundle", "list", "other").stdout

    shown = invoke("bundle", "show", "support-chat@2")
    assert shown.exit_code == 0, shown.output
    assert two["digest"] in shown.stdout
    assert "Hi {{ customer_name }}" in shown.stdout
    by_digest = json.loads(
        invoke("bundle", "show", f"support-chat@{one['digest']}", "--json").stdout
    )
    assert by_digest["version"] == 1
    assert by_digest["spec"]["model"] == "fake/echo"


def test_show_bad_and_unknown_refs(invoke: Invoke, server: TestClient) -> None:
    bad = invoke("bundle", "show", "support-chat")
    assert bad.exit_code == 2
    assert "not a bundle reference" in bad.stderr
    unknown = invoke("bundle", "show", "support-chat@9")
    assert unknown.exit_code == 2
    assert "error: bundle support-chat@9 is not registered" in unknown.stderr


def test_diff_shows_fields_templates_and_breaking_variables(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient
) -> None:
    _push(invoke, make_bundle("v1"))
    stricter = {
        "type": "object",
        "properties": {"customer_name": {"type": "string"}},
        "required": ["customer_name"],
    }
    _push(
        invoke,
        make_bundle(
            "v2",
            system="Hi {{ customer_name }}.\nBe brief.\n",
            schema=stricter,
            extra={"params": {"temperature": 0.5}},
        ),
    )
    result = invoke("bundle", "diff", "support-chat@1", "support-chat@2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "params.temperature" in out and "0.5" in out
    assert "-Hello {{ customer_name }}." in out
    assert "+Hi {{ customer_name }}." in out
    assert "breaking" in out
    assert "variables.customer_name is now required" in out

    data = json.loads(invoke("bundle", "diff", "support-chat@1", "support-chat@2", "--json").stdout)
    assert data["breaking_variables"] == ["variables.customer_name is now required"]
    assert data["from"]["version"] == 1 and data["to"]["version"] == 2


def test_diff_identical_and_mismatched_names(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient
) -> None:
    _push(invoke, make_bundle("v1"))
    same = invoke("bundle", "diff", "support-chat@1", "support-chat@1")
    assert same.exit_code == 0, same.output
    assert "no differences" in same.stdout
    mixed = invoke("bundle", "diff", "support-chat@1", "other@1")
    assert mixed.exit_code == 2
    assert "same bundle" in mixed.stderr
