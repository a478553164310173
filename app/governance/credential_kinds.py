"""The two kinds of bearer credential, told apart by data rather than by code.

An admin token opens the admin API with a role; a client key opens the data
plane in one environment, optionally narrowed to some aliases, rate-limited,
allowed bundle references or not. Everything else (a name, a hashed secret
shown once, an expiry, a revocation, an audit trail) they share, and
``credentials.CredentialService`` does it once for both from these
descriptions: prefixes, the fields each carries and how they are checked and
stored, how each is audited, who may create it, and how each refusal reads.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.bundles.spec import NAME_PATTERN
from app.errors import BadRequestError
from app.governance.principals import ROLES
from app.registry.credential_repo import loaded_aliases, stored_aliases
from app.registry.governance_tables import ApiKeyRow, ApiTokenRow, CredentialColumns

NAME = re.compile(NAME_PATTERN)

# A field check raises BadRequestError naming the field; it is given the served environments.
Check = Callable[[Any, Sequence[str]], None]


@dataclass(frozen=True, slots=True)
class Attribute:
    """One field of a kind beyond what every credential has, in view order."""

    name: str
    check: Check | None = None
    default: Any = None
    store: Callable[[Any], Any] | None = None  # value -> column
    load: Callable[[Any], Any] | None = None  # column -> view


@dataclass(frozen=True, slots=True)
class Refusal:
    message: str  # str.format template over ``name`` and ``expires_at``
    code: str


@dataclass(frozen=True, slots=True)
class CredentialKind:
    noun: str  # "token" / "key": audit actions, actors, messages, the answer's secret field
    secret_prefix: str  # what every secret of the kind starts with
    id_prefix: str
    row: type[CredentialColumns]
    attributes: tuple[Attribute, ...]
    # The name when none is given (from the attributes); None: a name is required.
    default_name: Callable[[Mapping[str, Any]], str] | None
    target: str  # audit target, a template over the view
    reasons: Mapping[str, str]  # default audit reason by verb, templates over the view
    created_audit: tuple[str, ...]  # view fields the create event records (never the secret)
    revoked_audit: tuple[str, ...]  # view fields the revoke event records as "before"
    in_snapshot: bool  # served from the in-memory snapshot: changes bump the revision
    list_filters: tuple[str, ...]  # attributes a listing may be narrowed by
    invalid: Refusal
    revoked: Refusal
    expired: Refusal
    creator_role: str = "admin"  # the least admin role that may create, list and revoke

    def actor(self, name: str) -> str:
        """How audit events name the holder of a credential of this kind."""
        return f"{self.noun}:{name}"


def _role(value: Any, _: Sequence[str]) -> None:
    if value not in ROLES:
        raise BadRequestError(f"role must be one of {', '.join(ROLES)}", param="role")


def _environment(value: Any, environments: Sequence[str]) -> None:
    if value not in environments:
        raise BadRequestError(
            f"unknown environment {value!r} (known: {', '.join(environments)})",
            param="environment",
        )


def _aliases(value: Any, _: Sequence[str]) -> None:
    for alias in value or []:
        if not NAME.match(alias):
            raise BadRequestError(f"alias {alias!r} must match {NAME_PATTERN}", param="aliases")
    if value is not None and not value:
        raise BadRequestError("aliases, when given, must name at least one", param="aliases")


def _rpm(value: Any, _: Sequence[str]) -> None:
    if value is not None and value < 1:
        raise BadRequestError("rpm must be at least 1", param="rpm")


ADMIN_TOKEN = CredentialKind(
    noun="token",
    secret_prefix="pyd_adm_",
    id_prefix="tok_",
    row=ApiTokenRow,
    attributes=(Attribute("role", _role),),
    default_name=None,
    target="token/{name}",
    reasons={"create": "create {role} token {name}", "revoke": "revoke token {name}"},
    created_audit=("id", "name", "role", "prefix", "expires_at"),
    revoked_audit=("role", "prefix"),
    in_snapshot=False,  # looked up per admin call: a revocation holds from the next one
    list_filters=(),
    invalid=Refusal("invalid admin token", "admin_token_invalid"),
    revoked=Refusal("token {name!r} was revoked", "token_revoked"),
    expired=Refusal("token {name!r} expired at {expires_at}", "token_expired"),
)

CLIENT_KEY = CredentialKind(
    noun="key",
    secret_prefix="pyd_key_",
    id_prefix="key_",
    row=ApiKeyRow,
    attributes=(
        Attribute("environment", _environment),
        Attribute("aliases", _aliases, store=stored_aliases, load=loaded_aliases),
        Attribute("rpm", _rpm),
        Attribute("allow_pinned", default=False),
    ),
    default_name=lambda fields: f"{fields['environment']}-{secrets.token_hex(3)}",
    target="key/{environment}/{name}",
    reasons={"create": "create a {environment} key {name}", "revoke": "revoke key {name}"},
    created_audit=(
        "id",
        "name",
        "environment",
        "aliases",
        "rpm",
        "allow_pinned",
        "prefix",
        "created_by",
        "expires_at",
        "revoked_at",
        "revoked_by",
    ),
    revoked_audit=("prefix", "aliases", "rpm"),
    in_snapshot=True,  # the data plane authenticates from the snapshot, on every replica
    list_filters=("environment",),
    invalid=Refusal("invalid API key", "invalid_api_key"),
    revoked=Refusal("API key {name!r} was revoked", "api_key_revoked"),
    expired=Refusal("API key {name!r} has expired", "api_key_expired"),
)
