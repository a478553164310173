"""The credential service treats both kinds alike, from their descriptions alone."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session

from app.governance.credential_kinds import ADMIN_TOKEN, CLIENT_KEY, CredentialKind
from app.governance.credentials import CredentialRefused, CredentialService, bearer, verify
from app.registry.alias_repo import StateRepository
from app.registry.audit import AuditRepository
from app.registry.credential_repo import CredentialRecord, key_set, token_by_hash
from app.registry.db import read_session, write_session

KINDS = {
    "token": (ADMIN_TOKEN, {"role": "viewer"}),
    "key": (CLIENT_KEY, {"environment": "dev", "aliases": ["support-chat"]}),
}


def _lookup(kind: CredentialKind, session: Session) -> Callable[[str], CredentialRecord | None]:
    if kind is ADMIN_TOKEN:
        return lambda digest: token_by_hash(session, digest)
    return key_set(session).get


def _verify(app: Any, kind: CredentialKind, presented: str) -> CredentialRecord:
    with read_session(app.state.ctx.engine) as session:
        return verify(kind, presented, _lookup(kind, session))


def _revision(app: Any) -> int:
    with read_session(app.state.ctx.engine) as session:
        return StateRepository(session).revision()


@pytest.mark.parametrize("noun", list(KINDS))
async def test_a_credential_lives_and_dies_the_same_way_whatever_its_kind(
    app: Any, noun: str
) -> None:
    kind, attributes = KINDS[noun]
    service: CredentialService = app.state.ctx.governance.credentials
    revision = _revision(app)
    created = service.create(kind, actor="admin:test", name="ci", **attributes)
    secret = created[noun]
    assert secret.startswith(kind.secret_prefix) and created["prefix"] == secret[:14]
    assert created["state"] == "active" and created["id"].startswith(kind.id_prefix)
    # A kind served from the snapshot bumps the registry revision; the other does not.
    assert _revision(app) == revision + (1 if kind.in_snapshot else 0)

    listed = service.list(kind)
    assert [row["name"] for row in listed] == ["ci"]
    assert secret not in str(listed) and noun not in listed[0]
    with app.state.ctx.engine.connect() as connection:
        table, column = kind.row.__tablename__, kind.row.HASH_COLUMN
        stored = connection.exec_driver_sql(f"SELECT {column} FROM {table}").scalar_one()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()

    assert _verify(app, kind, secret).name == "ci"
    with pytest.raises(CredentialRefused) as wrong:
        _verify(app, kind, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert (wrong.value.code, wrong.value.actor) == (kind.invalid.code, "anonymous")

    service.revoke(kind, "ci", actor="admin:test", reason="rotated")
    with pytest.raises(CredentialRefused) as revoked:
        _verify(app, kind, secret)
    assert revoked.value.code == kind.revoked.code
    assert revoked.value.actor == f"{noun}:ci" and "'ci'" in revoked.value.message

    with read_session(app.state.ctx.engine) as session:
        events = [e for e in AuditRepository(session).iter_all() if e.action.startswith(noun + ".")]
    assert [(e.action, e.target) for e in events] == [
        (f"{noun}.create", kind.target.format(**created)),
        (f"{noun}.revoke", kind.target.format(**created)),
    ]
    assert [e.reason for e in events] == [kind.reasons["create"].format(**created), "rotated"]
    assert all(secret not in str(e.model_dump()) for e in events)


@pytest.mark.parametrize("noun", list(KINDS))
async def test_an_expired_credential_is_refused_and_listed_as_expired(app: Any, noun: str) -> None:
    kind, attributes = KINDS[noun]
    service: CredentialService = app.state.ctx.governance.credentials
    soon = datetime.now(UTC) + timedelta(hours=1)
    secret = service.create(kind, actor="admin:test", name="old", expires_at=soon, **attributes)[
        noun
    ]
    with write_session(app.state.ctx.engine) as session:
        session.exec(  # type: ignore[call-overload]
            update(kind.row).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    with pytest.raises(CredentialRefused) as expired:
        _verify(app, kind, secret)
    assert expired.value.code == kind.expired.code
    assert service.list(kind)[0]["state"] == "expired"


def test_a_lookup_hit_is_still_compared_in_constant_time() -> None:
    """A record whose digest is not the presented secret's is refused, however it was found."""
    record = CredentialRecord(id="tok_1", name="x", digest="0" * 64, expires_at=None, revoked=False)
    with pytest.raises(CredentialRefused) as refused:
        verify(ADMIN_TOKEN, "pyd_adm_anything", lambda digest: record)
    assert refused.value.code == "admin_token_invalid"
    kind = replace(ADMIN_TOKEN, invalid=replace(ADMIN_TOKEN.invalid, message="no such thing"))
    with pytest.raises(CredentialRefused, match="no such thing"):
        verify(kind, "pyd_adm_anything", lambda digest: None)


async def test_a_kind_is_only_asked_for_what_it_carries(app: Any) -> None:
    service: CredentialService = app.state.ctx.governance.credentials
    with pytest.raises(ValueError, match="environment"):
        service.list(ADMIN_TOKEN, environment="dev")
    with pytest.raises(TypeError, match="rpm"):
        service.create(ADMIN_TOKEN, actor="admin:test", name="x", role="viewer", rpm=5)
    created = service.create(CLIENT_KEY, actor="admin:test", environment="prod")
    assert created["name"].startswith("prod-") and created["allow_pinned"] is False
    assert created["aliases"] is None and created["rpm"] is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer pyd_key_abc", "pyd_key_abc"),
        ("bearer  pyd_key_abc ", "pyd_key_abc"),
        ("Bearer ", None),
        ("Basic pyd_key_abc", None),
        ("", None),
    ],
)
def test_bearer(header: str, expected: str | None) -> None:
    assert bearer(header) == expected
