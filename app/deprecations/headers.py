"""Response headers that announce a pinned model's retirement to every client.

``Deprecation: @<unix seconds>`` (RFC 9745, a structured-field date),
``Sunset: <IMF-fixdate>`` (RFC 8594) and ``Link: <url>; rel="deprecation"``.
They depend only on the catalog entry, so they are serialised once per entry
(and handed to each served bundle by the snapshot), never per request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import format_datetime


def midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def structured_date(day: date) -> str:
    """RFC 9745 / RFC 9651 Date: ``@`` followed by integer seconds since the epoch."""
    return f"@{int(midnight_utc(day).timestamp())}"


def http_date(day: date) -> str:
    """RFC 9110 IMF-fixdate, e.g. ``Sat, 01 Mar 2026 00:00:00 GMT``."""
    return format_datetime(midnight_utc(day), usegmt=True)


def deprecation_headers(
    deprecated_on: date | None, shutdown: date | None, source: str | None
) -> tuple[tuple[str, str], ...]:
    """The headers for one model; empty when nothing is known about its retirement.

    Sunset is never earlier than Deprecation: a deprecation date after the
    shutdown (impossible data) is clamped to the shutdown.
    """
    if deprecated_on is None and shutdown is None:
        return ()
    if deprecated_on is None or (shutdown is not None and deprecated_on > shutdown):
        deprecated_on = shutdown
    assert deprecated_on is not None
    headers = [("Deprecation", structured_date(deprecated_on))]
    if shutdown is not None:
        headers.append(("Sunset", http_date(shutdown)))
    if source:
        headers.append(("Link", f'<{source}>; rel="deprecation"'))
    return tuple(headers)
