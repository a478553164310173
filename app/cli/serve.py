"""``pinyard serve``: run the gateway under uvicorn.

uvicorn gets the import string of the factory (``app.main:create_app``) rather
than an app object, so ``--workers N`` can start N processes that each build
their own app, reading settings from ``PINYARD_*`` at start. uvloop and
httptools are used when installed (``uvicorn[standard]`` brings both). On
SIGTERM uvicorn stops accepting, lets in-flight requests (streams included)
finish for up to ``PINYARD_SHUTDOWN_GRACE_S``, then the app's shutdown flushes
the request records, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
from types import FrameType
from typing import Annotated, Literal

import typer
import uvicorn
from pydantic import ValidationError

from app.cli.output import fail
from app.settings import Settings
from app.telemetry.logging import log_config

APP_FACTORY = "app.main:create_app"


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default 1); replicas share the database."),
    ] = None,
) -> None:
    """Run the gateway (data plane and admin API)."""
    try:
        settings = Settings()
    except ValidationError as exc:
        fail("invalid settings: " + "; ".join(str(error["msg"]) for error in exc.errors()))
    # uvicorn re-raises SIGTERM once its graceful shutdown is done; by then
    # nothing is left to do, so a stop asked for by SIGTERM exits 0.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        _run(host, port, workers, settings)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _run(host: str, port: int, workers: int | None, settings: Settings) -> None:
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if _available("uvloop") else "asyncio",
        http=_http_protocol(),
        log_config=log_config(settings.log_format, settings.log_level),
        timeout_graceful_shutdown=settings.shutdown_grace_s,
    )


def _http_protocol() -> type[asyncio.Protocol] | Literal["h11"]:
    """httptools with each answer's head and body in one write (``http_protocol``)."""
    if not _available("httptools"):
        return "h11"
    from app.gateway.http_protocol import CoalescingHttpToolsProtocol

    return CoalescingHttpToolsProtocol
