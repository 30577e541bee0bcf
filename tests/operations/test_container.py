"""The container files name commands that exist; ``python -m keepwise`` is the CLI (no image is built)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from ops_kit import check_command, keepwise_commands

from keepwise.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _final_stage(dockerfile: str) -> str:
    return dockerfile[dockerfile.rindex("\nFROM ") :]


def test_the_dockerfile_runs_keepwise_as_a_non_root_user_without_build_tools() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    commands = keepwise_commands(text)
    assert commands == [["serve", "--host", "0.0.0.0", "--port", "8000"]]
    for args in commands:
        check_command(app, args)
    assert re.findall(r"^FROM (\S+)", text, flags=re.M) == ["python:3.11-slim", "python:3.11-slim"]
    final = _final_stage(text)
    users = re.findall(r"^USER (\S+)", final, flags=re.M)
    assert users and users[-1] not in ("root", "0")
    assert not re.search(r"apt-get|build-essential|gcc|\bmake\b", final)
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.M):
        assert (ROOT / copied).exists(), copied  # every file the image copies is in the repository


def test_compose_runs_the_dashboard_and_the_scheduler_on_one_postgresql_store() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "dashboard", "scheduler"}
    dashboard = services["dashboard"]["command"]
    assert dashboard[0] == "keepwise"
    check_command(app, dashboard[1:])
    scheduler = services["scheduler"]["command"]
    assert scheduler == ["supercronic", "/etc/keepwise/crontab"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY examples/schedules/crontab /etc/keepwise/crontab" in dockerfile  # checked by test_schedules
    pg = services["postgres"]["environment"]
    url = f"postgresql://{pg['POSTGRES_USER']}:${{POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}}@postgres:5432/"
    for name in ("dashboard", "scheduler"):
        service = services[name]
        assert service["environment"]["KEEPWISE_DB"] == url + pg["POSTGRES_DB"], name  # one shared store
        assert "postgres" in service["depends_on"], name
    # the crontab leaves the store to the environment, so the compose file's KEEPWISE_DB is the one used
    assert "\nKEEPWISE_DB=" not in (ROOT / "examples/schedules/crontab").read_text(encoding="utf-8")
    assert "KEEPWISE_DB=duckdb:////var/lib/keepwise/store.duckdb" in dockerfile  # the default without compose
    assert "pgdata" in compose["volumes"]


def test_python_dash_m_keepwise_is_the_command_line() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "keepwise", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for name in ("run", "backup", "restore", "serve"):
        assert re.search(rf"│ {name}\s", done.stdout), name
    bad = subprocess.run(
        [sys.executable, "-m", "keepwise", "run", "--steps", "nope"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: --steps: 'nope' is not a step")


def test_the_readme_shows_how_to_run_it_for_real() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Running it for real") :]
    section = section[: section.index("\n## ", 5)] if "\n## " in section[5:] else section
    for step in (
        "docker compose build",
        "keepwise load /import",
        "docker compose up -d",
        "docs/operations.md",
    ):
        assert step in section
