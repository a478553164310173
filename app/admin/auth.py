"""Admin authentication: closed unless a token is configured; constant-time check."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from fastapi import Depends, Request

from app.context import AppContext, get_context
from app.errors import AuthenticationError, PermissionDeniedError

_ACTOR = re.compile(r"^[\w.@+-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: str


def require_admin(request: Request, ctx: AppContext = Depends(get_context)) -> Principal:
    configured = ctx.settings.admin_token
    if configured is None:
        raise PermissionDeniedError(
            "the admin API is closed: set PINYARD_ADMIN_TOKEN (16+ characters) on the gateway "
            "and send it as 'Authorization: Bearer <token>'",
            code="admin_disabled",
        )
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationError(
            "missing admin token: send 'Authorization: Bearer <PINYARD_ADMIN_TOKEN>'",
            code="admin_token_missing",
        )
    if not hmac.compare_digest(presented.strip().encode(), configured.get_secret_value().encode()):
        raise AuthenticationError("invalid admin token", code="admin_token_invalid")
    # With one shared bootstrap token, the CLI names the human behind it.
    claimed = request.headers.get("x-pinyard-actor", "")
    name = f"admin:{claimed}" if _ACTOR.match(claimed) else "admin"
    return Principal(name=name, role="admin")
