"""``pinyard deprecations``: the catalog, and the radar as a CI/cron check.

``check`` exits 1 when a live alias pins a model that shuts down within the
window (or already has), 0 otherwise, so a scheduled job pages a team weeks
before the provider does.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from app.cli.admin_client import AdminClient
from app.cli.output import EXIT_GATE, JsonFlag, console, print_json, table, warn

app = typer.Typer(
    help="Deprecation radar: retiring provider models and the aliases that pin them.",
    no_args_is_help=True,
)


@app.command("list")
def list_(
    provider: Annotated[
        str | None, typer.Option(help="Only this provider prefix, e.g. openai.")
    ] = None,
    all_entries: Annotated[
        bool, typer.Option("--all", help="Include entries without a shutdown date.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """The catalog: litellm's retirement dates merged with the operator's overrides."""
    with AdminClient() as api:
        answer = api.get(
            "/admin/deprecations/catalog",
            params={"provider": provider, "all": "true" if all_entries else None},
        )
    if as_json:
        print_json(answer)
        return
    _catalog_problem(answer["catalog"])
    rows = answer["data"]
    if not rows:
        console().print("no catalog entries" + (f" for provider {provider}" if provider else ""))
        return
    table(
        None,
        ["model", "deprecated", "shutdown", "days left", "replacement", "origin"],
        [
            [
                e["model"] + (" (moving pointer)" if e["moving_pointer"] else ""),
                e["deprecation_date"],
                e["shutdown_date"],
                e["days_left"],
                e["replacement"],
                e["origin"],
            ]
            for e in rows
        ],
    )


@app.command()
def check(
    within: Annotated[int, typer.Option(min=0, help="Window in days.")] = 90,
    as_json: JsonFlag = False,
) -> None:
    """Print the radar; exit 1 if a live alias's model retires within the window."""
    with AdminClient() as api:
        answer = api.get("/admin/deprecations", params={"within": within})
    if as_json:
        print_json(answer)
    else:
        print_radar(answer)
    if answer["live_aliases_affected"]:
        raise typer.Exit(EXIT_GATE)


def print_radar(answer: dict[str, Any]) -> None:
    _catalog_problem(answer["catalog"])
    window = answer["within_days"]
    window_text = f"within {window} days" if window is not None else "at any date"
    rows = [
        [
            item["model"],
            item["shutdown_date"],
            item["days_left"],
            item["replacement"],
            f"{usage['environment']}/{usage['alias']}"
            + (" (rollout candidate)" if usage["where"] == "rollout" else ""),
            f"{usage['bundle']['name']}@{usage['bundle']['version']}"
            + (" (allow_floating)" if usage["allow_floating"] else ""),
            usage["requests_24h"],
        ]
        for item in answer["data"]
        for usage in item["usages"]
    ]
    out = console()
    if rows:
        table(
            None,
            ["model", "shutdown", "days left", "replacement", "alias", "bundle", "req 24h"],
            rows,
        )
        live, rollouts = answer["live_aliases_affected"], answer["rollouts_affected"]
        summary = f"{live} live alias(es) pin a model retiring {window_text}"
        if rollouts:
            summary += f"; {rollouts} running rollout(s) would put one live"
        out.print(Text(summary, style="red" if live else "yellow"))
    else:
        out.print(Text(f"no live alias pins a model retiring {window_text}"))
    out.print(Text(f"scope: {answer['scope']['note']}", style="dim"))


def _catalog_problem(catalog: dict[str, Any]) -> None:
    if catalog.get("last_error"):
        warn(f"the gateway kept its last good catalog: {catalog['last_error']}")
