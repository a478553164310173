"""``pinyard eval``: run eval suites (locally or through a gateway), record and read runs.

``run`` is built for CI: exit 0 when the suite passes, 1 when a threshold is
unmet or a metric regressed against ``--baseline``, 2 for bad input (found
before any provider call), 3 when provider errors exceed the suite's error
budget or the server is unreachable. Reports go to ``--json`` and ``--junit``
files; the progress bar goes to stderr so stdout stays a readable summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from app.cli.admin_client import AdminClient, path
from app.cli.eval_output import print_report, print_run
from app.cli.eval_targets import Resolver
from app.cli.output import (
    EXIT_GATE,
    EXIT_INFRA,
    EXIT_OK,
    JsonFlag,
    console,
    fail,
    print_json,
    table,
)
from app.errors import BadRequestError
from app.evals.cache import DEFAULT_CACHE_DIR, ResponseCache
from app.evals.reports import record_body, write_json, write_junit
from app.evals.results import SuiteResult
from app.evals.runner import RunOptions, run_with_baseline
from app.evals.suite import Suite, load_suite
from app.evals.targets import Target

app = typer.Typer(help="Eval suites: run them, record runs, read them back.", no_args_is_help=True)

EXIT_FOR_VERDICT = {"pass": EXIT_OK, "fail": EXIT_GATE, "error": EXIT_INFRA}


@app.command("run")
def run(
    suite_path: Annotated[
        Path, typer.Option("--suite", help="The suite file, evals/<suite>.yaml.")
    ],
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="A local bundle.yaml (or its folder).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="A registered name@N / name@sha256:... or ALIAS@ENV."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", help="Compare with: ALIAS@ENV, a ref, or a bundle path."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Cases in flight.")] = 4,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report as JSON ('-': stdout).")
    ] = None,
    junit_out: Annotated[
        Path | None, typer.Option("--junit", help="Write a JUnit XML report.")
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record the run on the server (admin API).")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the providers even for cached answers.")
    ] = False,
    cache_dir: Annotated[
        Path,
        typer.Option(envvar="PINYARD_EVAL_CACHE_DIR", help="Where answers are cached."),
    ] = DEFAULT_CACHE_DIR,
) -> None:
    """Run SUITE against a bundle; exit 0 pass, 1 gate failed, 2 bad input, 3 errors."""
    if (bundle is None) == (target is None):
        fail("give exactly one of --bundle PATH and --target REF|ALIAS@ENV")
    quiet = json_out == Path("-")
    try:
        suite = load_suite(suite_path)
        with ExitStack() as stack:
            resolver = Resolver(stack)
            candidate = resolver.local(bundle) if bundle is not None else resolver.any(str(target))
            base = resolver.any(baseline) if baseline else None
            judges = {reference: resolver.any(reference) for reference in sorted(suite.judges())}
            if record:
                _require_registered(resolver, candidate)
            options = RunOptions(
                concurrency=concurrency,
                cache=None if no_cache else ResponseCache(cache_dir),
            )
            result = _execute(suite, candidate, base, judges, options, resolver, quiet)
            report = result.as_dict()
            _write_reports(result, report, None if quiet else json_out, junit_out)
            recorded = None
            if record:
                body = record_body(result, commit=current_commit())
                recorded = resolver.admin().post("/admin/evals/runs", body)
    except BadRequestError as exc:
        fail(exc.message)
    if quiet:
        print_json({**report, "recorded": recorded["id"] if recorded else None})
    else:
        print_report(report)
        if recorded:
            console().print(Text(f"recorded as {recorded['id']}"))
    raise typer.Exit(EXIT_FOR_VERDICT[result.verdict])


def _execute(
    suite: Suite,
    candidate: Target,
    base: Target | None,
    judges: dict[str, Target],
    options: RunOptions,
    resolver: Resolver,
    quiet: bool,
) -> SuiteResult:
    """The run, with a progress bar on stderr when it is a terminal."""
    calls = len(suite.spec.cases) * suite.spec.repeats * (2 if base is not None else 1)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
        disable=quiet or not console(stderr=True).is_terminal,
    )
    task = progress.add_task(f"{suite.name} on {candidate.info.label}", total=calls)
    options.on_progress = lambda: progress.advance(task)

    async def go() -> SuiteResult:
        try:
            return await run_with_baseline(suite, candidate, base, judges, options)
        finally:
            if resolver.providers is not None:
                await resolver.providers.aclose()

    with progress:
        return asyncio.run(go())


def _write_reports(
    result: SuiteResult, report: dict[str, Any], json_out: Path | None, junit_out: Path | None
) -> None:
    try:
        if json_out is not None:
            write_json(report, json_out)
        if junit_out is not None:
            write_junit(result, junit_out)
    except OSError as exc:
        fail(f"cannot write the report: {exc}")


def _require_registered(resolver: Resolver, candidate: Target) -> None:
    """A run is recorded against a registered digest: check before spending any calls."""
    if candidate.info.version is not None:
        return
    version = resolver.registered_version(candidate)
    if version is None:
        fail(
            f"--record: {candidate.info.reference} ({candidate.info.digest}) is not registered "
            f"with this digest; push it first: pinyard bundle push {candidate.info.reference}"
        )
    candidate.info = dataclasses.replace(candidate.info, version=version)


def current_commit() -> str | None:
    """The commit under test: CI's variable, else ``git rev-parse HEAD``, else None."""
    for variable in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        value = os.environ.get(variable, "").strip()
        if value:
            return value[:64]
    try:
        answer = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip()[:64] or None


@app.command("list")
def list_(
    bundle: Annotated[
        str | None, typer.Option("--bundle", help="REF, digest or bundle name.")
    ] = None,
    suite: Annotated[str | None, typer.Option("--suite", help="Suite name.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Recorded runs, newest first."""
    with AdminClient() as api:
        answer = api.get(
            "/admin/evals/runs", params={"bundle": bundle, "suite": suite, "limit": limit}
        )
    if as_json:
        print_json(answer)
        return
    rows = answer["data"]
    if not rows:
        console().print("no recorded eval runs")
        return
    table(
        None,
        ["run", "suite", "bundle", "verdict", "pass rate", "commit", "at", "by"],
        [
            [
                r["id"],
                r["suite"]["name"],
                f"{r['bundle']['name']}@{r['bundle']['version']}",
                r["verdict"],
                r["pass_rate"],
                (r["commit"] or "-")[:12],
                r["created_at"],
                f"{r['actor']} ({r['source']})",
            ]
            for r in rows
        ],
    )


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN_ID")], as_json: JsonFlag = False
) -> None:
    """One recorded run: verdict, failures, and the cases that did not pass."""
    with AdminClient() as api:
        answer = api.get(path("admin", "evals", "runs", run_id))
    if as_json:
        print_json(answer)
        return
    print_run(answer)
