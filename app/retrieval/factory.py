"""One retriever per compiled bundle, chosen by the spec's ``kind``."""

from __future__ import annotations

from app.bundles.retrieval_spec import Bm25Retrieval, HttpRetrieval, RetrievalSpec, StaticRetrieval
from app.retrieval.bm25 import Bm25Retriever
from app.retrieval.http import HttpRetriever
from app.retrieval.passages import Retriever
from app.retrieval.static import StaticRetriever


def build_retriever(spec: RetrievalSpec | None) -> Retriever | None:
    if isinstance(spec, StaticRetrieval):
        return StaticRetriever(spec)
    if isinstance(spec, Bm25Retrieval):
        return Bm25Retriever(spec)
    if isinstance(spec, HttpRetrieval):
        return HttpRetriever(spec)
    return None
