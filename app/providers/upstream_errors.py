"""Upstream failures -> gateway errors, decided by the upstream HTTP status.

One table serves the litellm provider (after it unwraps litellm's exceptions)
and the fake provider's ``fake/error-<status>`` models, so both fail the same
way. The policy: the client's fault (400/413/422) is a ``BadRequestError`` the
client can fix; the gateway's own credentials or model pins (401/403/404) are a
``ProviderError`` the client cannot fix and retrying will not change; rate
limits, timeouts, conflicts and 5xx are worth another attempt.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from app.errors import (
    BadRequestError,
    GatewayTimeoutError,
    PinyardError,
    ProviderError,
    RateLimitError,
)

_CLIENT_ERRORS = frozenset({400, 413, 422})
_AUTH_ERRORS = frozenset({401, 403})
_MAX_MESSAGE = 1000
# litellm prefixes messages with class names: "litellm.BadRequestError: OpenAIException - ...".
_PREFIX = re.compile(r"^(?:[\w.]*(?:Error|Exception|Timeout)\s*(?::|\s-)\s*)+")


def error_for_status(
    status: int | None,
    message: str,
    *,
    retry_after: float | None = None,
    code: str | None = None,
    param: str | None = None,
) -> PinyardError:
    """The gateway error for an upstream failure with HTTP ``status`` (None: no response)."""
    err: PinyardError
    retryable = False
    if status == 429:
        err = RateLimitError(f"upstream rate limit: {message}", retry_after=retry_after)
        retryable = True
    elif status == 408:
        err = GatewayTimeoutError(f"upstream timed out: {message}")
        retryable = True
    elif status in _AUTH_ERRORS:
        # The upstream's text may echo part of the gateway's key: keep it out.
        err = ProviderError(
            f"the upstream provider rejected the gateway's credentials (HTTP {status})",
            code="provider_auth_error",
        )
    elif status == 404:
        err = ProviderError(
            f"the upstream provider does not know the pinned model: {message}",
            code="provider_model_not_found",
        )
    elif status in _CLIENT_ERRORS:
        err = BadRequestError(message, code=code, param=param)
    else:
        err = ProviderError(f"upstream error (HTTP {status or 'none'}): {message}")
        retryable = status is None or status == 409 or status >= 500
    err.retryable = retryable
    err.upstream_status = status
    return err


def clean_message(message: object) -> str:
    """The provider's own words, without litellm's class-name prefixes, bounded in size."""
    text = _PREFIX.sub("", str(message or "").strip()).strip()
    return text[:_MAX_MESSAGE] or "no message"


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
