"""``PinyardApp``: FastAPI, with the chat route answered before Starlette's middleware stack.

Every request through FastAPI passes its middleware stack (server errors,
exception handlers, the body limit, the async exit stack, telemetry) and the
router before reaching a handler, and every ``send`` of the answer passes
back through their wrappers. On the benchmark machine that cost ~120 µs of
CPU per JSON answer and ~200 µs per stream, a fifth of the gateway's work
(docs/performance.md). ``POST /v1/chat/completions`` needs none of it, so it
is served straight from the ASGI scope; its failures still go through the
exception handlers registered on the app. Every other request, including a
wrong method on the chat path, takes the usual way.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from app.errors import PinyardError

log = logging.getLogger("pinyard")

CHAT_PATH = "/v1/chat/completions"
Handler = Callable[[Request], Awaitable[Response]]


class PinyardApp(FastAPI):
    def __init__(self, *, chat: Handler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._chat = chat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in (CHAT_PATH, scope.get("root_path", "") + CHAT_PATH)
        ):
            scope["app"] = self
            request = Request(scope, receive)
            try:
                response = await self._chat(request)
            except Exception as exc:  # noqa: BLE001  # the ASGI boundary: every failure answers
                response = await self._handle(request, exc)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _handle(self, request: Request, exc: Exception) -> Response:
        """What the app's exception handlers make of ``exc`` (the closest class wins)."""
        if not isinstance(exc, PinyardError):
            log.error("unhandled error on %s", request.url.path, exc_info=exc)
        for cls in type(exc).__mro__:
            handler = self.exception_handlers.get(cls)
            if handler is not None:
                response = handler(request, exc)
                return await response if inspect.isawaitable(response) else response
        raise exc
