"""Turn a client's chat request and a bundle into the upstream call.

The bundle's rendered prompt goes before the client's messages. Bundle params
always win; a tunable param the bundle does not list in ``client_params`` is
dropped and reported, so a client can never silently re-tune a pinned system.
A bundle's ``output_schema`` is sent as a ``json_schema`` response format when
the client asked for no format and the provider supports it. Planning itself
is pure; ``app.gateway.prepare`` runs input guardrails and retrieval first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.bundles.spec import TUNABLE_PARAMS
from app.errors import BadRequestError
from app.providers.capabilities import supports_response_schema
from app.providers.interface import EmbeddingCall, ProviderCall
from app.registry.compiled import CompiledBundle
from app.retrieval.passages import RetrievalResult

# Fields that describe the conversation or the wire protocol, not tuning.
PROTOCOL_FIELDS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "response_format", "stream_options"}
)
# Fields the gateway consumes itself.
GATEWAY_FIELDS = frozenset({"model", "messages", "stream", "variables"})
EMBEDDING_CLIENT_FIELDS = frozenset({"dimensions", "encoding_format", "user"})


@dataclass(frozen=True, slots=True)
class ChatPlan:
    call: ProviderCall
    ignored: tuple[str, ...]
    retrieval: RetrievalResult | None = None
    # The client's body as the input guardrails left it, when they rewrote it.
    guarded_body: dict[str, Any] | None = None


def read_variables(body: dict[str, Any]) -> dict[str, Any]:
    variables = body.get("variables")
    if variables is None:
        return {}
    if not isinstance(variables, dict):
        raise BadRequestError("'variables' must be a JSON object", param="variables")
    return variables


def plan_chat(
    bundle: CompiledBundle,
    body: dict[str, Any],
    *,
    stream: bool,
    messages: list[dict[str, Any]] | None = None,
    variables: dict[str, Any] | None = None,
    retrieved: Sequence[dict[str, Any]] = (),
) -> ChatPlan:
    """``messages`` and ``variables`` replace the body's (after input guardrails)."""
    spec = bundle.spec
    params: dict[str, Any] = {}
    ignored: list[str] = []
    allowed = set(spec.client_params)
    for key, value in body.items():
        if key in GATEWAY_FIELDS:
            continue
        if key in PROTOCOL_FIELDS:
            if key == "stream_options" and not stream:
                continue
            params[key] = value
        elif key in TUNABLE_PARAMS and key in allowed:
            params[key] = value
        else:
            ignored.append(key)
    params.update(spec.params)
    schema = spec.output_schema
    if (
        schema is not None
        and "response_format" not in params
        and supports_response_schema(spec.model)
    ):
        params["response_format"] = schema_response_format(spec.name, schema)
    variables = read_variables(body) if variables is None else variables
    client = list(body["messages"]) if messages is None else messages
    rendered = bundle.render(variables, retrieved=retrieved) + client
    call = ProviderCall(
        model=spec.model, messages=rendered, params=params, timeout_s=spec.timeout_s
    )
    return ChatPlan(call=call, ignored=tuple(sorted(ignored)))


def schema_response_format(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAI's ``json_schema`` format; its name allows only ``[A-Za-z0-9_-]{1,64}``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64], "schema": schema},
    }


def plan_embedding(
    bundle: CompiledBundle, body: dict[str, Any]
) -> tuple[EmbeddingCall, tuple[str, ...]]:
    spec = bundle.spec
    if "input" not in body:
        raise BadRequestError("'input' is required", param="input")
    params = {k: v for k, v in body.items() if k in EMBEDDING_CLIENT_FIELDS}
    ignored = sorted(k for k in body if k not in EMBEDDING_CLIENT_FIELDS | {"model", "input"})
    params.update(spec.params)
    call = EmbeddingCall(
        model=spec.model, input=body["input"], params=params, timeout_s=spec.timeout_s
    )
    return call, tuple(ignored)
