"""Admin authentication and roles: who is calling, and may they do this.

Two kinds of bearer token open the admin API: the bootstrap
``PINYARD_ADMIN_TOKEN`` (role ``admin``; the CLI names the human behind it in
``x-pinyard-actor``) and named tokens created with ``pinyard token create``
(``pyd_adm_...``, stored hashed, each with a role; checked by the credential
service). Routes declare the least role they need with
``Depends(require_role("operator"))``; every refusal is audited (without the
presented secret).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Depends, Request

from app.context import AppContext, get_context
from app.errors import AuthenticationError, PermissionDeniedError
from app.governance.credential_kinds import ADMIN_TOKEN
from app.governance.credentials import CredentialRefused, bearer, same_secret
from app.governance.denials import ANONYMOUS
from app.governance.principals import ROLES, Principal

__all__ = ["Principal", "authenticate", "require_admin", "require_role"]

_ACTOR = re.compile(r"^[\w.@+-]{1,64}$")


def authenticate(request: Request, ctx: AppContext) -> Principal:
    presented = bearer(request.headers.get("authorization", "")) or ""
    configured = ctx.settings.admin_token
    denials = ctx.governance.denials
    if configured is not None and same_secret(presented, configured.get_secret_value()):
        return _bootstrap(request)
    if presented.startswith(ADMIN_TOKEN.secret_prefix):
        try:
            return ctx.governance.credentials.principal(presented)
        except CredentialRefused as refused:
            raise denials.refused(request, refused, refused.actor) from None
    if configured is None:
        raise denials.refused(
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
        raise denials.refused(
            request,
            AuthenticationError(
                "missing admin token: send 'Authorization: Bearer <PINYARD_ADMIN_TOKEN>'",
                code="admin_token_missing",
            ),
            ANONYMOUS,
        )
    raise denials.refused(
        request,
        AuthenticationError(ADMIN_TOKEN.invalid.message, code=ADMIN_TOKEN.invalid.code),
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
            raise ctx.governance.denials.refused(
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
