"""litellm / OpenAI SDK exceptions -> ``app.errors``.

Every litellm exception subclasses the OpenAI SDK's, and the status code is
the reliable signal (litellm raises a bare ``APIError`` for a 403, an
``InternalServerError`` for a refused connection), so the mapping unwraps the
status, the upstream's own error body and the Retry-After headers, then
defers to ``upstream_errors.error_for_status``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import openai

from app.errors import GatewayTimeoutError, PinyardError
from app.providers.litellm_import import litellm
from app.providers.upstream_errors import (
    clean_message,
    error_for_status,
    retry_after_from_headers,
)


def map_exception(exc: openai.OpenAIError) -> PinyardError:
    """The gateway error for an exception raised by litellm or the OpenAI SDK."""
    if isinstance(exc, openai.APITimeoutError):  # includes litellm.Timeout
        err = GatewayTimeoutError("the upstream provider did not answer in time")
        err.retryable = True
        return err
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or isinstance(exc, openai.APIConnectionError):
        status = None
    body = _error_body(exc)
    message = body.get("message") if isinstance(body.get("message"), str) else None
    code = body.get("code") if isinstance(body.get("code"), str) else None
    param = body.get("param") if isinstance(body.get("param"), str) else None
    if isinstance(exc, litellm.ContextWindowExceededError):
        code = "context_length_exceeded"
    elif isinstance(exc, litellm.ContentPolicyViolationError):
        code = "content_policy_violation"
    return error_for_status(
        status,
        message or clean_message(getattr(exc, "message", None) or exc),
        retry_after=retry_after_from_headers(_headers(exc)),
        code=code,
        param=param,
    )


def _error_body(exc: openai.OpenAIError) -> dict[str, Any]:
    """The upstream's ``{"message", "type", "param", "code"}`` when the SDK parsed one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    return body if isinstance(body, dict) else {}


def _headers(exc: openai.OpenAIError) -> Mapping[str, str] | None:
    """Upstream response headers: litellm keeps them apart, the SDK on ``response``."""
    headers = getattr(exc, "litellm_response_headers", None)
    if headers:
        return dict(headers.items())
    response = getattr(exc, "response", None)
    response_headers = getattr(response, "headers", None)
    return dict(response_headers.items()) if response_headers else None
