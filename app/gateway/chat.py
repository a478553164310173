"""The chat-completions pipeline: resolve, plan, call (with fallbacks), answer, record.

Planning a candidate runs its bundle's input guardrails and retrieval
(``app.gateway.prepare``); the answer then goes through the served bundle's
output guardrails (a streamed one is held and checked first, see
``app.guardrails.stream``). During a rollout's shadow step a sampled request's
answer passes through the shadow wrapper (``app.rollouts.shadow_tap``), which
hands it on untouched and replays the request on the candidate afterwards.

Nothing here reads the database: resolution uses the in-memory snapshot and the
record goes to the asynchronous writer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from fastapi import Response
from fastapi.responses import StreamingResponse

from app.context import AppContext
from app.errors import BadRequestError, PinyardError
from app.gateway.lineage import Lineage, finish, input_digest, new_request_id
from app.gateway.plan import ChatPlan
from app.gateway.prepare import prepare_chat
from app.gateway.request_shapes import BodyLimits, check_chat_request
from app.gateway.resolve import ROUTE_BATCH, ROUTE_FALLBACK, Resolution, resolve_model
from app.guardrails.apply import check_completion
from app.guardrails.stream import guarded_stream
from app.providers.fallback import Candidate, complete_with_fallbacks, stream_with_fallbacks
from app.registry.snapshot import ServedBundle

SSE_DONE = b"data: [DONE]\n\n"


def sse_event(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def check_chat_body(body: dict[str, Any], limits: BodyLimits) -> tuple[str, bool]:
    """The body's model and whether it streams, once its shape is known to be right."""
    check_chat_request(body, limits)
    return body["model"], bool(body.get("stream"))


@dataclass(slots=True)
class ChatResult:
    """The pipeline's answer before it is put on a wire, for other wire formats (/v1/messages).

    Exactly one of ``response`` and ``chunks`` is set. ``chunks`` yields OpenAI chunk
    dicts, keeps the lineage current and records the request when it ends (close it if
    you stop early); a failure after the first chunk is raised from it as a PinyardError.
    """

    lineage: Lineage
    response: dict[str, Any] | None = None
    chunks: AsyncGenerator[dict[str, Any], None] | None = None


