"""Real upstreams through litellm: the only module that calls it.

litellm gives one call shape for every vendor; this module pins how it is
used: no litellm-side retries (``app.providers.retry`` owns the policy), the
attempt's remaining deadline as the timeout, credentials only from the
gateway's environment or the providers file, results as plain OpenAI dicts,
and failures as ``app.errors``. Importing it costs about 1.7 s (litellm and
the OpenAI SDK), so ``ProviderClient`` imports it on first use or warm-up.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import openai

from app.errors import PinyardError, ProviderError
from app.providers import litellm_wire
from app.providers.interface import EmbeddingCall, ProviderCall, refuse_control_params
from app.providers.litellm_errors import map_exception
from app.providers.litellm_import import litellm
from app.providers.providers_file import ProviderEndpoint, load_providers_file

__all__ = ["LiteLLMProvider", "load_providers_file"]

log = logging.getLogger(__name__)


class LiteLLMProvider:
    """Implements ``app.providers.interface.Provider`` for every non-fake model."""

    def __init__(self, endpoints: Mapping[str, ProviderEndpoint] | None = None) -> None:
        self._endpoints = dict(endpoints or {})

    async def complete(self, call: ProviderCall) -> dict[str, Any]:
        params = {k: v for k, v in call.params.items() if k not in ("stream", "stream_options")}
        with _translated(call.model):
            kwargs = self._kwargs(call.model, params, call.timeout_s)
            response = await litellm.acompletion(messages=call.messages, **kwargs)
            return litellm_wire.completion_dict(response)

    async def stream(self, call: ProviderCall) -> AsyncIterator[dict[str, Any]]:
        params = {k: v for k, v in call.params.items() if k != "stream"}
        include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
        with _translated(call.model):
            kwargs = self._kwargs(call.model, params, call.timeout_s)
            response = await litellm.acompletion(messages=call.messages, stream=True, **kwargs)
        try:
            raw = getattr(response, "completion_stream", None)
            source: Any = response
            convert: Callable[[Any], dict[str, Any]]
            convert = partial(litellm_wire.wrapped_chunk, include_usage=include_usage)
            if isinstance(raw, openai.AsyncStream):
                # An OpenAI-compatible upstream: the SDK's chunks are the upstream's.
                source, convert = raw, litellm_wire.raw_chunk
            iterator = source.__aiter__()
            finished = False
            while True:
                with _translated(call.model):
                    try:
                        item = await iterator.__anext__()
                    except StopAsyncIteration:
                        break
                    chunk = convert(item)
                finished = finished or any(
                    c.get("finish_reason") for c in chunk.get("choices") or []
                )
                yield chunk
            if not finished:
                err = ProviderError("the upstream stream ended before any finish_reason")
                err.retryable = True
                raise err
        finally:
            await response.aclose()

    async def embed(self, call: EmbeddingCall) -> dict[str, Any]:
        with _translated(call.model):
            kwargs = self._kwargs(call.model, dict(call.params), call.timeout_s)
            response = await litellm.aembedding(input=call.input, **kwargs)
            return litellm_wire.embedding_dict(response)

    def _kwargs(self, model: str, params: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """litellm keyword arguments: the model's params plus this gateway's controls."""
        refuse_control_params(params)
        return {
            **params,
            "model": model,
            "timeout": timeout_s,
            "num_retries": 0,
            **self._endpoint_kwargs(model),
        }

    def _endpoint_kwargs(self, model: str) -> dict[str, Any]:
        """api_base / api_key / api_version when the providers file names the model's provider."""
        try:
            _, provider, _, _ = litellm.get_llm_provider(model)
        except openai.OpenAIError as exc:
            raise ProviderError(
                f"no provider serves model {model!r}; prefix it with a litellm provider "
                "such as openai/ or anthropic/",
                code="provider_model_not_found",
            ) from exc
        endpoint = self._endpoints.get(provider)
        return endpoint.litellm_kwargs() if endpoint else {}


@contextmanager
def _translated(model: str) -> Iterator[None]:
    """Turn whatever litellm raises into a ``PinyardError`` (the Provider contract)."""
    try:
        yield
    except PinyardError:
        raise
    except openai.OpenAIError as exc:
        raise map_exception(exc) from exc
    except Exception as exc:
        # The one blanket catch: litellm is a large third-party surface that
        # can fail outside its exception hierarchy (TypeError, KeyError in a
        # response transformer, ...); the pipeline relies on PinyardError only.
        log.exception("unexpected litellm failure calling %s", model)
        raise ProviderError(
            f"unexpected failure calling {model}: {type(exc).__name__}",
            code="provider_error",
        ) from exc
