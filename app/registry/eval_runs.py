"""Recording eval runs and reading them back: one transaction, audited.

A run is evidence for a promotion gate, so it is stored only against a
registered digest (the registry's name and version are authoritative, not the
client's) and every recording is an audit event like any other change.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from app.bundles.spec import DIGEST_PATTERN, NAME_PATTERN, parse_ref
from app.errors import BadRequestError, NotFoundError
from app.registry.audit import AuditRepository
from app.registry.bundle_repo import BundleRepository
from app.registry.db import read_session, write_session
from app.registry.eval_repo import EvalRunRepository, EvalRunRow
from app.registry.tables import as_utc, utcnow


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteRef(_Body):
    name: str = Field(pattern=NAME_PATTERN)
    digest: str = Field(pattern=DIGEST_PATTERN.pattern)
    path: str | None = None


class BundleRef(_Body):
    digest: str = Field(pattern=DIGEST_PATTERN.pattern)
    name: str | None = None
    version: int | None = None
    model: str | None = None
    source: str | None = None
    reference: str | None = None


class EvalRunIn(_Body):
    """``POST /admin/evals/runs``: what ``pinyard eval run --record`` sends."""

    suite: SuiteRef
    bundle: BundleRef
    verdict: Literal["pass", "fail", "error"]
    failures: list[str] = Field(default_factory=list)
    totals: dict[str, Any] = Field(default_factory=dict)
    scorers: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, Any] = Field(default_factory=dict)
    cases: list[dict[str, Any]] = Field(default_factory=list)
    baseline: dict[str, Any] | None = None
    commit: str | None = Field(default=None, max_length=64)


def new_run_id() -> str:
    return "evr_" + uuid.uuid4().hex


class EvalRunService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, run: EvalRunIn, *, actor: str, source: str = "cli") -> dict[str, Any]:
        with write_session(self.engine) as session:
            bundle = BundleRepository(session).by_digest(run.bundle.digest)
            if bundle is None:
                raise NotFoundError(
                    f"bundle {run.bundle.digest} is not registered: push it first "
                    "(pinyard bundle push PATH) so the run can be recorded against its digest",
                    param="bundle.digest",
                )
            if run.bundle.name is not None and run.bundle.name != bundle.name:
                raise BadRequestError(
                    f"digest {run.bundle.digest} is {bundle.name}@{bundle.version}, "
                    f"not {run.bundle.name}",
                    param="bundle.name",
                )
            row = EvalRunRepository(session).add(
                EvalRunRow(
                    id=new_run_id(),
                    created_at=utcnow(),
                    suite_name=run.suite.name,
                    suite_digest=run.suite.digest,
                    bundle_name=bundle.name,
                    bundle_version=bundle.version,
                    bundle_digest=bundle.digest,
                    verdict=run.verdict,
                    passed=run.verdict == "pass",
                    pass_rate=run.totals.get("pass_rate"),
                    failures=_json(run.failures),
                    totals=_json(
                        {
                            "totals": run.totals,
                            "scorers": run.scorers,
                            "thresholds": run.thresholds,
                            "suite_path": run.suite.path,
                            "bundle_source": run.bundle.source,
                            "bundle_reference": run.bundle.reference,
                        }
                    ),
                    cases=_json(run.cases),
                    baseline=_json(run.baseline) if run.baseline is not None else None,
                    commit=run.commit,
                    source=source,
                    actor=actor,
                )
            )
            AuditRepository(session).append(
                actor=actor,
                action="eval.record",
                target=f"eval/{row.suite_name}/{row.bundle_name}@{row.bundle_version}",
                reason=f"{row.verdict}: {row.suite_name} on {row.bundle_name}@{row.bundle_version}"
                f" ({source})",
                after={
                    "id": row.id,
                    "suite": row.suite_name,
                    "suite_digest": row.suite_digest,
                    "bundle": {
                        "name": row.bundle_name,
                        "version": row.bundle_version,
                        "digest": row.bundle_digest,
                    },
                    "verdict": row.verdict,
                    "pass_rate": row.pass_rate,
                    "failures": run.failures,
                    "commit": row.commit,
                },
            )
            return run_as_dict(row)

    def list_runs(
        self, *, bundle: str | None = None, suite: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest first; ``bundle`` is a digest, a ref (name@N, name@sha256:...) or a name."""
        with read_session(self.engine) as session:
            digest = name = None
            if bundle and DIGEST_PATTERN.match(bundle):
                digest = bundle
            elif bundle and "@" in bundle:
                digest = _resolve(BundleRepository(session), bundle)
            elif bundle:
                name = bundle
            rows = EvalRunRepository(session).find(
                bundle_digest=digest, bundle_name=name, suite=suite, limit=limit
            )
            return [run_as_dict(row, full=False) for row in rows]

    def get_run(self, run_id: str) -> dict[str, Any]:
        with read_session(self.engine) as session:
            row = EvalRunRepository(session).get(run_id)
            if row is None:
                raise NotFoundError(f"no eval run {run_id!r}", param="run_id")
            return run_as_dict(row)


def _resolve(bundles: BundleRepository, ref: str) -> str:
    try:
        name, selector = parse_ref(ref)
    except ValueError as exc:
        raise BadRequestError(str(exc), param="bundle") from exc
    row = (
        bundles.by_version(name, selector)
        if isinstance(selector, int)
        else bundles.by_digest(selector)
    )
    if row is None or row.name != name:
        raise NotFoundError(f"bundle {ref} is not registered", param="bundle")
    return row.digest


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def run_as_dict(row: EvalRunRow, *, full: bool = True) -> dict[str, Any]:
    summary = orjson.loads(row.totals)
    data: dict[str, Any] = {
        "id": row.id,
        "created_at": as_utc(row.created_at).isoformat(),
        "suite": {"name": row.suite_name, "digest": row.suite_digest},
        "bundle": {
            "name": row.bundle_name,
            "version": row.bundle_version,
            "digest": row.bundle_digest,
        },
        "verdict": row.verdict,
        "passed": row.passed,
        "pass_rate": row.pass_rate,
        "failures": orjson.loads(row.failures),
        "totals": summary.get("totals", {}),
        "commit": row.commit,
        "source": row.source,
        "actor": row.actor,
    }
    if full:
        data["scorers"] = summary.get("scorers", {})
        data["thresholds"] = summary.get("thresholds", {})
        data["cases"] = orjson.loads(row.cases)
        data["baseline"] = orjson.loads(row.baseline) if row.baseline else None
    return data
