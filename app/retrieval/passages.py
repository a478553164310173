"""Passages, the retriever interface, and what a request keeps of its retrieval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class RetrievalError(Exception):
    """A retriever could not answer; ``run`` applies the bundle's on_error policy."""


@dataclass(frozen=True, slots=True)
class Passage:
    text: str
    source: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        """What templates see in ``retrieved``."""
        return {"text": self.text, "source": self.source, "score": self.score}


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    kind: str
    passages: tuple[Passage, ...] = ()
    error: str | None = None  # set when a fail-open retrieval failed

    def sources(self) -> list[dict[str, Any]]:
        """For the request record: where each passage came from, not its text."""
        return [{"source": p.source, "score": p.score} for p in self.passages]


class Retriever(Protocol):
    kind: str

    async def retrieve(self, query: str, *, http: httpx.AsyncClient) -> list[Passage]:
        """At most the bundle's ``top_k`` passages, best first."""
        ...
