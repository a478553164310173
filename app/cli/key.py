"""``pinyard key``: client API keys for the data plane (role admin).

A key fixes its caller's environment, may narrow the aliases it can call and
carry a per-minute rate limit. Printed once; the gateway keeps only its hash.
Once any key exists, the data plane refuses requests without one.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, fields, print_json, table
from app.cli.token import ExpiresIn, Quiet, Reason, expires_at, print_secret

app = typer.Typer(help="Client API keys: environment, aliases, rate limit.", no_args_is_help=True)


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
    with AdminClient() as api:
        answer = api.post("/admin/keys", body)
    if as_json:
        print_json(answer)
        return
    if not quiet:
        _print_created(answer)
    print_secret("key", answer["key"])


def _print_created(answer: dict[str, Any]) -> None:
    fields(
        [
            ("name", answer["name"]),
            ("environment", answer["environment"]),
            ("aliases", ", ".join(answer["aliases"]) if answer["aliases"] else "all"),
            ("rpm", answer["rpm"] or "unlimited"),
            ("expires", answer["expires_at"]),
        ]
    )


@app.command("list")
def list_(
    env: Annotated[str | None, typer.Option("--env", help="Only this environment's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every key (never the secrets)."""
    with AdminClient() as api:
        answer = api.get("/admin/keys", params={"environment": env})
    if as_json:
        print_json(answer)
        return
    table(
        None,
        ["name", "environment", "aliases", "rpm", "state", "prefix", "expires"],
        [
            [
                k["name"],
                k["environment"],
                ", ".join(k["aliases"]) if k["aliases"] else "all",
                k["rpm"],
                k["state"],
                k["prefix"],
                k["expires_at"],
            ]
            for k in answer["data"]
        ],
    )


@app.command()
def revoke(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    reason: Reason = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke key NAME: every replica refuses it within a snapshot refresh."""
    with AdminClient() as api:
        answer = api.post(path("admin", "keys", name, "revoke"), {"reason": reason})
    if as_json:
        print_json(answer)
    else:
        fields([("revoked", answer["name"]), ("at", answer["revoked_at"])])
