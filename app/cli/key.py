"""``pinyard key``: client API keys for the data plane (role admin).

A key fixes its caller's environment, may narrow the aliases it can call and
carry a per-minute rate limit. Printed once; the gateway keeps only its hash.
Once any key exists, the data plane refuses requests without one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.credentials import (
    Answer,
    CredentialCommands,
    ExpiresIn,
    Quiet,
    Reason,
    expires_at,
    field,
)
from app.cli.output import JsonFlag

app = typer.Typer(help="Client API keys: environment, aliases, rate limit.", no_args_is_help=True)


def _aliases(key: Answer) -> str:
    return ", ".join(key["aliases"]) if key["aliases"] else "all"


KEYS = CredentialCommands(
    noun="key",
    summary=[
        ("name", field("name")),
        ("environment", field("environment")),
        ("aliases", _aliases),
        ("rpm", lambda key: key["rpm"] or "unlimited"),
        ("expires", field("expires_at")),
    ],
    columns=[
        ("name", field("name")),
        ("environment", field("environment")),
        ("aliases", _aliases),
        ("rpm", field("rpm")),
        ("state", field("state")),
        ("prefix", field("prefix")),
        ("expires", field("expires_at")),
    ],
)


@app.command()
def create(
    env: Annotated[str, typer.Option("--env", help="The environment the key calls into.")],
    name: Annotated[
        str | None, typer.Option(help="A name to list and revoke it by (default: ENV-xxxxxx).")
    ] = None,
    aliases: Annotated[
        str | None, typer.Option(help="Comma-separated aliases it may call (default: all).")
    ] = None,
    rpm: Annotated[int | None, typer.Option(min=1, help="Requests per minute (429 above).")] = None,
    allow_pinned: Annotated[
        bool, typer.Option("--allow-pinned", help="May call bundle references (name@N).")
    ] = False,
    expires_in: ExpiresIn = None,
    reason: Reason = None,
    quiet: Quiet = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a key for ENV; prints the key once."""
    body: dict[str, Any] = {
        "environment": env,
        "name": name,
        "rpm": rpm,
        "allow_pinned": allow_pinned,
        "expires_at": expires_at(expires_in),
        "reason": reason,
    }
    if aliases is not None:
        body["aliases"] = [a.strip() for a in aliases.split(",") if a.strip()]
    KEYS.create(body, quiet=quiet, as_json=as_json)


@app.command("list")
def list_(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every key (never the secrets)."""
    KEYS.list(as_json=as_json, environment=env)


KEYS.add_revoke(app, "Revoke key NAME: every replica refuses it within a snapshot refresh.")
