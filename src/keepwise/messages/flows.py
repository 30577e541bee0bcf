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

As of a moment: a run acts as of ``as_of`` (default: now). What it reads is cut there (orders, exits,
incidents up to that moment; consent in force then) and what it writes is stamped with it, so a run
``--as-of 2024-12-31`` on data that go on to 2025 queues exactly what a run on that day would have queued.
On data that end long before the run, the result says so in a note (all look lapsed a year on).

Safety from cron: the whole run (choose, queue, send) holds the store lock ``outbox``; a second run at the
same time does nothing and says so. Idempotency keys make a rerun queue nothing new. Messages are queued a
batch at a time (:data:`QUEUE_BATCH` per transaction), so a killed run keeps what it committed.

The remedy is the incident's ``concession_amount``; the extra gesture and the win-back offer come from
:mod:`keepwise.decisions` when it answers (guarded imports: without it the letters go without them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from keepwise.config import Config, MessagesAssumptions, load_config
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.messages import outbox
from keepwise.messages.audience import recent_incidents, rhythms, top_buyers, with_address
from keepwise.messages.compose import Composed, Grant
from keepwise.messages.prepare import customer_record, customer_records, incident_facts, mime_text, prepare
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.store.inventory import Note, inventory
from keepwise.store.memo import one_run
from keepwise.store.outbox import require_transactions
from keepwise.store.secret import signing_secret
from keepwise.store.store import Store, as_store

__all__ = [
    "FLOW_DEFAULTS",
    "Due",
    "FlowRun",
    "decided_gesture",
    "decided_offer",
    "due",
    "flow_settings",
    "parse_as_of",
    "run",
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


#: Data that end this many days before a run's moment get a note (the flows would treat everyone as lapsed).
STALE_DAYS = 31


def parse_as_of(text: str) -> datetime:
    """The moment ``text`` names: an ISO date (the end of that day, UTC) or an ISO timestamp with its zone.

    A date means the whole day has passed: ``2024-12-31`` is 2024-12-31 23:59:59.999999 UTC, so what was
    recorded that day counts. A timestamp must carry its zone (``2024-12-31T09:00Z``, ``...+01:00``).

    Raises
    ------
    BadInput
        ``as_of`` is neither (the CLI names it ``--as-of``).
    """
    value = str(text).strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        if len(value) == 10:
            return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise BadInput(
            "as_of", "must be a date (2024-12-31) or a time with its zone (2024-12-31T09:00Z)", text
        ) from None
    if moment.tzinfo is None:
        raise BadInput("as_of", "a time needs its zone, e.g. 2024-12-31T09:00Z or +01:00", text)
    return moment.astimezone(UTC)


def holdout_unit(*parts: str) -> float:
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
    """What a run of the flows did (or, with ``dry_run``, would do).

    ``as_of`` is the moment the run acted as of; ``notes`` say what it did without (no consent recorded,
    data that end long before ``as_of``), as :class:`~keepwise.store.inventory.Note` objects.
    """

    dry_run: bool
    due: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    held_out: int = 0
    already_known: int = 0
    sent: dict[str, Any] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    as_of: datetime | None = None
    #: a dry run: each win-back letter's customer and the ranking's reason for it
    winback_reasons: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (notes as ``{"input", "missing", "instead"}``, the moment ISO 8601)."""
        doc = dict(self.__dict__)
        doc["notes"] = [n.to_json() for n in self.notes]
        doc["as_of"] = None if self.as_of is None else self.as_of.isoformat()
        return doc

    def to_json(self) -> dict[str, Any]:
        """The run as the JSON document ``keepwise flows run --json`` prints."""
        return self.as_dict()


def decided_gesture(
    store: Store,
    customer_id: str,
    incident_id: str,
    remedy: Grant,
    language: str,
    *,
    at: datetime | None = None,
    advisors: dict[str, Any] | None = None,
) -> Grant | None:
    """The concession advisor's extra gesture (English wording, so only for English letters), if available.

    ``at``: the advisor uses the history before this moment (default: all of it). ``advisors``: a dict the
    caller keeps across the incidents of one run, so the advisor (which fits its models) is built once.
    """
    if language != "en" or remedy.amount is None:
        return None
    try:
        from keepwise.decisions.concession import ConcessionAdvisor
    except ImportError:
        return None
    cache = {} if advisors is None else advisors
    try:
        if "advisor" not in cache:
            cache["advisor"] = None  # a store the advisor cannot work on is tried once per run
            cache["advisor"] = ConcessionAdvisor(store, as_of=at)
        advisor = cache["advisor"]
        if advisor is None:
            return None
        advice = advisor.advise(customer_id, remedy.amount, incident_id, log=False)
    except Exception:  # the advisor is optional here: a letter without a gesture is still a good letter
        return None
    text = str(getattr(advice, "extra_gesture", "") or "").strip().rstrip(".")
    return Grant("other", note=text[:1].lower() + text[1:]) if text else None


def decided_offer(store: Store, customer_id: str) -> Grant | None:
    """The win-back offer chosen by ``keepwise.decisions.winback.offer_for(store, customer_id)``, if any.

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
        offer = offer_for(store, customer_id)
        if offer is None:
            return None
        data = dict(offer)
        if data.get("amount") is not None:
            data["amount"] = Decimal(str(data["amount"]))
        return Grant(**{k: data[k] for k in data if k in Grant.__dataclass_fields__})
    except Exception:
        return None


def due(store: Store, config: Config, at: datetime, *, facts: bool = True) -> list[Due]:
    """Every message the enabled flows want at ``at`` (before holdouts, consent and the outbox's memory).

    With ``facts=False`` the messages carry no facts (no offer, gesture or incident details are looked
    up): enough to count them, as a dry run does, on any engine.
    """
    store = as_store(store)
    with one_run(store):  # nothing is written here: what every due customer's letter asks is looked up once
        return _due(store, config, at, facts=facts)


def _due(store: Store, config: Config, at: datetime, *, facts: bool) -> list[Due]:
    flows = flow_settings(config)
    out: list[Due] = []
    w, r = flows["winback"], flows["at_risk"]
    if w["enabled"] or r["enabled"]:
        from keepwise.decisions.winback import contacts  # the stored ranking: whom to win back, with what

        ranked = contacts(store, as_of=at, compute=False) if w["enabled"] else None
        ranked = None if ranked is None else ranked.set_index("customer_id")
        for row in rhythms(store, at):
            customer_id, last_at, gap, wanted = row.customer_id, row.last_at, row.gap, row.wanted_back
            idle = (at - last_at).total_seconds() / 86400
            lapse = f"lapse-{last_at:%Y-%m-%d}"
            win_after = max(float(w["min_days"]), float(w["rhythm_multiple"]) * gap if gap else 0.0)
            risk_after = max(float(r["min_days"]), float(r["rhythm_multiple"]) * gap if gap else 0.0)
            if w["enabled"] and win_after < idle <= float(w["max_days"]):
                if wanted is False:
                    out.append(Due("winback", "goodbye", customer_id, lapse, {"reason": row.reason}))
                elif ranked is None:  # no stored ranking (keepwise winback): lapsed, the offer if decided
                    offer = decided_offer(store, customer_id) if facts else None
                    out.append(
                        Due("winback", "winback", customer_id, lapse, {"reason": row.reason, "offer": offer})
                    )
                elif customer_id in ranked.index:  # the stored ranking: only those worth a contact
                    pick = ranked.loc[customer_id]
                    offer = Grant("other", note=str(pick["offer"])) if facts else None
                    why = {"reason": row.reason, "offer": offer, "ranking": str(pick["reason"])}
                    out.append(Due("winback", "winback", customer_id, lapse, why))
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
        advisors: dict[str, Any] = {}  # one concession advisor for all of the run's incidents
        for incident_id, customer_id in recent_incidents(store, at, int(f["within_days"])):
            if not facts:
                out.append(Due("incident_followup", "adjustment", customer_id, incident_id, {}))
                continue
            cid, letter = incident_facts(store, incident_id)
            language = str(customer_record(store, cid)["language"] or "en")
            remedy = letter["remedy"]
            assert isinstance(remedy, Grant)
            letter["gesture"] = decided_gesture(
                store, cid, incident_id, remedy, language, at=at, advisors=advisors
            )
            out.append(Due("incident_followup", "adjustment", cid, incident_id, letter))
    t = flows["thanks"]
    if t["enabled"]:
        buyers = top_buyers(store, at)
        top = int(len(buyers) * float(t["top_share"]))
        for customer_id, acquired_at in buyers[:top]:
            thanks: dict[str, Any] = {"customer_since": acquired_at or at, "offer": None}
            out.append(Due("thanks", "thanks", customer_id, f"year-{at:%Y}", thanks))
    return out


def run(
    store: Store,
    *,
    as_of: datetime | None = None,
    config: Config | None = None,
    dry_run: bool = False,
    smtp: str | None = None,
    send: bool = True,
    log: Callable[[str], None] | None = None,
) -> FlowRun:
    """The messages stage's front door: choose, hold out, queue and send every flow's messages once.

    The whole run holds the store lock ``outbox``; holdouts get an outbox row (``held_out``) and an
    assignment, the others are composed and queued once (idempotency keys make a rerun queue nothing
    new), then the outbox is sent.

    Parameters
    ----------
    store:
        The store. Queueing and sending need transactions (DuckDB, PostgreSQL); a dry run only reads and
        works on Spark too.
    as_of:
        The moment the run acts as of (default: now): who is due, consent and every stamp use it, also
        when the outbox is sent.
    config:
        The configuration (``[messages]`` and its flows; default: ``keepwise.toml``).
    dry_run:
        Only count what would be queued and held out; nothing is written or sent.
    smtp:
        ``HOST:PORT`` replacing the configured server.
    send:
        Send the outbox after queueing.
    log:
        Receives progress lines.

    Raises
    ------
    LockBusy
        Another run holds the lock; this one did nothing.
    """
    store = as_store(store)
    at = as_of or datetime.now(UTC)
    config = config or load_config()
    cfg = config.messages
    flows = flow_settings(config)
    result = FlowRun(dry_run=dry_run, as_of=at, notes=_notes(store, at))
    if dry_run:
        if store.kind in ("duckdb", "postgres"):
            outbox.ensure_columns(store)
    else:
        require_transactions(store)
        outbox.ensure_columns(store)
    secret = None if dry_run else signing_secret(store, cfg.secret_env)
    settings = SmtpSettings.from_config(cfg, smtp)
    lock = outbox.StoreLock(store, "outbox", settings.lock_ttl)
    if not dry_run:
        lock.acquire()
    try:
        known = outbox.known_keys(store)
        batch: list[tuple[Due, bool]] = []
        addressed: set[str] | None = None
        no_address = 0
        for item in due(store, config, at, facts=not dry_run):
            result.due[item.flow] = result.due.get(item.flow, 0) + 1
            addressed = with_address(store) if addressed is None else addressed
            if item.customer_id not in addressed:  # one customer without an address never stops the run
                no_address += 1
                continue
            key = f"{item.customer_id}:{item.kind}:{item.cause}"
            if key in known:
                result.already_known += 1
                continue
            share = float(flows[item.flow]["holdout_share"])
            held = holdout_unit(f"flow:{item.flow}", item.cause, item.customer_id) < share
            if held:
                result.held_out += 1
            else:
                result.queued += 1
            if dry_run:
                if "ranking" in item.facts:
                    why = {"customer_id": item.customer_id, "held_out": held, "reason": item.facts["ranking"]}
                    result.winback_reasons.append(why)
                continue
            batch.append((item, held))
            if len(batch) >= QUEUE_BATCH:
                queue_batch(store, cfg, batch, secret=secret, at=at)
                lock.renew()
                batch = []
        if batch:
            queue_batch(store, cfg, batch, secret=secret, at=at)
        if no_address:  # said once, not an error at the first customer
            missing = f"empty for {no_address:,} of the customers due a message"
            result.notes.append(Note("customers.email", missing, "skipped; add their addresses to write"))
    finally:
        if not dry_run:
            lock.release()
    if send and not dry_run:
        clock = None if as_of is None else (lambda: at)
        result.sent = send_outbox(store, settings, log=log, clock=clock).as_dict()
    return result


#: Messages composed and queued per transaction by :func:`run`.
QUEUE_BATCH = 500


def queue_batch(
    store: Store, cfg: MessagesAssumptions, batch: list[tuple[Due, bool]], *, secret: str | None, at: datetime
) -> None:
    """Compose the batch's messages and queue them, its holdouts and its assignments in one transaction.

    The customers are read in one query; held-out messages get their ``held_out`` row, every message its
    flow's assignment (``holdout`` or ``treatment``).
    """
    customers = customer_records(store, {item.customer_id for item, held in batch if not held})
    messages: list[tuple[Composed, str]] = []
    held_out: list[tuple[str, str, str]] = []
    for item, held in batch:
        if held:
            held_out.append((item.customer_id, item.kind, item.cause))
            continue
        message, link = prepare(
            store, cfg, item.kind, item.customer_id, item.cause, item.facts, secret=secret, at=at,
            customer=customers.get(item.customer_id) or customer_record(store, item.customer_id),
        )  # fmt: skip
        messages.append((message, mime_text(cfg, message, link, at=at)))
    arms = [
        (f"flow:{item.flow}", item.customer_id, "holdout" if held else "treatment") for item, held in batch
    ]
    outbox.enqueue_batch(store, messages, held_out=held_out, assignments=arms, at=at)


def _notes(store: Store, at: datetime) -> list[Note]:
    """What a run at ``at`` does without: consent (no marketing goes out), and data that end long before."""
    inv = inventory(store)
    notes = inv.notes("consent")
    last = inv.last_order_at
    if last is not None and at - last > timedelta(days=STALE_DAYS):
        notes.append(
            Note(
                "as_of",
                f"the data end on {last:%Y-%m-%d}, {(at - last).days:,} days before {at:%Y-%m-%d}",
                f"messages are chosen as of {at:%Y-%m-%d}, when every customer has been silent since the "
                "data end; run the flows as of the data's end (as_of) to act as of then",
            )
        )
    return notes


def run_flows(
    store: Store,
    config: Config,
    *,
    dry_run: bool = False,
    smtp: str | None = None,
    at: datetime | None = None,
    send: bool = True,
    log: Callable[[str], None] | None = None,
) -> FlowRun:
    """:func:`run` with the configuration first and the moment as ``at`` (the older spelling)."""
    return run(store, as_of=at, config=config, dry_run=dry_run, smtp=smtp, send=send, log=log)
