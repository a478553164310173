"""The promotion gate that refuses to promote into a cliff.

An alias flip into a protected environment is refused when the target bundle's
pinned model shuts down within the environment's ``block_within_days``
(default 14), naming the date and the replacement. An operator override is
audited by the registry like any other gate's.
"""

from __future__ import annotations

from app.deprecations.live_catalog import FLOATING_NOTE, Deprecations, retirement
from app.registry.gates import PromotionRequest


class DeprecationGate:
    name = "deprecation"

    def __init__(self, deprecations: Deprecations) -> None:
        self.deprecations = deprecations

    def check(self, request: PromotionRequest) -> list[str]:
        model = str(request.spec.get("model", request.bundle.model))
        found = self.deprecations.retiring(model)
        if found is None:
            return []
        entry, days = found
        window = request.policy.block_within_days
        if days > window:
            return []
        note = FLOATING_NOTE if request.spec.get("allow_floating") else ""
        label = f"{request.bundle.name}@{request.bundle.version}"
        return [
            f"{retirement(entry, days, pinned_by=label)} "
            f"({request.environment} blocks models within {window} days of shutdown){note}"
        ]
