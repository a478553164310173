"""Fallback chains: when a primary still fails after its retries, try the next.

This wraps the provider client, not the handlers: the gateway hands over an
ordered list of candidates (the bundle, then its ``fallbacks``), each able to
prepare its own call (its own prompt, model and params; preparing may be async,
e.g. guardrails and retrieval). Only provider-side failures fall through; a
client's mistake on the primary is answered as is.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from app.errors import (
    BadRequestError,
    GatewayTimeoutError,
    GuardrailBlocked,
    PinyardError,
    ProviderError,
    RateLimitError,
    RetrievalFailed,
    ServiceUnavailableError,
)
from app.providers.client import ProviderClient
from app.providers.interface import Attempt, ProviderCall

log = logging.getLogger("pinyard.fallback")

FALLBACK_ON = (ProviderError, RateLimitError, GatewayTimeoutError, ServiceUnavailableError)


class Planned(Protocol):
    @property
    def call(self) -> ProviderCall: ...


K = TypeVar("K")
P = TypeVar("P", bound=Planned)


@dataclass(frozen=True, slots=True)
class Candidate(Generic[K, P]):
    key: K
    prepare: Callable[[], P | Awaitable[P]]


@dataclass(frozen=True, slots=True)
class Served(Generic[K, P]):
    index: int  # 0 = the primary
    key: K
    planned: P


async def complete_with_fallbacks(
    client: ProviderClient, candidates: Sequence[Candidate[K, P]], attempts: list[Attempt]
) -> tuple[Served[K, P], dict[str, Any]]:
    first_error: PinyardError | None = None
    for index, candidate in enumerate(candidates):
        planned = await _prepare(candidate, index, attempts)
        if planned is None:
            continue
        try:
            response = await client.complete(planned.call, attempts)
        except FALLBACK_ON as exc:
            first_error = first_error or exc
            _note_failure(index, len(candidates), exc)
            continue
        return Served(index, candidate.key, planned), response
    assert first_error is not None
    raise first_error


async def stream_with_fallbacks(
    client: ProviderClient, candidates: Sequence[Candidate[K, P]], attempts: list[Attempt]
) -> tuple[Served[K, P], AsyncIterator[dict[str, Any]]]:
    """Fall back only until the first chunk: after that the client has the answer's start."""
    first_error: PinyardError | None = None
    for index, candidate in enumerate(candidates):
        planned = await _prepare(candidate, index, attempts)
        if planned is None:
            continue
        try:
            stream = await client.open_stream(planned.call, attempts)
        except FALLBACK_ON as exc:
            first_error = first_error or exc
            _note_failure(index, len(candidates), exc)
            continue
        return Served(index, candidate.key, planned), stream
    assert first_error is not None
    raise first_error


async def _prepare(candidate: Candidate[K, P], index: int, attempts: list[Attempt]) -> P | None:
    if index == 0:
        return await _planned(candidate)  # the primary's errors are the client's to see
    try:
        return await _planned(candidate)
    except (BadRequestError, GuardrailBlocked, RetrievalFailed) as exc:
        # A fallback that cannot take this request (other variables, its own guardrails
        # or retriever) is skipped.
        log.warning("fallback %d skipped: %s", index, exc.message)
        return None


async def _planned(candidate: Candidate[K, P]) -> P:
    planned = candidate.prepare()
    return await planned if inspect.isawaitable(planned) else planned


def _note_failure(index: int, total: int, exc: PinyardError) -> None:
    if index + 1 < total:
        log.warning("candidate %d failed (%s); trying the next fallback", index, exc.message)
