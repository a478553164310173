"""``pinyard eval``: exit codes, reports, cache, recording, targets, the gate walkthrough."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from tests.cli.helpers import Invoke, MakeBundle
from tests.evals.eval_helpers import write_suite


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINYARD_PROVIDER_BACKOFF_BASE_S", "0")
    monkeypatch.setenv("PINYARD_PROVIDER_BACKOFF_MAX_S", "0")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    monkeypatch.setenv("CI_COMMIT_SHA", "feedc0de")


def run(invoke: Invoke, suite: Path, *args: str, cache: Path | None = None) -> Any:
    extra = ["--cache-dir", str(cache)] if cache else ["--no-cache"]
    return invoke("eval", "run", "--suite", str(suite), *args, *extra)


def test_a_passing_suite_exits_0_and_writes_reports(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path
) -> None:
    bundle = make_bundle()
    suite = write_suite(tmp_path / "evals")
    out, junit = tmp_path / "r" / "report.json", tmp_path / "r" / "report.xml"
    result = run(invoke, suite, "--bundle", str(bundle), "--json", str(out), "--junit", str(junit))
    assert result.exit_code == 0, result.output
    assert "PASS" in result.output and "2/2 cases passed" in result.output
    report = json.loads(out.read_text())
    assert report["verdict"] == "pass" and report["bundle"]["source"] == "bundle"
    root = ET.parse(junit).getroot()
    assert root.get("tests") == "3" and root.get("failures") == "0"


def test_json_to_stdout(invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path) -> None:
    result = run(invoke, write_suite(tmp_path), "--bundle", str(make_bundle()), "--json", "-")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["totals"]["passed"] == 2 and report["recorded"] is None


def test_a_failed_gate_exits_1_and_names_the_failing_cases(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path
) -> None:
    bundle = make_bundle(extra={"params": {"max_tokens": 2}})  # "[fake/echo] Where"
    result = run(invoke, write_suite(tmp_path), "--bundle", str(bundle))
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "pass_rate 0.00 < 1.00" in result.output
    assert "order" in result.output and "missing '1234'" in result.output


def test_the_error_budget_exceeded_exits_3(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path
) -> None:
    bundle = make_bundle(model="fake/error-500")
    result = run(invoke, write_suite(tmp_path, error_budget=1), "--bundle", str(bundle))
    assert result.exit_code == 3, result.output
    assert "error budget exceeded: 2 provider errors > error_budget 1" in result.output
    within = run(invoke, write_suite(tmp_path / "b", error_budget=2), "--bundle", str(bundle))
    assert within.exit_code == 3  # every case errored: nothing was scored
    assert "every case errored" in within.output


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"scorers": [{"type": "bleu"}]}, "unknown scorer 'bleu'"),
        ({"variables": {"customer_name": "A", "mood": "x"}}, "does not declare: mood"),
        ({"cases": "cases.jsonl"}, "cases.jsonl:2: not valid JSON"),
        (
            {"scorers": [{"type": "llm_judge", "judge": "judge@prod", "rubric": "nice"}]},
            "alias 'judge' is not set in prod",
        ),
    ],
)
def test_bad_input_exits_2_before_any_call(
    invoke: Invoke,
    make_bundle: MakeBundle,
    tmp_path: Path,
    server: TestClient,
    overrides: dict[str, Any],
    needle: str,
) -> None:
    (tmp_path / "s" / "cases.jsonl").parent.mkdir(parents=True)
    (tmp_path / "s" / "cases.jsonl").write_text(
        '{"id": "a", "messages": [{"role": "user", "content": "1234"}]}\n{oops\n'
    )
    bundle = make_bundle(model="fake/error-500")  # a call would make it exit 3, not 2
    result = run(invoke, write_suite(tmp_path / "s", **overrides), "--bundle", str(bundle))
    assert result.exit_code == 2, result.output
    assert needle in result.output


@pytest.mark.parametrize(
    "args",
    [(), ("--bundle", "x", "--target", "support-chat@1")],
)
def test_exactly_one_target(invoke: Invoke, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run(invoke, write_suite(tmp_path), *args)
    assert result.exit_code == 2 and "exactly one of --bundle" in result.output


def test_the_cache_makes_a_rerun_free_and_no_cache_bypasses_it(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path
) -> None:
    bundle, suite, cache = make_bundle(), write_suite(tmp_path), tmp_path / "cache"
    first = run(invoke, suite, "--bundle", str(bundle), cache=cache)
    assert first.exit_code == 0 and "from cache" not in first.output
    second = run(invoke, suite, "--bundle", str(bundle), "--json", "-", cache=cache)
    assert json.loads(second.stdout)["totals"]["cached"] == 2
    bypass = run(invoke, suite, "--bundle", str(bundle), "--json", "-")
    assert json.loads(bypass.stdout)["totals"]["cached"] == 0


def test_record_needs_the_bundle_registered(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path, server: TestClient
) -> None:
    bundle, suite = make_bundle(), write_suite(tmp_path)
    refused = run(invoke, suite, "--bundle", str(bundle), "--record")
    assert refused.exit_code == 2 and "push it first: pinyard bundle push" in refused.output
    assert invoke("bundle", "push", str(bundle)).exit_code == 0
    recorded = run(invoke, suite, "--bundle", str(bundle), "--record")
    assert recorded.exit_code == 0, recorded.output
    assert "recorded as evr_" in recorded.output
    listed = invoke("eval", "list", "--bundle", "support-chat@1", "--json")
    (row,) = json.loads(listed.stdout)["data"]
    assert (
        row["commit"] == "feedc0de" and row["verdict"] == "pass" and row["actor"] == "admin:alice"
    )
    shown = invoke("eval", "show", row["id"])
    assert shown.exit_code == 0 and row["id"] in shown.output and "PASS" in shown.output
    table = invoke("eval", "list", "--suite", "smoke")
    assert row["id"] in table.output and "support-chat@1" in table.output


def test_targets_through_the_gateway(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path, server: TestClient
) -> None:
    invoke("bundle", "push", str(make_bundle()))
    invoke("alias", "set", "staging", "support-chat", "support-chat@1", "--reason", "r")
    suite = write_suite(tmp_path)
    by_alias = run(invoke, suite, "--target", "support-chat@staging", "--json", "-")
    assert by_alias.exit_code == 0, by_alias.output
    report = json.loads(by_alias.stdout)
    assert report["bundle"]["version"] == 1 and report["bundle"]["source"] == "alias"
    assert report["bundle"]["environment"] == "staging"
    by_ref = run(invoke, suite, "--target", "support-chat@1", "--record")
    assert by_ref.exit_code == 0 and "recorded as evr_" in by_ref.output
    missing = run(invoke, suite, "--target", "support-chat@prod")
    assert missing.exit_code == 2 and "not set in prod" in missing.output


def test_baseline_regression_exits_1_and_lists_flips(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path
) -> None:
    good = make_bundle("good")
    worse = make_bundle("worse", extra={"params": {"max_tokens": 2}})
    suite = write_suite(tmp_path, thresholds={"pass_rate": 0.0})
    result = run(invoke, suite, "--bundle", str(worse), "--baseline", str(good), "--json", "-")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["baseline"]["flipped"] == ["order", "again"]
    assert report["failures"] == [
        "pass_rate regressed 1.00 -> 0.00 (max_regression 0.00)",
        "scorer contains mean regressed 1.00 -> 0.00 (max_regression 0.00)",
    ]


def test_a_failing_gate_blocks_staging_then_passes_after_a_fix(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path, server: TestClient
) -> None:
    """The README walkthrough, end to end."""
    suite = write_suite(tmp_path / "evals")
    policy = invoke(
        "policy", "set", "staging", "support-chat", "--reason", "gate", "--require-suite", "smoke"
    )
    assert policy.exit_code == 0, policy.output
    broken = make_bundle("broken", extra={"params": {"max_tokens": 2}})
    assert invoke("bundle", "push", str(broken)).exit_code == 0  # support-chat@1
    assert run(invoke, suite, "--bundle", str(broken), "--record").exit_code == 1
    refused = invoke("alias", "set", "staging", "support-chat", "support-chat@1", "--reason", "r")
    assert refused.exit_code == 1
    assert "suite 'smoke' failed for support-chat@1" in refused.output
    assert "pass_rate 0.00 < 1.00" in refused.output
    fixed = make_bundle("fixed")
    assert invoke("bundle", "push", str(fixed)).exit_code == 0  # support-chat@2
    assert run(invoke, suite, "--bundle", str(fixed), "--record").exit_code == 0
    promoted = invoke("alias", "set", "staging", "support-chat", "support-chat@2", "--reason", "r")
    assert promoted.exit_code == 0, promoted.output


def test_the_example_suites_pass_on_the_example_bundle(invoke: Invoke, tmp_path: Path) -> None:
    for suite in sorted(Path("evals").glob("*.yaml")):
        data = yaml.safe_load(suite.read_text())
        result = run(invoke, suite, "--bundle", "prompts/support-chat")
        assert result.exit_code == 0, (data["name"], result.output)


def test_through_the_gateway_a_fallback_answer_is_marked_and_can_be_refused(
    invoke: Invoke, make_bundle: MakeBundle, tmp_path: Path, server: TestClient
) -> None:
    invoke("bundle", "push", str(make_bundle()))
    failing = make_bundle("v2", model="fake/error-503", extra={"fallbacks": ["support-chat@1"]})
    assert invoke("bundle", "push", str(failing)).exit_code == 0
    marked = run(invoke, write_suite(tmp_path), "--target", "support-chat@2", "--json", "-")
    assert marked.exit_code == 0, marked.output
    report = json.loads(marked.stdout)
    assert report["totals"]["fallbacks"] == 2
    assert {r["fallback_index"] for c in report["cases"] for r in c["results"]} == {1}
    strict = write_suite(tmp_path / "strict", allow_fallback=False)
    refused = run(invoke, strict, "--target", "support-chat@2")
    assert refused.exit_code == 3, refused.output
    assert "allow_fallback: false" in refused.output
