"""The rooms of ``app/`` and the one direction of their dependencies (docs/architecture.md).

The import contracts live in ``pyproject.toml`` (``[tool.importlinter]``); these
tests run them, prove they catch an upward import (one hidden under
``TYPE_CHECKING`` too) and a circle inside the services' layer, and keep the
architecture document and the module names honest.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
DOC = ROOT / "docs" / "architecture.md"

# Packages that are surfaces over a noun: admin/X.py (HTTP), cli/X.py (commands) and
# console/X.py (pages) may share X with the room that owns the noun.
SURFACES = frozenset({"admin", "cli", "console"})
# Same name, same meaning: each room's promotion gate (``app.registry.gates.Gate``).
SHARED_NAMES = frozenset({"gate.py"})


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_or_circular_import_breaks_them_even_under_type_checking(
    tmp_path: Path,
) -> None:
    shutil.copytree(APP, tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    plant = "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import {}\n"
    # A service reaching up into the gateway, only for a type annotation.
    with (tmp_path / "app" / "registry" / "db.py").open("a") as db:
        db.write(plant.format("app.gateway.lineage"))
    # Two services leaning on each other: rollouts already import the registry.
    with (tmp_path / "app" / "registry" / "policy.py").open("a") as policy:
        policy.write(plant.format("app.rollouts.compare"))
    result = lint_imports(tmp_path)
    assert result.returncode == 1
    assert "0 kept, 2 broken" in result.stdout, result.stdout
    assert "app.registry.db -> app.gateway.lineage" in result.stdout


def rooms() -> list[str]:
    """Every top-level package and module under app/ (what the layers contract must list)."""
    found = [p.name for p in APP.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    found += [p.stem for p in APP.glob("*.py") if p.name != "__init__.py"]
    return sorted(found)


def test_every_room_is_in_the_architecture_document() -> None:
    text = DOC.read_text()
    for room in rooms():
        named = f"`{room}/`" in text or f"`{room}.py`" in text
        assert named, f"docs/architecture.md does not describe app/{room}"


def test_every_module_the_document_names_exists() -> None:
    """A renamed or moved module cannot leave the document pointing at nothing."""
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)(?::[^`]*)?`", DOC.read_text()))
    missing = [path for path in sorted(named) if not _exists(path)]
    assert named and missing == []


def _exists(path: str) -> bool:
    """``room/module.py`` under app/, a path from the root, or a bare name in some room."""
    if "/" not in path:
        return any(APP.rglob(path))
    return (APP / path).exists() or (ROOT / path).exists()


def test_the_readme_links_the_architecture_document() -> None:
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()


def test_a_module_name_means_one_thing() -> None:
    """No two rooms hold a ``service.py`` or a ``base.py`` meaning different things."""
    owners: dict[str, list[str]] = defaultdict(list)
    for module in APP.rglob("*.py"):
        if module.name != "__init__.py":
            owners[module.name].append(str(module.parent.relative_to(APP)))
    clashes = {
        name: places
        for name, places in owners.items()
        if name not in SHARED_NAMES
        and len([p for p in places if p.split("/")[0] not in SURFACES]) > 1
    }
    assert clashes == {}
