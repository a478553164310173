"""One error root for the whole gateway, rendered as OpenAI's error envelope.

Every failure a client or operator can see is a ``PinyardError``; handlers in
``app.main`` turn it into ``{"error": {"message", "type", "param", "code"}}``
with the status code the OpenAI SDK maps to the matching exception class::

    PinyardError                      500 api_error
    ├── BadRequestError               400 invalid_request_error
    │   ├── BundleInvalid             400 bundle_invalid
    │   ├── MissingVariables          400 missing_variables
    │   ├── InvalidVariables          400 invalid_variables
    │   └── SuiteInvalid              400 suite_invalid (eval suites)
    ├── AuthenticationError           401 invalid_api_key / admin_token_invalid
    ├── PermissionDeniedError         403 permission_denied / admin_disabled
    ├── NotFoundError                 404 not_found
    │   └── ModelNotFound             404 model_not_found
    ├── ConflictError                 409 conflict
    ├── PayloadTooLarge               413 request_too_large
    ├── UnprocessableError            422 unprocessable
    ├── GuardrailBlocked              400 (input) / 422 (output) guardrail_blocked
    ├── RateLimitError                429 rate_limit_exceeded (+ Retry-After)
    ├── ProviderError                 502 provider_error
    │   └── RetrievalFailed           502 retrieval_failed (fail-closed retrieval)
    ├── ServiceUnavailableError       503 service_unavailable
    └── GatewayTimeoutError           504 timeout
"""

from __future__ import annotations

from typing import Any


class PinyardError(Exception):
    status_code: int = 500
    error_type: str = "api_error"
    code: str | None = "internal_error"
    # Set by app.providers on errors from an upstream call: whether trying the
    # same call again may succeed, and the upstream HTTP status (for the record).
    retryable: bool = False
    upstream_status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class BadRequestError(PinyardError):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class BundleInvalid(BadRequestError):
    code = "bundle_invalid"


class MissingVariables(BadRequestError):
    code = "missing_variables"

    def __init__(self, names: list[str], *, template: str | None = None) -> None:
        self.names = sorted(names)
        where = f" by {template}" if template else ""
        super().__init__(
            f"missing template variables{where}: {', '.join(self.names)}",
            param="variables." + self.names[0] if self.names else "variables",
        )


class InvalidVariables(BadRequestError):
    code = "invalid_variables"


class SuiteInvalid(BadRequestError):
    """An eval suite (or a case, scorer or judge it names) that cannot run."""

    code = "suite_invalid"


class AuthenticationError(PinyardError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDeniedError(PinyardError):
    status_code = 403
    error_type = "permission_error"
    code = "permission_denied"


class NotFoundError(PinyardError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFoundError):
    code = "model_not_found"


class ConflictError(PinyardError):
    status_code = 409
    error_type = "invalid_request_error"
    code = "conflict"


class PayloadTooLarge(PinyardError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "request_too_large"


class UnprocessableError(PinyardError):
    status_code = 422
    error_type = "invalid_request_error"
    code = "unprocessable"


class GuardrailBlocked(PinyardError):
    """A bundle guardrail refused the client's input (400) or the model's answer (422)."""

    error_type = "invalid_request_error"
    code = "guardrail_blocked"

    def __init__(self, stage: str, guardrail: str, detail: str) -> None:
        self.stage, self.guardrail = stage, guardrail
        self.status_code = 400 if stage == "input" else 422
        what = "the request" if stage == "input" else "the answer"
        super().__init__(
            f"{stage} guardrail {guardrail!r} blocked {what}: {detail}",
            param="messages" if stage == "input" else None,
        )


class RateLimitError(PinyardError):
    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, round(retry_after)))


class ProviderError(PinyardError):
    status_code = 502
    error_type = "api_error"
    code = "provider_error"


class RetrievalFailed(ProviderError):
    """A bundle's retriever failed and the bundle says ``on_error: closed``."""

    code = "retrieval_failed"


class ServiceUnavailableError(PinyardError):
    status_code = 503
    error_type = "api_error"
    code = "service_unavailable"


class GatewayTimeoutError(PinyardError):
    status_code = 504
    error_type = "api_error"
    code = "timeout"
