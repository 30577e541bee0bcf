"""The team in the store: users and their passwords, dashboard sessions, API tokens and the audit trail.

Passwords are hashed with argon2id (argon2-cffi, with the parameters OWASP's password storage cheat sheet
gives: 19 MiB, 2 passes, 1 lane); session cookies and API tokens are long
random values (256 bits) of which only the SHA-256 is stored, so a copy of the store signs nobody in. A
session ends when it expires (``hours`` after the last activity,
:func:`keepwise.store.sessions.extend_session`, and never later than a week after signing in), when its
user signs out, is disabled or gets a new password (their sessions are deleted), so a change made with
``keepwise users`` in another process takes effect on the next request.

Everything goes through the :class:`~keepwise.store.Store` API and works on every engine that has
transactions (DuckDB, PostgreSQL).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.exceptions import BadInput
from keepwise.store.store import Store

__all__ = [
    "MIN_PASSWORD",
    "ROLES",
    "Member",
    "TokenInfo",
    "activity",
    "add_user",
    "check_password",
    "close_session",
    "create_token",
    "disable_user",
    "enable_user",
    "generate_password",
    "has_users",
    "list_tokens",
    "list_users",
    "open_session",
    "record",
    "revoke_token",
    "session_member",
    "set_password",
    "token_info",
]

#: The roles, lowest first (``keepwise.web.access.Role`` has the same values).
ROLES = ("rep", "manager", "admin")
#: Shortest password accepted.
MIN_PASSWORD = 10
USERS, SESSIONS, TOKENS, AUDIT = "users", "sessions", "api_tokens", "audit_log"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
#: Longest summary kept in the audit trail.
MAX_SUMMARY = 300


@dataclass(frozen=True)
class Member:
    """A user of the dashboard (never their password)."""

    name: str
    role: str
    active: bool
    created_at: datetime | None = None
    created_by: str | None = None
    changed_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``keepwise users list --json`` prints it."""
        return {
            "name": self.name,
            "role": self.role,
            "active": self.active,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "changed_at": self.changed_at,
        }


@dataclass(frozen=True)
class TokenInfo:
    """An API token's description (never the token)."""

    token_id: str
    name: str
    role: str
    created_at: datetime | None = None
    created_by: str | None = None
    revoked_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``keepwise tokens list --json`` prints it."""
        return {
            "token_id": self.token_id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _when(value: Any) -> datetime | None:
    """A stored timestamp as an aware ``datetime`` (``None`` for NULL / NaT)."""
    if value is None:
        return None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _text(value: Any) -> str | None:
    """A stored text value, ``None`` for NULL (or a pandas NaN)."""
    return None if value is None or value != value else str(value)


def _frame(rows: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)


def _hasher() -> Any:
    """argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane); a stored hash carries its own."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


def _check_name(name: str, what: str = "name") -> str:
    if not _NAME.match(name or ""):
        raise BadInput(
            what,
            "must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit",
            name,
        )
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise BadInput("role", "must be one of: admin, manager, rep", role)
    return role


def _check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise BadInput("password", f"must be at least {MIN_PASSWORD} characters long")
    if len(password) > 1024:
        raise BadInput("password", "must be at most 1024 characters long")
    return password


def generate_password() -> str:
    """A new random password (16 URL-safe characters, 96 bits)."""
    return secrets.token_urlsafe(12)


# ---------------------------------------------------------------------------------------------- users
def _members(store: Store, where: dict[str, Any] | None = None) -> list[Member]:
    if not store.has_table(USERS):
        return []
    df = store.read(USERS, where=where, order_by=["name"])
    return [
        Member(
            name=str(r["name"]),
            role=str(r["role"]),
            active=bool(r["active"]),
            created_at=_when(r["created_at"]),
            created_by=_text(r["created_by"]),
            changed_at=_when(r["changed_at"]),
        )
        for r in df.to_dict("records")
    ]


def has_users(store: Store) -> bool:
    """Whether anyone may sign in yet (the first ``keepwise serve`` creates the first admin otherwise)."""
    return store.has_table(USERS) and store.count(USERS) > 0


def list_users(store: Store) -> list[Member]:
    """Every user, by name."""
    return _members(store)


def _member(store: Store, name: str) -> Member:
    found = _members(store, {"name": name})
    if not found:
        raise BadInput("name", "is not a user", name)
    return found[0]


