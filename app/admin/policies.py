"""Admin routes for environment policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context
from app.registry.policy import PolicyUpdate

router = APIRouter(prefix="/admin/environments/{environment}/policy", tags=["admin: policies"])


@router.get("")
def show_policy(
    environment: str,
    _: Principal = Depends(require_role("viewer")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.get_policy(environment)


@router.put("")
def set_policy(
    environment: str,
    body: PolicyUpdate,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.registry.set_policy(environment, body, actor=principal.name)
