"""The secret that signs confirm and unsubscribe links: made on first use, kept beside the store or in it.

keepwise signs the links in its messages (:mod:`keepwise.messages.tokens`) with one secret per store, found
in this order:

1. the environment variable ``[messages] secret_env`` names (``KEEPWISE_SECRET``), when it is set;
2. for a DuckDB file, the file ``<store>.secret`` beside it (``shop.duckdb.secret``), mode 0600;
3. for any other store (PostgreSQL, DuckDB in memory), the one-row table ``kw_secret`` in the store.

When neither the file nor the row exists yet, the first process that needs the secret makes one
(``secrets.token_urlsafe(32)``: 256 random bits). Two processes doing so at once still agree: the file is
written under a temporary name and linked into place, which fails when the file exists already (the loser
reads the winner's), and the row is inserted with ``ON CONFLICT DO NOTHING`` under a primary key.

Rotating the secret (deleting the file or the row, or setting a new ``KEEPWISE_SECRET``) invalidates every
link signed before: the unsubscribe and confirm links of messages already sent or still queued. Nothing else
is signed with it (the dashboard's sign-in cookies are signed under the web token).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.store import Store

__all__ = ["ENV", "MIN_LENGTH", "SUFFIX", "TABLE", "secret_file", "signing_secret"]

#: The environment variable that overrides the stored secret (the default of ``[messages] secret_env``).
ENV = "KEEPWISE_SECRET"
#: Shortest secret accepted from the environment.
MIN_LENGTH = 16
#: What is added to a DuckDB file's path to name its secret file.
SUFFIX = ".secret"
#: Table of the secret in stores that are not a DuckDB file.
TABLE = "kw_secret"
#: Seconds a reader waits for a secret file another process is writing (only without hard links).
_WAIT_SECONDS = 2.0


def signing_secret(store: Store, variable: str = ENV, *, create: bool = True) -> str:
    """The secret that signs this store's links: the environment's, else the stored one (made if missing).

    Parameters
    ----------
    store:
        The store whose links are signed.
    variable:
        The environment variable that overrides the stored secret (``[messages] secret_env``).
    create:
        Make the secret when there is none yet. Without it, a missing secret is an error: no link can have
        been signed, so none can be valid.

    Raises
    ------
    KeepwiseInputError
        The environment's secret is shorter than 16 characters; or there is no secret and ``create`` is
        off; or the store is a Spark store (which keeps no secret: set the variable).
    """
    given = os.environ.get(variable, "")
    if given:
        if len(given) < MIN_LENGTH:
            raise KeepwiseInputError(
                f"{variable} is shorter than {MIN_LENGTH} characters; set it to a random secret "
                f"(python -c 'import secrets; print(secrets.token_urlsafe(32))'), or unset it and keepwise "
                "keeps one beside the store"
            )
        return given
    path = secret_file(store)
    if path is not None:
        return _from_file(path, create=create)
    if store.is_spark:
        raise KeepwiseInputError(f"a Spark store keeps no secret: set {variable} to sign links")
    return _from_table(store, create=create)


def secret_file(store: Store) -> Path | None:
    """``<store>.secret`` beside a DuckDB file; ``None`` for other stores (and DuckDB in memory)."""
    if not store.is_duckdb:
        return None
    rows = store.sql("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    path = rows[0][0] if rows else None
    return Path(str(path) + SUFFIX) if path else None


def _from_file(path: Path, *, create: bool) -> str:
    found = _read(path)
    if found is not None:
        return found
    if not create:
        raise KeepwiseInputError(f"no signing secret yet ({path}); this link was not signed by this store")
    _write_once(path, secrets.token_urlsafe(32))
    deadline = time.monotonic() + _WAIT_SECONDS
    while (found := _read(path)) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # another process made it with O_EXCL and is still writing
    if found is None:
        raise KeepwiseInputError(f"the signing secret file {path} is empty; delete it to make a new one")
    return found


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def _write_once(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` with mode 0600 unless the file exists; whoever comes first wins.

    The secret goes to a temporary file (``O_EXCL``, 0600) that is then hard-linked to ``path``: a link
    fails when ``path`` exists, and a reader never sees a half-written file. Where hard links are not
    allowed, ``path`` itself is created with ``O_EXCL`` and written (readers wait for its content).
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    _create_exclusive(temporary, secret)
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process was first: its secret is the one
    except OSError:  # no hard links on this file system
        with contextlib.suppress(FileExistsError):
            _create_exclusive(path, secret)
    finally:
        temporary.unlink(missing_ok=True)


def _create_exclusive(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, (secret + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _from_table(store: Store, *, create: bool) -> str:
    table = store.quote(TABLE)
    if store.has_table(TABLE):
        rows = store.sql(f"SELECT value FROM {table} WHERE name = ?", ["links"])
        if rows:
            return str(rows[0][0])
    if not create:
        raise KeepwiseInputError("no signing secret in the store yet; this link was not signed by this store")
    try:
        columns = "name TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT"
        store.sql(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    except Exception:  # PostgreSQL: another process created it at the same moment
        if not store.has_table(TABLE):
            raise
    made = datetime.now(UTC).isoformat()
    store.sql(
        f"INSERT INTO {table} (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        ["links", secrets.token_urlsafe(32), made],
    )
    rows = store.sql(f"SELECT value FROM {table} WHERE name = ?", ["links"])
    return str(rows[0][0])
