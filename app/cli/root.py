"""The ``pinyard`` command: one sub-app per noun, as drawn in DESIGN.md.

Everything that changes state goes through the admin API (``PINYARD_URL``,
``PINYARD_ADMIN_TOKEN``); only ``serve``, ``db upgrade`` and ``bundle validate``
work locally. Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 infrastructure.
"""

from __future__ import annotations

import typer

from app.cli import alias, audit, batch, bundle, db, deprecations, policy, requests
from app.cli import change as change_cmd
from app.cli import eval as eval_cmd
from app.cli import key as key_cmd
from app.cli import metric as metric_cmd
from app.cli import rollout as rollout_cmd
from app.cli import token as token_cmd
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
app.add_typer(deprecations.app, name="deprecations")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(rollout_cmd.app, name="rollout")
app.add_typer(token_cmd.app, name="token")
app.add_typer(key_cmd.app, name="key")
app.add_typer(change_cmd.app, name="change")
app.add_typer(batch.app, name="batch")
app.add_typer(metric_cmd.app, name="metric")


def main() -> None:
    app()
