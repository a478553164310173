"""The ``pinyard`` command: one sub-app per noun, as drawn in DESIGN.md.

Everything that changes state goes through the admin API (``PINYARD_URL``,
``PINYARD_ADMIN_TOKEN``); only ``serve``, ``db upgrade`` and ``bundle validate``
work locally. Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import typer

from app.cli import alias, audit, bundle, db, policy, requests
from app.cli.serve import serve

app = typer.Typer(
    name="pinyard",
    help="Pinyard: an LLM system-version gateway (aliases, bundles, audit).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold the admin token
)
app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(bundle.app, name="bundle")
app.add_typer(alias.app, name="alias")
app.add_typer(requests.app, name="requests")
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")


def main() -> None:
    app()