class ChatPipeline:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def handle(
        self, body: dict[str, Any], environment: str, *, subject: str | None = None
    ) -> Response:
        """``subject`` (see ``app.rollouts.assignment``) keeps a caller on one rollout arm."""
        result = await self.run(body, environment, subject=subject)
        headers = result.lineage.headers()
        if result.chunks is not None:
            return StreamingResponse(
                _sse(result.chunks), media_type="text/event-stream", headers=headers
            )
        return Response(
            orjson.dumps(result.response), media_type="application/json", headers=headers
        )

    async def run(
        self,
        body: dict[str, Any],
        environment: str,
        *,
        endpoint: str = "chat.completions",
        subject: str | None = None,
        resolution: Resolution | None = None,
    ) -> ChatResult:
        """Resolve, plan and call; a failure before any output raises with lineage headers.

        A given ``resolution`` (a batch's line, pinned when the batch was created)
        is used as it is instead of resolving the body's model again.
        """
        lineage = Lineage(new_request_id(), environment, endpoint)
        try:
            model, stream = check_chat_body(body, self.ctx.settings)
            lineage.stream = stream
            if resolution is None:
                resolution = resolve_model(self.ctx.snapshots.current, environment, model, subject)
            lineage.alias, lineage.bundle, lineage.route = (
                resolution.alias,
                resolution.bundle,
                resolution.route,
            )
            lineage.rollout, lineage.arm = resolution.rollout, resolution.arm
            lineage.routed_digest = resolution.bundle.digest
            if resolution.bundle.compiled.spec.kind != "chat":
                raise BadRequestError(
                    f"{model!r} serves an embedding model; call /v1/embeddings", param="model"
                )
            lineage.input_digest = input_digest(body)
            if self.ctx.settings.log_payloads:
                lineage.request_body = body
            candidates = self._candidates(resolution, body, stream, lineage)
            shadow = self.ctx.rollouts.shadow.tap(resolution.rollout, lineage, body)
            if stream:
                opening = self._open_stream(lineage, candidates)
                chunks = await (opening if shadow is None else shadow.stream(opening))
                return ChatResult(lineage, chunks=self._tracked(lineage, chunks))
            answer = self._complete(lineage, candidates)
            response = await (answer if shadow is None else shadow.complete(answer))
        except PinyardError as exc:
            lineage.fail(exc)
            finish(self.ctx, lineage)
            exc.headers.update(lineage.headers())
            raise
        lineage.response_body = response
        finish(self.ctx, lineage)
        return ChatResult(lineage, response=response)

    def _candidates(
        self, resolution: Resolution, body: dict[str, Any], stream: bool, lineage: Lineage
    ) -> list[Candidate[ServedBundle, ChatPlan]]:
        snapshot = self.ctx.snapshots.current
        chain = [resolution.bundle]
        for ref in resolution.bundle.compiled.spec.fallbacks:
            fallback = snapshot.ref(ref)
            if fallback is not None and fallback.compiled.spec.kind == "chat":
                chain.append(fallback)
        return [
            Candidate(
                bundle,
                partial(
                    prepare_chat,
                    bundle.compiled,
                    body,
                    stream=stream,
                    http=self.ctx.retrieval_http,
                    outcomes=lineage.guardrails,
                ),
            )
            for bundle in chain
        ]

    @staticmethod
    def _served(lineage: Lineage, index: int, bundle: ServedBundle, planned: ChatPlan) -> None:
        lineage.bundle, lineage.fallback_index = bundle, index
        lineage.ignored = planned.ignored
        lineage.retrieval = planned.retrieval
        lineage.retrieval_error = planned.retrieval.error if planned.retrieval else None
        if planned.guarded_body is not None and lineage.request_body is not None:
            lineage.request_body, lineage.payload_guarded = planned.guarded_body, True
        if index > 0 and lineage.route != ROUTE_BATCH:
            lineage.route = ROUTE_FALLBACK

    async def _complete(
        self, lineage: Lineage, candidates: list[Candidate[ServedBundle, ChatPlan]]
    ) -> dict[str, Any]:
        """The provider step: the first candidate that answers, then its output guardrails."""
        served, response = await complete_with_fallbacks(
            self.ctx.providers, candidates, lineage.attempts
        )
        self._served(lineage, served.index, served.key, served.planned)
        lineage.usage = response.get("usage")
        return check_completion(served.key.compiled.guardrails, response, lineage.guardrails)

    async def _open_stream(
        self, lineage: Lineage, candidates: list[Candidate[ServedBundle, ChatPlan]]
    ) -> AsyncIterator[dict[str, Any]]:
        """The provider step, streamed: fallbacks until the first chunk, then output guardrails."""
        # Everything up to the first chunk can still fail with a proper status code.
        served, chunks = await stream_with_fallbacks(
            self.ctx.providers, candidates, lineage.attempts
        )
        self._served(lineage, served.index, served.key, served.planned)
        guardrails = served.key.compiled.guardrails
        if guardrails.output:
            chunks = guarded_stream(guardrails, chunks, lineage.guardrails)
        return chunks

    async def _tracked(
        self, lineage: Lineage, chunks: AsyncIterator[dict[str, Any]]
    ) -> AsyncGenerator[dict[str, Any], None]:
        collected: list[dict[str, Any]] | None = [] if self.ctx.settings.log_payloads else None
        try:
            async for chunk in chunks:
                lineage.mark_first_token()
                if chunk.get("usage"):
                    lineage.usage = chunk["usage"]
                if collected is not None:
                    collected.append(chunk)
                yield chunk
        except PinyardError as exc:
            lineage.fail(exc)
            raise
        except asyncio.CancelledError:
            lineage.status, lineage.error = 499, "client closed the stream"
            raise
        finally:
            lineage.response_body = collected
            finish(self.ctx, lineage)


async def _sse(chunks: AsyncGenerator[dict[str, Any], None]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chunks):
        try:
            async for chunk in chunks:
                yield sse_event(chunk)
            yield SSE_DONE
        except PinyardError as exc:
            # After the first byte the status is sent: end with an error event, never truncate.
            yield sse_event(exc.envelope())
