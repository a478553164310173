"""Running one batch line: within its provider's lane, rate limits waited out, the answer
as the output (or error) file's line. Shared by the gateway's worker and chunk workers."""

from __future__ import annotations

import logging
from collections.abc import Callable

import orjson

from app.batches.endpoints import BatchEndpoint, RowResult
from app.batches.lanes import Lane
from app.batches.output_lines import output_line
from app.registry.batch_repo import FinishedLine, PendingLine
from app.registry.batch_tables import BatchRow
from app.registry.snapshot import ServedBundle
from app.registry.tables import utcnow

log = logging.getLogger("pinyard.batches")

# A line still rate-limited after the bundle's retries goes back to its lane this often.
MAX_RATE_LIMITED = 8


async def run_line(
    batch: BatchRow,
    bundle: ServedBundle,
    endpoint: BatchEndpoint,
    lane: Lane,
    line: PendingLine,
    stopping: Callable[[], bool],
) -> FinishedLine:
    """The line's answer; a 429 closes the lane and the line waits its turn again
    (unless the batch is ``stopping``: then the 429 is its answer)."""
    body = orjson.loads(line.body)
    result: RowResult | None = None
    for _ in range(MAX_RATE_LIMITED + 1):
        async with lane.slot():
            result = await endpoint.run(body, batch.environment, batch.alias, bundle)
        if result.status_code != 429 or stopping():
            break
        waited = lane.rate_limited(result.retry_after)
        log.info("batch %s line %d rate-limited; lane waits %.1fs", batch.id, line.line, waited)
    assert result is not None
    if result.ok:
        lane.answered()
    return FinishedLine(
        line.line,
        result.ok,
        result.request_id or None,
        output_line(line.custom_id, result),
        utcnow(),
    )
