"""``pinyard rollout``: move an alias to a candidate by shadow, then canary steps.

The gateway does the work (the analysis loop advances a passing step after its
minimum duration and rolls a significantly worse candidate back); these
commands start a rollout, watch it, and give an operator the levers: pause,
resume, advance (skip the wait), abort (the kill switch).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, console, fail, fields, print_json, ref, table

app = typer.Typer(help="Rollouts: shadow, canary steps, automatic rollback.", no_args_is_help=True)

Env = Annotated[str, typer.Argument(metavar="ENV", help="Environment, e.g. dev, staging, prod.")]
Alias = Annotated[str, typer.Argument(metavar="ALIAS", help="Alias name, e.g. support-chat.")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why (audited).")]


def _path(env: str, alias: str, *rest: str) -> str:
    return path("admin", "environments", env, "aliases", alias, "rollout", *rest)


def _steps(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"--steps {text!r} must be comma-separated percentages, e.g. 1,5,25,50,100")


@app.command()
def start(
    env: Env,
    alias: Alias,
    bundle: Annotated[
        str, typer.Argument(metavar="REF", help="The candidate: name@VERSION or name@sha256:<hex>.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; audited).")],
    steps: Annotated[
        str, typer.Option(help="Canary weights in percent, increasing, ending at 100.")
    ] = "1,5,25,50,100",
    shadow_rate: Annotated[
        float,
        typer.Option(min=0, max=1, help="Share of requests shadowed first (0: no shadow step)."),
    ] = 0.1,
    min_requests: Annotated[
        int, typer.Option(min=1, help="Minimum requests per arm (shadow pairs) per step.")
    ] = 100,
    min_duration: Annotated[
        float, typer.Option(min=0, metavar="SECONDS", help="Minimum time each step must pass.")
    ] = 300.0,
    alpha: Annotated[
        float,
        typer.Option(
            min=0.0001, max=0.5, help="False-rollback rate allowed over the whole rollout."
        ),
    ] = 0.05,
    shadow_concurrency: Annotated[
        int, typer.Option(min=1, help="Candidate shadow calls in flight at most.")
    ] = 4,
    shadow_budget: Annotated[
        int | None, typer.Option(min=1, help="Candidate shadow calls per UTC day at most.")
    ] = None,
    override: Annotated[
        bool, typer.Option("--override", help="Start despite refusing promotion gates (audited).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Start moving ENV/ALIAS from the bundle it serves to REF."""
    if not reason.strip():
        fail("--reason must not be empty: every rollout records why")
    shadow: dict[str, Any] = {"rate": shadow_rate, "max_concurrency": shadow_concurrency}
    if shadow_budget is not None:
        shadow["daily_budget"] = shadow_budget
    body = {
        "candidate": bundle,
        "reason": reason.strip(),
        "steps": _steps(steps),
        "min_requests": min_requests,
        "min_duration_s": min_duration,
        "shadow": shadow,
        "analysis": {"alpha": alpha},
        "override": override,
    }
    with AdminClient() as api:
        answer = api.post(_path(env, alias), body)
    _show(answer, as_json)


@app.command()
def status(env: Env, alias: Alias, as_json: JsonFlag = False) -> None:
    """Where the rollout of ENV/ALIAS is: step, verdict, each arm's numbers."""
    with AdminClient() as api:
        answer = api.get(_path(env, alias))
    _show(answer, as_json)


def _act(action: str, env: str, alias: str, reason: str | None, as_json: bool) -> None:
    body = {"reason": reason.strip()} if reason and reason.strip() else {}
    with AdminClient() as api:
        answer = api.post(_path(env, alias, action), body)
    _show(answer, as_json)


