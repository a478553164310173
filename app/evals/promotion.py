"""Run-on-promotion: the gateway runs a promoted alias's missing suites itself.

The promotion gate (``EvalGate``) is a synchronous check inside the alias
flip's transaction, and a suite run takes seconds to minutes of provider
calls: far too long to hold the registry's write lock. So the admin route
calls ``run_missing_suites`` first, outside any transaction: when the target
environment is protected and the alias's policy says ``run_on_promotion``,
every required suite without a fresh passing run for the digest is loaded
from ``PINYARD_EVALS_DIR/<suite>.yaml``, run in-process with the same runner
the CLI uses, and recorded (audited, source ``promotion``). Then the flip
proceeds and the gate judges the recorded runs like any others, so a failed
run refuses the promotion naming the thresholds it missed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import Engine

from app.bundles.loader import load_bundle_file
from app.bundles.spec import BundleSpec
from app.errors import BadRequestError
from app.evals.cache import ResponseCache
from app.evals.reports import record_body
from app.evals.runner import RunOptions, SuiteRunner
from app.evals.suite import Suite, load_suite
from app.evals.targets import LocalTarget, Target, TargetInfo, reference_kind
from app.providers.client import ProviderClient
from app.registry.compiled import CompiledBundle, PrepareChat, compile_bundle
from app.registry.db import read_session
from app.registry.eval_repo import EvalRunRepository
from app.registry.eval_runs import EvalRunIn, EvalRunService
from app.registry.gates import PromotionBlocked
from app.registry.snapshot import SnapshotStore
from app.registry.tables import BundleRow, utcnow
from app.registry.writes import RegistryService
from app.settings import Settings

log = logging.getLogger("pinyard.evals")


class PromotionContext(Protocol):
    """What a promotion's suite runs need of the gateway (``app.context.AppContext``)."""

    settings: Settings
    engine: Engine
    registry: RegistryService
    snapshots: SnapshotStore
    providers: ProviderClient
    retrieval_http: httpx.AsyncClient
    prepare_chat: PrepareChat


@dataclass(frozen=True, slots=True)
class _Pending:
    bundle: BundleRow
    suites: list[str]


async def run_missing_suites(
    ctx: PromotionContext, environment: str, alias: str, ref: str, *, actor: str, override: bool
) -> list[dict[str, Any]]:
    """Run and record the suites a promotion still needs; the recorded runs (may be none).

    An override skips this: the operator promotes despite the gates, and the
    flip is audited as an override naming what was missing.
    """
    if override:
        return []
    pending = await asyncio.to_thread(_pending, ctx, environment, alias, ref)
    if pending is None:
        return []
    recorded = []
    for name in pending.suites:
        try:
            suite, target, judges = _prepare(ctx, name, pending.bundle)
            result = await SuiteRunner(suite, target, judges, _options(ctx)).run()
        except BadRequestError as exc:
            raise PromotionBlocked(
                environment,
                alias,
                [f"[evals] cannot run suite {name!r} on promotion: {exc.message}"],
            ) from exc
        log.info("suite %s on %s: %s", name, target.info.label, result.verdict)
        body = EvalRunIn.model_validate(record_body(result, commit=None))
        recorded.append(
            await asyncio.to_thread(
                EvalRunService(ctx.engine).record, body, actor=actor, source="promotion"
            )
        )
    return recorded


def _pending(ctx: PromotionContext, environment: str, alias: str, ref: str) -> _Pending | None:
    """The target bundle and its required suites lacking a fresh pass, when run_on_promotion."""
    ctx.registry.check_target(environment, alias)
    with read_session(ctx.engine) as session:
        policy = ctx.registry.policy(session, environment)
        entry = policy.for_alias(alias)
        if not (policy.protected and entry.run_on_promotion and entry.required_suites):
            return None
    bundle = ctx.registry.get_bundle(ref)
    since = utcnow() - timedelta(days=entry.max_age_days) if entry.max_age_days else None
    with read_session(ctx.engine) as session:
        runs = EvalRunRepository(session)
        missing = [
            suite
            for suite in entry.required_suites
            if runs.latest(suite, bundle.digest, passed=True, since=since) is None
        ]
    return _Pending(bundle, missing) if missing else None


def _prepare(
    ctx: PromotionContext, name: str, bundle: BundleRow
) -> tuple[Suite, Target, dict[str, Target]]:
    path = ctx.settings.evals_dir / f"{name}.yaml"
    if not path.is_file():
        raise BadRequestError(f"{path} does not exist on the gateway (PINYARD_EVALS_DIR)")
    suite = load_suite(path)
    if suite.name != name:
        raise BadRequestError(f"{path} defines suite {suite.name!r}, not {name!r}")
    compiled = _compiled(ctx, bundle.digest, bundle.spec)
    info = TargetInfo(
        name=bundle.name,
        digest=bundle.digest,
        version=bundle.version,
        model=bundle.model,
        source="ref",
        reference=f"{bundle.name}@{bundle.version}",
    )
    target = _local(ctx, compiled, info)
    judges = {reference: _judge(ctx, reference) for reference in suite.judges()}
    return suite, target, judges


def _compiled(ctx: PromotionContext, digest: str, spec_json: str) -> CompiledBundle:
    served = ctx.snapshots.current.by_digest.get(digest)
    if served is not None:
        return served.compiled
    spec = BundleSpec.model_validate(orjson.loads(spec_json))
    return compile_bundle(spec, enforce_pinning=False)


def _fallbacks(ctx: PromotionContext, compiled: CompiledBundle) -> list[CompiledBundle]:
    snapshot = ctx.snapshots.current
    found = [snapshot.ref(ref) for ref in compiled.spec.fallbacks]
    return [served.compiled for served in found if served is not None]


def _judge(ctx: PromotionContext, reference: str) -> Target:
    """A judge from the registry snapshot (ref or alias@env) or a bundle file."""
    kind, first, env = reference_kind(reference)
    snapshot = ctx.snapshots.current
    if kind == "path":
        compiled = compile_bundle(load_bundle_file(first))
        info = TargetInfo(
            compiled.name, compiled.digest, None, compiled.spec.model, "bundle", first
        )
        return _local(ctx, compiled, info)
    served = snapshot.ref(first) if kind == "ref" else snapshot.alias(env, first)
    if served is None:
        what = "is not registered" if kind == "ref" else f"is not an alias in {env}"
        raise BadRequestError(f"judge {reference!r} {what}")
    info = TargetInfo(
        served.name, served.digest, served.version, served.compiled.spec.model, kind, reference
    )
    return _local(ctx, served.compiled, info)


def _local(ctx: PromotionContext, compiled: CompiledBundle, info: TargetInfo) -> LocalTarget:
    """The bundle run in this process, with its registered fallbacks."""
    fallbacks = _fallbacks(ctx, compiled)
    return LocalTarget(
        compiled, ctx.providers, info, fallbacks, ctx.retrieval_http, prepare=ctx.prepare_chat
    )


def _options(ctx: PromotionContext) -> RunOptions:
    directory = ctx.settings.eval_cache_dir
    return RunOptions(
        concurrency=ctx.settings.eval_concurrency,
        cache=ResponseCache(directory) if directory is not None else None,
    )
