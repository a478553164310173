"""``pinyard policy``: what promotion into an environment requires.

Policies are audited state like aliases: ``set`` changes only the options given
and records why.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, fail, fields, print_json, table

app = typer.Typer(help="Environment policies: protection, approvals, gates.", no_args_is_help=True)

Env = Annotated[str, typer.Argument(metavar="ENV", help="Environment, e.g. staging.")]


@app.command("show")
def show(env: Env, as_json: JsonFlag = False) -> None:
    """The policy of ENV (defaults when none was set)."""
    with AdminClient() as api:
        answer = api.get(path("admin", "environments", env, "policy"))
    if as_json:
        print_json(answer)
        return
    _print(answer)


@app.command("set")
def set_(
    env: Env,
    alias: Annotated[
        str | None, typer.Argument(metavar="[ALIAS]", help="Set the alias-level options of ALIAS.")
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why (required; audited).")] = "",
    protected: Annotated[
        bool | None, typer.Option("--protected/--unprotected", help="Gate promotions into ENV.")
    ] = None,
    require_approval: Annotated[
        bool | None,
        typer.Option("--require-approval/--no-require-approval", help="Changes need an approver."),
    ] = None,
    block_within_days: Annotated[
        int | None,
        typer.Option(min=0, help="Refuse models that shut down within this many days."),
    ] = None,
    require_suite: Annotated[
        list[str] | None,
        typer.Option("--require-suite", help="Eval suite ALIAS must pass (repeat for more)."),
    ] = None,
    max_age_days: Annotated[
        float | None, typer.Option(min=0.0, help="How fresh ALIAS's passing run must be.")
    ] = None,
    run_on_promotion: Annotated[
        bool | None,
        typer.Option(
            "--run-on-promotion/--no-run-on-promotion",
            help="Run missing suites when ALIAS is promoted.",
        ),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Drop ALIAS's alias-level policy.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change ENV's policy (or ALIAS's part of it); options not given stay as they are."""
    if not reason.strip():
        fail("--reason is required: every policy change records why")
    alias_options = (require_suite, max_age_days, run_on_promotion)
    if alias is None and (clear or any(o is not None for o in alias_options)):
        fail("--require-suite, --max-age-days, --run-on-promotion and --clear need an ALIAS")
    body: dict[str, Any] = {"reason": reason.strip()}
    for key, value in (
        ("protected", protected),
        ("require_approval", require_approval),
        ("block_within_days", block_within_days),
    ):
        if value is not None:
            body[key] = value
    with AdminClient() as api:
        if alias is not None:
            current = api.get(path("admin", "environments", env, "policy"))["policy"]
            entry = dict(current["aliases"].get(alias, {}))
            if require_suite is not None:
                entry["required_suites"] = require_suite
            if max_age_days is not None:
                entry["max_age_days"] = max_age_days
            if run_on_promotion is not None:
                entry["run_on_promotion"] = run_on_promotion
            body["aliases"] = {alias: None if clear else entry}
        answer = api.put(path("admin", "environments", env, "policy"), body)
    if as_json:
        print_json(answer)
    else:
        _print(answer)


def _print(answer: dict[str, Any]) -> None:
    policy = answer["policy"]
    updated = (
        "default (never set)"
        if answer["default"]
        else f"{answer['updated_at']} by {answer['updated_by']}"
    )
    fields(
        [
            ("environment", answer["environment"]),
            ("protected", policy["protected"]),
            ("require_approval", policy["require_approval"]),
            ("block_within_days", policy["block_within_days"]),
            ("updated", updated),
        ]
    )
    if policy["aliases"]:
        table(
            "aliases",
            ["alias", "required suites", "max age (days)", "run on promotion"],
            [
                (
                    name,
                    ", ".join(entry["required_suites"]) or "-",
                    entry["max_age_days"] if entry["max_age_days"] is not None else "-",
                    entry["run_on_promotion"],
                )
                for name, entry in sorted(policy["aliases"].items())
            ],
        )
