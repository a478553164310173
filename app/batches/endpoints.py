"""What a batch needs from the endpoint its lines call: check a body, run one.

The gateway implements these (``app.gateway.batch_rows``) and ``app.main``
passes them in, so this room stays below the HTTP surface: one ``BatchEndpoint``
per URL a batch may call (``/v1/chat/completions``, ``/v1/embeddings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.registry.snapshot import ServedBundle


@dataclass(frozen=True, slots=True)
class RowResult:
    """One line's answer: the HTTP status, body and headers a direct call would have had."""

    status_code: int
    body: dict[str, Any]
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    # Set on a 429: how long the provider asked us to wait.
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code < 400


class BatchEndpoint(Protocol):
    @property
    def kind(self) -> str:
        """The bundle kind it serves: ``chat`` or ``embedding``."""
        ...

    def check(self, body: dict[str, Any]) -> None:
        """Raise ``BadRequestError`` if ``body`` is not a valid request for this endpoint."""
        ...

    async def run(
        self, body: dict[str, Any], environment: str, alias: str, bundle: ServedBundle
    ) -> RowResult:
        """Run one line on ``bundle`` (never re-resolving ``alias``); never raises for the
        request's own failure, which comes back as a ``RowResult`` with its status."""
        ...


BatchEndpoints = Mapping[str, BatchEndpoint]
