"""Which bundle answers a request: an alias of the caller's environment, or a pinned ref."""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import ModelNotFound
from app.registry.snapshot import ServedBundle, Snapshot

ROUTE_STABLE = "stable"
ROUTE_PINNED = "pinned"
ROUTE_FALLBACK = "fallback"


@dataclass(frozen=True, slots=True)
class Resolution:
    environment: str
    alias: str  # the alias, or the bundle reference as the client wrote it
    bundle: ServedBundle
    route: str


def resolve_model(snapshot: Snapshot, environment: str, model: str) -> Resolution:
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
