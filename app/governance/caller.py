"""Who is calling the data plane: the API key decides the environment and what it may call.

Everything here reads the in-memory snapshot's ``KeySet``: authentication never
waits on the database. Until the first key is created the gateway is in local
mode (the environment is ``PINYARD_ENVIRONMENT`` and no key is needed); from
then on every request needs a valid key, sent as ``Authorization: Bearer``
(OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs).
"""

from __future__ import annotations

from fastapi import Request

from app.errors import AuthenticationError, PermissionDeniedError, RateLimitError
from app.governance.credential_kinds import CLIENT_KEY
from app.governance.credentials import CredentialRefused, bearer, verify
from app.governance.denials import ANONYMOUS, DenialRecorder
from app.governance.ratelimit import RateLimiter
from app.registry.credential_repo import ApiKeyRecord, KeySet

ENVIRONMENT_HEADER = "x-pinyard-environment"


def presented_key(request: Request) -> str | None:
    presented = bearer(request.headers.get("authorization", ""))
    return presented or request.headers.get("x-api-key", "").strip() or None


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

    def authorize_model(self, request: Request, model: str) -> None:
        """After ``environment``: may the caller's key call ``model``? (A batch's lines name
        their model inside an uploaded file, not in the request body.)"""
        key: ApiKeyRecord | None = getattr(request.state, "api_key", None)
        if key is not None:
            self._authorize(request, key, model)

    def _authenticate(self, request: Request, keys: KeySet) -> ApiKeyRecord:
        presented = presented_key(request)
        if presented is None:
            raise self.denials.refused(
                request,
                AuthenticationError(
                    "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                    code="api_key_missing",
                ),
                ANONYMOUS,
            )
        try:
            return verify(CLIENT_KEY, presented, keys.get)
        except CredentialRefused as refused:
            raise self.denials.refused(request, refused, refused.actor) from None

    def _authorize(self, request: Request, key: ApiKeyRecord, model: str | None) -> None:
        actor = CLIENT_KEY.actor(key.name)
        asked = request.headers.get(ENVIRONMENT_HEADER)
        if key.environment not in self.environments or (asked and asked != key.environment):
            raise self.denials.refused(
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
                raise self.denials.refused(
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
            raise self.denials.refused(
                request,
                PermissionDeniedError(
                    f"API key {key.name!r} may not call {model!r} "
                    f"(allowed: {', '.join(sorted(key.aliases))})",
                    param="model",
                    code="alias_not_allowed",
                ),
                actor,
            )
