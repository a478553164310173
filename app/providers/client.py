"""``ProviderClient``: the one object the request pipeline calls to reach a model.

It routes ``fake/`` models to the offline ``FakeProvider``, ``openai/`` models
(and providers-file ``openai_compatible`` ones) to ``OpenAIDirectProvider``, a
pooled HTTP client that skips litellm's per-call cost (or to litellm with
``PINYARD_OPENAI_TRANSPORT=litellm``), everything else to litellm, and applies
the retry policy. For streams, retries apply only
until the first chunk has arrived: after that the client has seen output, so
a later failure surfaces from the iterator as a ``PinyardError``.

litellm is imported on first use (about 1.7 s); call ``warm_up()`` at
start-up, off the event loop, to pay that before the first real request when
bundles pin models that only litellm serves. ``aclose()`` releases the pooled
connections at shutdown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.errors import ProviderError
from app.providers.fake import FAKE_PREFIX, FakeProvider
from app.providers.interface import Attempt, EmbeddingCall, Provider, ProviderCall
from app.providers.openai_direct import OpenAIDirectProvider
from app.providers.pricing import PriceBook
from app.providers.providers_file import ProviderEndpoint, load_providers_file
from app.providers.retry import RetryPolicy, call_with_retry

if TYPE_CHECKING:
    from app.settings import Settings

T = TypeVar("T")
Chunk = dict[str, Any]


class ProviderClient:
    def __init__(
        self,
        max_attempts: int = 3,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 8.0,
        providers_file: Path | None = None,
        *,
        openai_transport: str = "direct",
        upstream: Provider | None = None,
        prices_file: Path | None = None,
    ) -> None:
        """``upstream`` replaces every non-fake provider (for tests of the pipeline)."""
        self.policy = RetryPolicy(
            max_attempts=max_attempts,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
        )
        # Parsed now so a broken providers file fails start-up, not a request.
        self._endpoints: Mapping[str, ProviderEndpoint] = (
            load_providers_file(providers_file) if providers_file else {}
        )
        self._fake = FakeProvider()
        # What each answer cost; a broken prices file fails start-up too.
        self.prices = PriceBook.load(prices_file)
        self._upstream = upstream
        self._litellm_provider: Provider | None = None
        self._direct = (
            OpenAIDirectProvider(self._endpoints) if openai_transport == "direct" else None
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderClient:
        return cls(
            max_attempts=settings.provider_max_attempts,
            backoff_base_s=settings.provider_backoff_base_s,
            backoff_max_s=settings.provider_backoff_max_s,
            providers_file=settings.providers_file,
            openai_transport=settings.openai_transport,
            prices_file=settings.prices_file,
        )

    @staticmethod
    def is_fake(model: str) -> bool:
        return model.startswith(FAKE_PREFIX)

    def warm_up(self) -> None:
        """Import litellm now (blocks ~1.7 s): ``await asyncio.to_thread(client.warm_up)``."""
        self._litellm()

    def provider_for(self, model: str) -> Provider:
        if self.is_fake(model):
            return self._fake
        if self._upstream is not None:
            return self._upstream
        if self._direct is not None and self._direct.serves(model):
            return self._direct
        return self._litellm()

    async def aclose(self) -> None:
        """Close pooled upstream connections (the app's shutdown calls this)."""
        if self._direct is not None:
            await self._direct.aclose()

    async def complete(self, call: ProviderCall, attempts: list[Attempt]) -> dict[str, Any]:
        """An OpenAI ``chat.completion`` dict; every try is appended to ``attempts``."""
        provider = self.provider_for(call.model)

        def attempt(timeout_s: float) -> Awaitable[dict[str, Any]]:
            return provider.complete(dataclasses.replace(call, timeout_s=timeout_s))

        return await self._retry(attempt, call.model, call.timeout_s, attempts)

    async def open_stream(
        self, call: ProviderCall, attempts: list[Attempt]
    ) -> AsyncIterator[Chunk]:
        """Wait (with retries) for the first chunk, then return an iterator over all chunks.

        Close the returned iterator (``aclose()``) if you stop early, e.g. when
        the client disconnects, so the upstream connection is released.
        """
        provider = self.provider_for(call.model)

        async def first_chunk(timeout_s: float) -> tuple[Chunk, AsyncIterator[Chunk]]:
            stream = provider.stream(dataclasses.replace(call, timeout_s=timeout_s))
            try:
                chunk = await anext(stream, None)
            except BaseException:
                await _close(stream)
                raise
            if chunk is None:
                await _close(stream)
                err = ProviderError("the upstream stream ended before its first chunk")
                err.retryable = True
                raise err
            return chunk, stream

        first, rest = await self._retry(first_chunk, call.model, call.timeout_s, attempts)
        return _chain(first, rest)

    async def embed(self, call: EmbeddingCall, attempts: list[Attempt]) -> dict[str, Any]:
        """An OpenAI embeddings ``list`` dict; every try is appended to ``attempts``."""
        provider = self.provider_for(call.model)

        def attempt(timeout_s: float) -> Awaitable[dict[str, Any]]:
            return provider.embed(dataclasses.replace(call, timeout_s=timeout_s))

        return await self._retry(attempt, call.model, call.timeout_s, attempts)

    async def _retry(
        self,
        attempt_fn: Callable[[float], Awaitable[T]],
        model: str,
        timeout_s: float,
        attempts: list[Attempt],
    ) -> T:
        return await call_with_retry(
            attempt_fn, model=model, timeout_s=timeout_s, policy=self.policy, attempts=attempts
        )

    def _litellm(self) -> Provider:
        if self._litellm_provider is None:
            from app.providers.litellm_provider import LiteLLMProvider

            self._litellm_provider = LiteLLMProvider(self._endpoints)
        return self._litellm_provider


async def _chain(first: Chunk, rest: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await _close(rest)


async def _close(stream: AsyncIterator[Chunk]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
