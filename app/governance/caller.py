"""Who is calling the data plane: the API key decides the environment and what it may call.

Everything here reads the in-memory snapshot's ``KeySet``: authentication never
waits on the database. Until the first key is created the gateway is in local
mode (the environment is ``PINYARD_ENVIRONMENT`` and no key is needed); from
then on every request needs a valid key, sent as ``Authorization: Bearer``
(OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs).
"""

from __future__ import annotations

from fastapi import Request

from app.errors import AuthenticationError, PermissionDeniedError, PinyardError, RateLimitError
from app.governance.denials import ANONYMOUS, Denial, DenialRecorder
from app.governance.ratelimit import RateLimiter
from app.governance.secrets import hash_secret, same_digest
from app.registry.key_repo import ApiKeyRecord, KeySet
from app.registry.tables import utcnow

ENVIRONMENT_HEADER = "x-pinyard-environment"


def presented_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


def visible(request: Request, alias: str) -> bool:
    """Whether the authenticated key (if any) may see ``alias`` (for ``/v1/models``)."""
    key: ApiKeyRecord | None = getattr(request.state, "api_key", None)
    return key is None or key.aliases is None or alias in key.aliases


class CallerAuth:
    def __init__(
        self,
        environments: list[str],
        local_environment: str,
        limiter: RateLimiter,
        denials: DenialRecorder,
    ) -> None:
        self.environments = environments
        self.local_environment = local_environment
        self.limiter = limiter
        self.denials = denials

    def environment(self, request: Request, keys: KeySet, model: str | None) -> str:
        """The caller's environment; refusals are raised (and audited) here."""
        if not keys.configured:
            return self.local_environment
        key = self._authenticate(request, keys)
        self._authorize(request, key, model)
        if key.rpm is not None:
            wait = self.limiter.hit(key.id, key.rpm)
            if wait is not None:
                raise RateLimitError(
                    f"key {key.name!r} is limited to {key.rpm} requests per minute",
                    retry_after=wait,
                )
        request.state.api_key = key
        return key.environment

    def _deny(self, request: Request, error: PinyardError, actor: str) -> PinyardError:
        self.denials.record(
            Denial(
                actor=actor,
                action="auth.denied",
                target=f"{request.method} {request.url.path}",
                reason=error.message,
                status=error.status_code,
                code=error.code,
            )
        )
        return error

    def _authenticate(self, request: Request, keys: KeySet) -> ApiKeyRecord:
        presented = presented_key(request)
        if presented is None:
            raise self._deny(
                request,
                AuthenticationError(
                    "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                    code="api_key_missing",
                ),
                ANONYMOUS,
            )
        digest = hash_secret(presented)
        key = keys.get(digest)
        # The lookup is by hash of a 256-bit secret (nothing to learn from its timing);
        # the final comparison is constant-time all the same.
        if key is None or not same_digest(digest, key.digest):
            raise self._deny(request, AuthenticationError("invalid API key"), ANONYMOUS)
        actor = f"key:{key.name}"
        if key.revoked:
            raise self._deny(
                request,
                AuthenticationError(f"API key {key.name!r} was revoked", code="api_key_revoked"),
                actor,
            )
        if key.expired(utcnow()):
            raise self._deny(
                request,
                AuthenticationError(f"API key {key.name!r} has expired", code="api_key_expired"),
                actor,
            )
        return key

    def _authorize(self, request: Request, key: ApiKeyRecord, model: str | None) -> None:
        actor = f"key:{key.name}"
        asked = request.headers.get(ENVIRONMENT_HEADER)
        if key.environment not in self.environments or (asked and asked != key.environment):
            raise self._deny(
                request,
                PermissionDeniedError(
                    f"API key {key.name!r} belongs to environment {key.environment!r}"
                    + (f", not {asked!r}" if asked and asked != key.environment else "")
                    + ("" if key.environment in self.environments else ", which is not served"),
                    code="key_environment_mismatch",
                ),
                actor,
            )
        if not isinstance(model, str) or not model:
            return  # no model named (e.g. /v1/models): nothing more to check
        if "@" in model:
            if not key.allow_pinned:
                raise self._deny(
                    request,
                    PermissionDeniedError(
                        f"API key {key.name!r} may not call bundle references ({model!r}); "
                        "call an alias",
                        param="model",
                        code="pinned_not_allowed",
                    ),
                    actor,
                )
            return
        if key.aliases is not None and model not in key.aliases:
            raise self._deny(
                request,
                PermissionDeniedError(
                    f"API key {key.name!r} may not call {model!r} "
                    f"(allowed: {', '.join(sorted(key.aliases))})",
                    param="model",
                    code="alias_not_allowed",
                ),
                actor,
            )
