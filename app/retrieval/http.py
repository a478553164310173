"""A retriever service: POST ``{"query", "top_k"}``, read ``{"results": [...]}``.

Each result needs ``text``; ``source`` defaults to the service URL and
``score`` to 0. Calls go through the gateway's shared ``httpx.AsyncClient``
with the bundle's ``timeout_s``. ``check_reachable`` is for ``pinyard bundle
validate`` only: registration never calls out.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.bundles.retrieval_spec import HttpRetrieval
from app.errors import BundleInvalid
from app.retrieval.passages import Passage, RetrievalError


class HttpRetriever:
    kind = "http"

    def __init__(self, spec: HttpRetrieval) -> None:
        self.url, self.top_k, self.timeout_s = spec.url, spec.top_k, spec.timeout_s

    async def retrieve(self, query: str, *, http: httpx.AsyncClient) -> list[Passage]:
        try:
            response = await http.post(
                self.url, json={"query": query, "top_k": self.top_k}, timeout=self.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise RetrievalError(f"retriever timed out after {self.timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise RetrievalError(f"retriever unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            raise RetrievalError(f"retriever answered HTTP {response.status_code}")
        try:
            return parse_results(response.json(), self.url)[: self.top_k]
        except ValueError as exc:
            raise RetrievalError(f"retriever answered an unexpected body: {exc}") from exc


def parse_results(body: Any, url: str) -> list[Passage]:
    results = body.get("results") if isinstance(body, dict) else body
    if not isinstance(results, list):
        raise ValueError("expected {'results': [...]} or a list")
    passages = []
    for i, item in enumerate(results):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ValueError(f"result {i} has no 'text'")
        score = item.get("score", 0.0)
        if not isinstance(score, int | float) or isinstance(score, bool):
            raise ValueError(f"result {i} has a non-numeric 'score'")
        passages.append(Passage(item["text"], str(item.get("source") or url), float(score)))
    return passages


def check_reachable(spec: HttpRetrieval) -> None:
    """Refuse a bundle whose retriever does not answer at all (any HTTP status will do)."""
    try:
        httpx.post(spec.url, json={"query": "", "top_k": 1}, timeout=spec.timeout_s)
    except httpx.HTTPError as exc:
        raise BundleInvalid(
            f"retrieval.url {spec.url} is unreachable ({type(exc).__name__}: {exc})",
            param="retrieval.url",
        ) from exc
