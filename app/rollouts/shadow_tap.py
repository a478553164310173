"""The shadow wrapper: a sampled request's answer, passed through untouched, then offered.

Shadow wraps the pipeline's provider step, as fallbacks do, instead of a hook in
the handlers: for a request of a rollout's shadow step that was sampled, the
gateway hands its answer (after fallbacks and output guardrails, so exactly what
the client gets) through ``complete`` or ``stream``. The tap neither changes
nor delays it; once the answer is complete (or has failed) it offers the pair's
primary side to the ``ShadowRunner``, which runs the candidate in the background.
A client that goes away (cancellation) offers nothing. The primary side says
whether a fallback answered it instead of the baseline itself: such a pair counts
as a baseline failure, not as a comparison (the candidate's shadow call never
falls back, see ``app.rollouts.shadow.call_candidate``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.errors import PinyardError
from app.registry.snapshot import ActiveRollout
from app.rollouts.compare import Answer, answer_text, usage_tokens

Chunk = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Primary:
    """What the client got: the request, its answer and how long it took."""

    request_id: str
    body: dict[str, Any]
    answer: Answer
    fallback: bool = False  # a fallback answered, not the baseline's own bundle


Offer = Callable[[ActiveRollout, Primary], bool]


class TappedRequest(Protocol):
    """The request being answered (``app.gateway.lineage.Lineage``)."""

    @property
    def request_id(self) -> str: ...

    @property
    def started(self) -> float:
        """Its ``time.perf_counter()`` start: the latency measured is the client's."""
        ...

    @property
    def fallback_index(self) -> int | None:
        """Which bundle of the chain answered, once one did (0: the resolved one)."""
        ...


class ShadowTap:
    __slots__ = ("_body", "_offer", "_request", "_rollout")

    def __init__(
        self, offer: Offer, rollout: ActiveRollout, request: TappedRequest, body: dict[str, Any]
    ) -> None:
        self._offer = offer
        self._rollout = rollout
        self._request = request
        self._body = body

    async def complete(self, answer: Awaitable[dict[str, Any]]) -> dict[str, Any]:
        try:
            response = await answer
        except PinyardError as exc:
            self._failed(exc, None)
            raise
        self._answered(response, response.get("usage"))
        return response

    async def stream(self, opening: Awaitable[AsyncIterator[Chunk]]) -> AsyncIterator[Chunk]:
        """``opening`` gives the chunks once the first one is due (fallbacks happen before)."""
        try:
            chunks = await opening
        except PinyardError as exc:
            self._failed(exc, None)
            raise
        return self._watched(chunks)

    async def _watched(self, chunks: AsyncIterator[Chunk]) -> AsyncGenerator[Chunk, None]:
        collected: list[Chunk] = []
        usage: dict[str, Any] | None = None
        try:
            async for chunk in chunks:
                if chunk.get("usage"):
                    usage = chunk["usage"]
                collected.append(chunk)
                yield chunk
        except PinyardError as exc:
            self._failed(exc, usage)
            raise
        except GeneratorExit:  # the reader stopped early: compare what it was sent
            self._answered(collected, usage)
            raise
        self._answered(collected, usage)

    def _answered(self, body: Any, usage: dict[str, Any] | None) -> None:
        answer = Answer(True, answer_text(body), self._elapsed_ms(), usage_tokens(usage))
        fallback = bool(self._request.fallback_index)
        self._offer(self._rollout, Primary(self._request.request_id, self._body, answer, fallback))

    def _failed(self, exc: PinyardError, usage: dict[str, Any] | None) -> None:
        error = f"{exc.code}: {exc.message}"
        answer = Answer(False, None, self._elapsed_ms(), usage_tokens(usage), error)
        self._offer(self._rollout, Primary(self._request.request_id, self._body, answer))

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self._request.started) * 1000
