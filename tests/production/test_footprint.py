"""A gateway imports only what serving needs: heavy libraries wait until a feature asks.

Each of these costs megabytes of resident memory in every replica (numpy and
scipy ~40 MB, alembic ~12 MB, litellm far more); the benchmark's idle-RSS
goal depends on them staying out until a bundle, a rollout or a migration
needs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "scipy", "bm25s", "alembic", "litellm", "psycopg", "tiktoken", "openai")


def test_building_the_app_leaves_heavy_libraries_unimported(tmp_path: Path) -> None:
    program = f"""
import sys
from app.main import create_app
from app.settings import Settings
create_app(Settings(database_url="sqlite:///{tmp_path}/footprint.db"))
print(",".join(name for name in {HEAVY!r} if name in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == ""
