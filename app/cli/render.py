"""``pinyard bundle render``: the exact messages a bundle would send upstream.

For debugging a prompt without a server or a model: the bundle is loaded and
compiled as the gateway does, the input guardrails run on the given messages
and variables, retrieval runs (an ``http`` retriever is called for real), and
the messages the provider would receive are printed. Output guardrails need an
answer, so they do not run here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from app.bundles.loader import load_bundle_file
from app.cli.output import EXIT_GATE, JsonFlag, console, fail, print_json
from app.errors import BundleInvalid, GuardrailBlocked, PinyardError
from app.gateway.plan import ChatPlan
from app.gateway.prepare import prepare_chat
from app.guardrails.check import Outcome
from app.registry.compiled import CompiledBundle, compile_bundle


def render(
    bundle_path: Annotated[
        Path, typer.Argument(metavar="PATH", help="bundle.yaml, or the folder holding it.")
    ],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            metavar="NAME=VALUE",
            help="A template variable (NAME:=JSON for a number, list, ...); repeatable.",
        ),
    ] = None,
    message: Annotated[
        list[str] | None,
        typer.Option("--message", "-m", help="A user message; repeatable, in order."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the messages the bundle would send (retrieval run, input guardrails applied).

    Exit 1 when an input guardrail blocks the request, 2 on bad input.
    """
    try:
        compiled = compile_bundle(load_bundle_file(bundle_path))
    except BundleInvalid as exc:
        fail(exc.message)
    body = {
        "model": compiled.name,
        "messages": [{"role": "user", "content": text} for text in message or []],
        "variables": parse_variables(var or []),
    }
    outcomes: list[Outcome] = []
    try:
        plan = asyncio.run(_prepare(compiled, body, outcomes))
    except GuardrailBlocked as exc:
        _summary(None, outcomes)
        fail(exc.message, EXIT_GATE)
    except PinyardError as exc:
        fail(exc.message)
    if as_json:
        print_json(
            {
                "model": plan.call.model,
                "messages": plan.call.messages,
                "params": plan.call.params,
                "retrieved": plan.retrieval.sources() if plan.retrieval else None,
                "retrieval_error": plan.retrieval.error if plan.retrieval else None,
                "guardrails": [outcome.as_dict() for outcome in outcomes],
            }
        )
        return
    out = console()
    for i, sent in enumerate(plan.call.messages):
        if i:
            out.print()
        out.print(Text(f"--- {sent.get('role')} ---", style="bold"))
        content = sent.get("content")
        out.print(Text(content if isinstance(content, str) else json.dumps(content)))
    _summary(plan, outcomes)


def parse_variables(items: list[str]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--var {item!r} is not NAME=VALUE")
        if name.endswith(":"):
            name = name[:-1]
            try:
                variables[name] = json.loads(value)
            except json.JSONDecodeError as exc:
                fail(f"--var {name}:= needs JSON: {exc}")
        else:
            variables[name] = value
    return variables


async def _prepare(
    compiled: CompiledBundle, body: dict[str, Any], outcomes: list[Outcome]
) -> ChatPlan:
    async with httpx.AsyncClient() as http:
        return await prepare_chat(compiled, body, stream=False, http=http, outcomes=outcomes)


def _summary(plan: ChatPlan | None, outcomes: list[Outcome]) -> None:
    """What retrieval and the guardrails did, on stderr (stdout is the messages)."""
    err = console(stderr=True)
    retrieval = plan.retrieval if plan else None
    if retrieval is not None:
        found = ", ".join(f"{p.source} ({p.score:g})" for p in retrieval.passages) or "nothing"
        err.print(Text(f"retrieved ({retrieval.kind}): {found}", style="dim"))
        if retrieval.error:
            err.print(Text(f"retrieval failed (on_error: open): {retrieval.error}", style="yellow"))
    for outcome in outcomes:
        detail = f": {outcome.detail}" if outcome.detail else ""
        line = f"guardrail {outcome.stage}.{outcome.guardrail} {outcome.result}{detail}"
        err.print(Text(line, style="dim" if outcome.result == "passed" else "yellow"))
