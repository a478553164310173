"""compose.yaml, the Dockerfile and docs/deploy.md say what the production shape needs.

No Docker engine here: the files are read and checked, and the gateway's
environment in compose.yaml is fed to ``Settings`` to prove it would start.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
GATEWAYS = ("gateway-1", "gateway-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return loaded


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", duration)
    assert match, duration
    value, unit = float(match[1]), match[2]
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def test_compose_has_postgres_a_migration_and_two_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", *GATEWAYS}

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    volume_name = postgres["volumes"][0].split(":")[0]
    assert volume_name in compose["volumes"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    migrate = services["migrate"]
    assert migrate["command"] == ["pinyard", "db", "upgrade"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"


@pytest.mark.parametrize("name", GATEWAYS)
def test_each_replica_waits_for_a_healthy_database_and_a_finished_migration(
    compose: dict[str, Any], name: str
) -> None:
    gateway = compose["services"][name]
    assert gateway["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert gateway["command"][:2] == ["pinyard", "serve"]
    assert gateway["command"][gateway["command"].index("--host") + 1] == "0.0.0.0"
    health = gateway["healthcheck"]
    assert health["test"][0] == "CMD" and "/readyz" in " ".join(health["test"])
    assert {"interval", "timeout", "retries", "start_period"} <= health.keys()
    grace = float(gateway["environment"]["PINYARD_SHUTDOWN_GRACE_S"])
    assert _seconds(gateway["stop_grace_period"]) > 2 * grace  # streams, then the flush
    assert gateway["image"] == compose["services"]["migrate"]["image"]


def test_replicas_publish_distinct_ports(compose: dict[str, Any]) -> None:
    published = [compose["services"][name]["ports"][0].split(":")[0] for name in GATEWAYS]
    assert len(set(published)) == len(GATEWAYS)


def test_the_compose_environment_is_valid_gateway_settings(compose: dict[str, Any]) -> None:
    environment = dict(compose["services"]["gateway-1"]["environment"])
    # compose interpolation, as `docker compose` would do it with these values
    values = {"POSTGRES_PASSWORD": "pw", "PINYARD_ADMIN_TOKEN": "x" * 32}

    def interpolate(text: str) -> str:
        return re.sub(r"\$\{(\w+)(?::[-?][^}]*)?\}", lambda m: values.get(m[1], ""), str(text))

    resolved = {key: interpolate(value) for key, value in environment.items()}
    assert "@postgres:5432/" in resolved["PINYARD_DATABASE_URL"]
    assert ":?" in environment["PINYARD_ADMIN_TOKEN"]  # compose refuses to start without one
    settings = Settings(
        **{
            k.removeprefix("PINYARD_").lower(): v
            for k, v in resolved.items()
            if k.startswith("PINYARD_")
        }
    )
    assert not settings.is_sqlite and settings.log_format == "json"
    assert settings.auto_migrate is None  # the migrate service does it, not the replicas


def test_dockerfile_is_slim_non_root_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [
        line.split(None, 1)
        for line in dockerfile.splitlines()
        if line.strip() and not line.lstrip().startswith("#") and line[0].isupper()
    ]
    first = dict(instructions[:1])
    assert first["FROM"].strip().endswith("-slim")
    users = [rest.strip() for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert 'CMD ["pinyard", "serve", "--host", "0.0.0.0", "--port", "8080"]' in dockerfile
    for needed in ("COPY app ./app", "COPY migrations ./migrations", "EXPOSE 8080"):
        assert needed in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "tests", "*.db"} <= set(ignored)


def test_deploy_doc_names_every_setting() -> None:
    """One row per setting: variable, type, default, example, what it does."""
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for line in doc.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if len(cells) == 5 and re.fullmatch(r"`PINYARD_\w+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    wanted = [f"PINYARD_{name.upper()}" for name in Settings.model_fields]
    missing = [variable for variable in wanted if variable not in rows]
    assert missing == [], f"docs/deploy.md has no settings row for {missing}"
    assert all(all(rows[variable]) for variable in wanted)
    assert "docker compose up" in doc and "compose.yaml" in doc
