"""The optional alert webhook (``PINYARD_ALERT_WEBHOOK_URL``): retried, idempotent.

Each event is POSTed as JSON with an ``Idempotency-Key`` header that is fixed
per (environment, alias, model, threshold), so a receiver can drop a repeat
after an ambiguous failure. Timeouts, connection errors, 408, 429 and 5xx are
retried with exponential backoff (tenacity); other 4xx are not. The URL may
carry a token (chat webhooks do), so it is never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

RETRYABLE_STATUS = frozenset({408, 425, 429})


class _Retryable(Exception):
    """A failure worth another attempt (message safe to log: no URL)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    attempts: int
    error: str | None = None


class AlertWebhook:
    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 5,
        backoff_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        self._url = url
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    def __repr__(self) -> str:  # never show the URL
        return f"AlertWebhook(max_attempts={self.max_attempts})"

    async def send(self, event: dict[str, Any], idempotency_key: str) -> Delivery:
        headers = {
            "content-type": "application/json",
            "idempotency-key": idempotency_key,
            "user-agent": "pinyard-deprecation-radar",
        }
        body = orjson.dumps(event)
        attempts = 0
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=max(self.backoff_s * 32, 0)),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        response = await self._post(client, body, headers)
                        status = response.status_code
                        if status in RETRYABLE_STATUS or status >= 500:
                            raise _Retryable(f"HTTP {status}")
                        if not response.is_success:
                            return Delivery(False, attempts, f"HTTP {status} (not retried)")
            except _Retryable as exc:
                return Delivery(False, attempts, f"{exc} after {attempts} attempts")
        return Delivery(True, attempts)

    async def _post(
        self, client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        try:
            return await client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise _Retryable(type(exc).__name__) from None
