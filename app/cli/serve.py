"""``pinyard serve``: run the gateway under uvicorn.

uvicorn gets the import string of the factory (``app.main:create_app``) rather
than an app object, so ``--workers N`` can start N processes that each build
their own app, reading settings from ``PINYARD_*`` at start.
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

APP_FACTORY = "app.main:create_app"


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default 1); replicas share the database."),
    ] = None,
) -> None:
    """Run the gateway (data plane and admin API)."""
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers)
