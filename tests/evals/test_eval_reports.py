"""Reports: JSON mirrors the result; JUnit XML parses and its counts match."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from app.evals.reports import junit_xml, record_body, write_json, write_junit
from app.evals.runner import SuiteRunner, run_with_baseline
from app.evals.suite import load_suite
from app.evals.targets import CallFailed
from tests.evals.eval_helpers import StubTarget, last_user, write_suite

CASES = [
    {"id": f"case-{i}", "messages": [{"role": "user", "content": f"order {1234 if i < 3 else i}"}]}
    for i in range(5)
]


def answer(body: dict[str, Any], _: int) -> str | CallFailed:
    text = last_user(body)
    if text == "order 4":
        return CallFailed("HTTP 503: down", infrastructure=True)
    return text


async def test_junit_counts_match_the_run(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path, cases=CASES, error_budget=1))
    result = await SuiteRunner(suite, StubTarget(answer)).run()
    path = tmp_path / "out" / "report.xml"
    write_junit(result, path)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (testsuite,) = root.findall("testsuite")
    cases = testsuite.findall("testcase")
    assert [c.get("name") for c in cases] == [*(c["id"] for c in CASES), "thresholds"]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    errored = [c.get("name") for c in cases if c.find("error") is not None]
    assert failed == ["case-3", "thresholds"] and errored == ["case-4"]
    assert testsuite.get("tests") == str(len(cases)) == root.get("tests")
    assert testsuite.get("failures") == "2" and testsuite.get("errors") == "1"
    totals = result.totals()
    assert (totals["passed"], totals["failed"], totals["errored"]) == (3, 1, 1)
    failure = cases[3].find("failure")
    assert failure is not None and "missing '1234'" in (failure.get("message") or "")
    properties = {p.get("name"): p.get("value") for p in testsuite.iter("property")}
    assert properties["verdict"] == "fail" and properties["bundle.digest"] == result.target.digest


async def test_junit_has_a_baseline_testcase_when_compared(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    worse = StubTarget(lambda b, n: "nothing", name="worse")
    result = await run_with_baseline(suite, worse, StubTarget(lambda b, n: last_user(b)))
    root = ET.fromstring(junit_xml(result))
    baseline = [c for c in root.iter("testcase") if c.get("name") == "baseline"]
    assert len(baseline) == 1
    failure = baseline[0].find("failure")
    assert failure is not None and "flipped from pass to fail: order, again" in (failure.text or "")


async def test_json_report_and_record_body(tmp_path: Path) -> None:
    suite = load_suite(write_suite(tmp_path))
    result = await SuiteRunner(suite, StubTarget(lambda b, n: last_user(b))).run()
    path = tmp_path / "report.json"
    write_json(result.as_dict(), path)
    report = json.loads(path.read_text())
    assert report["verdict"] == "pass" and report["suite"]["digest"] == suite.digest
    assert report["bundle"]["digest"] == result.target.digest
    assert report["cases"][0]["results"][0]["scores"][0]["type"] == "contains"
    body = record_body(result, commit="abc123")
    assert body["commit"] == "abc123" and body["totals"]["pass_rate"] == 1.0
    assert set(body["bundle"]) <= {"name", "version", "digest", "model", "source", "reference"}
