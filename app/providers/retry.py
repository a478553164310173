"""Retries for provider calls, bounded by attempts and by one overall deadline.

Only failures marked ``retryable`` (429, 408, 409, 5xx, connection errors,
upstream timeouts) are tried again. The wait is the upstream's Retry-After
when it gave one (capped), else exponential backoff with full jitter. The
deadline (the call's ``timeout_s``, from the first attempt) bounds everything:
each attempt may use only what remains of it, and no retry is started when
its wait would end too close to the deadline.

Outcomes: the first success; else, when attempts run out or the next wait
would not fit before the deadline, the last error unchanged (a 429 stays a
``RateLimitError`` with ``retry_after``, so the client can back off); a
``GatewayTimeoutError`` when the deadline itself expires during an attempt.
Every attempt is appended to the caller's ``attempts`` list for the record.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from app.errors import GatewayTimeoutError, PinyardError, RateLimitError
from app.providers.interface import Attempt, start_attempt

T = TypeVar("T")

# No retry starts unless at least this much of the deadline would remain for it.
MIN_ATTEMPT_S = 0.05
_MAX_ERROR_TEXT = 500


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base_s: float = 0.25
    backoff_max_s: float = 8.0
    # Upper bound on honouring an upstream Retry-After.
    retry_after_max_s: float = 30.0


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, PinyardError) and exc.retryable


async def call_with_retry(
    attempt_fn: Callable[[float], Awaitable[T]],
    *,
    model: str,
    timeout_s: float,
    policy: RetryPolicy,
    attempts: list[Attempt],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``attempt_fn(remaining_timeout_s)`` under ``policy`` within ``timeout_s``.

    The first attempt runs bare: tenacity's machinery costs ~30 µs a call, and
    nearly every call succeeds at once. Only a retryable failure starts it,
    replaying that failure as its first attempt so waits and stops are counted
    exactly as if tenacity had run from the start.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        return await _attempt(attempt_fn, model, deadline, timeout_s, attempts)
    except PinyardError as err:
        if not is_retryable(err) or policy.max_attempts <= 1:
            raise
        first_failure: PinyardError | None = err
    backoff = wait_random_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            return min(exc.retry_after, policy.retry_after_max_s)
        return float(backoff(state))

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.max_attempts:
            return True
        return loop.time() + state.upcoming_sleep + MIN_ATTEMPT_S > deadline

    retrying = AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(is_retryable),
        reraise=True,
        sleep=sleep,
    )
    async for attempt in retrying:
        with attempt:
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return await _attempt(attempt_fn, model, deadline, timeout_s, attempts)
    raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover


async def _attempt(
    attempt_fn: Callable[[float], Awaitable[T]],
    model: str,
    deadline: float,
    timeout_s: float,
    attempts: list[Attempt],
) -> T:
    loop = asyncio.get_running_loop()
    remaining = deadline - loop.time()
    if remaining <= 0:
        raise _deadline_error(model, timeout_s)
    record = start_attempt(model)
    attempts.append(record)
    started = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            result = await attempt_fn(remaining)
    except TimeoutError:
        err = _deadline_error(model, timeout_s)
        _record_failure(record, err, started)
        raise err from None
    except PinyardError as err:
        _record_failure(record, err, started)
        raise
    except BaseException as exc:  # cancelled, or a bug: record it, never swallow it
        record.latency_ms = (time.perf_counter() - started) * 1000
        record.error = type(exc).__name__
        raise
    record.latency_ms = (time.perf_counter() - started) * 1000
    record.ok = True
    record.status = 200
    return result


def _deadline_error(model: str, timeout_s: float) -> GatewayTimeoutError:
    return GatewayTimeoutError(f"no answer from {model} within the {timeout_s:g}s deadline")


def _record_failure(record: Attempt, err: PinyardError, started: float) -> None:
    record.latency_ms = (time.perf_counter() - started) * 1000
    record.error = f"{err.code}: {err.message}"[:_MAX_ERROR_TEXT]
    record.status = err.upstream_status if err.upstream_status is not None else err.status_code
