"""``EvalGate``: no bundle enters a protected environment without passing its suites.

For the alias being promoted, the environment's policy names the required
suites and how fresh a pass must be. The gate reads the recorded runs for the
exact digest (inside the flip's transaction) and refuses, per suite, naming
what is missing: no run at all, a latest run that failed (with the thresholds
it missed), or a pass that is too old. It never runs anything itself:
run-on-promotion happens before the transaction (``app.evals.promotion``).
"""

from __future__ import annotations

from datetime import timedelta

import orjson

from app.registry.eval_repo import EvalRunRepository, EvalRunRow
from app.registry.gates import PromotionRequest
from app.registry.tables import as_utc, utcnow


class EvalGate:
    name = "evals"

    def check(self, request: PromotionRequest) -> list[str]:
        entry = request.policy.for_alias(request.alias)
        if not entry.required_suites:
            return []
        runs = EvalRunRepository(request.session)
        digest = request.bundle.digest
        label = f"{request.bundle.name}@{request.bundle.version}"
        since = utcnow() - timedelta(days=entry.max_age_days) if entry.max_age_days else None
        reasons: list[str] = []
        for suite in entry.required_suites:
            if runs.latest(suite, digest, passed=True, since=since) is not None:
                continue
            latest = runs.latest(suite, digest)
            reasons.append(_refusal(suite, label, digest, latest, entry.max_age_days))
        return reasons


def _refusal(
    suite: str, label: str, digest: str, latest: EvalRunRow | None, max_age_days: float | None
) -> str:
    if latest is None:
        return (
            f"suite {suite!r} has no recorded run for {label} ({digest}); run "
            f"`pinyard eval run --suite evals/{suite}.yaml --target {label} --record`"
        )
    when = as_utc(latest.created_at).isoformat(timespec="seconds")
    if latest.passed:
        return (
            f"suite {suite!r} last passed for {label} at {when} ({latest.id}), "
            f"older than max_age_days {max_age_days:g}; run it again"
            if max_age_days
            else f"suite {suite!r} has no passing run for {label}"
        )
    failures: list[str] = orjson.loads(latest.failures) or [f"verdict {latest.verdict}"]
    return (
        f"suite {suite!r} {'errored' if latest.verdict == 'error' else 'failed'} for {label} "
        f"(latest run {latest.id} at {when}): {'; '.join(failures)}"
    )
