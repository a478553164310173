"""``pinyard token``: admin-API principals (role admin): create, list, revoke.

A token is printed once, at creation; the gateway keeps only its hash. Hand it
to its owner, who sets it as ``PINYARD_ADMIN_TOKEN``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, fail, fields, print_json, table, warn

app = typer.Typer(help="Admin tokens: named principals with a role.", no_args_is_help=True)

ROLES = "viewer, operator, approver or admin"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

ExpiresIn = Annotated[
    str | None,
    typer.Option("--expires-in", help="Lifetime, e.g. 90d, 12h, 30m (default: no expiry)."),
]
Reason = Annotated[str | None, typer.Option(help="Why (audited; a description by default).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the secret (for scripts).")]


def expires_at(expires_in: str | None) -> str | None:
    """``--expires-in 90d`` as the ISO time the API takes."""
    if expires_in is None:
        return None
    match = _DURATION.match(expires_in.strip())
    if not match or int(match[1]) == 0:
        fail(f"--expires-in {expires_in!r} must look like 90d, 12h, 30m or 3600s")
    seconds = int(match[1]) * _UNITS[match[2]]
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def print_secret(kind: str, secret: str) -> None:
    typer.echo(secret)
    warn(f"this {kind} is shown once: store it now (the gateway keeps only its hash)")


@app.command()
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who holds it, e.g. alice.")],
    role: Annotated[str, typer.Option(help=f"One of {ROLES}.")],
    expires_in: ExpiresIn = None,
    reason: Reason = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a token for NAME with ROLE; prints the token once."""
    body: dict[str, Any] = {"name": name, "role": role, "reason": reason}
    body["expires_at"] = expires_at(expires_in)
    with AdminClient() as api:
        answer = api.post("/admin/tokens", body)
    if as_json:
        print_json(answer)
        return
    if not quiet:
        fields(
            [("name", answer["name"]), ("role", answer["role"]), ("expires", answer["expires_at"])]
        )
    print_secret("token", answer["token"])


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every token (never the secrets): name, role, state."""
    with AdminClient() as api:
        answer = api.get("/admin/tokens")
    if as_json:
        print_json(answer)
        return
    table(
        None,
        ["name", "role", "state", "prefix", "created", "expires"],
        [
            [t["name"], t["role"], t["state"], t["prefix"], t["created_at"], t["expires_at"]]
            for t in answer["data"]
        ],
    )


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke NAME's token: refused from its next request on."""
    with AdminClient() as api:
        answer = api.post(path("admin", "tokens", name, "revoke"), {"reason": reason})
    if as_json:
        print_json(answer)
    else:
        fields([("revoked", answer["name"]), ("at", answer["revoked_at"])])


@app.command()
def whoami(as_json: JsonFlag = False) -> None:
    """The principal PINYARD_ADMIN_TOKEN authenticates as."""
    with AdminClient() as api:
        answer = api.get("/admin/tokens/me")
    if as_json:
        print_json(answer)
    else:
        fields([("name", answer["name"]), ("role", answer["role"])])
