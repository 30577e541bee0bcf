"""Sessions that slide: a request moves its session's end, up to a cap from signing in.

A session (:func:`keepwise.store.team.open_session`) lasts ``[web] session_hours``; each request of its user
moves the end to that many hours from now (:func:`extend_session`), so an active user stays signed in and an
idle one is asked for the password again, and nobody stays signed in past :data:`SESSION_CAP_HOURS` after
signing in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from keepwise.store import team
from keepwise.store.store import Store

__all__ = ["SESSION_CAP_HOURS", "extend_session", "session_renewal"]

#: The longest a session lasts however active its user is (hours from signing in): a week.
SESSION_CAP_HOURS = 7 * 24


def session_renewal(
    store: Store,
    raw: str | None,
    hours: float,
    *,
    cap_hours: float = SESSION_CAP_HOURS,
    step: timedelta | None = None,
) -> datetime | None:
    """The new end of the session ``raw`` if activity now should move it, else ``None`` (reads only).

    The end slides to ``hours`` from now, never past ``cap_hours`` after the session began; it moves only when
    it would move by at least ``step`` (default a twelfth of ``hours``), so a busy user's requests do not
    each write to the store. ``None`` too for a session that is unknown or over.
    """
    if not raw or len(raw) > 200 or not store.has_table(team.SESSIONS):
        return None
    rows = store.sql(
        f"SELECT created_at, expires_at FROM {store.quote(team.SESSIONS)} WHERE session_hash = ?",
        [team._sha256(raw)],
    )
    if not rows:
        return None
    began, ends = team._when(rows[0][0]), team._when(rows[0][1])
    now = team._now()
    if ends is None or ends <= now:
        return None
    wanted = now + timedelta(hours=hours)
    capped = began is not None and began + timedelta(hours=cap_hours) <= wanted
    if began is not None:
        wanted = min(wanted, began + timedelta(hours=cap_hours))
    moves = wanted - ends
    if moves <= timedelta(0) or (moves < (step or timedelta(hours=hours / 12)) and not capped):
        return None  # the last move, up to the cap, is made whatever its size
    return wanted


def extend_session(
    store: Store,
    raw: str | None,
    hours: float,
    *,
    cap_hours: float = SESSION_CAP_HOURS,
    step: timedelta | None = None,
) -> datetime | None:
    """Slide the session ``raw`` to end ``hours`` from now, never past ``cap_hours`` after it began.

    An active user stays signed in; one who does nothing for ``hours`` is asked for the password again, and
    everyone is after ``cap_hours``. Returns the new end, or ``None`` when it did not move
    (:func:`session_renewal`: not by ``step`` yet, or the session is unknown or over).
    """
    wanted = session_renewal(store, raw, hours, cap_hours=cap_hours, step=step)
    if wanted is not None and raw:
        store.update(team.SESSIONS, {"expires_at": wanted}, where={"session_hash": team._sha256(raw)})
    return wanted
