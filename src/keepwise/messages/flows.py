"""Automated sequences, safe to run from cron: who is due which message, a holdout kept out, queue, send.

Flows (``[messages.flows.NAME]`` in ``keepwise.toml`` replaces any of these defaults)::

    [messages.flows.winback]          # lapsed customers: days since the last order > max(min_days,
    enabled = true                    #   rhythm_multiple x the customer's own mean days between orders);
    holdout_share = 0.1               #   customers not wanted back (exits.wanted_back = false) get a
    rhythm_multiple = 3.0             #   goodbye instead, once
    min_days = 60
    max_days = 730

    [messages.flows.at_risk]          # a nudge (reengagement) when the gap passes rhythm_multiple x the
    enabled = true                    #   customer's own rhythm but not yet the win-back threshold
    holdout_share = 0.1
    rhythm_multiple = 1.5
    min_days = 21

    [messages.flows.incident_followup]  # an adjustment letter for incidents with a concession, opened in
    enabled = true                      #   the last within_days days (no holdout by default: a customer
    holdout_share = 0.0                 #   owed an apology gets it)
    within_days = 14

    [messages.flows.thanks]           # a yearly thank-you to the top top_share of customers by the last
    enabled = true                    #   365 days' sales
    holdout_share = 0.1
    top_share = 0.05

Holdouts: each (flow, cause period, customer) is assigned by a keyed hash, uniform on [0, 1), against the
flow's ``holdout_share``: random with respect to customers, stable across runs (a cron rerun never
re-draws). Held-out customers get an outbox row with status ``held_out`` and a row in ``assignments``
(``experiment_id = flow:NAME``, ``arm`` = ``holdout`` or ``treatment``) for the experiments package.

Safety from cron: the whole run (choose, queue, send) holds the store lock ``outbox``; a second run while
one is going does nothing and says so. Idempotency keys make a rerun queue nothing new.

The remedy comes from the incident's ``concession_amount``; the extra gesture and the win-back offer come
from :mod:`keepwise.decisions` when it is installed and answers (guarded imports: without it the letters
are written without them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages import outbox
from keepwise.messages.compose import Grant
from keepwise.messages.prepare import customer_record, incident_facts, prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.messages.tokens import secret_from_env
from keepwise.store.connection import duckdb_connection

__all__ = [
    "FLOW_DEFAULTS",
    "FlowRun",
    "decided_gesture",
    "decided_offer",
    "due",
    "flow_settings",
    "run_flows",
]

FLOW_DEFAULTS: dict[str, dict[str, Any]] = {
    "winback": {
        "enabled": True,
        "holdout_share": 0.1,
        "rhythm_multiple": 3.0,
        "min_days": 60,
        "max_days": 730,
    },
    "at_risk": {"enabled": True, "holdout_share": 0.1, "rhythm_multiple": 1.5, "min_days": 21},
    "incident_followup": {"enabled": True, "holdout_share": 0.0, "within_days": 14},
    "thanks": {"enabled": True, "holdout_share": 0.1, "top_share": 0.05},
}


def flow_settings(config: Config) -> dict[str, dict[str, Any]]:
    """The flows with ``keepwise.toml`` applied over the defaults; bad names and values are input errors."""
    merged = {name: dict(values) for name, values in FLOW_DEFAULTS.items()}
    for name, values in config.messages.flows.items():
        if name not in merged:
            raise KeepwiseInputError(
                f"unknown flow [messages.flows.{name}]; the flows are: {', '.join(merged)}"
            )
        if not isinstance(values, dict):
            raise KeepwiseInputError(f"[messages.flows.{name}] must be a table of settings")
        for key, value in values.items():
            if key not in merged[name]:
                known = ", ".join(merged[name])
                raise KeepwiseInputError(f"unknown key '{key}' in [messages.flows.{name}]; known: {known}")
            default = merged[name][key]
            if isinstance(default, bool) != isinstance(value, bool) or not isinstance(
                value, type(default) | int
            ):
                raise KeepwiseInputError(
                    f"messages.flows.{name}.{key} must be like {default!r}, not {value!r}"
                )
            merged[name][key] = value
        for share in ("holdout_share", "top_share"):
            if share in merged[name] and not 0 <= merged[name][share] <= 1:
                raise KeepwiseInputError(f"messages.flows.{name}.{share} must be between 0 and 1")
    return merged


def _unit(*parts: str) -> float:
    """A uniform number in [0, 1) from a keyed hash of ``parts``."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Due:
    """One message a flow wants to send."""

    flow: str
    kind: str
    customer_id: str
    cause: str
    facts: dict[str, Any]


