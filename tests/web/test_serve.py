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


def test_refuses_a_public_address_without_a_token(monkeypatch, tmp_path):
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no keepwise.toml
    code, stdout, err = cli("serve", "--host", "0.0.0.0", "--db", f"duckdb:///{tmp_path}/x.duckdb")
    assert code == 2
    assert err.strip().splitlines() == [
        "error: refusing to listen on 0.0.0.0 without an access token: set KEEPWISE_WEB_TOKEN "
        "(or [web] token in keepwise.toml), or use --host 127.0.0.1"
    ]
    assert stdout == ""


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
    env = {**os.environ, "KEEPWISE_WEB_TOKEN": TOKEN}
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
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    code, stdout, _ = cli("status", "--json", "--db", url)
    assert code == 0
    assert got.json() == json.loads(stdout)
    assert "sign-in required" in (proc.stderr.read() if proc.stderr else "")
