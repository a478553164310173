"""``pinyard bundle``: validate locally, register, list, show and diff bundles.

``validate`` and the local half of ``push`` use the same loader and compiler
as the gateway, so a bundle that validates here registers there (and CI can
check bundles with no server). ``push`` sends the canonical spec with the
templates inlined: the server never reads the client's files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.panel import Panel
from rich.text import Text

from app.bundles.compiled import CompiledBundle, compile_bundle
from app.bundles.loader import load_bundle_file
from app.bundles.spec import parse_ref
from app.cli.client import AdminClient, path
from app.cli.output import JsonFlag, code, console, fail, fields, print_json, show, table, warn
from app.errors import BundleInvalid

app = typer.Typer(
    help="Bundles: immutable, content-addressed system versions.", no_args_is_help=True
)

BundlePath = Annotated[
    Path, typer.Argument(metavar="PATH", help="bundle.yaml, or the folder holding it.")
]
Ref = Annotated[str, typer.Argument(metavar="REF", help="name@VERSION or name@sha256:<hex>.")]


def _compile(bundle_path: Path) -> CompiledBundle:
    try:
        return compile_bundle(load_bundle_file(bundle_path))
    except BundleInvalid as exc:
        fail(exc.message)


def _split_ref(ref: str) -> tuple[str, str]:
    try:
        name, selector = parse_ref(ref)
    except ValueError as exc:
        fail(str(exc))
    return name, str(selector)


@app.command()
def validate(bundle_path: BundlePath, as_json: JsonFlag = False) -> None:
    """Check a bundle without a server: schema, templates, variables, model pinning."""
    compiled = _compile(bundle_path)
    spec = compiled.spec
    variables = sorted(compiled.template_variables)
    required = sorted(compiled.required_variables)
    if as_json:
        print_json(
            {
                "name": spec.name,
                "model": spec.model,
                "digest": compiled.digest,
                "variables": variables,
                "required_variables": required,
                "floating": compiled.floating,
            }
        )
        return
    fields(
        [
            ("name", spec.name),
            ("model", spec.model),
            ("digest", compiled.digest),
            ("variables", ", ".join(variables) or "(none)"),
            ("required", ", ".join(required) or "(none)"),
        ]
    )
    if compiled.floating:
        warn(f"model {spec.model} floats ({compiled.floating}); allowed by allow_floating")


@app.command()
def push(
    bundle_path: BundlePath,
    reason: Annotated[
        str | None, typer.Option(help="Why, for the audit trail (default: a description).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a bundle; identical content returns the existing version."""
    compiled = _compile(bundle_path)
    with AdminClient() as api:
        answer = api.post(
            "/admin/bundles", compiled.spec.canonical_dict(), params={"reason": reason}
        )
    if answer.get("digest") != compiled.digest:
        warn(
            f"the server computed {answer.get('digest')}, not the local {compiled.digest}; "
            "are the CLI and the gateway the same version?"
        )
    if as_json:
        print_json(answer)
        return
    status = "created" if answer["created"] else "already registered"
    console().print(Text(f"{answer['name']}@{answer['version']}  {answer['digest']}  {status}"))


@app.command("list")
def list_(
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="Only this bundle's versions.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Registered bundles and their versions."""
    with AdminClient() as api:
        answer = api.get("/admin/bundles", params={"name": name})
    if as_json:
        print_json(answer)
        return
    rows = answer["data"]
    if not rows:
        console().print("no bundles registered" + (f" named {name}" if name else ""))
        return
    table(
        None,
        ["bundle", "digest", "model", "created", "by"],
        [
            [
                f"{r['name']}@{r['version']}",
                r["digest"],
                r["model"],
                r["created_at"],
                r["created_by"],
            ]
            for r in rows
        ],
    )


@app.command("show")
def show_(ref: Ref, as_json: JsonFlag = False) -> None:
    """One bundle version: summary, then its full spec as YAML."""
    name, selector = _split_ref(ref)
    with AdminClient() as api:
        answer = api.get(path("admin", "bundles", name, selector))
    if as_json:
        print_json(answer)
        return
    fields(
        [
            ("bundle", f"{answer['name']}@{answer['version']}"),
            ("digest", answer["digest"]),
            ("model", answer["model"]),
            ("created", f"{answer['created_at']} by {answer['created_by']}"),
        ]
    )
    console().print()
    spec_yaml = yaml.safe_dump(answer["spec"], sort_keys=False, allow_unicode=True)
    code(spec_yaml, "yaml")


@app.command()
def diff(old: Ref, new: Ref, as_json: JsonFlag = False) -> None:
    """What changed between two versions of one bundle, and what breaks callers."""
    old_name, old_selector = _split_ref(old)
    new_name, new_selector = _split_ref(new)
    if old_name != new_name:
        fail(f"both references must name the same bundle ({old_name} vs {new_name})")
    with AdminClient() as api:
        answer = api.get(
            path("admin", "bundles", old_name, "diff"),
            params={"from": old_selector, "to": new_selector},
        )
    if as_json:
        print_json(answer)
        return
    _render_diff(answer)


def _render_diff(answer: dict[str, Any]) -> None:
    out = console()
    before, after = answer["from"], answer["to"]
    out.print(
        Text(
            f"{before['name']}@{before['version']} ({before['digest']})\n"
            f"  -> {after['name']}@{after['version']} ({after['digest']})",
            style="bold",
        )
    )
    if not (answer["changes"] or answer["templates"] or answer["breaking_variables"]):
        out.print("no differences")
        return
    if answer["changes"]:
        out.print()
        table(
            "fields",
            ["field", "change", "before", "after"],
            [
                [c["path"], c["kind"], show(c["before"]), show(c["after"])]
                for c in answer["changes"]
            ],
        )
    for template in answer["templates"]:
        out.print()
        out.print(Text(template["label"], style="bold"))
        code(template["unified"].rstrip("\n"), "diff")
    if answer["breaking_variables"]:
        out.print()
        body = Text("\n".join(f"- {reason}" for reason in answer["breaking_variables"]))
        out.print(
            Panel(
                body,
                title="breaking: callers' variables that worked before may now be refused",
                title_align="left",
                border_style="red",
                style="red",
                expand=False,
            )
        )
