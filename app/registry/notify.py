"""Registry change notifications across replicas (PostgreSQL ``LISTEN/NOTIFY``).

Every registry write transaction bumps the revision and calls ``pg_notify``
with ``<schema>:<revision>`` (``StateRepository.bump``); PostgreSQL delivers
it when that transaction commits, to every listener of the database, and each
listener keeps those of its own schema. Each replica holds one dedicated
connection that ``LISTEN``s on the channel and hands each revision to a
callback, which wakes the snapshot watcher. Notifications sent while the
listener was disconnected are lost, so after every (re)connect the callback
is called with ``None``: check now. The watcher's revision poll stays on as
the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine

from app.registry.alias_repo import REGISTRY_CHANNEL

log = logging.getLogger("pinyard.notify")

# libpq settings for the listening connection; the database URL may override them.
_CONNECTION_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


def connect_kwargs(engine: Engine) -> dict[str, Any]:
    """psycopg keyword arguments for the engine's database (URL query options kept)."""
    _, params = engine.dialect.create_connect_args(engine.url)
    params.pop("context", None)
    return {**_CONNECTION_DEFAULTS, **params}


class RevisionListener:
    """Calls ``on_revision(revision)`` for every registry change committed anywhere."""

    def __init__(
        self,
        engine: Engine,
        on_revision: Callable[[int | None], None],
        *,
        check_every_s: float = 10.0,
        retry_max_s: float = 10.0,
    ) -> None:
        self.kwargs = connect_kwargs(engine)
        self.on_revision = on_revision
        self.check_every_s = check_every_s
        self.retry_max_s = retry_max_s
        self.connected = False

    async def run(self) -> None:
        """Listen until cancelled, reconnecting with backoff whenever the connection drops."""
        delay = 0.5
        while True:
            try:
                await self._listen()
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if self.connected:
                    log.warning("lost the registry change listener: %s", exc)
                else:
                    log.debug("registry change listener cannot connect: %s", exc)
            except Exception:
                log.exception("registry change listener failed; the revision poll still runs")
            if self.connected:
                delay = 0.5  # it was working: reconnect quickly
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.retry_max_s)

    async def _listen(self) -> None:
        connection = await psycopg.AsyncConnection.connect(**self.kwargs, autocommit=True)
        try:
            cursor = await connection.execute("SELECT current_schema()")
            schema = str((await cursor.fetchone() or ("",))[0])
            await connection.execute(f"LISTEN {REGISTRY_CHANNEL}")
            self.connected = True
            log.info("listening for registry changes on %s (schema %s)", REGISTRY_CHANNEL, schema)
            self.on_revision(None)  # changes made while we were not listening
            while True:
                async for note in connection.notifies(timeout=self.check_every_s):
                    source, _, revision = note.payload.rpartition(":")
                    if source == schema:
                        self.on_revision(_revision(revision))
                # A quiet spell: prove the connection is still alive (a silent
                # network partition would otherwise leave us listening to nothing).
                async with asyncio.timeout(self.check_every_s):
                    await connection.execute("SELECT 1")
        finally:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()


def _revision(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:
        return None