@dataclass
class FlowRun:
    """What a run of the flows did (or, with ``dry_run``, would do)."""

    dry_run: bool
    due: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    held_out: int = 0
    already_known: int = 0
    sent: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dict(self.__dict__)


def decided_gesture(
    backend: Any, customer_id: str, incident_id: str, remedy: Grant, language: str
) -> Grant | None:
    """The concession advisor's extra gesture (English wording, so only for English letters), if available."""
    if language != "en" or remedy.amount is None:
        return None
    try:
        from keepwise.decisions.concession import ConcessionAdvisor
    except ImportError:
        return None
    try:
        advice = ConcessionAdvisor(backend).advise(customer_id, remedy.amount, incident_id, log=False)
    except Exception:  # the advisor is optional here: a letter without a gesture is still a good letter
        return None
    text = str(getattr(advice, "extra_gesture", "") or "").strip().rstrip(".")
    return Grant("other", note=text[:1].lower() + text[1:]) if text else None


def decided_offer(backend: Any, customer_id: str) -> Grant | None:
    """The win-back offer chosen by ``keepwise.decisions.winback.offer_for(backend, customer_id)``, if any.

    The expected answer is ``None`` or a mapping with ``kind`` and optionally ``amount``, ``currency``,
    ``percent``, ``code``, ``valid_until`` (the fields of :class:`~keepwise.messages.compose.Grant`).
    """
    try:
        from keepwise.decisions import winback  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    offer_for = getattr(winback, "offer_for", None)
    if offer_for is None:
        return None
    try:
        offer = offer_for(backend, customer_id)
        if offer is None:
            return None
        data = dict(offer)
        if data.get("amount") is not None:
            data["amount"] = Decimal(str(data["amount"]))
        return Grant(**{k: data[k] for k in data if k in Grant.__dataclass_fields__})
    except Exception:
        return None


def _rhythms(con: Any, at: datetime) -> list[tuple[str, datetime, int, float | None, str | None, Any]]:
    """Per customer: last order, orders, mean days between orders, exit reason, wanted_back."""
    return list(
        con.execute(
            """
            WITH o AS (
                SELECT customer_id, min(ordered_at) AS first_at, max(ordered_at) AS last_at,
                       count(DISTINCT CAST(ordered_at AS DATE)) AS n
                FROM orders WHERE ordered_at <= ? AND quantity > 0 GROUP BY customer_id
            ), e AS (
                SELECT customer_id, arg_max(reason_code, lost_at) AS reason,
                       arg_max(wanted_back, lost_at) AS wanted
                FROM exits WHERE lost_at <= ? GROUP BY customer_id
            )
            SELECT o.customer_id, o.last_at, o.n,
                   CASE WHEN o.n > 1
                        THEN date_diff('second', o.first_at, o.last_at) / 86400.0 / (o.n - 1) END,
                   e.reason, e.wanted
            FROM o LEFT JOIN e USING (customer_id) ORDER BY o.customer_id
            """,
            [at, at],
        ).fetchall()
    )


