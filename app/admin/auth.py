"""Admin authentication and roles: who is calling, and may they do this.

Two kinds of bearer token open the admin API: the bootstrap
``PINYARD_ADMIN_TOKEN`` (role ``admin``; the CLI names the human behind it in
``x-pinyard-actor``) and named tokens created with ``pinyard token create``
(``pyd_adm_...``, stored hashed, each with a role). Routes declare the least
role they need with ``Depends(require_role("operator"))``; every refusal is
audited (without the presented secret).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable

from fastapi import Depends, Request

from app.context import AppContext, get_context
from app.errors import AuthenticationError, PermissionDeniedError, PinyardError
from app.governance.denials import ANONYMOUS, Denial
from app.governance.principals import ROLES, Principal
from app.governance.secrets import TOKEN_PREFIX
from app.governance.tokens import TokenRefused

__all__ = ["Principal", "authenticate", "require_admin", "require_role"]

_ACTOR = re.compile(r"^[\w.@+-]{1,64}$")


def _deny(ctx: AppContext, request: Request, error: PinyardError, actor: str) -> PinyardError:
    ctx.governance.denials.record(
        Denial(
            actor=actor,
            action="auth.denied",
            target=f"{request.method} {request.url.path}",
            reason=error.message,
            status=error.status_code,
            code=error.code,
        )
    )
    return error


def authenticate(request: Request, ctx: AppContext) -> Principal:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip() if scheme.lower() == "bearer" else ""
    configured = ctx.settings.admin_token
    if configured is not None and hmac.compare_digest(
        presented.encode(), configured.get_secret_value().encode()
    ):
        return _bootstrap(request)
    if presented.startswith(TOKEN_PREFIX):
        try:
            return ctx.governance.tokens.authenticate(presented)
        except TokenRefused as refused:
            raise _deny(ctx, request, refused, refused.actor) from None
    if configured is None:
        raise _deny(
            ctx,
            request,
            PermissionDeniedError(
                "the admin API is closed: set PINYARD_ADMIN_TOKEN (16+ characters) on the "
                "gateway and send it as 'Authorization: Bearer <token>', or send a token "
                "made with `pinyard token create`",
                code="admin_disabled",
            ),
            ANONYMOUS,
        )
    if not presented:
        raise _deny(
            ctx,
            request,
            AuthenticationError(
                "missing admin token: send 'Authorization: Bearer <PINYARD_ADMIN_TOKEN>'",
                code="admin_token_missing",
            ),
            ANONYMOUS,
        )
    raise _deny(
        ctx,
        request,
        AuthenticationError("invalid admin token", code="admin_token_invalid"),
        ANONYMOUS,
    )


def _bootstrap(request: Request) -> Principal:
    # With one shared bootstrap token, the CLI names the human behind it.
    claimed = request.headers.get("x-pinyard-actor", "")
    name = f"admin:{claimed}" if _ACTOR.match(claimed) else "admin"
    return Principal(name=name, role="admin")


def require_role(role: str) -> Callable[..., Principal]:
    """A dependency: the authenticated principal, if its role is ``role`` or above."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")

    def dependency(request: Request, ctx: AppContext = Depends(get_context)) -> Principal:
        principal = authenticate(request, ctx)
        if not principal.has(role):
            raise _deny(
                ctx,
                request,
                PermissionDeniedError(
                    f"{principal.name} has the {principal.role} role; this needs {role} or above",
                    code="role_required",
                ),
                principal.name,
            )
        return principal

    return dependency


# Tokens, keys and policies (and any route that has not said what it needs).
require_admin = require_role("admin")
