"""The deployment files: compose services, commands and environment match the code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from service.cli import main
from service.settings import Settings
from tests.cli_words import check_command_line

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_database_mail_one_api_and_two_workers() -> None:
    services = _compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "mailpit" in services["mailpit"]["image"]
    assert services["api"]["command"][0] == "serve"
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["deploy"]["replicas"] == 2
    for name, service in services.items():
        command = service.get("command")
        if command and name not in ("postgres", "mailpit"):
            assert command[0] in main.commands, (name, command)  # a real `takedown` command


def test_every_takedown_variable_is_a_setting() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    seen = set()
    for service in _compose()["services"].values():
        for key in service.get("environment") or {}:
            if key.startswith("TAKEDOWN_"):
                seen.add(key)
                assert key.removeprefix("TAKEDOWN_") in fields, key
    assert {"TAKEDOWN_DATABASE_URL", "TAKEDOWN_SMTP_HOST", "TAKEDOWN_METRICS_TOKEN"} <= seen
    # Also those in the image's ENV, interpolations and comments: a renamed setting is caught.
    for name in ("Dockerfile", "docker-compose.yml"):
        for variable in re.findall(r"TAKEDOWN_[A-Z0-9_]+", (ROOT / name).read_text()):
            assert variable.removeprefix("TAKEDOWN_") in fields, (name, variable)


def _dockerfile_instruction(keyword: str) -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    [line] = [line for line in dockerfile.splitlines() if line.startswith(f"{keyword} ")]
    words: list[str] = json.loads(line.removeprefix(f"{keyword} "))
    return words


def test_every_takedown_command_line_exists_with_its_options() -> None:
    entrypoint = _dockerfile_instruction("ENTRYPOINT")
    assert entrypoint[0] == "takedown"
    global_options = entrypoint[1:]
    command_lines = [global_options + _dockerfile_instruction("CMD")]
    for name, service in _compose()["services"].items():
        if name not in ("postgres", "mailpit"):
            command_lines.append(global_options + service["command"])
    # `docker compose exec api takedown …` in the compose file's comments
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for spelled in re.findall(r"compose exec \w+ takedown ([^\n]*)", compose_text):
        command_lines.append(spelled.split())
    assert len(command_lines) >= 5
    for words in command_lines:
        check_command_line(words)


def test_only_the_api_is_health_checked_over_http() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "127.0.0.1:8080/healthz" in dockerfile.split("HEALTHCHECK", 1)[1].split("ENTRYPOINT")[0]
    services = _compose()["services"]
    assert "healthcheck" not in services["api"]  # inherits the image's /healthz probe
    for name in ("worker", "migrate"):  # no HTTP server: a :8080 probe would always fail
        assert services[name]["healthcheck"] == {"disable": True}, name
    postgres = services["postgres"]
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in postgres["volumes"])
    assert "pgdata" in _compose()["volumes"]


def test_the_image_installs_the_package_not_the_source_tree() -> None:
    # The image installs the package as users do (no editable install): the templates travel
    # inside it (service.templates), so the runtime stage needs the venv only.
    dockerfile = (ROOT / "Dockerfile").read_text()
    build, runtime = dockerfile.split("AS runtime")
    assert "COPY templates ./templates" in build and "COPY pyproject.toml setup.py" in build
    assert "pip install --no-cache-dir ." in build and " -e " not in build
    assert "COPY --from=build /opt/venv /opt/venv" in runtime and "/app /app" not in runtime
    assert "templates" not in (ROOT / ".dockerignore").read_text().split()


def test_image_is_multi_stage_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and all("python:3.11-slim" in s for s in stages)
    assert "USER takedown" in dockerfile and "g++" in dockerfile.split("AS runtime")[0]
    assert "g++" not in dockerfile.split("AS runtime")[1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
