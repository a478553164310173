"""``pinyard token``: admin-API principals (role admin): create, list, revoke, whoami.

A token is printed once, at creation; the gateway keeps only its hash. Hand it
to its owner, who sets it as ``PINYARD_ADMIN_TOKEN``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.admin_client import AdminClient
from app.cli.credentials import CredentialCommands, ExpiresIn, Quiet, Reason, expires_at, field
from app.cli.output import JsonFlag, fields, print_json

app = typer.Typer(help="Admin tokens: named principals with a role.", no_args_is_help=True)

ROLES = "viewer, operator, approver or admin"

TOKENS = CredentialCommands(
    noun="token",
    summary=[("name", field("name")), ("role", field("role")), ("expires", field("expires_at"))],
    columns=[
        ("name", field("name")),
        ("role", field("role")),
        ("state", field("state")),
        ("prefix", field("prefix")),
        ("created", field("created_at")),
        ("expires", field("expires_at")),
    ],
)


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
    body = {"name": name, "role": role, "reason": reason, "expires_at": expires_at(expires_in)}
    TOKENS.create(body, quiet=quiet, as_json=as_json)


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every token (never the secrets): name, role, state."""
    TOKENS.list(as_json=as_json)


TOKENS.add_revoke(app, "Revoke NAME's token: refused from its next request on.")


@app.command()
def whoami(as_json: JsonFlag = False) -> None:
    """The principal PINYARD_ADMIN_TOKEN authenticates as."""
    with AdminClient() as api:
        answer = api.get(TOKENS.path("me"))
    if as_json:
        print_json(answer)
    else:
        fields([("name", answer["name"]), ("role", answer["role"])])
