"""Admin routes for admin tokens (role ``admin``): create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict

from app.admin.auth import Principal, require_role
from app.context import AppContext, get_context

router = APIRouter(prefix="/admin/tokens", tags=["admin: tokens"])


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    role: str
    expires_at: datetime | None = None
    reason: str | None = None


class Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = None


@router.post("", status_code=201)
def create_token(
    body: TokenCreate,
    response: Response,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    response.headers["cache-control"] = "no-store"  # the answer holds the secret
    return ctx.governance.tokens.create(
        body.name, body.role, actor=principal.name, expires_at=body.expires_at, reason=body.reason
    )


@router.get("")
def list_tokens(
    _: Principal = Depends(require_role("admin")), ctx: AppContext = Depends(get_context)
) -> dict[str, Any]:
    return {"data": ctx.governance.tokens.list()}


@router.post("/{name}/revoke")
def revoke_token(
    name: str,
    body: Revoke,
    principal: Principal = Depends(require_role("admin")),
    ctx: AppContext = Depends(get_context),
) -> dict[str, Any]:
    return ctx.governance.tokens.revoke(name, actor=principal.name, reason=body.reason)


@router.get("/me")
def whoami(principal: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    """Who the presented token is: name and role (handy to check a token works)."""
    return {"name": principal.name, "role": principal.role}
