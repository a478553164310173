"""Admin routes for bundles: register, list, show, diff."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Response

from app.admin.auth import Principal, require_role
from app.bundles.diff import diff_bundles
from app.bundles.loader import parse_spec
from app.context import AppContext, get_context
from app.registry.compiled import compile_bundle
from app.registry.tables import BundleRow, as_utc

router = APIRouter(prefix="/admin/bundles", tags=["admin: bundles"])


def _summary(row: BundleRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "version": row.version,
        "digest": row.digest,
        "model": row.model,
        "created_at": as_utc(row.created_at).isoformat(),
        "created_by": row.created_by,
    }


@router.post("")
def register_bundle(
    response: Response,
    spec: Any = Body(...),
    reason: str | None = Query(None, description="why (defaults to a description of the bundle)"),
    force: bool = Query(False, description="register even if the model is shut down (audited)"),
    principal: Principal = Depends(require_role("operator")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    parsed = parse_spec(spec, source="bundle")
    pointers = ctx.deprecations.known_pointers
    compiled = compile_bundle(parsed, known_pointers=pointers)  # 400s before deprecation 409s
    review = ctx.deprecations.review(parsed, compiled.floating, force=force, reason=reason)
    registered = ctx.registry.register_bundle(
        parsed,
        actor=principal.name,
        reason=reason,
        known_pointers=pointers,
        forced=review.forced,
    )
    response.status_code = 201 if registered.created else 200
    return {**registered.as_dict(), "warnings": review.warnings}


@router.get("")
def list_bundles(
    name: str | None = None,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return {"data": [_summary(row) for row in ctx.registry.list_bundles(name)]}


@router.get("/{name}/diff")
def diff(
    name: str,
    from_: str = Query(..., alias="from", description="version number or sha256 digest"),
    to: str = Query(..., description="version number or sha256 digest"),
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    old = ctx.registry.get_bundle(f"{name}@{from_}")
    new = ctx.registry.get_bundle(f"{name}@{to}")
    result = diff_bundles(ctx.registry.spec_of(old), ctx.registry.spec_of(new))
    return {"from": _summary(old), "to": _summary(new), **result.as_dict()}


@router.get("/{name}/{version}")
def show_bundle(
    name: str,
    version: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    row = ctx.registry.get_bundle(f"{name}@{version}")
    return {**_summary(row), "spec": ctx.registry.spec_of(row)}
