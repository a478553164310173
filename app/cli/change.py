"""``pinyard change``: changes waiting for a second person (two-person rule).

In an environment whose policy requires approval, ``alias set`` stores a
pending change; a different principal with the approver role applies it with
``approve`` or turns it down with ``reject`` (its requester may withdraw it).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, fail, fields, print_json, ref, table

app = typer.Typer(help="Pending changes: list, approve, reject.", no_args_is_help=True)

ChangeId = Annotated[str, typer.Argument(metavar="CHANGE", help="The change id (chg_...).")]


def _what(change: dict[str, Any]) -> str:
    bundle = change["payload"].get("bundle")
    return f"{change['kind']} -> {ref(bundle, digest=False)}" if bundle else change["kind"]


def _print(change: dict[str, Any]) -> None:
    runs = change["evidence"].get("eval_runs", [])
    fields(
        [
            ("change", change["id"]),
            ("status", change["status"]),
            ("target", change["target"]),
            ("what", _what(change)),
            ("digest", change["digest"]),
            ("reason", change["reason"]),
            ("requested", f"{change['requested_at']} by {change['requested_by']}"),
            ("expires", change["expires_at"]),
            ("eval runs", len(runs)),
            (
                "decided",
                f"{change['decided_at']} by {change['decided_by']}: {change['decision_reason']}"
                if change["decided_by"]
                else "-",
            ),
        ]
    )


@app.command("list")
def list_(
    state: Annotated[
        str, typer.Option(help="pending, expired, applied, rejected or all.")
    ] = "pending",
    env: Annotated[str | None, typer.Option("--env", help="Only this environment's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Changes in STATE (default: those still waiting for approval), newest first."""
    params = {"state": None if state == "all" else state, "environment": env}
    with AdminClient() as api:
        answer = api.get("/admin/changes", params=params)
    if as_json:
        print_json(answer)
        return
    table(
        None,
        ["change", "status", "target", "what", "requested by", "reason", "expires"],
        [
            [
                c["id"],
                c["status"],
                c["target"],
                _what(c),
                c["requested_by"],
                c["reason"],
                c["expires_at"],
            ]
            for c in answer["data"]
        ],
    )


@app.command()
def show(change: ChangeId, as_json: JsonFlag = False) -> None:
    """One change, with the evidence attached when it was requested."""
    with AdminClient() as api:
        answer = api.get(path("admin", "changes", change))
    if as_json:
        print_json(answer)
    else:
        _print(answer)


@app.command()
def approve(
    change: ChangeId,
    reason: Annotated[str | None, typer.Option(help="Why (audited).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Apply CHANGE (needs the approver role, and not to be its requester)."""
    with AdminClient() as api:
        answer = api.post(path("admin", "changes", change, "approve"), {"reason": reason})
    if as_json:
        print_json(answer)
    else:
        _print(answer)


@app.command()
def reject(
    change: ChangeId,
    reason: Annotated[str, typer.Option(help="Why (required; audited).")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Turn CHANGE down (approver), or withdraw it (its requester)."""
    if not reason.strip():
        fail("--reason is required: every rejection records why")
    with AdminClient() as api:
        answer = api.post(path("admin", "changes", change, "reject"), {"reason": reason.strip()})
    if as_json:
        print_json(answer)
    else:
        _print(answer)
