"""The embeddings pipeline: aliases whose bundle pins an embedding model."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from app.context import AppContext
from app.errors import BadRequestError, PinyardError
from app.gateway.lineage import Lineage, finish, input_digest, new_request_id
from app.gateway.plan import plan_embedding
from app.gateway.request_shapes import check_embedding_request
from app.gateway.resolve import Resolution, resolve_model


async def handle_embeddings(ctx: AppContext, body: dict[str, Any], environment: str) -> Response:
    lineage, response = await run_embeddings(ctx, body, environment)
    return Response(
        orjson.dumps(response), media_type="application/json", headers=lineage.headers()
    )


async def run_embeddings(
    ctx: AppContext,
    body: dict[str, Any],
    environment: str,
    resolution: Resolution | None = None,
) -> tuple[Lineage, dict[str, Any]]:
    """Resolve (unless a batch pinned ``resolution``), call, record; errors carry lineage."""
    lineage = Lineage(new_request_id(), environment, "embeddings")
    try:
        check_embedding_request(body, ctx.settings)
        model = body["model"]
        if resolution is None:
            resolution = resolve_model(ctx.snapshots.current, environment, model)
        lineage.alias, lineage.bundle, lineage.route = (
            resolution.alias,
            resolution.bundle,
            resolution.route,
        )
        if resolution.bundle.compiled.spec.kind != "embedding":
            raise BadRequestError(
                f"{model!r} serves a chat model, not an embedding model", param="model"
            )
        lineage.input_digest = input_digest(body)
        call, lineage.ignored = plan_embedding(resolution.bundle.compiled, body)
        response = await ctx.providers.embed(call, lineage.attempts)
    except PinyardError as exc:
        lineage.fail(exc)
        finish(ctx, lineage)
        exc.headers.update(lineage.headers())
        raise
    lineage.usage = response.get("usage")
    finish(ctx, lineage)
    return lineage, response
