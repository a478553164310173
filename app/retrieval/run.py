"""Retrieval for one request: render the query, retrieve, apply on_error.

Runs before the prompt is rendered, on the client's messages and variables as
the input guardrails left them (so redacted text never reaches a retriever).
A blank query retrieves nothing without calling the retriever.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from app.bundles.spec import BundleSpec
from app.errors import RetrievalFailed
from app.retrieval.passages import RetrievalError, RetrievalResult, Retriever


class RetrievingBundle(Protocol):
    """What retrieval needs of a compiled bundle (``app.registry.compiled.CompiledBundle``)."""

    @property
    def spec(self) -> BundleSpec: ...

    @property
    def retriever(self) -> Retriever | None: ...

    def retrieval_query(self, variables: dict[str, Any], messages: list[dict[str, Any]]) -> str: ...


async def retrieve_for(
    bundle: RetrievingBundle,
    messages: list[dict[str, Any]],
    variables: dict[str, Any],
    http: httpx.AsyncClient,
) -> RetrievalResult | None:
    spec, retriever = bundle.spec.retrieval, bundle.retriever
    if spec is None or retriever is None:
        return None
    query = bundle.retrieval_query(variables, messages)
    if not query.strip():
        return RetrievalResult(retriever.kind)
    try:
        passages = await retriever.retrieve(query, http=http)
    except RetrievalError as exc:
        if spec.on_error == "closed":
            raise RetrievalFailed(f"retrieval failed ({retriever.kind}): {exc}") from exc
        return RetrievalResult(retriever.kind, error=str(exc))
    return RetrievalResult(retriever.kind, tuple(passages))