def add_user(
    store: Store, name: str, role: str, password: str, *, by: str = "cli", address: str = "cli"
) -> Member:
    """Add user ``name`` with ``role`` and ``password`` (hashed); a name taken already is refused."""
    _check_name(name)
    _check_role(role)
    _check_password(password)
    digest = _hasher().hash(password)
    now = _now()
    with store.transaction():
        if store.has_table(USERS) and store.count(USERS, where={"name": name}):
            raise BadInput("name", "is a user already", name)
        store.append(
            USERS,
            _frame(
                {
                    "name": [name],
                    "role": [role],
                    "password_hash": [digest],
                    "active": [True],
                    "created_at": [now],
                    "created_by": [by],
                    "changed_at": [now],
                }
            ),
        )
        record(store, user=by, action="users.add", summary=f"{name} as {role}", address=address)
    return _member(store, name)


def _change(
    store: Store, name: str, values: dict[str, Any], action: str, by: str, address: str, summary: str
) -> Member:
    _member(store, name)
    with store.transaction():
        store.update(USERS, {**values, "changed_at": _now()}, {"name": name})
        if store.has_table(SESSIONS):
            store.delete(SESSIONS, {"user_name": name})  # signed out everywhere
        record(store, user=by, action=action, summary=summary, address=address)
    return _member(store, name)


def disable_user(store: Store, name: str, *, by: str = "cli", address: str = "cli") -> Member:
    """Disable ``name``: they cannot sign in any more and their sessions end now."""
    member = _member(store, name)
    admins = [m for m in _members(store, {"role": "admin"}) if m.active]
    if member.active and member.role == "admin" and len(admins) == 1:
        raise BadInput("name", "is the last active admin; add another admin first", name)
    return _change(store, name, {"active": False}, "users.disable", by, address, name)


def enable_user(store: Store, name: str, *, by: str = "cli", address: str = "cli") -> Member:
    """Let a disabled ``name`` sign in again."""
    return _change(store, name, {"active": True}, "users.enable", by, address, name)


def set_password(store: Store, name: str, password: str, *, by: str = "cli", address: str = "cli") -> Member:
    """Give ``name`` a new password; their sessions end now."""
    _check_password(password)
    digest = _hasher().hash(password)
    return _change(store, name, {"password_hash": digest}, "users.reset-password", by, address, name)


#: A hash to verify against when the name is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY: list[str] = []


def check_password(store: Store, name: str, password: str) -> Member | None:
    """The active user ``name`` if ``password`` is theirs, else ``None`` (also for unknown or disabled)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    row = None
    if store.has_table(USERS) and _NAME.match(name or ""):
        df = store.read(USERS, where={"name": name}, columns=["password_hash", "active"])
        row = None if df.empty else df.iloc[0]
    if row is None:
        if not _DUMMY:
            _DUMMY.append(hasher.hash(secrets.token_urlsafe(16)))
        stored = _DUMMY[0]
    else:
        stored = str(row["password_hash"])
    try:
        hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not bool(row["active"]):
        return None
    return _member(store, name)


# ---------------------------------------------------------------------------------------------- sessions
def open_session(store: Store, name: str, hours: float) -> str:
    """Start a session for ``name`` lasting ``hours``; returns the cookie value (kept only as its hash)."""
    raw = secrets.token_urlsafe(32)
    now = _now()
    row = {
        "session_hash": [_sha256(raw)],
        "user_name": [name],
        "created_at": [now],
        "expires_at": [now + timedelta(hours=hours)],
    }
    with store.transaction():
        if store.has_table(SESSIONS):  # forget the expired ones while here
            t = store.table(SESSIONS)
            old = store.to_pandas(t.filter(t.expires_at < now).select("session_hash"))
            for h in old.session_hash:
                store.delete(SESSIONS, {"session_hash": str(h)})
        store.append(SESSIONS, _frame(row))
    return raw


def session_member(store: Store, raw: str | None) -> Member | None:
    """The active user whose unexpired session the cookie value ``raw`` is, else ``None``."""
    if not raw or len(raw) > 200 or not (store.has_table(SESSIONS) and store.has_table(USERS)):
        return None
    # one statement (asked on every request whose session is not kept): the session and its user
    rows = store.sql(
        f"SELECT u.name, u.role, u.active, s.expires_at FROM {store.quote(SESSIONS)} s "
        f"JOIN {store.quote(USERS)} u ON u.name = s.user_name WHERE s.session_hash = ?",
        [_sha256(raw)],
    )
    if not rows:
        return None
    name, role, active, expires_at = rows[0]
    ends = _when(expires_at)
    if not active or ends is None or ends <= _now():
        return None
    return Member(str(name), str(role), bool(active))


def close_session(store: Store, raw: str | None) -> None:
    """End the session ``raw`` (signing out)."""
    if raw and store.has_table(SESSIONS):
        store.delete(SESSIONS, {"session_hash": _sha256(raw)})


# ---------------------------------------------------------------------------------------------- tokens
def _tokens(store: Store, where: dict[str, Any] | None = None) -> list[TokenInfo]:
    if not store.has_table(TOKENS):
        return []
    df = store.read(TOKENS, where=where, order_by=["created_at", "token_id"])
    return [
        TokenInfo(
            str(r["token_id"]),
            str(r["name"]),
            str(r["role"]),
            _when(r["created_at"]),
            _text(r["created_by"]),
            _when(r["revoked_at"]),
        )
        for r in df.to_dict("records")
    ]


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every API token (revoked ones too), oldest first."""
    return _tokens(store)


