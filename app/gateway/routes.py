"""OpenAI-compatible routes. Thin: parse, call the pipeline, return."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from app.context import AppContext, get_context
from app.errors import BadRequestError
from app.gateway.chat import ChatPipeline
from app.gateway.embeddings import handle_embeddings
from app.providers.client import ProviderClient

router = APIRouter(prefix="/v1", tags=["data plane"])


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object")
    return body


def caller_environment(request: Request, ctx: AppContext) -> str:
    """Local mode: the gateway's own environment. API keys (later) fix it per key."""
    return ctx.settings.environment


@router.post("/chat/completions")
async def chat_completions(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    body = await read_json(request)
    return await ChatPipeline(ctx).handle(body, caller_environment(request, ctx))


@router.post("/embeddings")
async def embeddings(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    body = await read_json(request)
    return await handle_embeddings(ctx, body, caller_environment(request, ctx))


@router.get("/models")
async def list_models(request: Request, ctx: AppContext = Depends(get_context)) -> dict[str, Any]:
    environment = caller_environment(request, ctx)
    data = []
    for alias, bundle in ctx.snapshots.current.aliases_in(environment):
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
