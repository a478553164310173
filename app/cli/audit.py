"""``pinyard audit``: query the trail, check its hash chain, export it, answer for an alias.

``verify`` is a CI gate: exit 1 when any event was edited, removed or
reordered, either on the server or (``--file``) in an exported file, offline.
``export`` pages through the trail (optionally from ``--since``) and writes
JSON Lines with each event's ``prev_hash`` and ``hash``; a file is written
whole or not at all. ``show`` prints the evidence for what served an alias at
a moment: the bundle, who set it, who approved it, the eval runs it passed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import (
    EXIT_GATE,
    EXIT_INFRA,
    JsonFlag,
    console,
    fail,
    fields,
    print_json,
    ref,
    show,
    table,
)
from app.governance.export_verify import export_line, verify_export

app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)

PAGE_SIZE = 1000


def _time(option: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option} {value!r} is not an ISO 8601 time (e.g. 2026-03-15T10:00Z)")
    return value


Since = Annotated[str | None, typer.Option(help="ISO time: events at or after it.")]
Until = Annotated[str | None, typer.Option(help="ISO time: events at or before it.")]


@app.command()
def verify(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Verify an exported JSON Lines file, offline, instead."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every event's hash and link; exit 1 at the first broken one."""
    if file is not None:
        try:
            report = verify_export(file.read_bytes()).as_dict()
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
    else:
        with AdminClient() as api:
            report = api.get("/admin/audit/verify")
    if as_json:
        print_json(report)
    elif report["ok"]:
        typer.echo(f"audit chain ok: {report['events']} events")
    else:
        where = f"at event {report['broken_at']}" if report["broken_at"] else "in the file"
        typer.echo(f"audit chain broken {where}: {report['problem']}")
    if not report["ok"]:
        raise typer.Exit(EXIT_GATE)


def _events(api: AdminClient, filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        page = api.get("/admin/audit", params={**filters, "after": after, "limit": PAGE_SIZE})
        yield from page["data"]
        next_after = page.get("next_after")
        if next_after is None:
            return
        if next_after <= after:
            fail(f"the server's audit paging did not advance (after={after})", EXIT_INFRA)
        after = next_after


def _write(api: AdminClient, stream: TextIO, filters: dict[str, Any]) -> int:
    count = 0
    for event in _events(api, filters):
        stream.write(export_line(event))
        count += 1
    return count


@app.command()
def export(
    out: Annotated[
        Path | None, typer.Option(help="Write JSON Lines here (default: stdout).")
    ] = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Audit events, oldest first, as JSON Lines that `audit verify --file` checks offline."""
    filters = {"since": _time("--since", since), "until": _time("--until", until)}
    with AdminClient() as api:
        if out is None:
            _write(api, sys.stdout, filters)
            return
        try:
            handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                count = _write(api, stream, filters)
            os.replace(temp_name, out)
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
    typer.echo(f"wrote {count} events to {out}", err=True)


def _split_alias(value: str) -> tuple[str, str]:
    env, _, alias = value.partition("/")
    if not env or not alias:
        fail(f"--alias {value!r} must be ENV/ALIAS, e.g. prod/support-chat")
    return env, alias


@app.command("list")
def list_(
    actor: Annotated[str | None, typer.Option(help="Only this principal's events.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action, e.g. alias.set.")] = None,
    env: Annotated[str | None, typer.Option("--env", help="Only events about ENV.")] = None,
    alias: Annotated[
        str | None, typer.Option(help="Only events about ENV/ALIAS (or ALIAS in any env).")
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    after: Annotated[int, typer.Option(min=0, help="Events after this seq (paging).")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Audit events matching every filter given, oldest first."""
    if alias is not None and "/" in alias:
        env, alias = _split_alias(alias)
    params = {
        "actor": actor,
        "action": action,
        "environment": env,
        "alias": alias,
        "since": _time("--since", since),
        "until": _time("--until", until),
        "limit": limit,
        "after": after,
    }
    with AdminClient() as api:
        answer = api.get("/admin/audit", params=params)
    if as_json:
        print_json(answer)
        return
    table(
        None,
        ["seq", "at", "actor", "action", "target", "reason"],
        [
            [e["seq"], e["at"], e["actor"], e["action"], e["target"], e["reason"]]
            for e in answer["data"]
        ],
    )
    if answer.get("next_after") is not None:
        typer.echo(f"more: --after {answer['next_after']}", err=True)


def _run_row(run: dict[str, Any]) -> list[Any]:
    def first(*names: str) -> Any:
        return next((run[n] for n in names if run.get(n) is not None), None)

    verdict = {True: "passed", False: "failed", None: "?"}[run.get("passed")]
    return [
        first("id", "run_id"),
        first("suite", "suite_name"),
        verdict,
        first("finished_at", "created_at", "recorded_at", "started_at", "at"),
    ]


@app.command("show")
def show_(
    alias: Annotated[str, typer.Option(help="ENV/ALIAS, e.g. prod/support-chat.")],
    at: Annotated[str | None, typer.Option(help="ISO time (default: now).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """What served ENV/ALIAS at a time: bundle, who set it, who approved it, eval runs."""
    env, name = _split_alias(alias)
    with AdminClient() as api:
        answer = api.get(
            path("admin", "environments", env, "aliases", name, "evidence"),
            params={"at": _time("--at", at)},
        )
    if as_json:
        print_json(answer)
        return
    live, approval = answer["live"], answer["approval"]
    fields(
        [
            (f"{env}/{name} at {answer['at']}", ref(live["bundle"])),
            ("model", live["model"]),
            ("live since", f"{live['since']} ({live['action']})"),
            ("set by", f"{live['set_by']}: {live['reason']}"),
            (
                "approved by",
                f"{approval['approved_by']} at {approval['approved_at']} "
                f"(change {approval['change']}: {show(approval['approval_reason'])})"
                if approval
                else "no approval recorded (none was required for this change)",
            ),
        ]
    )
    runs = answer["eval_runs"]
    if runs:
        table("eval runs of this digest", ["run", "suite", "verdict", "at"], map(_run_row, runs))
    else:
        console().print("eval runs of this digest: none recorded")
    table(
        "audit events",
        ["seq", "at", "actor", "action", "hash"],
        [[e["seq"], e["at"], e["actor"], e["action"], e["hash"]] for e in answer["audit_events"]],
    )
