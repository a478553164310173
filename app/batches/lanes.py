"""Provider lanes: how many batch lines may be in flight on one provider, and when.

Every batch this process runs shares one lane per provider (the pinned model's
prefix: ``openai``, ``anthropic``, ``fake``...), so two big batches cannot
together flood a provider. When a line still ends in a 429 after the bundle's
own retries, the lane closes for the provider's ``Retry-After`` (or an
exponential wait): no line of any batch starts on it until then, and the line
is tried again rather than failed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Without a Retry-After: 1 s, doubled per consecutive 429 up to a minute.
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


class Lane:
    def __init__(self, concurrency: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._open_at = 0.0  # time.monotonic() when lines may start again
        self._strikes = 0
        self.in_flight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for the lane to be open and a slot to be free; hold it while the line runs."""
        async with self._slots:
            while (wait := self._open_at - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1

    def rate_limited(self, retry_after: float | None) -> float:
        """Close the lane after a 429; the wait chosen, in seconds."""
        self._strikes += 1
        wait = (
            retry_after
            if retry_after is not None
            else min(FIRST_BACKOFF_S * 2 ** (self._strikes - 1), MAX_BACKOFF_S)
        )
        self._open_at = max(self._open_at, time.monotonic() + wait)
        return wait

    def answered(self) -> None:
        self._strikes = 0


class ProviderLanes:
    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._lanes: dict[str, Lane] = {}

    def for_model(self, model: str) -> Lane:
        provider = model.split("/", 1)[0] if "/" in model else model
        lane = self._lanes.get(provider)
        if lane is None:
            lane = self._lanes[provider] = Lane(self.concurrency)
        return lane
