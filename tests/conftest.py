from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from keepwise.store import connect


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh DuckDB store file (absolute path, SQLAlchemy-style URL)."""
    return f"duckdb:///{tmp_path}/store.duckdb"


@pytest.fixture
def store(db_url: str):
    backend = connect(db_url)
    yield backend
    backend.disconnect()


#: Debian's Chromium (``make system-deps`` installs it), driven through Playwright's ``executable_path``.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class OfflinePage:
    """A Chromium page that records console errors and every request it blocked."""

    page: Any
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)


@pytest.fixture
def offline_page() -> Iterator[Callable[..., OfflinePage]]:
    """Open pages in a real Chromium, offline: ``offline_page(allow="file://")``.

    Every request whose URL does not start with ``allow`` is blocked and recorded in ``external``; console
    errors and uncaught page errors go to ``errors``. The browser closes when the test ends.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (bash scripts/ensure_system_deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def open_page(allow: str = "file://") -> OfflinePage:
            opened = OfflinePage(browser.new_page())
            opened.page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
            opened.page.on("pageerror", lambda e: opened.errors.append(str(e)))

            def route(r: Any) -> None:
                if r.request.url.startswith(allow):
                    r.continue_()
                else:
                    opened.external.append(r.request.url)
                    r.abort()

            opened.page.route("**/*", route)
            return opened

        try:
            yield open_page
        finally:
            browser.close()
