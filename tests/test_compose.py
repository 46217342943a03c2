"""docker-compose.yml, read with a YAML parser (no container engine runs here): the scale-out topology."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from api.cli import app as cli
from api.settings import Settings
from tests.conftest import REPO

SERVICES = {"app", "worker", "postgres", "redis", "chroma"}
BACKING = {"postgres", "redis", "chroma"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_the_services_and_two_app_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["app"]["deploy"]["replicas"] == 2
    for name in ("app", "worker"):
        assert services[name]["build"] == "." and (REPO / "Dockerfile").exists()


def test_every_service_has_a_health_check_and_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        check = service["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1, name
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        assert set(depends) == BACKING, name
        assert {d["condition"] for d in depends.values()} == {"service_healthy"}, name


def test_state_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        mounts = [volume.split(":")[0] for volume in service.get("volumes", [])]
        assert mounts, name
        assert set(mounts) <= declared, name
    data = {"postgres": "/var/lib/postgresql/data", "redis": "/data", "chroma": "/data"}
    for name, path in data.items():
        assert any(v.endswith(f":{path}") for v in compose["services"][name]["volumes"]), name


def test_the_environment_wires_every_process_to_the_shared_servers(compose: dict[str, Any]) -> None:
    fields = {f"DESKPILOT_{name.upper()}" for name in Settings.model_fields}
    for name in ("app", "worker"):
        service = compose["services"][name]
        env = service["environment"]
        assert {k for k in env if k.startswith("DESKPILOT_")} <= fields, name
        assert env["DESKPILOT_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env[
            "DESKPILOT_DATABASE_URL"
        ]
        assert env["DESKPILOT_CHROMA_URL"] == "http://chroma:8000"
        assert env["DESKPILOT_REDIS_URL"].startswith("redis://redis:6379")
        # One vault key for all: from the env file, never written into the compose file.
        assert "DESKPILOT_VAULT_KEY" not in env
        [env_file] = service["env_file"]
        assert env_file["required"] is True
        example = (REPO / "deskpilot.env.example").read_text()
        assert re.search(r"^DESKPILOT_VAULT_KEY=", example, re.M)
        assert set(re.findall(r"^(DESKPILOT_\w+)=", example, re.M)) <= fields
    postgres = compose["services"]["postgres"]["environment"]
    url = compose["services"]["app"]["environment"]["DESKPILOT_DATABASE_URL"]
    assert f"{postgres['POSTGRES_USER']}:" in url and url.endswith(f"/{postgres['POSTGRES_DB']}")


def test_the_commands_exist_in_the_cli(compose: dict[str, Any]) -> None:
    commands = get_command(cli).commands  # type: ignore[attr-defined]
    for name in ("app", "worker"):
        command = compose["services"][name]["command"]
        assert command[0] == "deskpilot" and command[1] in commands, name
        options = {p.opts[0] for p in commands[command[1]].params}
        assert {arg for arg in command[2:] if arg.startswith("--")} <= options, name


def test_the_dockerfile_copies_what_the_package_build_reads() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)", dockerfile, re.M))
    assert {"agent", "tools", "knowledge", "api", "README.md"} <= copied  # pyproject names README.md
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'readme = "README.md"' in pyproject
    assert Path(REPO / ".dockerignore").read_text().count(".venv") == 1
