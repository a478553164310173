"""``pinyard metric``: declare the feedback metrics ``POST /v1/feedback`` may name.

A metric never changes once declared (its feedback would change meaning):
``create`` with the same declaration again is a no-op, a different one is refused.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, console, fields, print_json, table

app = typer.Typer(help="Feedback metrics: what answers are scored on.", no_args_is_help=True)


@app.command()
def create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="e.g. thumbs_up.")],
    type_: Annotated[str, typer.Option("--type", help="boolean, float, integer or comment.")],
    direction: Annotated[
        str | None,
        typer.Option(help="Which way is better: higher or lower (not for comments)."),
    ] = None,
    min_: Annotated[float | None, typer.Option("--min", help="Lowest value accepted.")] = None,
    max_: Annotated[float | None, typer.Option("--max", help="Highest value accepted.")] = None,
    description: Annotated[str | None, typer.Option(help="What the metric measures.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Declare metric NAME (audited)."""
    body = {
        "name": name,
        "type": type_,
        "direction": direction,
        "min": min_,
        "max": max_,
        "description": description,
    }
    with AdminClient() as api:
        answer = api.post("/admin/metrics", {k: v for k, v in body.items() if v is not None})
    if as_json:
        print_json(answer)
        return
    verb = "declared" if answer["created"] else "already declared"
    console().print(f"{verb}: {_describe(answer)}", markup=False)


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Every declared metric."""
    with AdminClient() as api:
        answer = api.get("/admin/metrics")
    if as_json:
        print_json(answer)
        return
    if not answer["data"]:
        console().print("no metrics declared; declare one with `pinyard metric create`")
        return
    table(
        None,
        ["name", "type", "better", "min", "max", "description"],
        [
            [
                m["name"],
                m["type"],
                None if m["type"] == "comment" else m["direction"],
                _number(m["min"]),
                _number(m["max"]),
                m["description"],
            ]
            for m in answer["data"]
        ],
    )


@app.command()
def show(name: Annotated[str, typer.Argument(metavar="NAME")], as_json: JsonFlag = False) -> None:
    """One metric's declaration."""
    with AdminClient() as api:
        answer = api.get(path("admin", "metrics", name))
    if as_json:
        print_json(answer)
        return
    fields(answer.items())


def _describe(metric: dict[str, Any]) -> str:
    text = f"{metric['name']} ({metric['type']}"
    if metric["type"] != "comment":
        text += f", {metric['direction']} is better"
    if metric["min"] is not None or metric["max"] is not None:
        low, high = _number(metric["min"]), _number(metric["max"])
        text += f", range [{'-inf' if low is None else low}, {'+inf' if high is None else high}]"
    return text + ")"


def _number(value: float | None) -> float | int | None:
    """5.0 as 5: integer bounds read as declared."""
    return int(value) if value is not None and float(value).is_integer() else value
