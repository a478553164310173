"""``pinyard bundle successor NAME``: a candidate bundle pinned to the model's replacement.

The candidate is the registered bundle (latest version unless ``--version``)
with only its ``model`` changed, to the replacement the server's deprecation
catalog names (or ``--model``): same prompt, retrieval, guardrails, params and
schemas, templates inlined. It is written for review, evals and a rollout,
never registered: ``pinyard bundle push`` does that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text

from app.bundles.loader import parse_spec
from app.bundles.spec import BundleSpec
from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, console, fail, print_json, warn
from app.errors import BundleInvalid
from app.registry.compiled import compile_bundle


def _latest_version(api: AdminClient, name: str) -> int:
    rows = api.get("/admin/bundles", params={"name": name})["data"]
    if not rows:
        fail(f"no bundle named {name!r} is registered")
    return max(int(row["version"]) for row in rows)


def _catalog_entry(api: AdminClient, model: str) -> dict[str, Any] | None:
    data = api.get("/admin/deprecations/catalog", params={"model": model})["data"]
    return data[0] if data else None


class _ReadableDumper(yaml.SafeDumper):
    """Multi-line strings (templates) as ``|`` blocks, so the file reads like a bundle."""


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ReadableDumper.add_representer(str, _block_strings)


def _yaml(spec: dict[str, Any]) -> str:
    """The spec in BundleSpec's field order (name and model first), not sorted."""
    order = list(BundleSpec.model_fields)
    ordered = {key: spec[key] for key in order if key in spec}
    ordered.update({key: value for key, value in spec.items() if key not in ordered})
    return yaml.dump(ordered, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True)


def successor(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered bundle name.")],
    version: Annotated[
        int | None, typer.Option(min=1, help="Base version (default: the latest).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Pin to this model instead of the catalog's replacement."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write (default prompts/NAME-successor/bundle.yaml)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the file if it exists.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a candidate bundle pinned to the replacement of NAME's retiring model."""
    target = out or Path("prompts") / f"{name}-successor" / "bundle.yaml"
    if target.exists() and not overwrite:
        fail(f"{target} exists; pass --overwrite to replace it, or --out PATH")
    with AdminClient() as api:
        base_version = version or _latest_version(api, name)
        bundle = api.get(path("admin", "bundles", name, base_version))
        spec: dict[str, Any] = bundle["spec"]
        current = spec["model"]
        entry = _catalog_entry(api, current)
        replacement = model or (entry or {}).get("replacement")
        if not replacement:
            fail(
                f"the deprecation catalog names no replacement for {current}; "
                "pass --model MODEL (or add one in PINYARD_DEPRECATIONS_FILE)"
            )
        successor_entry = _catalog_entry(api, replacement)
    if replacement == current:
        fail(f"{name}@{base_version} already pins {current}")
    candidate = {
        **spec,
        "model": replacement,
        "metadata": {
            **spec.get("metadata", {}),
            "successor_of": f"{name}@{base_version}",
            "replaces_model": current,
        },
    }
    try:
        compiled = compile_bundle(parse_spec(candidate, source=str(target)))
    except BundleInvalid as exc:
        fail(f"the candidate would not register: {exc.message}")
    header = (
        f"# Candidate successor of {name}@{base_version}: {current} -> {replacement}.\n"
        "# Same prompt, retrieval and guardrails; evaluate it, push it, roll it out.\n"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(header + _yaml(candidate), encoding="utf-8")
    shutdown = (successor_entry or {}).get("shutdown_date")
    if shutdown:
        warn(f"the replacement {replacement} itself shuts down on {shutdown}")
    if as_json:
        print_json(
            {
                "path": str(target),
                "from": {"name": name, "version": base_version, "digest": bundle["digest"]},
                "previous_model": current,
                "model": replacement,
                "digest": compiled.digest,
            }
        )
        return
    console().print(
        Text(
            f"wrote {target}: {name}@{base_version} ({current}) -> {replacement}\n"
            f"next: pinyard bundle push {target}"
        )
    )
