"""``/v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic Messages API.

A Messages request is translated into a chat-completions body and run through
``ChatPipeline`` unchanged, so an alias resolves to the same bundle, with the
same lineage headers and request record, whichever SDK calls. Only the wire
shapes differ: answers, stream events and errors are Anthropic's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, ParamSpec

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse, StreamingResponse

from app.context import AppContext
from app.errors import BadRequestError, PinyardError
from app.gateway import anthropic_wire as wire
from app.gateway.anthropic_stream import StreamTranslator, sse
from app.gateway.chat import ChatPipeline
from app.gateway.lineage import Lineage, finish, new_request_id
from app.gateway.plan import plan_chat
from app.gateway.resolve import resolve_model
from app.providers.token_count import count_tokens
from app.rollouts.assignment import subject_of

P = ParamSpec("P")


def anthropic_errors(
    handler: Callable[P, Awaitable[Response]],
) -> Callable[P, Awaitable[Response]]:
    """Render a route's ``PinyardError`` in Anthropic's envelope (same status and headers)."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return await handler(*args, **kwargs)
        except PinyardError as exc:
            headers = dict(exc.headers)
            if "x-pinyard-request-id" in headers:
                headers["request-id"] = headers["x-pinyard-request-id"]
            return JSONResponse(wire.error_body(exc), status_code=exc.status_code, headers=headers)

    return wrapper


async def handle_messages(
    ctx: AppContext, body: dict[str, Any], environment: str, headers: Mapping[str, str]
) -> Response:
    """``metadata.user_id`` becomes ``user``, so it is the rollout subject as on chat."""
    try:
        chat_body = wire.to_openai_request(body)
    except PinyardError as exc:
        _record_refusal(ctx, environment, exc)
        raise
    stops: list[str] = chat_body.get("stop") or []
    subject = subject_of(chat_body, headers)
    result = await ChatPipeline(ctx).run(
        chat_body, environment, endpoint="messages", subject=subject
    )
    lineage = result.lineage
    answer_headers = {**lineage.headers(), "request-id": lineage.request_id}
    translator = StreamTranslator(wire.message_id(lineage.request_id), stops)
    if result.chunks is not None:
        events = _events(result.chunks, translator)
        return StreamingResponse(events, media_type="text/event-stream", headers=answer_headers)
    assert result.response is not None
    try:
        message = wire.to_anthropic_message(
            result.response, message_id=translator.message_id, stops=stops
        )
    except PinyardError as exc:
        exc.headers.update(answer_headers)
        raise
    return Response(orjson.dumps(message), media_type="application/json", headers=answer_headers)


def _record_refusal(ctx: AppContext, environment: str, exc: PinyardError) -> None:
    """A request refused before it became a chat body is recorded like any failed request."""
    lineage = Lineage(new_request_id(), environment, "messages")
    lineage.fail(exc)
    finish(ctx, lineage)
    exc.headers.update(lineage.headers())


async def _events(
    chunks: AsyncGenerator[dict[str, Any], None], translator: StreamTranslator
) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(chunks):
        try:
            started = False
            async for chunk in chunks:
                if not started:
                    started = True
                    for event in translator.start(str(chunk.get("model") or "")):
                        yield sse(event)
                for event in translator.feed(chunk):
                    yield sse(event)
            for event in translator.finish():
                yield sse(event)
        except PinyardError as exc:
            # The status line is already sent: Anthropic's in-stream error event.
            yield sse(wire.error_body(exc))


async def handle_count_tokens(
    ctx: AppContext, body: dict[str, Any], environment: str, headers: Mapping[str, str]
) -> Response:
    """The input tokens the call would send: bundle prompt + client messages + tools.

    Retrieved passages are not counted: counting must not run the bundle's retrieval.
    """
    chat_body = wire.to_openai_request(body, count_only=True)
    subject = subject_of(chat_body, headers)  # the bundle this caller would get now
    resolution = resolve_model(ctx.snapshots.current, environment, chat_body["model"], subject)
    bundle = resolution.bundle
    if bundle.compiled.spec.kind != "chat":
        raise BadRequestError(f"{chat_body['model']!r} serves an embedding model", param="model")
    plan = plan_chat(bundle.compiled, chat_body, stream=False)
    lineage = Lineage(new_request_id(), environment, "messages.count_tokens")
    lineage.alias, lineage.bundle, lineage.route = resolution.alias, bundle, resolution.route
    call = plan.call
    tokens = await asyncio.to_thread(
        count_tokens, call.model, call.messages, call.params.get("tools")
    )
    return JSONResponse({"input_tokens": tokens}, headers=lineage.headers())
