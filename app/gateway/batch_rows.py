"""A batch line through the gateway's own pipelines, on the bundle pinned at creation.

Each line is a request like any other (guardrails, retrieval, the bundle's
retries and fallbacks, a request record, lineage headers), with route
``batch`` and its bundle fixed: the alias is not resolved again.
"""

from __future__ import annotations

from typing import Any

from app.batches.endpoints import BatchEndpoint, RowResult
from app.context import AppContext
from app.errors import PinyardError, RateLimitError
from app.gateway.chat import ChatPipeline, check_chat_body
from app.gateway.embeddings import run_embeddings
from app.gateway.request_shapes import check_embedding_request
from app.gateway.resolve import ROUTE_BATCH, Resolution
from app.registry.snapshot import ServedBundle

CHAT_URL = "/v1/chat/completions"
EMBEDDINGS_URL = "/v1/embeddings"


def failed(exc: PinyardError) -> RowResult:
    """A refused or failed line as its HTTP answer would have been (envelope and headers)."""
    return RowResult(
        status_code=exc.status_code,
        body=exc.envelope(),
        request_id=exc.headers.get("x-pinyard-request-id", ""),
        headers=dict(exc.headers),
        retry_after=exc.retry_after if isinstance(exc, RateLimitError) else None,
    )


class ChatLines:
    kind = "chat"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def check(self, body: dict[str, Any]) -> None:
        check_chat_body(body, self.ctx.settings)

    async def run(
        self, body: dict[str, Any], environment: str, alias: str, bundle: ServedBundle
    ) -> RowResult:
        pinned = Resolution(environment, alias, bundle, ROUTE_BATCH)
        try:
            result = await ChatPipeline(self.ctx).run(body, environment, resolution=pinned)
        except PinyardError as exc:
            return failed(exc)
        assert result.response is not None  # a batch line never streams
        lineage = result.lineage
        return RowResult(200, result.response, lineage.request_id, lineage.headers())


class EmbeddingLines:
    kind = "embedding"

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def check(self, body: dict[str, Any]) -> None:
        check_embedding_request(body, self.ctx.settings)

    async def run(
        self, body: dict[str, Any], environment: str, alias: str, bundle: ServedBundle
    ) -> RowResult:
        pinned = Resolution(environment, alias, bundle, ROUTE_BATCH)
        try:
            lineage, response = await run_embeddings(self.ctx, body, environment, pinned)
        except PinyardError as exc:
            return failed(exc)
        return RowResult(200, response, lineage.request_id, lineage.headers())


def batch_endpoints(ctx: AppContext) -> dict[str, BatchEndpoint]:
    """The URLs a batch's lines may call, each with its checks and its pipeline."""
    return {CHAT_URL: ChatLines(ctx), EMBEDDINGS_URL: EmbeddingLines(ctx)}
