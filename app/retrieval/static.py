"""Fixed passages: the bundle's documents, in order, whatever the query."""

from __future__ import annotations

import httpx

from app.bundles.retrieval_spec import StaticRetrieval
from app.retrieval.passages import Passage


class StaticRetriever:
    kind = "static"

    def __init__(self, spec: StaticRetrieval) -> None:
        self.passages = [Passage(d.text, d.source, 1.0) for d in spec.documents[: spec.top_k]]

    async def retrieve(self, query: str, *, http: httpx.AsyncClient) -> list[Passage]:
        return list(self.passages)
