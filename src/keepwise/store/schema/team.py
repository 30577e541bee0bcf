"""The team's tables: who may sign in to the dashboard, their sessions, machine tokens and the audit trail.

Written by keepwise (``keepwise users``, ``keepwise tokens``, the dashboard), never loaded from files.
Passwords and tokens are stored only as hashes (:mod:`keepwise.store.team`).
"""

from __future__ import annotations

from keepwise.store.schema.columns import Column, Table

_ROLES = ("admin", "manager", "rep")

TEAM_TABLES: tuple[Table, ...] = (
    Table(
        "users",
        "The people who sign in to the dashboard, each with a role (written by keepwise users).",
        (
            Column("name", "text", "Sign-in name.", required=True, example="anna"),
            Column("role", "text", "admin, manager or rep.", required=True, allowed=_ROLES, example="rep"),
            Column(
                "password_hash", "text", "argon2id hash of the password.", required=True, example="$argon2id$"
            ),
            Column("active", "boolean", "false once disabled.", required=True, example="true"),
            Column("created_at", "timestamp", "When added.", required=True, example="2026-01-05T09:00Z"),
            Column("created_by", "text", "Who added them.", example="admin"),
            Column(
                "changed_at", "timestamp", "Last change of password, role or state.", example="2026-01-05"
            ),
        ),
        key=("name",),
        loadable=False,
    ),
    Table(
        "sessions",
        "Dashboard sign-ins: the hash of each session cookie, whose it is and when it ends.",
        (
            Column(
                "session_hash", "text", "SHA-256 of the cookie's random value.", required=True, example="9f2c"
            ),
            Column("user_name", "text", "Who signed in.", required=True, example="anna"),
            Column("created_at", "timestamp", "When.", required=True, example="2026-01-05T09:00Z"),
            Column("expires_at", "timestamp", "When it ends.", required=True, example="2026-01-05T21:00Z"),
        ),
        key=("session_hash",),
        loadable=False,
    ),
    Table(
        "api_tokens",
        "Tokens for machines (Authorization: Bearer), each with a role; only their hash is kept.",
        (
            Column(
                "token_id",
                "text",
                "Public id (shown by keepwise tokens list).",
                required=True,
                example="t-3f9a",
            ),
            Column("name", "text", "What it is for.", required=True, example="nightly-export"),
            Column(
                "role", "text", "admin, manager or rep.", required=True, allowed=_ROLES, example="manager"
            ),
            Column("token_hash", "text", "SHA-256 of the token.", required=True, example="4b1d"),
            Column("created_at", "timestamp", "When made.", required=True, example="2026-01-05T09:00Z"),
            Column("created_by", "text", "Who made it.", example="admin"),
            Column("revoked_at", "timestamp", "When revoked (empty: valid).", example=""),
        ),
        key=("token_id",),
        loadable=False,
    ),
    Table(
        "audit_log",
        "Who did what and when: every change made in the dashboard or the API, sign-ins, user and token "
        "changes.",
        (
            Column("event_id", "text", "Event id.", required=True, example="e-20260105-1a2b"),
            Column("happened_at", "timestamp", "When.", required=True, example="2026-01-05T09:00Z"),
            Column(
                "user_name",
                "text",
                "Who (a user, token NAME, or the name tried at a failed sign-in).",
                required=True,
                example="anna",
            ),
            Column("role", "text", "Their role then (empty when unknown).", example="rep"),
            Column(
                "action",
                "text",
                "What: sign-in, users.add, POST /concession, ...",
                required=True,
                example="POST /concession",
            ),
            Column(
                "summary", "text", "A short summary (never a password or token).", example="customer_id=C001"
            ),
            Column("status", "text", "The answer's HTTP status, or ok / failed.", example="200"),
            Column("address", "text", "Client address, or cli.", example="10.0.0.7"),
        ),
        key=("event_id",),
        loadable=False,
    ),
)
