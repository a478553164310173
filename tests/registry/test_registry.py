"""Registry service on SQLite and PostgreSQL: registration, aliases, history, audit chain."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from app.bundles.loader import parse_spec
from app.errors import BadRequestError, BundleInvalid, ConflictError, NotFoundError
from app.registry import db
from app.registry.snapshot import SnapshotStore
from app.registry.writes import RegistryService
from app.settings import Settings
from tests.conftest import fake_spec

ENVS = ["dev", "staging", "prod"]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db.upgrade(database_url)
    engine = db.make_engine(Settings(database_url=database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine: Engine) -> RegistryService:
    return RegistryService(engine, ENVS)


def register(registry: RegistryService, **overrides: Any) -> Any:
    return registry.register_bundle(parse_spec(fake_spec(**overrides)), actor="tester")


def test_registration_is_idempotent_and_versions_increase(registry: RegistryService) -> None:
    first = register(registry)
    again = register(registry)
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.digest, again.created) == (1, first.digest, False)
    second = register(registry, params={"temperature": 0.3})
    assert second.version == 2 and second.digest != first.digest
    other = register(registry, name="billing")
    assert other.version == 1
    assert [row.version for row in registry.list_bundles("support-chat")] == [2, 1]


def test_registration_refuses_unregistered_fallbacks(registry: RegistryService) -> None:
    with pytest.raises(BundleInvalid, match="fallback lite@1 is not registered"):
        register(registry, fallbacks=["lite@1"])
    register(registry, name="lite")
    assert register(registry, fallbacks=["lite@1"]).created


def test_set_show_history_and_rollback(registry: RegistryService) -> None:
    v1, v2 = register(registry), register(registry, params={"temperature": 0.9})
    first = registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="first")
    assert first["previous"] is None and first["bundle"]["digest"] == v1.digest
    flip = registry.set_alias(
        "dev", "support-chat", f"support-chat@{v2.digest}", actor="b", reason="v2"
    )
    assert flip["previous"]["version"] == 1 and flip["bundle"]["version"] == 2
    back = registry.rollback("dev", "support-chat", actor="c", reason="bad answers")
    assert back["bundle"]["version"] == 1 and back["previous"]["version"] == 2
    assert registry.get_alias("dev", "support-chat")["bundle"]["digest"] == v1.digest
    history = registry.history("dev", "support-chat")
    assert [(h["action"], h["to"]["version"], h["actor"], h["reason"]) for h in history] == [
        ("rollback", 1, "c", "bad answers"),
        ("set", 2, "b", "v2"),
        ("set", 1, "a", "first"),
    ]
    explicit = registry.rollback(
        "dev", "support-chat", actor="c", reason="to v2", to="support-chat@2"
    )
    assert explicit["bundle"]["version"] == 2


def test_promote_same_digest_to_staging(registry: RegistryService) -> None:
    v1 = register(registry)
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="try")
    promoted = registry.set_alias(
        "staging", "support-chat", f"support-chat@{v1.digest}", actor="a", reason="promote"
    )
    assert promoted["bundle"]["digest"] == v1.digest


def test_point_in_time_lookup(registry: RegistryService) -> None:
    register(registry)
    register(registry, params={"temperature": 0.9})
    registry.set_alias("prod", "support-chat", "support-chat@1", actor="a", reason="one")
    between = datetime.now(UTC)
    registry.set_alias("prod", "support-chat", "support-chat@2", actor="a", reason="two")
    assert registry.live_at("prod", "support-chat", between)["live"]["to"]["version"] == 1
    assert registry.live_at("prod", "support-chat", datetime.now(UTC))["live"]["to"]["version"] == 2
    with pytest.raises(NotFoundError, match="nothing was live"):
        registry.live_at("prod", "support-chat", between - timedelta(days=1))


@pytest.mark.parametrize(
    ("call", "error", "needle"),
    [
        (
            lambda r: r.set_alias("qa", "a", "support-chat@1", actor="x", reason="r"),
            NotFoundError,
            "unknown environment 'qa'",
        ),
        (
            lambda r: r.set_alias("dev", "a", "support-chat@9", actor="x", reason="r"),
            NotFoundError,
            "support-chat@9 is not registered",
        ),
        (
            lambda r: r.set_alias("dev", "a", "support-chat", actor="x", reason="r"),
            BadRequestError,
            "not a bundle reference",
        ),
        (
            lambda r: r.set_alias("dev", "a", "support-chat@1", actor="x", reason="  "),
            BadRequestError,
            "reason is required",
        ),
        (lambda r: r.get_alias("dev", "nope"), NotFoundError, "'nope' is not set in dev"),
        (
            lambda r: r.rollback("dev", "nope", actor="x", reason="r"),
            NotFoundError,
            "'nope' is not set",
        ),
    ],
)
def test_bad_input_names_the_problem(
    registry: RegistryService, call: Any, error: type, needle: str
) -> None:
    register(registry)
    with pytest.raises(error, match=needle):
        call(registry)
    assert registry.verify_audit().events == 1  # nothing half-written


def test_rollback_without_previous_entry_is_a_conflict(registry: RegistryService) -> None:
    register(registry)
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    with pytest.raises(ConflictError, match="no previous entry"):
        registry.rollback("dev", "support-chat", actor="a", reason="r")


def test_stale_expected_digest_is_a_conflict(registry: RegistryService) -> None:
    v1, v2 = register(registry), register(registry, params={"temperature": 0.9})
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    with pytest.raises(ConflictError, match="not the expected"):
        registry.set_alias(
            "dev", "support-chat", "support-chat@2", actor="a", reason="r", expected=v2.digest
        )
    ok = registry.set_alias(
        "dev", "support-chat", "support-chat@2", actor="a", reason="r", expected=v1.digest
    )
    assert ok["bundle"]["digest"] == v2.digest


def test_concurrent_flips_with_the_same_expected_one_wins(registry: RegistryService) -> None:
    v1 = register(registry)
    register(registry, params={"temperature": 0.5})
    register(registry, params={"temperature": 0.7})
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def flip(version: int) -> None:
        barrier.wait()
        try:
            registry.set_alias(
                "dev",
                "support-chat",
                f"support-chat@{version}",
                actor="a",
                reason="race",
                expected=v1.digest,
            )
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("409")

    threads = [threading.Thread(target=flip, args=(v,)) for v in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["409", "ok"]
    assert len(registry.history("dev", "support-chat")) == 2
    assert registry.verify_audit().ok


def test_snapshot_follows_changes(engine: Engine, registry: RegistryService) -> None:
    store = SnapshotStore(engine)
    registry = RegistryService(engine, ENVS, on_change=store.refresh)
    store.refresh(force=True)
    assert store.current.alias("dev", "support-chat") is None
    v1 = register(registry)
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    served = store.current.alias("dev", "support-chat")
    assert served is not None and served.digest == v1.digest and served.label == "support-chat@1"
    assert store.current.ref(f"support-chat@{v1.digest}") is served
    assert store.current.ref("support-chat@7") is None


def test_audit_chain_verifies(registry: RegistryService) -> None:
    register(registry)
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    report = registry.verify_audit()
    assert report.ok and report.events == 2
    events = registry.audit_events(after=0, limit=10)
    assert [e["action"] for e in events] == ["bundle.register", "alias.set"]
    assert events[1]["prev_hash"] == events[0]["hash"]
    assert events[1]["after"]["version"] == 1 and events[1]["actor"] == "a"


def test_database_refuses_update_and_delete_of_audit_rows(
    engine: Engine, registry: RegistryService
) -> None:
    register(registry)
    for statement in ("UPDATE audit_events SET reason = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    assert registry.verify_audit().ok


def _drop_triggers(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
            conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))


@pytest.mark.parametrize(
    ("tamper", "broken_at", "needle"),
    [
        (["UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 2"], 2, "altered"),
        (["DELETE FROM audit_events WHERE seq = 2"], 3, "event 2 is missing"),
        (
            # Swap the content of events 2 and 3 (a reorder), keeping their seq numbers.
            [
                "UPDATE audit_events SET seq = 100 WHERE seq = 2",
                "UPDATE audit_events SET seq = 2 WHERE seq = 3",
                "UPDATE audit_events SET seq = 3 WHERE seq = 100",
            ],
            2,
            "does not link",
        ),
    ],
)
def test_tampering_is_detected(
    engine: Engine, registry: RegistryService, tamper: list[str], broken_at: int, needle: str
) -> None:
    register(registry)
    register(registry, params={"temperature": 0.9})
    registry.set_alias("dev", "support-chat", "support-chat@1", actor="a", reason="r")
    registry.set_alias("dev", "support-chat", "support-chat@2", actor="a", reason="r")
    assert registry.verify_audit().ok
    _drop_triggers(engine)
    with engine.begin() as conn:
        for statement in tamper:
            conn.execute(text(statement))
    report = registry.verify_audit()
    assert not report.ok
    assert report.broken_at == broken_at
    assert needle in (report.problem or "")
