"""Reports for CI: the run as JSON, and as JUnit XML that CI systems render natively.

JUnit: one ``testcase`` per eval case (``failure`` with the reasons, ``error``
for provider errors), plus one ``thresholds`` testcase for the suite's
thresholds and error budget (and one ``baseline`` testcase when a baseline was
compared), so a gate that fails on a mean score is red in CI too.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from app.evals.results import CaseResult, SuiteResult


def write_json(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def junit_xml(result: SuiteResult) -> str:
    suite_name = result.suite.name
    cases = [_case(suite_name, case) for case in result.cases]
    cases.append(_thresholds(suite_name, result))
    if result.comparison is not None:
        cases.append(_baseline(suite_name, result))
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    root = ET.Element(
        "testsuites",
        name="pinyard eval",
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        time=f"{result.duration_s:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=suite_name,
        tests=str(len(cases)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{result.duration_s:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("suite.digest", result.suite.digest),
        ("bundle", result.target.label),
        ("bundle.digest", result.target.digest),
        ("verdict", result.verdict),
    ):
        ET.SubElement(properties, "property", name=name, value=str(value))
    suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: SuiteResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")


def _case(suite_name: str, case: CaseResult) -> ET.Element:
    latencies = [r.latency_ms or 0.0 for r in case.repeats]
    element = ET.Element(
        "testcase",
        classname=suite_name,
        name=case.case.id,
        time=f"{sum(latencies) / 1000:.3f}",
    )
    status = case.status
    if status != "pass":
        reasons = case.reasons()
        summary = f"{case.passes} of {len(case.repeats)} repeats passed (needed {case.required})"
        tag = "error" if status == "error" else "failure"
        child = ET.SubElement(element, tag, message=reasons[0] if reasons else summary)
        child.text = "\n".join([summary, *reasons])
    outputs = [f"[repeat {r.repeat}] {r.output}" for r in case.repeats if r.output]
    if outputs:
        ET.SubElement(element, "system-out").text = "\n".join(outputs)
    return element


def _thresholds(suite_name: str, result: SuiteResult) -> ET.Element:
    element = ET.Element("testcase", classname=suite_name, name="thresholds", time="0.000")
    failures = [f for f in result.failures() if not _is_regression(result, f)]
    if failures:
        tag = "error" if result.verdict == "error" else "failure"
        child = ET.SubElement(element, tag, message=failures[0])
        child.text = "\n".join(failures)
    return element


def _baseline(suite_name: str, result: SuiteResult) -> ET.Element:
    assert result.comparison is not None
    comparison = result.comparison
    element = ET.Element("testcase", classname=suite_name, name="baseline", time="0.000")
    if comparison.regressions:
        child = ET.SubElement(element, "failure", message=comparison.regressions[0])
        lines = list(comparison.regressions)
        if comparison.flipped:
            lines.append("flipped from pass to fail: " + ", ".join(comparison.flipped))
        child.text = "\n".join(lines)
    return element


def _is_regression(result: SuiteResult, failure: str) -> bool:
    return result.comparison is not None and failure in result.comparison.regressions


def record_body(result: SuiteResult, commit: str | None) -> dict[str, Any]:
    """What ``POST /admin/evals/runs`` stores: the report plus the commit it ran for."""
    report = result.as_dict()
    return {
        "suite": report["suite"],
        "bundle": {k: v for k, v in report["bundle"].items() if k in _BUNDLE_FIELDS},
        "verdict": report["verdict"],
        "failures": report["failures"],
        "totals": report["totals"],
        "scorers": report["scorers"],
        "thresholds": report["thresholds"],
        "cases": report["cases"],
        "baseline": report["baseline"],
        "commit": commit,
    }


_BUNDLE_FIELDS = frozenset({"name", "version", "digest", "model", "source", "reference"})
