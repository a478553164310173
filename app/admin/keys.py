"""Admin routes for client API keys (role ``admin``): create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from app.admin.auth import Principal, require_role
from app.admin.tokens import Revoke
from app.context import AppContext, get_context

router = APIRouter(prefix="/admin/keys", tags=["admin: keys"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    environment: str
    name: str | None = None
    aliases: list[str] | None = None  # None: every alias of the environment
    rpm: int | None = Field(default=None, ge=1)
    allow_pinned: bool = False
    expires_at: datetime | None = None
    reason: str | None = None


@router.post("", status_code=201)
def create_key(
    body: KeyCreate,
    response: Response,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    response.headers["cache-control"] = "no-store"  # the answer holds the secret
    return ctx.governance.keys.create(
        body.environment,
        actor=principal.name,
        name=body.name,
        aliases=body.aliases,
        rpm=body.rpm,
        allow_pinned=body.allow_pinned,
        expires_at=body.expires_at,
        reason=body.reason,
    )


@router.get("")
def list_keys(
    environment: str | None = None,
    _: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return {"data": ctx.governance.keys.list(environment)}


@router.post("/{name}/revoke")
def revoke_key(
    name: str,
    body: Revoke,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.governance.keys.revoke(name, actor=principal.name, reason=body.reason)
