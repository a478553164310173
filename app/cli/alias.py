"""``pinyard alias``: point an alias at a bundle, inspect it, roll it back.

Every flip needs a reason (it goes into the audit trail), and ``--expected``
makes a flip conditional on what the alias points at now, so two operators (or
an operator and a rollout) cannot silently overwrite each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, console, fail, fields, print_json, ref, table

app = typer.Typer(help="Aliases: (environment, name) -> bundle.", no_args_is_help=True)

Env = Annotated[str, typer.Argument(metavar="ENV", help="Environment, e.g. dev, staging, prod.")]
Alias = Annotated[str, typer.Argument(metavar="ALIAS", help="Alias name, e.g. support-chat.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (required; audited).")]


def _reason(reason: str) -> str:
    if not reason.strip():
        fail("--reason must not be empty: every alias change records why")
    return reason.strip()


def _alias_path(env: str, alias: str, *rest: str) -> str:
    return path("admin", "environments", env, "aliases", alias, *rest)


def _print_flip(answer: dict[str, Any]) -> None:
    if answer.get("status") == "pending":  # 202: the environment requires approval
        bundle = answer["payload"]["bundle"]
        fields(
            [
                (answer["target"], f"-> {ref(bundle)} waits for approval"),
                ("change", answer["id"]),
                ("expires", answer["expires_at"]),
                ("approve", f"pinyard change approve {answer['id']} (as another approver)"),
            ]
        )
        return
    where = f"{answer['environment']}/{answer['alias']}"
    fields([(where, f"-> {ref(answer['bundle'])}"), ("was", ref(answer["previous"]))])


@app.command("set")
def set_(
    env: Env,
    alias: Alias,
    bundle: Annotated[
        str, typer.Argument(metavar="REF", help="name@VERSION or name@sha256:<hex>.")
    ],
    reason: Reason,
    expected: Annotated[
        str | None,
        typer.Option(
            help="Only flip if the alias points at this digest now ('none': if it is unset)."
        ),
    ] = None,
    override: Annotated[
        bool,
        typer.Option("--override", help="Promote despite refusing gates (audited as an override)."),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Point ENV/ALIAS at a bundle (also how a digest is promoted to the next environment).

    Into a protected environment the promotion gates run first; a refusal exits 1.
    """
    body: dict[str, Any] = {"bundle": bundle, "reason": _reason(reason)}
    if expected is not None:
        body["expected"] = expected
    if override:
        body["override"] = True
    with AdminClient() as api:
        answer = api.put(_alias_path(env, alias), body)
    if as_json:
        print_json(answer)
    else:
        _print_flip(answer)


@app.command("show")
def show_(env: Env, alias: Alias, as_json: JsonFlag = False) -> None:
    """What ENV/ALIAS points at now."""
    with AdminClient() as api:
        answer = api.get(_alias_path(env, alias))
    if as_json:
        print_json(answer)
        return
    fields(
        [
            (f"{answer['environment']}/{answer['alias']}", ref(answer["bundle"])),
            ("updated", f"{answer['updated_at']} by {answer['updated_by']}"),
        ]
    )


@app.command()
def history(
    env: Env,
    alias: Alias,
    at: Annotated[
        str | None,
        typer.Option(help="ISO 8601 time (e.g. 2025-01-31T12:00:00Z): what was live then."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every flip of ENV/ALIAS, newest first; or, with --at, the one live at a time."""
    if at is not None:
        try:
            datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r} is not an ISO 8601 time (e.g. 2025-01-31T12:00:00Z)")
    with AdminClient() as api:
        answer = api.get(_alias_path(env, alias, "history"), params={"at": at})
    if as_json:
        print_json(answer)
        return
    if at is not None:
        live = answer["live"]
        fields(
            [
                (f"{answer['environment']}/{answer['alias']} at {answer['at']}", ref(live["to"])),
                ("since", f"{live['at']} ({live['action']} by {live['actor']}: {live['reason']})"),
            ]
        )
        return
    console().print(f"{answer['environment']}/{answer['alias']}")
    table(
        None,
        ["at", "action", "from", "to", "actor", "reason"],
        [
            [
                e["at"],
                e["action"],
                ref(e["from"], digest=False),
                ref(e["to"], digest=False),
                e["actor"],
                e["reason"],
            ]
            for e in answer["data"]
        ],
    )


@app.command()
def rollback(
    env: Env,
    alias: Alias,
    reason: Reason,
    to: Annotated[
        str | None,
        typer.Option(help="Bundle to roll back to (default: what the alias pointed at before)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Flip ENV/ALIAS back to its previous bundle (or to --to)."""
    body: dict[str, Any] = {"reason": _reason(reason)}
    if to is not None:
        body["to"] = to
    with AdminClient() as api:
        answer = api.post(_alias_path(env, alias, "rollback"), body)
    if as_json:
        print_json(answer)
    else:
        _print_flip(answer)
