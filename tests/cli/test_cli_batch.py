"""pinyard batch: run a file through an alias (progress, results, exit codes, resume),
list, show, cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.cli.helpers import Invoke, MakeBundle


def _line(custom_id: str, text: str, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "messages": [{"role": "user", "content": text}],
            "variables": {"customer_name": "Ann"},
            **body,
        },
    }


def _write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture
def alias(invoke: Invoke, make_bundle: MakeBundle, server: TestClient) -> str:
    """support-chat@1 served as dev/support-chat; its digest."""
    pushed = invoke("bundle", "push", str(make_bundle()), "--json")
    assert pushed.exit_code == 0, pushed.output
    flipped = invoke("alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "go")
    assert flipped.exit_code == 0, flipped.output
    digest: str = json.loads(pushed.stdout)["digest"]
    return digest


def _run(invoke: Invoke, source: Path, *extra: str) -> Any:
    return invoke(
        "batch", "run", str(source), "--alias", "support-chat", "--env", "dev",
        "--poll", "0.05", *extra,
    )  # fmt: skip


def test_run_writes_each_lines_result_with_its_version(
    invoke: Invoke, alias: str, tmp_path: Path
) -> None:
    source = _write(tmp_path / "in.jsonl", [_line(f"q{i}", f"order {i}") for i in range(6)])
    out = tmp_path / "results.jsonl"
    result = _run(invoke, source, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "completed" in result.stdout and "6 of 6" in result.stdout
    assert "support-chat@1" in result.stdout and alias in result.stdout
    assert "rows/s" in result.stderr  # the progress bar
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"q{i}" for i in range(6)]
    headers = lines[3]["response"]["headers"]
    assert headers["x-pinyard-bundle"] == "support-chat@1"
    assert headers["x-pinyard-bundle-digest"] == alias
    assert lines[3]["response"]["body"]["choices"][0]["message"]["content"].endswith("order 3")

    # The same command again follows the batch it already made, not a second one.
    again = _run(invoke, source, "--out", str(out), "--json")
    assert again.exit_code == 0, again.output
    assert "resuming" in again.stderr
    listed = invoke("batch", "list", "--env", "dev", "--json")
    assert len(json.loads(listed.stdout)["data"]) == 1
    assert json.loads(again.stdout)["id"] == json.loads(listed.stdout)["data"][0]["id"]
    fresh = _run(invoke, source, "--new")
    assert fresh.exit_code == 0 and "resuming" not in fresh.stderr
    assert len(json.loads(invoke("batch", "list", "--json").stdout)["data"]) == 2


def test_failed_lines_exit_1_and_are_in_the_results(
    invoke: Invoke, alias: str, tmp_path: Path
) -> None:
    # The fake provider refuses a tool_choice naming a tool the request does not offer.
    unknown_tool = _line(
        "bad",
        "x",
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}],
        tool_choice={"type": "function", "function": {"name": "missing"}},
    )
    source = _write(tmp_path / "in.jsonl", [_line("ok", "fine"), unknown_tool])
    out = tmp_path / "results.jsonl"
    result = _run(invoke, source, "--out", str(out))
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == ["ok", "bad"]
    assert lines[1]["response"]["status_code"] == 400
    assert "unknown tool" in lines[1]["error"]["message"]


def test_bad_input_exits_2_naming_the_lines(invoke: Invoke, alias: str, tmp_path: Path) -> None:
    other = _write(tmp_path / "other.jsonl", [_line("a", "x"), _line("b", "y", model="billing")])
    refused = _run(invoke, other)
    assert refused.exit_code == 2
    assert "line 2: model 'billing'" in refused.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(_line("a", "x")) + "\n{oops\n", encoding="utf-8")
    malformed = _run(invoke, broken)
    assert malformed.exit_code == 2 and "line 2: not valid JSON" in malformed.stderr
    good = _write(tmp_path / "good.jsonl", [_line("a", "x")])
    elsewhere = invoke("batch", "run", str(good), "--alias", "support-chat", "--env", "prod")
    assert elsewhere.exit_code == 2 and "local mode" in elsewhere.stderr
    missing = invoke("batch", "run", str(tmp_path / "nope.jsonl"), "--alias", "support-chat")
    assert missing.exit_code == 2


def test_show_and_cancel(
    invoke: Invoke, make_bundle: MakeBundle, server: TestClient, tmp_path: Path
) -> None:
    assert invoke("bundle", "push", str(make_bundle(model="fake/slow-200"))).exit_code == 0
    assert (
        invoke("alias", "set", "dev", "support-chat", "support-chat@1", "--reason", "x").exit_code
        == 0
    )
    source = _write(tmp_path / "in.jsonl", [_line(f"q{i}", "x") for i in range(200)])
    uploaded = server.post(
        "/v1/files",
        files={"file": ("in.jsonl", _with_model(source), "application/jsonl")},
        data={"purpose": "batch"},
    ).json()
    batch = server.post(
        "/v1/batches",
        json={"input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions",
              "completion_window": "24h"},
    ).json()  # fmt: skip
    shown = invoke("batch", "show", batch["id"])
    assert shown.exit_code == 0, shown.output
    assert "support-chat@1" in shown.stdout and "of 200" in shown.stdout
    cancelled = invoke("batch", "cancel", batch["id"])
    assert cancelled.exit_code == 0 and "cancel" in cancelled.stdout
    assert invoke("batch", "show", "batch_missing").exit_code == 2


def _with_model(source: Path) -> bytes:
    lines = [json.loads(line) for line in source.read_text().splitlines()]
    for line in lines:
        line["body"]["model"] = "support-chat"
    return "".join(json.dumps(line) + "\n" for line in lines).encode()
