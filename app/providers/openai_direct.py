"""OpenAI-compatible upstreams over a pooled async HTTP client, without litellm.

litellm costs several milliseconds of CPU per call (request and response
objects, logging hooks, cost tracking); for an upstream that already speaks
OpenAI's wire format none of that is needed. This provider posts the call as
JSON over one keep-alive connection pool per base URL (``upstream_pool``),
returns the upstream's own JSON, and relays a stream event by event.

It keeps the litellm path's contract: credentials and base URLs come from the
providers file or ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` (``OPENAI_API_BASE``)
exactly as litellm reads them, read at call time and never logged; no retries
here (``app.providers.retry`` owns them); failures mapped by
``upstream_errors.error_for_status`` like litellm's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx
import orjson

from app.errors import GatewayTimeoutError, PinyardError, ProviderError
from app.providers.http11 import UndecodableAnswer
from app.providers.interface import EmbeddingCall, ProviderCall, refuse_control_params
from app.providers.providers_file import ProviderEndpoint
from app.providers.upstream_errors import (
    clean_message,
    error_for_status,
    retry_after_from_headers,
)
from app.providers.upstream_pool import UpstreamPool, decode_headers
from app.providers.upstream_sse import SSEDecoder

OPENAI = "openai"
DEFAULT_BASE = "https://api.openai.com/v1"
_BASE_HEADERS = ((b"user-agent", b"pinyard"), (b"content-type", b"application/json"))
# What a failed call raises: httpcore's errors, and httpx's where respx mocks an upstream.
_TIMEOUTS = (httpcore.TimeoutException, httpx.TimeoutException)
_TRANSPORT_ERRORS = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    httpx.TransportError,
)
# OpenAI reasoning models take max_completion_tokens; litellm renames max_tokens for them.
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")


@dataclass(frozen=True, slots=True)
class _Target:
    base: str
    model: str  # the upstream's name for it (the litellm prefix removed)
    headers: list[tuple[bytes, bytes]]
    rename_max_tokens: bool = False


class OpenAIDirectProvider:
    """``app.providers.interface.Provider`` for ``openai/`` and OpenAI-compatible models."""

    def __init__(
        self,
        endpoints: Mapping[str, ProviderEndpoint] | None = None,
        *,
        max_connections: int = 512,
        keepalive_expiry_s: float = 30.0,
    ) -> None:
        self._endpoints = dict(endpoints or {})
        self._max_connections = max_connections
        self._keepalive_expiry_s = keepalive_expiry_s
        self._pools: dict[str, UpstreamPool] = {}

    def serves(self, model: str) -> bool:
        """``openai/...``, and any prefix the providers file marks ``openai_compatible``."""
        prefix, sep, _ = model.partition("/")
        if not sep:
            return False
        if prefix == OPENAI:
            return True
        endpoint = self._endpoints.get(prefix)
        return endpoint is not None and endpoint.openai_compatible

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()

    async def complete(self, call: ProviderCall) -> dict[str, Any]:
        target = self._target(call.model)
        params = {k: v for k, v in call.params.items() if k not in ("stream", "stream_options")}
        body = self._body(target, call.messages, params)
        data = await self._post(target, "/chat/completions", body, call.timeout_s)
        if not isinstance(data.get("choices"), list):
            raise _malformed(call.model)
        return data

    async def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        target = self._target(call.model)
        params = {k: v for k, v in call.params.items() if k != "stream"}
        body = orjson.dumps(self._body(target, call.messages, {**params, "stream": True}))
        pool = self._pool(target.base)
        finished = False
        try:
            async with pool.stream(
                "/chat/completions", body, target.headers, call.timeout_s
            ) as response:
                if response.status >= 400:
                    content = await response.aread()
                    raise _status_error(response.status, response.headers, content)
                decoder = SSEDecoder()
                pieces = response.aiter_stream()
                async for piece in pieces:
                    for chunk in decoder.feed(piece):
                        _raise_error_event(chunk)
                        finished = finished or _finishes(chunk)
                        yield chunk
                    if decoder.done:
                        # Read the body's end (the closing HTTP chunk): the connection is reused.
                        async for _ in pieces:
                            pass
                        break
                for chunk in decoder.close():
                    _raise_error_event(chunk)
                    finished = finished or _finishes(chunk)
                    yield chunk
        except _TIMEOUTS as exc:
            raise _timeout() from exc
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        except orjson.JSONDecodeError as exc:
            raise _malformed(call.model) from exc
        if not finished:
            err = ProviderError("the upstream stream ended before any finish_reason")
            err.retryable = True
            raise err

    async def embed(self, call: EmbeddingCall) -> dict[str, Any]:
        target = self._target(call.model)
        refuse_control_params(call.params)
        body = {**call.params, "model": target.model, "input": call.input}
        data = await self._post(target, "/embeddings", body, call.timeout_s)
        if not isinstance(data.get("data"), list):
            raise _malformed(call.model)
        usage = data.get("usage") or {}
        data["usage"] = {
            "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "total_tokens": int(usage.get("total_tokens") or 0),
        }
        data.setdefault("object", "list")
        return data

    def _body(
        self, target: _Target, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> dict[str, Any]:
        refuse_control_params(params)
        if (
            "max_tokens" in params
            and "max_completion_tokens" not in params
            and target.rename_max_tokens
        ):
            params = {**params, "max_completion_tokens": params["max_tokens"]}
            del params["max_tokens"]
        return {**params, "model": target.model, "messages": messages}

    async def _post(
        self, target: _Target, path: str, body: dict[str, Any], timeout_s: float
    ) -> dict[str, Any]:
        pool = self._pool(target.base)
        try:
            reply = await pool.post(path, orjson.dumps(body), target.headers, timeout_s)
        except _TIMEOUTS as exc:
            raise _timeout() from exc
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        if reply.status >= 400:
            raise _status_error(reply.status, reply.headers, reply.content)
        try:
            data = orjson.loads(reply.content)
        except orjson.JSONDecodeError as exc:
            raise _malformed(target.model) from exc
        if not isinstance(data, dict):
            raise _malformed(target.model)
        return data

    def _pool(self, base: str) -> UpstreamPool:
        pool = self._pools.get(base)
        if pool is None:
            pool = self._pools[base] = UpstreamPool(
                base,
                max_connections=self._max_connections,
                keepalive_expiry_s=self._keepalive_expiry_s,
            )
        return pool

    def _target(self, model: str) -> _Target:
        """Base URL, upstream model name and headers, read from the environment now."""
        prefix, _, name = model.partition("/")
        endpoint = self._endpoints.get(prefix)
        headers = list(_BASE_HEADERS)
        if endpoint is not None and (endpoint.api_base or endpoint.api_key_env):
            base = endpoint.api_base or _env_base(prefix)
            key = endpoint.api_key()
        elif prefix == OPENAI:
            base, key = _env_base(prefix), os.environ.get("OPENAI_API_KEY")
            organization = os.environ.get("OPENAI_ORGANIZATION") or os.environ.get("OPENAI_ORG_ID")
            if organization:
                headers.append((b"openai-organization", organization.encode()))
            project = os.environ.get("OPENAI_PROJECT_ID")
            if project:
                headers.append((b"openai-project", project.encode()))
        else:
            raise ProviderError(
                f"provider {prefix!r} has no api_base in the providers file",
                code="provider_model_not_found",
            )
        if key:
            headers.append((b"authorization", b"Bearer " + key.encode()))
        elif prefix == OPENAI:
            raise ProviderError(
                "no API key for openai: set OPENAI_API_KEY or name api_key_env in the "
                "providers file",
                code="provider_auth_error",
            )
        return _Target(
            base=base.rstrip("/"),
            model=name,
            headers=headers,
            rename_max_tokens=prefix == OPENAI and name.startswith(_REASONING_PREFIXES),
        )


def _raise_error_event(chunk: dict[str, Any]) -> None:
    """An upstream error event mid-stream (``data: {"error": ...}``) as a gateway error."""
    error = chunk.get("error")
    if error is not None:
        raise error_for_status(None, _error_message(error, "stream error event"))


def _finishes(chunk: dict[str, Any]) -> bool:
    return any(c.get("finish_reason") for c in chunk.get("choices") or ())


def _env_base(prefix: str) -> str:
    if prefix != OPENAI:
        return ""
    return os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or DEFAULT_BASE


def _status_error(status: int, raw_headers: Any, content: bytes) -> PinyardError:
    """The gateway error for an upstream answer with status >= 400."""
    body: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        body = orjson.loads(content)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    text = content.decode("utf-8", "replace").strip() or f"HTTP {status}"
    message = _error_message(error, text)
    code = error.get("code") if isinstance(error.get("code"), str) else None
    lowered = message.lower()
    if "maximum context length" in lowered or "context_length_exceeded" in lowered:
        code = "context_length_exceeded"
    elif "content_policy_violation" in lowered:
        code = "content_policy_violation"
    param = error.get("param") if isinstance(error.get("param"), str) else None
    headers = decode_headers(raw_headers) if isinstance(raw_headers, list) else raw_headers
    return error_for_status(
        status,
        message,
        retry_after=retry_after_from_headers(headers),
        code=code,
        param=param,
    )


def _error_message(error: Any, fallback: str) -> str:
    message = error.get("message") if isinstance(error, dict) else None
    return clean_message(message if isinstance(message, str) and message else fallback)


def _timeout() -> GatewayTimeoutError:
    err = GatewayTimeoutError("the upstream provider did not answer in time")
    err.retryable = True
    return err


def _transport_error(exc: Exception) -> PinyardError:
    """Connection refused, reset, protocol errors: no answer, worth another try.

    An answer that is not valid HTTP/1.1 (or in a coding not asked for) is an
    ``upstream_error``; only the undecodable one would come back the same.
    """
    err = error_for_status(None, f"{type(exc).__name__}: {clean_message(exc)}")
    if isinstance(exc, httpcore.RemoteProtocolError | httpx.RemoteProtocolError):
        err.code = "upstream_error"
        err.retryable = not isinstance(exc, UndecodableAnswer)
    return err


def _malformed(model: str) -> ProviderError:
    err = ProviderError(f"the upstream serving {model} sent a malformed answer")
    err.retryable = True
    return err
