"""Retrievers a bundle names: ``static``, ``bm25`` and ``http``.

``factory`` builds one per compiled bundle (so a BM25 index is built once per
digest); ``run`` renders the query, calls the retriever and applies the
bundle's fail-open or fail-closed policy before the prompt is rendered.
"""
