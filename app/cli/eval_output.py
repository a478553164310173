"""How an eval run reads in a terminal: scorers against thresholds, failing cases, verdict.

One renderer serves a fresh run (``eval run``) and a recorded one (``eval
show``): both are the same report shape.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from app.cli.output import console, fields, table

_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold yellow"}


def bundle_label(bundle: dict[str, Any]) -> str:
    """``name@version (digest)``, or ``name from PATH (digest)`` for an unregistered file."""
    if bundle.get("version") is not None:
        return f"{bundle['name']}@{bundle['version']} ({bundle['digest']})"
    return f"{bundle['name']} from {bundle.get('reference')} ({bundle['digest']})"


def print_report(report: dict[str, Any]) -> None:
    suite, bundle, totals = report["suite"], report["bundle"], report["totals"]
    fields([("suite", f"{suite['name']} ({suite['digest']})"), ("bundle", bundle_label(bundle))])
    scorers = report.get("scorers") or {}
    if scorers:
        console().print()
        table(
            "scorers",
            ["scorer", "type", "mean", "minimum", "passed"],
            [
                [
                    name,
                    entry["type"],
                    f"{entry['mean']:.2f}",
                    "-" if entry.get("minimum") is None else f"{entry['minimum']:.2f}",
                    f"{entry['passed']}/{entry['count']}",
                ]
                for name, entry in scorers.items()
            ],
        )
    failing = [case for case in report.get("cases", []) if case["status"] != "pass"]
    if failing:
        console().print()
        table(
            "cases that did not pass",
            ["case", "status", "passes", "reasons"],
            [
                [
                    case["id"],
                    case["status"],
                    f"{case['passes']}/{case['repeats']} (need {case['required']})",
                    "\n".join(case["reasons"]) or "-",
                ]
                for case in failing
            ],
        )
    baseline = report.get("baseline")
    if baseline:
        console().print()
        fields(
            [
                ("baseline", bundle_label(baseline["bundle"])),
                ("baseline pass rate", baseline["totals"].get("pass_rate")),
                ("flipped to fail", ", ".join(baseline["flipped"]) or "none"),
                ("fixed", ", ".join(baseline["fixed"]) or "none"),
            ]
        )
    console().print()
    _verdict(report["verdict"], totals, report.get("failures") or [])


def _verdict(verdict: str, totals: dict[str, Any], failures: list[str]) -> None:
    out = console()
    rate = totals.get("pass_rate")
    summary = (
        f"{totals['passed']}/{totals['cases']} cases passed"
        + (f" (pass rate {rate:.2f})" if rate is not None else "")
        + f", {totals['errors']} provider errors (budget {totals['error_budget']})"
        + (
            f", {totals['cached']} of {totals['calls']} answers from cache"
            if totals.get("cached")
            else ""
        )
        + (
            f", {totals['fallbacks']} answered by a fallback, not the bundle itself"
            if totals.get("fallbacks")
            else ""
        )
    )
    line = Text(verdict.upper(), style=_STYLE.get(verdict, "bold"))
    line.append(Text(f"  {summary}", style="default"))
    out.print(line)
    for failure in failures:
        out.print(Text(f"  - {failure}", style="red"))


def print_run(run: dict[str, Any]) -> None:
    fields(
        [
            ("run", run["id"]),
            ("at", f"{run['created_at']} by {run['actor']} ({run['source']})"),
            ("commit", run.get("commit") or "-"),
        ]
    )
    print_report(run)
