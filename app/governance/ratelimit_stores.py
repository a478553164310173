"""Where replicas share rate-limit counts: Redis (``PINYARD_REDIS_URL``) or PostgreSQL.

Both take this replica's new hits as increments and answer the global counts,
in one round trip per exchange; neither is ever awaited by a request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import redis.asyncio as redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.governance.ratelimit import BUCKET_S, CounterStore, Slot
from app.registry.db import write_session
from app.registry.ratelimit_repo import RateCounterRepository

STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, SQLAlchemyError)


class RedisStore:
    def __init__(self, url: str, prefix: str = "pinyard:rl:") -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self.prefix = prefix

    def _key(self, slot: Slot) -> str:
        return f"{self.prefix}{slot[0]}:{slot[1]}"

    async def exchange(self, deltas: Mapping[Slot, int], wanted: set[Slot]) -> dict[Slot, int]:
        slots = sorted(set(deltas) | wanted)
        pipe = self.client.pipeline(transaction=False)
        for slot in slots:
            if deltas.get(slot):
                pipe.incrby(self._key(slot), deltas[slot])
                pipe.expire(self._key(slot), 3 * BUCKET_S)
            else:
                pipe.get(self._key(slot))
        replies = await pipe.execute()
        counts: dict[Slot, int] = {}
        position = 0
        for slot in slots:
            reply = replies[position]
            position += 2 if deltas.get(slot) else 1
            if reply is not None:
                counts[slot] = int(reply)
        return counts

    async def close(self) -> None:
        await self.client.aclose()


class PostgresStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _exchange(self, deltas: Mapping[Slot, int], wanted: set[Slot]) -> dict[Slot, int]:
        with write_session(self.engine, registry_lock=False) as session:
            counters = RateCounterRepository(session)
            counts = counters.exchange(deltas, wanted | set(deltas))
            oldest = min((bucket for _, bucket in wanted | set(deltas)), default=None)
            if oldest is not None:
                counters.forget_before(oldest - 1)
        return counts

    async def exchange(self, deltas: Mapping[Slot, int], wanted: set[Slot]) -> dict[Slot, int]:
        return await asyncio.to_thread(self._exchange, deltas, wanted)

    async def close(self) -> None:
        return None


def make_store(redis_url: str | None, engine: Engine) -> CounterStore | None:
    """Redis when configured, else PostgreSQL when that is the database, else none (SQLite)."""
    if redis_url:
        return RedisStore(redis_url)
    if engine.dialect.name == "postgresql":
        return PostgresStore(engine)
    return None
