"""Per-key requests-per-minute limits that never make a request wait on the network.

Each replica counts hits in memory and decides locally with a sliding-window
estimate (the previous minute weighted by how much of it still overlaps, plus
the current minute). A background task exchanges counts with the shared store
(Redis or PostgreSQL, see ``ratelimit_stores``) every ``sync_interval_s``, so
all replicas converge on the global count; between exchanges a replica can
admit at most what it sees itself. On SQLite there is no store: the limit is
per process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Protocol

log = logging.getLogger("pinyard.ratelimit")

BUCKET_S = 60
Slot = tuple[str, int]  # (key id, minute bucket)


class CounterStore(Protocol):
    async def exchange(self, deltas: Mapping[Slot, int], wanted: set[Slot]) -> dict[Slot, int]:
        """Add ``deltas`` to the shared counts; return the shared counts of ``wanted``."""
        ...

    async def close(self) -> None: ...


def estimate(previous: int, current: int, elapsed: float) -> float:
    return previous * (BUCKET_S - elapsed) / BUCKET_S + current


def retry_after(previous: int, current: int, elapsed: float, rpm: int) -> float:
    """Whole seconds after which one more request is admitted if no other arrives."""
    if current < rpm and previous > 0:
        # previous * (60 - t) / 60 + current < rpm  <=>  t > 60 - 60 * (rpm - current) / previous
        wait = BUCKET_S - BUCKET_S * (rpm - current) / previous - elapsed
    else:
        # Next minute: current becomes the weighted one.
        wait = (BUCKET_S - elapsed) + max(0.0, BUCKET_S - BUCKET_S * rpm / max(current, 1))
    return float(max(1, math.floor(wait) + 1))  # strictly after the boundary


class RateLimiter:
    def __init__(
        self, store: CounterStore | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.clock = clock
        self._shared: dict[Slot, int] = {}  # counts as of the last exchange (ours included)
        self._local: Counter[Slot] = Counter()  # our hits since then
        self._lock = threading.Lock()

    def _count(self, slot: Slot) -> int:
        return self._shared.get(slot, 0) + self._local.get(slot, 0)

    def hit(self, key_id: str, rpm: int) -> float | None:
        """Count one request; None when admitted, else the seconds to wait (nothing counted)."""
        now = self.clock()
        bucket = int(now // BUCKET_S)
        elapsed = now - bucket * BUCKET_S
        with self._lock:
            previous, current = self._count((key_id, bucket - 1)), self._count((key_id, bucket))
            if estimate(previous, current, elapsed) >= rpm:
                return retry_after(previous, current, elapsed, rpm)
            self._local[(key_id, bucket)] += 1
        return None

    async def sync(self) -> None:
        """One exchange with the shared store; forgets minutes that no longer count."""
        oldest = int(self.clock() // BUCKET_S) - 1
        with self._lock:
            deltas = {slot: n for slot, n in self._local.items() if slot[1] >= oldest}
            wanted = {s for s in (*self._shared, *self._local) if s[1] >= oldest}
        if self.store is not None and (deltas or wanted):
            shared = await self.store.exchange(deltas, wanted)
            with self._lock:
                self._local.subtract(deltas)
                self._shared.update(shared)
        with self._lock:
            self._local = Counter(
                {s: n for s, n in self._local.items() if n > 0 and s[1] >= oldest}
            )
            self._shared = {s: n for s, n in self._shared.items() if s[1] >= oldest}

    async def run(self, interval_s: float, errors: tuple[type[BaseException], ...]) -> None:
        """Exchange forever; a store outage leaves each replica limiting on its own counts."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sync()
            except errors as exc:
                log.warning("rate-limit counters not shared this round: %s", exc)

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()
