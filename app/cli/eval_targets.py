"""How ``pinyard eval run`` finds the systems it evaluates (and the judges).

A bundle file runs in-process, through the gateway's own planning and provider
code: no server needed. A registry ref (``name@N``) or ``alias@env`` is looked
up through the admin API and then called through the gateway's data plane as
``name@sha256:<digest>`` (route ``pinned``): the caller's environment is the
gateway's local-mode one, so pinning the digest is what makes ``alias@env``
mean that environment's bundle, and keeps the digest fixed for the whole run.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from app.bundles.loader import load_bundle_file
from app.bundles.spec import BundleSpec, parse_ref
from app.cli import admin_client as cli_client
from app.cli.admin_client import AdminClient, path
from app.cli.output import fail, warn
from app.evals.targets import HttpTarget, LocalTarget, Target, TargetInfo, reference_kind
from app.gateway.prepare import prepare_chat
from app.providers.client import ProviderClient
from app.registry.compiled import CompiledBundle, compile_bundle
from app.settings import Settings


class Resolver:
    """Opens the admin API, the data plane and a provider client only when needed."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._api: AdminClient | None = None
        self._http: httpx.Client | None = None
        self.providers: ProviderClient | None = None

    def admin(self) -> AdminClient:
        if self._api is None:
            self._api = self._stack.enter_context(AdminClient())
        return self._api

    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = self._stack.enter_context(
                cli_client.open_http_client(cli_client.server_url())
            )
        return self._http

    def provider_client(self) -> ProviderClient:
        if self.providers is None:
            try:
                settings = Settings()
            except ValidationError as exc:
                problems = "; ".join(str(error["msg"]) for error in exc.errors())
                fail(f"invalid settings: {problems}")
            self.providers = ProviderClient.from_settings(settings)
        return self.providers

    def any(self, reference: str) -> Target:
        kind, _, _ = reference_kind(reference)
        return self.local(Path(reference)) if kind == "path" else self.remote(reference)

    def local(self, bundle_path: Path) -> LocalTarget:
        compiled = compile_bundle(load_bundle_file(bundle_path))
        if compiled.spec.fallbacks:
            warn(
                f"{bundle_path}: fallbacks ({', '.join(compiled.spec.fallbacks)}) name registered "
                "bundles and are not used in a local run; use --target to include them"
            )
        info = TargetInfo(
            name=compiled.name,
            digest=compiled.digest,
            model=compiled.spec.model,
            source="bundle",
            reference=str(bundle_path),
        )
        return LocalTarget(compiled, self.provider_client(), info, prepare=prepare_chat)

    def remote(self, reference: str) -> HttpTarget:
        kind, first, env = reference_kind(reference)
        if kind == "alias":
            answer = self.admin().get(path("admin", "environments", env, "aliases", first))
            bundle = answer["bundle"]
            ref = f"{bundle['name']}@{bundle['version']}"
            extra = {"environment": env, "alias": first}
        elif kind == "ref":
            ref, extra = first, {}
        else:
            fail(f"{reference!r} is not name@N, name@sha256:<hex> or alias@env")
        name, selector = parse_ref(ref)
        shown = self.admin().get(path("admin", "bundles", name, str(selector)))
        compiled = _compile_stored(shown["spec"])
        info = TargetInfo(
            name=shown["name"],
            digest=shown["digest"],
            version=shown["version"],
            model=shown["model"],
            source=kind,
            reference=reference,
            extra=extra,
        )
        return HttpTarget(self.http(), compiled, info, headers=_data_plane_headers())

    def registered_version(self, target: Target) -> int | None:
        """The version under which the target's digest is registered, or None."""
        answer = self.admin().get("/admin/bundles", params={"name": target.info.name})
        for row in answer.get("data", []):
            if row.get("digest") == target.info.digest:
                return int(row["version"])
        return None


def _compile_stored(spec: dict[str, Any]) -> CompiledBundle:
    # Stored bundles were judged at registration; take them as stored.
    return compile_bundle(BundleSpec.model_validate(spec), enforce_pinning=False)


def _data_plane_headers() -> dict[str, str]:
    key = os.environ.get("PINYARD_API_KEY", "").strip()
    return {"authorization": f"Bearer {key}"} if key else {}
