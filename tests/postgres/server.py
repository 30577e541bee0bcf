"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary folder, a loopback port.

``initdb`` refuses to run as root, so when the tests run as root (CI does) the server runs as the ``postgres``
user that Debian's package creates (``nobody`` where it is missing), in a folder given to that user. It
listens on 127.0.0.1 at a free port and on a unix socket in its folder, trusts local connections (nothing
else can reach it) and trades durability for speed (``fsync=off``). ``make test`` installs the package if
it is missing (scripts/ensure_system_deps.sh).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def _bin() -> Path:
    """Where Debian's postgresql package put the server's programs (the newest version installed)."""
    if os.environ.get("KEEPWISE_TEST_PG_BIN"):
        return Path(os.environ["KEEPWISE_TEST_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


#: The server's programs (``KEEPWISE_TEST_PG_BIN`` overrides).
BIN = _bin()
USER = "keepwise"


def available() -> bool:
    """Whether the server's programs are installed."""
    return (BIN / "initdb").exists() and (BIN / "pg_ctl").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _owner() -> str | None:
    """The user the server runs as when we are root (``postgres``, else ``nobody``); None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither user 'postgres' nor 'nobody' exists to run PostgreSQL")


@dataclass
class Server:
    """A running server: ``url(database)`` names a database on it; ``stop()`` ends it, removes its folder."""

    folder: Path
    port: int
    owner: str | None

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*(["runuser", "-u", self.owner, "--"] if self.owner else []), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` store URL of ``database`` on this server (loopback TCP)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """Create a new database (empty, or a copy of database ``template``) and return its store URL."""
        import psycopg

        name = name or f"kw_{uuid.uuid4().hex[:12]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` (its disk space back at once)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Server:
    """initdb a new cluster in a temporary folder and start it; raises with the server's log on failure."""
    owner = _owner()
    folder = Path(tempfile.mkdtemp(prefix="keepwise-pg-"))
    if owner:
        shutil.chown(folder, user=owner)
    server = Server(folder, _free_port(), owner)
    data = folder / "data"
    done = server._run(
        str(BIN / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C", "-N"
    )
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
    options = (
        f"-c listen_addresses=127.0.0.1 -p {server.port} -k {folder} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=100 -c shared_buffers=32MB"
    )
    log = folder / "server.log"
    started = server._run(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    if started.returncode != 0:
        text = log.read_text(errors="replace") if log.exists() else started.stderr
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {text.strip()[-2000:]}")
    return server
