"""Shared output for every CLI command: JSON for machines, rich for humans.

Exit codes are part of the CLI's contract (CI scripts branch on them), so they
are named here once: 0 ok, 1 a gate failed, 2 bad input or usage, 3 the
infrastructure (server, database) failed.

User-supplied text (reasons, templates, names) is never interpreted as rich
markup: helpers take plain strings and wrap them in ``Text``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

EXIT_OK = 0
EXIT_GATE = 1
EXIT_USAGE = 2
EXIT_INFRA = 3

JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")
]

# Wide enough that digests (71 characters) are not folded when output is piped.
_PIPE_WIDTH = 200


def console(*, stderr: bool = False) -> Console:
    """A console bound to the current stdout/stderr (test runners swap them)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else _PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: <message>`` to stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    console(stderr=True).print(Text(f"warning: {message}", style="yellow"))


def show(value: Any) -> str:
    """One cell's worth of a JSON value: scalars as-is, structures as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def ref(bundle: dict[str, Any] | None, *, digest: bool = True) -> str:
    """``name@version (sha256:…)`` for a ``{"name","version","digest"}`` mapping."""
    if not bundle:
        return "nothing"
    short = f"{bundle['name']}@{bundle['version']}"
    return f"{short} ({bundle['digest']})" if digest else short


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """Aligned ``key  value`` lines (plain text, so values are never folded)."""
    rows = list(pairs)
    width = max((len(key) for key, _ in rows), default=0)
    out = console()
    for key, value in rows:
        out.print(Text(f"{key.ljust(width)}  {show(value)}"))


def code(text: str, lexer: str) -> None:
    """Highlighted source (YAML, a unified diff) without padding every line to the width."""
    console().print(Syntax(text, lexer, word_wrap=True, background_color="default"))


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(show(cell)) for cell in row))
    console().print(grid)
