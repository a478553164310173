"""Before the upstream call: input guardrails, then retrieval, then the plan.

Input guardrails judge what the client controls (its messages and the strings
in its ``variables``), not the bundle's own prompt or retrieved passages: those
are reviewed, versioned content of the bundle. They run first, so a blocked
request costs no retrieval and a redacted one never reaches the retriever or
the model. Each fallback bundle prepares its own call: its own guardrails,
retrieval and prompt.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial
from typing import Any

import httpx

from app.gateway.plan import ChatPlan, plan_chat, read_variables
from app.guardrails.apply import run_input
from app.guardrails.check import Outcome
from app.registry.compiled import CompiledBundle
from app.retrieval.run import retrieve_for


async def prepare_chat(
    bundle: CompiledBundle,
    body: dict[str, Any],
    *,
    stream: bool,
    http: httpx.AsyncClient,
    outcomes: list[Outcome],
) -> ChatPlan:
    """The plan for ``bundle``; guardrail outcomes are appended to ``outcomes`` as they run."""
    original = list(body["messages"])
    messages, variables = original, read_variables(body)
    guardrails = bundle.guardrails
    if guardrails.input:
        run = partial(run_input, guardrails, messages, variables, outcomes)
        # A token count may load a tokenizer (and litellm) the first time: not on the loop.
        messages, variables = await asyncio.to_thread(run) if guardrails.counts_tokens else run()
    retrieval = await retrieve_for(bundle, messages, variables, http)
    retrieved = [p.as_dict() for p in retrieval.passages] if retrieval else []
    plan = plan_chat(
        bundle, body, stream=stream, messages=messages, variables=variables, retrieved=retrieved
    )
    rewritten = messages != original or variables != read_variables(body)
    guarded = {**body, "messages": messages, "variables": variables} if rewritten else None
    return replace(plan, retrieval=retrieval, guarded_body=guarded)
