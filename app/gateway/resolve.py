"""Which bundle answers a request: an alias of the caller's environment, or a pinned ref.

During a rollout the alias's subjects are split by a sticky hash
(``app.rollouts.assignment``): those under the step's weight get the candidate
(route ``canary``), the others the baseline (route ``stable``).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ModelNotFound, ServiceUnavailableError
from app.registry.snapshot import ActiveRollout, ServedBundle, Snapshot
from app.rollouts.assignment import ARM_CANARY, ARM_STABLE, arm_for

ROUTE_STABLE = "stable"
ROUTE_PINNED = "pinned"
ROUTE_FALLBACK = "fallback"
ROUTE_CANARY = "canary"
ROUTE_BATCH = "batch"  # a line of a batch, on the digest pinned when it was created


@dataclass(frozen=True, slots=True)
class Resolution:
    environment: str
    alias: str  # the alias, or the bundle reference as the client wrote it
    bundle: ServedBundle
    route: str
    rollout: ActiveRollout | None = None  # the alias's running rollout, if any
    arm: str | None = None  # "canary" or "stable" while a rollout runs


def resolve_model(
    snapshot: Snapshot, environment: str, model: str, subject: str | None = None
) -> Resolution:
    """``subject`` keeps a caller on one arm of a rollout (None: drawn per request)."""
    found = lookup_model(snapshot, environment, model)
    rollout = None if found.route == ROUTE_PINNED else snapshot.rollouts.get((environment, model))
    if rollout is None:
        return found
    if arm_for(rollout.id, subject, rollout.weight) == ARM_CANARY:
        return Resolution(environment, model, rollout.candidate, ROUTE_CANARY, rollout, ARM_CANARY)
    return Resolution(environment, model, found.bundle, ROUTE_STABLE, rollout, ARM_STABLE)


def lookup_model(snapshot: Snapshot, environment: str, model: str) -> Resolution:
    """What ``model`` names now, outside any rollout: the alias's target or a pinned ref."""
    if not snapshot.loaded:
        raise ServiceUnavailableError(
            "the gateway has not loaded the registry yet (database unreachable at start?)"
        )
    if "@" in model:
        bundle = snapshot.ref(model)
        if bundle is None:
            raise ModelNotFound(
                f"bundle reference {model!r} is not registered (use name@N or name@sha256:<hex>)",
                param="model",
            )
        return Resolution(environment, model, bundle, ROUTE_PINNED)
    bundle = snapshot.alias(environment, model)
    if bundle is None:
        known = ", ".join(name for name, _ in snapshot.aliases_in(environment)) or "none"
        raise ModelNotFound(
            f"the model {model!r} is not an alias in environment {environment!r} "
            f"(aliases there: {known})",
            param="model",
        )
    return Resolution(environment, model, bundle, ROUTE_STABLE)
