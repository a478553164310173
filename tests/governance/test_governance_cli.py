"""The README's governance walk-through via the CLI: keys, an approver, a prod change, evidence."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.governance.conftest import Invoke


def _bundle(tmp_path: Path, folder: str, temperature: float) -> str:
    directory = tmp_path / folder
    directory.mkdir()
    spec = {
        "name": "support-chat",
        "model": "fake/echo",
        "params": {"temperature": temperature},
        "prompt": {"system": "Help {{ customer_name }}."},
        "variables_schema": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}},
        },
    }
    (directory / "bundle.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return str(directory)


def _secret(result_stdout: str) -> str:
    return result_stdout.strip().splitlines()[-1]


def test_a_production_change_waits_for_approval_and_leaves_evidence(
    cli: Invoke, tmp_path: Path
) -> None:
    assert cli("bundle", "push", _bundle(tmp_path, "v1", 0.2)).exit_code == 0
    assert cli("bundle", "push", _bundle(tmp_path, "v2", 0.5)).exit_code == 0
    launch = cli("alias", "set", "prod", "support-chat", "support-chat@1", "--reason", "launch")
    assert launch.exit_code == 0, launch.output

    key = cli("key", "create", "--env", "prod", "--aliases", "support-chat", "--rpm", "600")
    assert key.exit_code == 0, key.output
    assert _secret(key.stdout).startswith("pyd_key_")
    assert "shown once" in key.stderr
    operator = _secret(cli("token", "create", "olivia", "--role", "operator").stdout)
    approver = _secret(cli("token", "create", "adam", "--role", "approver").stdout)
    listing = cli("token", "list")
    assert "olivia" in listing.stdout and operator not in listing.stdout
    assert "token:adam" in cli("token", "whoami", token=approver).stdout

    policy = cli("policy", "set", "prod", "--reason", "two-person rule", "--require-approval")
    assert policy.exit_code == 0, policy.output

    asked = cli(
        "alias", "set", "prod", "support-chat", "support-chat@2", "--reason", "v2", token=operator
    )
    assert asked.exit_code == 0, asked.output
    assert "waits for approval" in asked.stdout
    change = json.loads(cli("change", "list", "--json").stdout)["data"][0]["id"]
    assert change in cli("change", "list").stdout

    own = cli("change", "approve", change, token=operator)
    assert own.exit_code == 2 and "needs approver" in own.stderr
    approved = cli("change", "approve", change, "--reason", "evals ok", token=approver)
    assert approved.exit_code == 0, approved.output
    assert "applied" in approved.stdout

    shown = cli("audit", "show", "--alias", "prod/support-chat")
    assert shown.exit_code == 0, shown.output
    assert "support-chat@2" in shown.stdout
    assert "token:olivia: v2" in shown.stdout
    assert "token:adam" in shown.stdout and change in shown.stdout
    evidence = json.loads(cli("audit", "show", "--alias", "prod/support-chat", "--json").stdout)
    assert evidence["approval"]["approved_by"] == "token:adam"

    events = json.loads(cli("audit", "list", "--alias", "prod/support-chat", "--json").stdout)[
        "data"
    ]
    assert [e["action"] for e in events if not e["action"].endswith("denied")] == [
        "alias.set",
        "change.request",
        "change.approve",
        "alias.set",
    ]
    bad = cli("audit", "show", "--alias", "support-chat")
    assert bad.exit_code == 2 and "ENV/ALIAS" in bad.stderr


def test_an_export_verifies_offline_and_a_one_byte_edit_does_not(
    cli: Invoke, tmp_path: Path
) -> None:
    assert cli("bundle", "push", _bundle(tmp_path, "v1", 0.2)).exit_code == 0
    for env in ("dev", "staging"):
        flip = cli("alias", "set", env, "support-chat", "support-chat@1", "--reason", "ship")
        assert flip.exit_code == 0, flip.output
    out = tmp_path / "evidence.jsonl"
    assert cli("audit", "export", "--out", str(out)).exit_code == 0
    lines = out.read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and all(b'"hash"' in line for line in lines)
    verified = cli("audit", "verify", "--file", str(out))
    assert verified.exit_code == 0, verified.output
    assert "audit chain ok: 3 events" in verified.stdout

    # Mid-chain: from the second event on, verified from its own prev_hash.
    second = json.loads(lines[1])
    tail = tmp_path / "tail.jsonl"
    exported = cli("audit", "export", "--since", second["at"], "--out", str(tail))
    assert exported.exit_code == 0, exported.output
    assert tail.read_bytes() == b"".join(lines[1:])
    assert cli("audit", "verify", "--file", str(tail)).exit_code == 0

    original = out.read_bytes()
    edits = {
        "a reason": original.replace(b'"reason": "ship"', b'"reason": "shiq"', 1),
        "whitespace": original.replace(b'": ', b'":\t', 1),
        "a hash": original[:-3] + (b"0" if original[-3:-2] != b"0" else b"1") + original[-2:],
        "the final newline": original[:-1],
    }
    for what, edited in edits.items():
        assert len(edited) in (len(original), len(original) - 1), what
        out.write_bytes(edited)
        result = cli("audit", "verify", "--file", str(out))
        assert result.exit_code == 1, (what, result.output)
        assert "audit chain broken" in result.stdout
    dropped = tmp_path / "dropped.jsonl"
    dropped.write_bytes(lines[0] + lines[2])
    report = json.loads(cli("audit", "verify", "--file", str(dropped), "--json").stdout)
    assert report["ok"] is False and "event 2 is missing" in report["problem"]
    missing = cli("audit", "verify", "--file", str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2


def test_keys_and_tokens_from_the_cli(cli: Invoke) -> None:
    created = cli("key", "create", "--env", "dev", "--name", "ci", "--expires-in", "30d", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["expires_at"] is not None
    assert "ci" in cli("key", "list", "--env", "dev").stdout
    assert cli("key", "revoke", "ci", "--reason", "rotated").exit_code == 0
    assert "revoked" in cli("key", "list").stdout
    bad = cli("key", "create", "--env", "dev", "--expires-in", "soon")
    assert bad.exit_code == 2 and "--expires-in" in bad.stderr
    viewer = _secret(cli("token", "create", "vic", "--role", "viewer").stdout)
    refused = cli("key", "create", "--env", "dev", token=viewer)
    assert refused.exit_code == 2 and "needs admin" in refused.stderr
    assert cli("token", "revoke", "vic").exit_code == 0
    gone = cli("token", "whoami", token=viewer)
    assert gone.exit_code == 2 and "revoked" in gone.stderr
