"""Every SQLModel table, imported in one place so Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

import app.registry.batch_tables
import app.registry.deprecation_tables
import app.registry.eval_repo
import app.registry.governance_tables
import app.registry.outcome_tables
import app.registry.tables  # noqa: F401  (each import registers its tables)

metadata = SQLModel.metadata

__all__ = ["metadata"]
