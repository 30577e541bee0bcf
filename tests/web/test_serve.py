"""``keepwise serve`` as users run it: a subprocess on a free loopback port, and its refusals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from .conftest import TOKEN, cli

KEEPWISE = str(Path(sys.executable).with_name("keepwise"))


def _env(**extra: str) -> dict[str, str]:
    """The environment of a ``keepwise serve`` subprocess: this checkout's sources first, no shared token."""
    import keepwise

    env = {k: v for k, v in os.environ.items() if k != "KEEPWISE_WEB_TOKEN"}
    env["PYTHONPATH"] = str(Path(keepwise.__file__).parents[1])
    return {**env, **extra}


def test_the_first_admin_is_made_once_on_a_store_without_users(tmp_path):
    from keepwise.commands.serve import first_admin
    from keepwise.store import connect, team

    url = f"duckdb:///{tmp_path}/new.duckdb"
    password = first_admin(url)
    assert password is not None and len(password) >= 16
    assert first_admin(url) is None  # the store has a user now
    backend = connect(url)
    try:
        assert [(m.name, m.role, m.active) for m in team.list_users(backend)] == [("admin", "admin", True)]
        assert team.check_password(backend, "admin", password) is not None
    finally:
        backend.disconnect()


def test_an_app_serving_beyond_this_machine_answers_any_host_name(store_url, reviews, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.config import Config
    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    for host, status in (("0.0.0.0", 200), ("127.0.0.1", 400)):
        monkeypatch.setenv("KEEPWISE_WEB_HOST", host)  # what keepwise serve --host sets
        with TestClient(create_app(store_url, Config()), base_url="http://shop.example") as c:
            assert c.get("/health").status_code == status, host


def test_a_short_token_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setenv("KEEPWISE_WEB_TOKEN", "short")
    code, _, err = cli("serve", "--db", f"duckdb:///{tmp_path}/x.duckdb")
    assert code == 2
    assert err.strip() == (
        "error: the web token (KEEPWISE_WEB_TOKEN or [web] token) must be at least 16 characters long"
    )


def test_the_token_can_come_from_keepwise_toml(monkeypatch, tmp_path):
    from keepwise.config import load_config
    from keepwise.web.auth import resolve_token

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    (tmp_path / "keepwise.toml").write_text('[web]\ntoken = "from-the-file-0123456789"\n', encoding="utf-8")
    assert resolve_token(load_config(tmp_path / "keepwise.toml")) == "from-the-file-0123456789"
    monkeypatch.setenv("KEEPWISE_WEB_TOKEN", "from-the-env-0123456789")
    assert resolve_token(load_config(tmp_path / "keepwise.toml")) == "from-the-env-0123456789"


def test_serves_the_store_over_loopback(store_url, reviews, tmp_path):
    from .test_browser import _free_port

    copy = tmp_path / "served.duckdb"  # the server is another process: give it its own file
    shutil.copy(store_url.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    port = _free_port()
    env = _env(KEEPWISE_WEB_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [KEEPWISE, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                got = httpx.get(base + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"keepwise serve did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.2)
        assert got.status_code == 200
        assert httpx.get(base + "/api/status", timeout=5).status_code == 401
        assert httpx.get(base + "/", timeout=5).status_code == 303
        assert httpx.get(base + "/health", timeout=5).json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    code, stdout, _ = cli("status", "--json", "--db", url)
    assert code == 0
    assert got.json() == json.loads(stdout)
    assert "sign-in required" in (proc.stderr.read() if proc.stderr else "")


def test_the_first_serve_prints_the_admins_password_once_and_it_signs_in(tmp_path):
    from .test_browser import _free_port

    url = f"duckdb:///{tmp_path}/fresh.duckdb"
    port = _free_port()
    env = _env()
    proc = subprocess.Popen(
        [KEEPWISE, "serve", "--port", str(port), "--db", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        import threading

        assert proc.stdout is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=60)
        assert first, "keepwise serve printed no password"
        password = first[0].strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(base + "/health", timeout=5)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"keepwise serve did not start: {proc.stderr.read() if proc.stderr else ''}")
                time.sleep(0.2)
        assert health.status_code == 200
        signed = httpx.post(base + "/login", data={"name": "admin", "password": password}, timeout=30)
        assert signed.status_code == 303 and "keepwise_session" in signed.cookies
        assert httpx.post(base + "/login", data={"name": "admin", "password": "wrong-password"},
                          timeout=30).status_code == 401  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    err = proc.stderr.read() if proc.stderr else ""
    assert "created the admin 'admin'" in err and password not in err
    code, listed, err = cli("users", "list", "--json", "--db", url)
    assert code == 0, err
    assert [u["name"] for u in json.loads(listed)["users"]] == ["admin"]
