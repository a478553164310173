"""Chunks of a batch as Dramatiq messages, for workers beyond the gateway.

Why Dramatiq: Pinyard's pipeline is asyncio, and Dramatiq runs ``async def``
actors on an event loop (its ``AsyncIO`` middleware) where Celery runs only
synchronous tasks; it acknowledges a message only once the actor returned, so
a worker that dies mid-chunk has its chunk delivered again (its finished lines
are skipped: only pending lines run); and it speaks RabbitMQ and Redis, the
brokers a deployment already runs. Optional: ``pip install 'pinyard[workers]'``.

The gateway enqueues by actor *name* (``run_chunk``), so it needs the broker
client but not the worker module (``app.workers.batch_worker``), which imports
the whole gateway to run lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dramatiq import Broker

ACTOR = "run_chunk"
# A chunk interrupted (shutdown) or failing by a bug is tried again this often.
MAX_RETRIES = 20
# Longest a chunk may run (ms): its lines' provider calls, one after another at worst.
TIME_LIMIT_MS = 6 * 3600 * 1000


def make_broker(url: str) -> Broker:
    """A RabbitMQ (``amqp://``) or Redis (``redis://``) broker, with async actors enabled."""
    try:
        from dramatiq.middleware.asyncio import AsyncIO
    except ImportError as exc:
        raise RuntimeError(
            "PINYARD_BATCH_EXECUTOR=dramatiq needs Dramatiq: pip install 'pinyard[workers]'"
        ) from exc
    broker: Broker
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    elif url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    else:
        raise ValueError("PINYARD_BATCH_BROKER_URL must be amqp://... or redis://...")
    broker.add_middleware(AsyncIO())
    return broker


class ChunkQueue:
    def __init__(self, broker: Broker, queue: str) -> None:
        from dramatiq.errors import ConnectionError as BrokerConnectionError

        self.broker = broker
        self.queue = queue
        # What a broker that went away raises (the dispatcher retries on its next poll).
        self.errors: tuple[type[Exception], ...] = (BrokerConnectionError, OSError)
        self._declared = False

    def enqueue(self, batch_id: str, chunks: Sequence[tuple[int, int]]) -> None:
        from dramatiq import Message

        if not self._declared:
            self.broker.declare_queue(self.queue)
            self._declared = True
        for first, last in chunks:
            message: Message[Any] = Message(
                queue_name=self.queue,
                actor_name=ACTOR,
                args=(batch_id, first, last),
                kwargs={},
                options={"max_retries": MAX_RETRIES},
            )
            self.broker.enqueue(message)

    def close(self) -> None:
        self.broker.close()
