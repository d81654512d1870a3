"""The deployment files: compose services, commands and environment match the code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.cli import main
from service.settings import Settings

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


def test_image_is_multi_stage_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and all("python:3.11-slim" in s for s in stages)
    assert "USER takedown" in dockerfile and "g++" in dockerfile.split("AS runtime")[0]
    assert "g++" not in dockerfile.split("AS runtime")[1]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
