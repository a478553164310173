"""OpenAI-compatible routes. Thin: parse, call the pipeline, return."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from app.context import AppContext, get_context
from app.errors import BadRequestError
from app.gateway.chat import ChatPipeline
from app.gateway.embeddings import handle_embeddings
from app.gateway.messages import anthropic_errors, handle_count_tokens, handle_messages
from app.governance.caller import visible as key_may_see
from app.governance.credential_kinds import CLIENT_KEY
from app.outcomes.feedback import Caller, parse_feedback
from app.providers.client import ProviderClient
from app.rollouts.assignment import subject_of

router = APIRouter(prefix="/v1", tags=["data plane"])


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object")
    request.state.model = body.get("model")  # what caller_environment checks the key against
    return body


def caller_environment(request: Request, ctx: AppContext) -> str:
    """The caller's environment, fixed by its API key; call it after ``read_json``.

    A key comes as ``Authorization: Bearer`` (OpenAI SDKs) or ``x-api-key``
    (Anthropic SDKs). It must be valid, allowed the body's ``model`` and within
    its rate limit (401/403/429 otherwise, audited). With no key ever created
    (local mode) the environment is ``PINYARD_ENVIRONMENT`` and keys are ignored.
    """
    model = getattr(request.state, "model", None)
    return ctx.governance.callers.environment(request, ctx.snapshots.current.keys, model)


@router.post("/chat/completions")
async def chat_completions(request: Request) -> Response:
    """OpenAI Chat Completions, resolved through the caller's environment to a bundle.

    The hot path: ``PinyardApp`` (``app.gateway.front_door``) calls this before
    FastAPI's middleware stack and router; the route is listed here for the
    OpenAPI document and for requests the front door does not take.
    """
    ctx: AppContext = request.app.state.ctx
    body = await read_json(request)
    environment = caller_environment(request, ctx)
    subject = subject_of(body, request.headers)  # sticky rollout arm
    return await ChatPipeline(ctx).handle(body, environment, subject=subject)


@router.post("/messages")
@anthropic_errors
async def messages(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    """Anthropic Messages API ingress: same pipeline, Anthropic wire shapes and errors."""
    body = await read_json(request)
    environment = caller_environment(request, ctx)
    return await handle_messages(ctx, body, environment, request.headers)


@router.post("/messages/count_tokens")
@anthropic_errors
async def count_message_tokens(
    request: Request, ctx: AppContext = Depends(get_context)
) -> Response:
    body = await read_json(request)
    environment = caller_environment(request, ctx)
    return await handle_count_tokens(ctx, body, environment, request.headers)


@router.post("/embeddings")
async def embeddings(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    body = await read_json(request)
    return await handle_embeddings(ctx, body, caller_environment(request, ctx))


@router.post("/feedback", status_code=201)
async def feedback(request: Request, ctx: AppContext = Depends(get_context)) -> JSONResponse:
    """Scores on answers: ``{request_id, metric, value, comment?}`` or ``{"items": [...]}``.

    The key must belong to the environment of each request it scores (and may
    call its alias); 201 ``{"id"}`` (``{"ids"}`` for a batch), all or nothing.
    """
    body = await read_json(request)
    environment = caller_environment(request, ctx)
    items, batch = parse_feedback(body)
    key = getattr(request.state, "api_key", None)
    caller = Caller(
        environment,
        key.aliases if key is not None else None,
        CLIENT_KEY.actor(key.name) if key is not None else "local",
    )
    ids = await ctx.outcomes.feedback.submit(items, caller)
    return JSONResponse({"ids": ids} if batch else {"id": ids[0]}, status_code=201)


@router.get("/models")
async def list_models(request: Request, ctx: AppContext = Depends(get_context)) -> dict[str, Any]:
    environment = caller_environment(request, ctx)
    data = []
    for alias, bundle in ctx.snapshots.current.aliases_in(environment):
        if not key_may_see(request, alias):
            continue
        spec = bundle.compiled.spec
        fake = ProviderClient.is_fake(spec.model)
        data.append(
            {
                "id": alias,
                "object": "model",
                "created": bundle.created,
                "owned_by": "pinyard-fake" if fake else "pinyard",
                "pinyard": {
                    "environment": environment,
                    "bundle": bundle.label,
                    "digest": bundle.digest,
                    "kind": spec.kind,
                    "provider_model": spec.model,
                    "fake": fake,
                    "allow_floating": spec.allow_floating,
                    "floating": bundle.compiled.floating,
                },
            }
        )
    return {"object": "list", "data": data}
