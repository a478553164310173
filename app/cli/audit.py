"""``pinyard audit``: check the hash chain, export the trail.

``verify`` is a CI gate: exit 1 when any event was edited, removed or
reordered. ``export`` pages through the whole trail and writes JSON Lines, one
event per line, for archiving or a SIEM; a file is written whole or not at all.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from app.cli.client import AdminClient
from app.cli.output import EXIT_GATE, EXIT_INFRA, JsonFlag, fail, print_json

app = typer.Typer(help="The append-only, hash-chained audit trail.", no_args_is_help=True)

PAGE_SIZE = 1000


@app.command()
def verify(as_json: JsonFlag = False) -> None:
    """Check every event's hash and link; exit 1 at the first broken one."""
    with AdminClient() as api:
        report = api.get("/admin/audit/verify")
    if as_json:
        print_json(report)
    elif report["ok"]:
        typer.echo(f"audit chain ok: {report['events']} events")
    else:
        typer.echo(f"audit chain broken at event {report['broken_at']}: {report['problem']}")
    if not report["ok"]:
        raise typer.Exit(EXIT_GATE)


def _events(api: AdminClient) -> Iterator[dict[str, Any]]:
    after = 0
    while True:
        page = api.get("/admin/audit", params={"after": after, "limit": PAGE_SIZE})
        yield from page["data"]
        next_after = page.get("next_after")
        if next_after is None:
            return
        if next_after <= after:
            fail(f"the server's audit paging did not advance (after={after})", EXIT_INFRA)
        after = next_after


def _write(api: AdminClient, stream: TextIO) -> int:
    count = 0
    for event in _events(api):
        stream.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


@app.command()
def export(
    out: Annotated[
        Path | None, typer.Option(help="Write JSON Lines here (default: stdout).")
    ] = None,
) -> None:
    """Every audit event, oldest first, as JSON Lines."""
    with AdminClient() as api:
        if out is None:
            _write(api, sys.stdout)
            return
        try:
            handle, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                count = _write(api, stream)
            os.replace(temp_name, out)
        finally:
            if os.path.exists(temp_name):
                os.unlink(temp_name)
    typer.echo(f"wrote {count} events to {out}", err=True)
