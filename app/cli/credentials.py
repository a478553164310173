"""What ``pinyard token`` and ``pinyard key`` share: lifetimes, the secret shown once,
listing and revoking.

Each noun module keeps its own ``create`` and ``list`` options (they are what
tells the kinds apart) and hands the rest to a ``CredentialCommands``; ``revoke``
is the same command for both and is added here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from app.cli.admin_client import AdminClient, path
from app.cli.output import JsonFlag, fail, fields, print_json, table, warn

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

ExpiresIn = Annotated[
    str | None,
    typer.Option("--expires-in", help="Lifetime, e.g. 90d, 12h, 30m (default: no expiry)."),
]
Reason = Annotated[str | None, typer.Option(help="Why (audited; a description by default).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the secret (for scripts).")]
Name = Annotated[str, typer.Argument(metavar="NAME")]

Answer = dict[str, Any]
# A column of ``list`` (or a line of ``create``'s summary): its header and how to show it.
Shown = tuple[str, Callable[[Answer], Any]]


def expires_at(expires_in: str | None) -> str | None:
    """``--expires-in 90d`` as the ISO time the API takes."""
    if expires_in is None:
        return None
    match = _DURATION.match(expires_in.strip())
    if not match or int(match[1]) == 0:
        fail(f"--expires-in {expires_in!r} must look like 90d, 12h, 30m or 3600s")
    seconds = int(match[1]) * _UNITS[match[2]]
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def field(name: str) -> Callable[[Answer], Any]:
    return lambda answer: answer[name]


@dataclass(frozen=True, slots=True)
class CredentialCommands:
    noun: str  # "token" or "key": the admin path and the created answer's secret field
    summary: Sequence[Shown]  # what ``create`` prints before the secret
    columns: Sequence[Shown]  # what ``list`` prints

    def path(self, *segments: str) -> str:
        return path("admin", f"{self.noun}s", *segments)

    def create(self, body: Answer, *, quiet: bool, as_json: bool) -> None:
        with AdminClient() as api:
            answer = api.post(self.path(), body)
        if as_json:
            print_json(answer)
            return
        if not quiet:
            fields((label, show(answer)) for label, show in self.summary)
        typer.echo(answer[self.noun])
        warn(f"this {self.noun} is shown once: store it now (the gateway keeps only its hash)")

    def list(self, *, as_json: bool, **params: str | None) -> None:
        with AdminClient() as api:
            answer = api.get(self.path(), params=params or None)
        if as_json:
            print_json(answer)
            return
        table(
            None,
            [label for label, _ in self.columns],
            [[show(row) for _, show in self.columns] for row in answer["data"]],
        )

    def add_revoke(self, app: typer.Typer, doc: str) -> None:
        def revoke(name: Name, reason: Reason = None, as_json: JsonFlag = False) -> None:
            with AdminClient() as api:
                answer = api.post(self.path(name, "revoke"), {"reason": reason})
            if as_json:
                print_json(answer)
            else:
                fields([("revoked", answer["name"]), ("at", answer["revoked_at"])])

        app.command("revoke", help=doc)(revoke)
