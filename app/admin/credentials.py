"""Admin routes for admin tokens and client API keys: create (shown once), list, revoke.

Both kinds have the same three routes, built once by ``credential_router`` over
the credential service; what differs is the create body, what a listing may
be narrowed by, and (for tokens) ``GET /admin/tokens/me``.
"""

# No ``from __future__ import annotations``: the route builder's handlers are
# annotated with the body and query classes it is given, which FastAPI must see
# as classes, not as names to look up in this module.

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from app.admin.auth import Principal, require_role
from app.admin.schemas import KeyCreate, Revoke, TokenCreate
from app.context import AppContext, get_context
from app.governance.credential_kinds import ADMIN_TOKEN, CLIENT_KEY, CredentialKind


class NoFilter(BaseModel):
    pass


class KeyFilter(BaseModel):
    environment: str | None = None


def credential_router(
    kind: CredentialKind, create_body: type[BaseModel], list_filter: type[BaseModel]
) -> APIRouter:
    plural = f"{kind.noun}s"
    router = APIRouter(prefix=f"/admin/{plural}", tags=[f"admin: {plural}"])
    allowed = require_role(kind.creator_role)

    @router.post("", status_code=201, name=f"create_{kind.noun}")
    def create(
        body: create_body,  # type: ignore[valid-type]
        response: Response,
        principal: Principal = Depends(allowed),
        ctx: AppContext = Depends(get_context),
    ) -> dict[str, Any]:
        response.headers["cache-control"] = "no-store"  # the answer holds the secret
        fields = body.model_dump()  # type: ignore[attr-defined]
        return ctx.governance.credentials.create(kind, actor=principal.name, **fields)

    @router.get("", name=f"list_{plural}")
    def list_(
        where: list_filter = Depends(),  # type: ignore[valid-type]
        _: Principal = Depends(allowed),
        ctx: AppContext = Depends(get_context),
    ) -> dict[str, Any]:
        filters = where.model_dump()  # type: ignore[attr-defined]
        return {"data": ctx.governance.credentials.list(kind, **filters)}

    @router.post("/{name}/revoke", name=f"revoke_{kind.noun}")
    def revoke(
        name: str,
        body: Revoke,
        principal: Principal = Depends(allowed),
        ctx: AppContext = Depends(get_context),
    ) -> dict[str, Any]:
        return ctx.governance.credentials.revoke(
            kind, name, actor=principal.name, reason=body.reason
        )

    return router


tokens_router = credential_router(ADMIN_TOKEN, TokenCreate, NoFilter)
keys_router = credential_router(CLIENT_KEY, KeyCreate, KeyFilter)


@tokens_router.get("/me")
def whoami(principal: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    """Who the presented token is: name and role (handy to check a token works)."""
    return {"name": principal.name, "role": principal.role}
