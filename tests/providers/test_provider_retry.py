"""The retry policy: what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from app.errors import (
    BadRequestError,
    GatewayTimeoutError,
    PinyardError,
    ProviderError,
    RateLimitError,
)
from app.providers.interface import Attempt
from app.providers.retry import RetryPolicy, call_with_retry
from app.providers.upstream_errors import error_for_status

FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.0, backoff_max_s=0.0)


def script(*outcomes: PinyardError | str) -> tuple[Callable[[float], Awaitable[str]], list[float]]:
    """An attempt function failing or answering in order; records each attempt's timeout."""
    queue = list(outcomes)
    timeouts: list[float] = []

    async def attempt(timeout_s: float) -> str:
        timeouts.append(timeout_s)
        outcome = queue.pop(0)
        if isinstance(outcome, PinyardError):
            raise outcome
        return outcome

    return attempt, timeouts


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def test_retryable_failures_then_success() -> None:
    attempts: list[Attempt] = []
    fn, timeouts = script(error_for_status(503, "a"), error_for_status(503, "b"), "ok")
    result = await call_with_retry(fn, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    assert result == "ok"
    assert [(a.ok, a.status) for a in attempts] == [(False, 503), (False, 503), (True, 200)]
    assert attempts[0].error is not None and attempts[0].error.startswith("provider_error:")
    assert all(a.model == "m" and a.latency_ms >= 0 for a in attempts)
    assert timeouts[0] <= 5 and timeouts == sorted(timeouts, reverse=True)


async def test_non_retryable_is_raised_at_once() -> None:
    attempts: list[Attempt] = []
    fn, _ = script(error_for_status(400, "bad"), "never")
    with pytest.raises(BadRequestError):
        await call_with_retry(fn, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    assert len(attempts) == 1
    fn, _ = script(error_for_status(401, "no"), "never")
    with pytest.raises(ProviderError):
        await call_with_retry(fn, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    assert len(attempts) == 2


async def test_exhausted_rate_limit_stays_a_rate_limit() -> None:
    attempts: list[Attempt] = []
    fn, _ = script(*(error_for_status(429, "slow", retry_after=0.01) for _ in range(3)))
    with pytest.raises(RateLimitError) as info:
        await call_with_retry(fn, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    assert info.value.retry_after == 0.01
    assert [a.status for a in attempts] == [429, 429, 429]


async def test_waits_honour_retry_after_capped_else_jittered_backoff() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(
        max_attempts=4, backoff_base_s=0.5, backoff_max_s=1.0, retry_after_max_s=2.0
    )
    fn, _ = script(
        error_for_status(429, "a", retry_after=1.5),
        error_for_status(429, "b", retry_after=60),
        error_for_status(500, "c"),
        "ok",
    )
    await call_with_retry(fn, model="m", timeout_s=30, policy=policy, attempts=[], sleep=sleeps)
    assert sleeps.waits[:2] == [1.5, 2.0]
    assert 0 <= sleeps.waits[2] <= 1.0


async def test_no_retry_whose_wait_passes_the_deadline() -> None:
    attempts: list[Attempt] = []
    sleeps = Sleeps()
    fn, _ = script(error_for_status(429, "later", retry_after=5), "never")
    with pytest.raises(RateLimitError):
        await call_with_retry(
            fn, model="m", timeout_s=1, policy=FAST, attempts=attempts, sleep=sleeps
        )
    assert len(attempts) == 1
    assert sleeps.waits == []


async def test_deadline_expiring_during_an_attempt() -> None:
    attempts: list[Attempt] = []

    async def hang(timeout_s: float) -> str:
        await asyncio.sleep(10)
        return "late"

    started = time.perf_counter()
    with pytest.raises(GatewayTimeoutError):
        await call_with_retry(hang, model="m", timeout_s=0.1, policy=FAST, attempts=attempts)
    assert time.perf_counter() - started < 1
    assert len(attempts) == 1
    assert attempts[0].status == 504
    assert not attempts[0].ok


async def test_upstream_timeouts_are_retried_while_time_remains() -> None:
    timeout = GatewayTimeoutError("upstream timed out")
    timeout.retryable = True
    attempts: list[Attempt] = []
    fn, _ = script(timeout, "ok")
    assert await call_with_retry(fn, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    assert len(attempts) == 2


async def test_cancellation_is_recorded_and_propagates() -> None:
    attempts: list[Attempt] = []

    async def hang(timeout_s: float) -> str:
        await asyncio.sleep(10)
        return "late"

    task = asyncio.create_task(
        call_with_retry(hang, model="m", timeout_s=5, policy=FAST, attempts=attempts)
    )
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempts[0].error == "CancelledError"
