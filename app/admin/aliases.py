"""Admin routes for aliases: set, show, list, history, point-in-time, rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from app.admin.auth import Principal, require_admin
from app.admin.schemas import AliasRollback, AliasSet
from app.context import AppContext, get_context

router = APIRouter(prefix="/admin/environments/{environment}/aliases", tags=["admin: aliases"])


@router.get("")
def list_aliases(
    environment: str,
    _: Principal = Depends(require_admin),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return {"data": ctx.registry.list_aliases(environment)}


@router.put("/{alias}")
def set_alias(
    environment: str,
    alias: str,
    body: AliasSet,
    principal: Principal = Depends(require_admin),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.set_alias(
        environment,
        alias,
        body.bundle,
        actor=principal.name,
        reason=body.reason,
        expected=body.expected,
        override=body.override,
    )


@router.get("/{alias}")
def show_alias(
    environment: str,
    alias: str,
    _: Principal = Depends(require_admin),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.get_alias(environment, alias)


@router.get("/{alias}/history")
def alias_history(
    environment: str,
    alias: str,
    at: datetime | None = Query(None, description="ISO time: what was live then"),
    _: Principal = Depends(require_admin),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    if at is not None:
        return ctx.registry.live_at(environment, alias, at)
    return {
        "environment": environment,
        "alias": alias,
        "data": ctx.registry.history(environment, alias),
    }


@router.post("/{alias}/rollback")
def rollback_alias(
    environment: str,
    alias: str,
    body: AliasRollback,
    principal: Principal = Depends(require_admin),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.rollback(
        environment, alias, actor=principal.name, reason=body.reason, to=body.to
    )