def due(backend: Any, config: Config, at: datetime) -> list[Due]:
    """Every message the enabled flows want at ``at`` (before holdouts, consent and the outbox's memory)."""
    flows = flow_settings(config)
    con = duckdb_connection(backend)
    out: list[Due] = []
    w, r = flows["winback"], flows["at_risk"]
    if w["enabled"] or r["enabled"]:
        for customer_id, last_at, _n, gap, reason, wanted in _rhythms(con, at):
            idle = (at - last_at).total_seconds() / 86400
            lapse = f"lapse-{last_at:%Y-%m-%d}"
            win_after = max(float(w["min_days"]), float(w["rhythm_multiple"]) * gap if gap else 0.0)
            risk_after = max(float(r["min_days"]), float(r["rhythm_multiple"]) * gap if gap else 0.0)
            if w["enabled"] and win_after < idle <= float(w["max_days"]):
                if wanted is False:
                    out.append(Due("winback", "goodbye", customer_id, lapse, {}))
                else:
                    facts = {"reason": reason, "offer": decided_offer(backend, customer_id)}
                    out.append(Due("winback", "winback", customer_id, lapse, facts))
            elif r["enabled"] and risk_after < idle <= win_after and wanted is not False:
                out.append(
                    Due(
                        "at_risk",
                        "reengagement",
                        customer_id,
                        lapse,
                        {"last_order_at": last_at, "offer": None},
                    )
                )
    f = flows["incident_followup"]
    if f["enabled"]:
        rows = con.execute(
            "SELECT incident_id, customer_id FROM incidents WHERE opened_at <= ? AND opened_at > ? "
            "AND concession_amount > 0 AND currency IS NOT NULL ORDER BY incident_id",
            [at, at - timedelta(days=int(f["within_days"]))],
        ).fetchall()
        for incident_id, _customer_id in rows:
            cid, facts = incident_facts(backend, incident_id)
            language = str(customer_record(backend, cid)["language"] or "en")
            remedy = facts["remedy"]
            assert isinstance(remedy, Grant)
            facts["gesture"] = decided_gesture(backend, cid, incident_id, remedy, language)
            out.append(Due("incident_followup", "adjustment", cid, incident_id, facts))
    t = flows["thanks"]
    if t["enabled"]:
        rows = con.execute(
            "SELECT o.customer_id, c.acquired_at, sum(o.quantity * o.unit_price) AS sales FROM orders o "
            "JOIN customers c USING (customer_id) WHERE o.ordered_at <= ? AND o.ordered_at > ? "
            "GROUP BY ALL HAVING sales > 0 ORDER BY sales DESC, o.customer_id",
            [at, at - timedelta(days=365)],
        ).fetchall()
        top = int(len(rows) * float(t["top_share"]))
        for customer_id, acquired_at, _sales in rows[:top]:
            thanks: dict[str, Any] = {"customer_since": acquired_at or at, "offer": None}
            out.append(Due("thanks", "thanks", customer_id, f"year-{at:%Y}", thanks))
    return out


def _known_keys(con: Any) -> set[str]:
    return {r[0] for r in con.execute("SELECT idempotency_key FROM outbox").fetchall()}


def run_flows(
    backend: Any,
    config: Config,
    *,
    dry_run: bool = False,
    smtp: str | None = None,
    at: datetime | None = None,
    send: bool = True,
    log: Callable[[str], None] | None = None,
) -> FlowRun:
    """Choose, hold out, queue and send every flow's messages once, under the store lock.

    Parameters
    ----------
    backend:
        The store.
    config:
        The configuration (``[messages]`` and its flows).
    dry_run:
        Only count what would be queued and held out; nothing is written or sent.
    smtp:
        ``HOST:PORT`` replacing the configured server.
    at:
        The moment the run acts as of (default: now).
    send:
        Send the outbox after queueing.
    log:
        Receives progress lines.
    """
    at = at or datetime.now(UTC)
    cfg = config.messages
    flows = flow_settings(config)
    result = FlowRun(dry_run=dry_run)
    outbox.ensure_columns(backend)
    con = duckdb_connection(backend)
    secret = None if dry_run else secret_from_env(cfg.secret_env)
    settings = SmtpSettings.from_config(cfg, smtp)
    lock = outbox.StoreLock(backend, "outbox", settings.lock_ttl)
    if not dry_run:
        lock.acquire()
    try:
        known = _known_keys(con)
        for item in due(backend, config, at):
            result.due[item.flow] = result.due.get(item.flow, 0) + 1
            key = f"{item.customer_id}:{item.kind}:{item.cause}"
            if key in known:
                result.already_known += 1
                continue
            experiment = f"flow:{item.flow}"
            held = _unit(experiment, item.cause, item.customer_id) < float(flows[item.flow]["holdout_share"])
            if held:
                result.held_out += 1
            else:
                result.queued += 1
            if dry_run:
                continue
            if held:
                outbox.record_held_out(backend, item.customer_id, item.kind, item.cause, at=at)
            else:
                message, link = prepare(
                    backend, cfg, item.kind, item.customer_id, item.cause, item.facts, secret=secret, at=at
                )
                queue(backend, cfg, message, link, at=at)
            con.execute(
                "INSERT INTO assignments SELECT ?, ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM assignments WHERE experiment_id = ? AND customer_id = ?)",
                [
                    experiment,
                    item.customer_id,
                    "holdout" if held else "treatment",
                    at,
                    experiment,
                    item.customer_id,
                ],
            )
            lock.renew()
    finally:
        if not dry_run:
            lock.release()
    if send and not dry_run:
        result.sent = send_outbox(backend, settings, log=log).as_dict()
    return result
