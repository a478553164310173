"""``pinyard db upgrade``: apply migrations straight to the database.

This is the one command that talks to the database rather than the admin
API: it runs before any gateway can (a release step for PostgreSQL, where the
gateway does not migrate on start).
"""

from __future__ import annotations

import typer
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from app.cli.output import EXIT_INFRA, fail
from app.registry import db as registry_db
from app.settings import Settings

app = typer.Typer(help="Database schema.", no_args_is_help=True)


def masked(url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print in CI logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable database URL>"


@app.command()
def upgrade() -> None:
    """Apply every migration to PINYARD_DATABASE_URL."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(str(error["msg"]) for error in exc.errors())
        fail(f"invalid settings: {problems}")
    shown = masked(settings.database_url)
    try:
        registry_db.upgrade(settings.database_url)
    except SQLAlchemyError as exc:
        fail(
            f"could not migrate {shown}: {type(exc).__name__}: {exc.args[0] if exc.args else exc}",
            EXIT_INFRA,
        )
    typer.echo(f"database is up to date: {shown}")
