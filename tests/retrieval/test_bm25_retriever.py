"""BM25 and static retrievers: the right passage, an index built once per bundle."""

from __future__ import annotations

from typing import Any

import bm25s
import httpx
import pytest

from app.bundles.loader import load_bundle_file, parse_spec
from app.registry.compiled import compile_bundle
from app.retrieval.bm25 import Bm25Retriever
from tests.conftest import fake_spec

DOCS = [
    {"source": "shipping.md", "text": "Standard delivery takes 3 to 5 working days."},
    {"source": "returns.md", "text": "You can return any item within 30 days for a refund."},
    {"source": "payment.md", "text": "We accept Visa, Mastercard and PayPal."},
]


def compiled(kind: str = "bm25", **retrieval: Any) -> Any:
    spec = fake_spec(retrieval={"kind": kind, "documents": DOCS, **retrieval})
    return compile_bundle(parse_spec(spec))


@pytest.mark.parametrize(
    ("query", "source"),
    [
        ("How do I return an item?", "returns.md"),
        ("When will my delivery arrive?", "shipping.md"),
        ("Can I pay with PayPal?", "payment.md"),
        ("I want my money back: refunds?", "returns.md"),  # stemming: refunds -> refund
    ],
)
async def test_bm25_returns_the_right_passage_first(query: str, source: str) -> None:
    async with httpx.AsyncClient() as http:
        passages = await compiled().retriever.retrieve(query, http=http)
    assert passages[0].source == source
    assert passages[0].text == next(d["text"] for d in DOCS if d["source"] == source)
    assert passages[0].score > 0


def test_bm25_leaves_out_passages_that_match_nothing_and_honours_top_k() -> None:
    retriever = compiled(top_k=1).retriever
    assert retriever.search("weather forecast tomorrow") == []
    assert len(retriever.search("return delivery PayPal")) == 1
    assert compiled(top_k=10).retriever.top_k == 3  # never more than the collection


def test_the_index_is_built_once_per_compiled_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    original = bm25s.BM25.index

    def counting(self: bm25s.BM25, *args: Any, **kwargs: Any) -> Any:
        built.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(bm25s.BM25, "index", counting)
    retriever = compiled().retriever
    assert isinstance(retriever, Bm25Retriever)
    for _ in range(5):
        retriever.search("return an item")
    assert built == [1]


async def test_static_returns_its_passages_in_order_whatever_the_query() -> None:
    retriever = compiled("static", top_k=2).retriever
    async with httpx.AsyncClient() as http:
        passages = await retriever.retrieve("anything at all", http=http)
    assert [(p.source, p.score) for p in passages] == [("shipping.md", 1.0), ("returns.md", 1.0)]


def test_static_accepts_plain_strings() -> None:
    spec = parse_spec(fake_spec(retrieval={"kind": "static", "documents": ["Be kind."]}))
    assert spec.canonical_dict()["retrieval"]["documents"] == [
        {"source": "documents[0]", "text": "Be kind."}
    ]


def test_the_shipped_help_center_example_finds_its_documents() -> None:
    bundle = compile_bundle(load_bundle_file("prompts/help-center"))
    assert isinstance(bundle.retriever, Bm25Retriever)
    assert bundle.retriever.search("How do I return an item?")[0].source == "docs/returns.md"
    assert bundle.retriever.search("Do you ship to the UK?")[0].source == "docs/shipping.md"
    assert bundle.retriever.search("Can I pay with PayPal?")[0].source == "docs/payment.md"
