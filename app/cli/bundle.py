"""``pinyard bundle``: validate locally, register, list, show and diff bundles.

``validate`` and the local half of ``push`` use the same loader and compiler
as the gateway, so a bundle that validates here registers there (and CI can
check bundles with no server); ``validate`` also checks that an ``http``
retriever answers. ``push`` sends the canonical spec with the templates
inlined: the server never reads the client's files. ``render`` prints what a
bundle would send upstream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.panel import Panel
from rich.text import Text

from app.bundles.loader import load_bundle_file
from app.bundles.retrieval_spec import HttpRetrieval
from app.bundles.spec import parse_ref
from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, code, console, fail, fields, print_json, show, table, warn
from app.cli.render import render
from app.cli.successor import successor
from app.errors import BundleInvalid
from app.registry.compiled import CompiledBundle, compile_bundle
from app.retrieval.http import check_reachable

app = typer.Typer(
    help="Bundles: immutable, content-addressed system versions.", no_args_is_help=True
)
app.command()(successor)
app.command()(render)

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
def validate(
    bundle_path: BundlePath,
    offline: Annotated[
        bool, typer.Option("--offline", help="Skip the http retriever reachability check.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check a bundle without a server: templates, variables, pinning, guardrails, retrieval."""
    compiled = _compile(bundle_path)
    spec = compiled.spec
    if isinstance(spec.retrieval, HttpRetrieval) and not offline:
        try:
            check_reachable(spec.retrieval)
        except BundleInvalid as exc:
            fail(exc.message)
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
                "retrieval": _retrieval_summary(compiled),
                "guardrails": _guardrail_summary(compiled),
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
            ("retrieval", _retrieval_summary(compiled) or "(none)"),
            ("guardrails", _guardrail_summary(compiled) or "(none)"),
        ]
    )
    if compiled.floating:
        warn(f"model {spec.model} floats ({compiled.floating}); allowed by allow_floating")


def _retrieval_summary(compiled: CompiledBundle) -> str | None:
    retrieval = compiled.spec.retrieval
    if retrieval is None:
        return None
    if isinstance(retrieval, HttpRetrieval):
        return f"http {retrieval.url}, top {retrieval.top_k}, on_error {retrieval.on_error}"
    count = len(retrieval.documents)
    return f"{retrieval.kind} over {count} document(s), top {retrieval.top_k}"


def _guardrail_summary(compiled: CompiledBundle) -> str | None:
    stages = [
        f"{stage}: " + ", ".join(f"{check.label} ({check.action})" for check in checks)
        for stage, checks in (
            ("input", compiled.guardrails.input),
            ("output", compiled.guardrails.output),
        )
        if checks
    ]
    return "; ".join(stages) or None


@app.command()
def push(
    bundle_path: BundlePath,
    reason: Annotated[
        str | None, typer.Option(help="Why, for the audit trail (default: a description).")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Register even if the model is already shut down (needs --reason)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a bundle; identical content returns the existing version.

    Warns when the pinned model retires soon; a model already shut down is refused
    (exit 1) unless forced with a reason, which is audited.
    """
    if force and not (reason and reason.strip()):
        fail("--force needs --reason: a forced registration is audited")
    compiled = _compile(bundle_path)
    with AdminClient() as api:
        answer = api.post(
            "/admin/bundles",
            compiled.spec.canonical_dict(),
            params={"reason": reason, "force": "true" if force else None},
        )
    for message in answer.get("warnings", []):
        warn(message)
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