def create_token(
    store: Store, name: str, role: str, *, by: str = "cli", address: str = "cli"
) -> tuple[TokenInfo, str]:
    """A new API token for ``role``: its description and the token itself (shown once, stored as a hash)."""
    _check_name(name)
    _check_role(role)
    secret = "kw_" + secrets.token_urlsafe(32)
    token_id = "t-" + secrets.token_hex(4)
    row = {
        "token_id": [token_id],
        "name": [name],
        "role": [role],
        "token_hash": [_sha256(secret)],
        "created_at": [_now()],
        "created_by": [by],
        "revoked_at": [None],
    }
    with store.transaction():
        frame = _frame(row)
        frame["revoked_at"] = frame["revoked_at"].astype("datetime64[us, UTC]")
        store.append(TOKENS, frame)
        record(
            store, user=by, action="tokens.create", summary=f"{name} ({token_id}) as {role}", address=address
        )
    return _tokens(store, {"token_id": token_id})[0], secret


def token_info(store: Store, secret: str | None) -> TokenInfo | None:
    """The valid (not revoked) token whose secret is ``secret``, else ``None``."""
    if not secret or len(secret) > 200 or not store.has_table(TOKENS):
        return None
    rows = store.sql(
        f"SELECT token_id, name, role FROM {store.quote(TOKENS)} WHERE token_hash = ? AND revoked_at IS NULL",
        [_sha256(secret)],
    )
    return TokenInfo(str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None


def revoke_token(store: Store, which: str, *, by: str = "cli", address: str = "cli") -> TokenInfo:
    """Revoke the token with id ``which`` (or the one valid token named ``which``)."""
    found = [t for t in _tokens(store) if t.token_id == which]
    if not found:
        found = [t for t in _tokens(store) if t.name == which and t.revoked_at is None]
    if not found:
        raise BadInput("token", "is neither a token id nor the name of a valid token", which)
    if len(found) > 1:
        raise BadInput("token", "names several valid tokens; give its id (keepwise tokens list)", which)
    token = found[0]
    with store.transaction():
        store.update(TOKENS, {"revoked_at": _now()}, {"token_id": token.token_id})
        record(
            store,
            user=by,
            action="tokens.revoke",
            summary=f"{token.name} ({token.token_id})",
            address=address,
        )
    return _tokens(store, {"token_id": token.token_id})[0]


# ---------------------------------------------------------------------------------------------- audit
def record(
    store: Store,
    *,
    user: str,
    action: str,
    role: str = "",
    summary: str = "",
    status: str = "ok",
    address: str = "",
) -> None:
    """Add one event to the audit trail (``summary`` cut to :data:`MAX_SUMMARY` characters)."""
    now = _now()
    event = f"e-{now:%Y%m%d}-{uuid.uuid4().hex[:16]}"
    store.append(
        AUDIT,
        _frame(
            {
                "event_id": [event],
                "happened_at": [now],
                "user_name": [user[:200]],
                "role": [role],
                "action": [action[:200]],
                "summary": [summary[:MAX_SUMMARY]],
                "status": [status],
                "address": [address[:100]],
            }
        ),
    )


def activity(
    store: Store, *, limit: int, offset: int = 0, user: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The audit trail newest first: ``limit`` events from ``offset``, and how many there are in all."""
    import ibis

    if not store.has_table(AUDIT):
        return [], 0
    t = store.table(AUDIT)
    if user:
        t = t.filter(t.user_name == user)
    total = int(store.backend.execute(t.count()))
    page = t.order_by([ibis.desc("happened_at"), ibis.desc("event_id")]).limit(limit, offset=offset)
    df = store.to_pandas(page)
    rows = [
        {
            "at": _when(r["happened_at"]),
            "user": r["user_name"],
            "role": r["role"] or "",
            "action": r["action"],
            "summary": r["summary"] or "",
            "status": r["status"] or "",
            "address": r["address"] or "",
        }
        for r in df.to_dict("records")
    ]
    return rows, total