@app.command()
def pause(env: Env, alias: Alias, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Hold at the current step (a failing candidate is still rolled back)."""
    _act("pause", env, alias, reason, as_json)


@app.command()
def resume(env: Env, alias: Alias, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Let a paused rollout advance again."""
    _act("resume", env, alias, reason, as_json)


@app.command()
def advance(env: Env, alias: Alias, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """Go to the next step now; from the last one, flip the alias to the candidate."""
    _act("advance", env, alias, reason, as_json)


@app.command()
def abort(env: Env, alias: Alias, reason: Reason = None, as_json: JsonFlag = False) -> None:
    """The kill switch: every request goes back to the baseline."""
    _act("abort", env, alias, reason, as_json)


@app.command()
def report(
    env: Env,
    alias: Alias,
    limit: Annotated[int, typer.Option(min=0, max=100, help="Most different pairs shown.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Shadow comparison: agreement rate and the most different pairs side by side."""
    with AdminClient() as api:
        answer = api.get(_path(env, alias, "report"), params={"limit": limit})
    if as_json:
        print_json(answer)
        return
    errors = answer["errors"]
    fields(
        [
            ("rollout", f"{answer['id']} {answer['environment']}/{answer['alias']}"),
            ("baseline", ref(answer["baseline"])),
            ("candidate", ref(answer["candidate"])),
            ("pairs", f"{answer['pairs']} ({answer['compared']} where both answered)"),
            (
                "agreement",
                _pct(answer["agreement_rate"], f"similarity >= {answer['agree_similarity']:g}"),
            ),
            ("exact match", _pct(answer["exact_match_rate"])),
            ("json equal", _pct(answer["json_equal_rate"])),
            ("mean similarity", answer["mean_similarity"]),
            ("errors", f"baseline {errors['baseline']}, candidate {errors['candidate']}"),
            ("latency delta", _ms(answer["latency_delta_ms"])),
            ("token delta", answer["mean_token_delta"]),
        ]
    )
    pairs = answer["most_different"]
    if pairs:
        table(
            "most different pairs",
            ["request", "similarity", "baseline", "candidate"],
            [
                [p["request_id"], p["similarity"], _side(p["baseline"]), _side(p["candidate"])]
                for p in pairs
            ],
        )


def _show(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(answer)
        return
    step = answer["step"]
    state = answer["state"] + (" (paused)" if answer["paused"] else "")
    where = "shadow" if step["kind"] == "shadow" else f"canary {step['weight']:g}%"
    unit = "pairs" if step["kind"] == "shadow" else "per arm"
    verdict = answer.get("verdict") or {}
    shadow = answer["shadow"]
    rows: list[tuple[str, Any]] = [
        ("rollout", f"{answer['id']} {answer['environment']}/{answer['alias']}"),
        ("state", state),
        (
            "step",
            f"{step['index'] + 1}/{step['of']} {where}, {step['elapsed_s']:g}s "
            f"(needs {step['min_requests']} {unit}, {step['min_duration_s']:g}s)",
        ),
        ("baseline", ref(answer["baseline"])),
        ("candidate", ref(answer["candidate"])),
        ("verdict", f"{verdict.get('outcome', '-')}: {verdict.get('reason', 'not evaluated yet')}"),
        ("shadow", f"{shadow['pairs']} pairs, agreement {_pct(shadow['agreement_rate'])}"),
    ]
    if answer.get("end_reason"):
        rows.append(("ended", f"{answer['ended_at']}: {answer['end_reason']}"))
    fields(rows)
    checks = verdict.get("checks") or []
    if checks:
        table(
            None,
            ["check", "outcome", "detail"],
            [[c["metric"], c["outcome"], c["detail"]] for c in checks],
        )
    arm_rows = [
        [scope, arm, s["requests"], s["errors"], _pct(s["error_rate"]), s["blocked"],
         s["latency_ms"]["p50"], s["latency_ms"]["p95"], s["tokens"]["total"]]
        for scope in ("step", "total")
        for arm, s in sorted(answer["arms"][scope].items())
    ]  # fmt: skip
    if arm_rows:
        console().print("")
        table(
            None,
            [
                "window",
                "arm",
                "requests",
                "errors",
                "error rate",
                "blocked",
                "p50 ms",
                "p95 ms",
                "tokens",
            ],
            arm_rows,
        )


def _pct(value: float | None, note: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" + (f" ({note})" if note else "")


def _ms(values: dict[str, Any]) -> str:
    if values.get("p50") is None:
        return "-"
    return f"p50 {values['p50']:+.1f} ms, p95 {values['p95']:+.1f} ms"


def _side(side: dict[str, Any]) -> str:
    if not side["ok"]:
        return f"ERROR {side['error']}"
    return str(side["text"])
