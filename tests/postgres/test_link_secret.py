"""The link secret of a PostgreSQL store lives in the store (``kw_secret``), and racing processes agree on it.

Uses the throwaway server of this folder's conftest.py (the PostgreSQL suite of issue 19 part 3); on a branch
without that suite the module is skipped, saying why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if not (Path(__file__).parent / "conftest.py").exists():
    pytest.skip(
        "the PostgreSQL suite's server fixture (tests/postgres/conftest.py) is not here",
        allow_module_level=True,
    )

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect
from keepwise.store.secret import TABLE, secret_file, signing_secret

SRC = str(Path(__file__).parents[2] / "src")
READ = (
    "import sys; from keepwise.store import connect; from keepwise.store.secret import signing_secret; "
    "s = connect(sys.argv[1]); print(signing_secret(s)); s.disconnect()"
)


def test_processes_racing_on_a_fresh_postgres_store_agree_on_one_secret_kept_in_it(pg_url, monkeypatch):
    monkeypatch.delenv("KEEPWISE_SECRET", raising=False)
    store = connect(pg_url)
    try:
        assert store.kind == "postgres" and secret_file(store) is None
        with pytest.raises(KeepwiseInputError, match="no signing secret in the store yet"):
            signing_secret(store, create=False)
        env = {k: v for k, v in os.environ.items() if k != "KEEPWISE_SECRET"} | {"PYTHONPATH": SRC}
        racers = [
            subprocess.Popen([sys.executable, "-c", READ, pg_url], stdout=subprocess.PIPE, text=True, env=env)
            for _ in range(4)
        ]
        found = {p.communicate(timeout=120)[0].strip() for p in racers}
        assert all(p.returncode == 0 for p in racers)
        assert len(found) == 1 and len(next(iter(found))) >= 43
        assert signing_secret(store) == next(iter(found)) == signing_secret(store, create=False)
        assert store.count(TABLE) == 1
    finally:
        store.disconnect()
