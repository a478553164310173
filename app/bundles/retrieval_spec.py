"""Retrieval as a bundle declares it, chosen by ``kind``: static, bm25 or http.

For ``static`` and ``bm25`` the collection itself is part of the spec (the
loader inlines a document folder as ``[{source, text}]``), so the bundle
digest covers every document and a changed document is a new bundle version.
An ``http`` retriever is a service the bundle names; it carries no
credentials, like every other part of a bundle.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

OnError = Literal["open", "closed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Document(_Strict):
    source: str = Field(min_length=1)
    text: str


class _Retrieval(_Strict):
    top_k: int = Field(default=3, ge=1, le=100)
    # jinja2 over the request's variables and ``last_user_message``; None: the last user message.
    query: str | None = None
    # open: answer without passages (the record names the failure); closed: fail the request.
    on_error: OnError = "closed"


def _inline_documents(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            f"names the folder {value!r}; the bundle loader inlines a folder's files, so a "
            "spec sent to the API must carry the documents themselves ([{source, text}])"
        )
    if isinstance(value, list):
        return [
            {"source": f"documents[{i}]", "text": item} if isinstance(item, str) else item
            for i, item in enumerate(value)
        ]
    return value


class _Collection(_Retrieval):
    documents: list[Document] = Field(min_length=1)

    @field_validator("documents", mode="before")
    @classmethod
    def _inline(cls, value: Any) -> Any:
        return _inline_documents(value)


class StaticRetrieval(_Collection):
    """Fixed passages, the first ``top_k`` in order, whatever the query."""

    kind: Literal["static"]


class Bm25Retrieval(_Collection):
    """BM25 over the bundle's own documents; the index is built once per digest."""

    kind: Literal["bm25"]


class HttpRetrieval(_Retrieval):
    """POST ``{"query", "top_k"}`` to ``url``; expects ``{"results": [{text, source, score}]}``."""

    kind: Literal["http"]
    url: str = Field(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=2048)
    timeout_s: float = Field(default=2.0, gt=0, le=60)


RetrievalSpec = Annotated[
    StaticRetrieval | Bm25Retrieval | HttpRetrieval, Field(discriminator="kind")
]
