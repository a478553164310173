"""BM25 over the bundle's own documents (``bm25s``, English stop words, Snowball stemming).

The index is built in ``__init__``, i.e. once per compiled bundle, and a query
only tokenises and scores. ``bm25s`` (with numpy and scipy.sparse, ~40 MB) is
imported when the first BM25 bundle is compiled, not by every gateway. Passages
with no matching term (score 0) are left out, so an unrelated question
retrieves nothing rather than noise.
"""

from __future__ import annotations

import httpx

from app.bundles.retrieval_spec import Bm25Retrieval
from app.retrieval.passages import Passage

_LANGUAGE = "english"
_STOPWORDS = "en_plus"  # the NLTK English list: question words too


class Bm25Retriever:
    kind = "bm25"

    def __init__(self, spec: Bm25Retrieval) -> None:
        import bm25s
        import Stemmer

        self.documents = tuple(spec.documents)
        self.top_k = min(spec.top_k, len(self.documents))
        self._stemmer = Stemmer.Stemmer(_LANGUAGE)
        tokens = bm25s.tokenize(
            [f"{d.source}\n{d.text}" for d in self.documents],
            stopwords=_STOPWORDS,
            stemmer=self._stemmer,
            show_progress=False,
        )
        self._index = bm25s.BM25()
        self._index.index(tokens, show_progress=False)

    def search(self, query: str) -> list[Passage]:
        import bm25s

        tokens = bm25s.tokenize(
            [query],
            stopwords=_STOPWORDS,
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )
        if not tokens or not tokens[0]:
            return []
        ids, scores = self._index.retrieve(tokens, k=self.top_k, show_progress=False)
        return [
            Passage(self.documents[i].text, self.documents[i].source, round(float(score), 4))
            for i, score in zip(ids[0], scores[0], strict=True)
            if score > 0
        ]

    async def retrieve(self, query: str, *, http: httpx.AsyncClient) -> list[Passage]:
        return self.search(query)
