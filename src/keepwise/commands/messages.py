"""``keepwise messages compose | send | report | unsubscribe``: write, send and account for messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.config import load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import KINDS
from keepwise.store.connection import DEFAULT_URL, connect


def _facts(
    backend: Any, kind: str, customer_id: str, at: datetime, secret: str | None
) -> tuple[str, dict[str, Any]]:
    """The cause and facts of a preview for one customer."""
    from keepwise.messages.flows import decided_offer
    from keepwise.messages.prepare import confirm_facts, customer_record

    customer = customer_record(backend, customer_id)
    if kind == "winback":
        row = backend.con.execute(
            "SELECT arg_max(reason_code, lost_at) FROM exits WHERE customer_id = ?", [customer_id]
        ).fetchone()
        return "preview", {"reason": row[0] if row else None, "offer": decided_offer(backend, customer_id)}
    if kind == "reengagement":
        row = backend.con.execute(
            "SELECT max(ordered_at) FROM orders WHERE customer_id = ?", [customer_id]
        ).fetchone()
        if not row or row[0] is None:
            raise KeepwiseInputError(f"customer '{customer_id}' has no orders to re-engage about")
        return "preview", {"last_order_at": row[0], "offer": None}
    if kind == "thanks":
        return "preview", {"customer_since": customer["acquired_at"] or at, "offer": None}
    if kind == "confirm":
        cfg = load_config().messages
        return "preview", confirm_facts(cfg, secret or "PREVIEW-NOT-SIGNED-0000", customer_id, at)
    if kind == "goodbye":
        return "preview", {}
    raise KeepwiseInputError("an adjustment letter is about an incident: use --incident ID")


def compose(
    incident: Annotated[
        str | None, typer.Option("--incident", help="Adjustment letter about this incident.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="Customer to write to (with --kind).")
    ] = None,
    kind: Annotated[str | None, typer.Option("--kind", help=f"One of: {', '.join(KINDS)}.")] = None,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Show a message as it would be sent (subject, plain text, HTML), without sending or queueing it."""
    import os

    from keepwise.messages.flows import decided_gesture
    from keepwise.messages.prepare import customer_record, incident_facts, prepare

    if (incident is None) == (customer is None):
        raise KeepwiseInputError("give either --incident ID or --customer ID --kind KIND")
    if customer is not None and kind is None:
        raise KeepwiseInputError(f"--customer needs --kind (one of: {', '.join(KINDS)})")
    cfg = load_config().messages
    secret = os.environ.get(cfg.secret_env) or None
    at = datetime.now(UTC)
    backend = connect(db, read_only=True)
    try:
        if incident is not None:
            customer_id, facts = incident_facts(backend, incident)
            language = str(customer_record(backend, customer_id)["language"] or "en")
            facts["gesture"] = decided_gesture(backend, customer_id, incident, facts["remedy"], language)
            message, _link = prepare(
                backend, cfg, "adjustment", customer_id, incident, facts, secret=secret, at=at
            )
        else:
            assert customer is not None and kind is not None
            if kind not in KINDS:
                raise KeepwiseInputError(f"unknown --kind '{kind}'; the kinds are: {', '.join(KINDS)}")
            cause, facts = _facts(backend, kind, customer, at, secret)
            message, _link = prepare(backend, cfg, kind, customer, cause, facts, secret=secret, at=at)
    finally:
        backend.disconnect()
    if json_:
        print_json(message.as_dict())
        return
    typer.echo(f"To: {message.recipient}\nSubject: {message.subject}\nX-Keepwise-Kind: {message.kind}\n")
    typer.echo(message.text)
    if secret is None:
        err.print(f"note: {cfg.secret_env} is not set, so the links in this preview are not signed")


def send(
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="HOST:PORT of the SMTP server (overrides config).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Send at most this many messages.")] = None,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Send every queued message once (consent checked at send time; safe to rerun after a crash)."""
    from keepwise.messages.outbox import LockBusy
    from keepwise.messages.send import SmtpSettings, send_outbox

    settings = SmtpSettings.from_config(load_config().messages, smtp)
    backend = connect(db)
    try:
        result = send_outbox(backend, settings, log=None if json_ else err.print, limit=limit)
    except LockBusy as exc:
        if json_:
            print_json({"skipped": str(exc)})
        else:
            err.print(f"skipped: {exc}")
        return
    finally:
        backend.disconnect()
    if json_:
        print_json(result.as_dict())
    else:
        err.print(
            f"sent {result.sent}, failed {result.failed}, not allowed {result.suppressed}, "
            f"retries {result.retried}, recovered from an interrupted run {result.reconciled}"
        )


def report(json_: JsonOption = False, db: DbOption = DEFAULT_URL) -> None:
    """Outbox report: queued, sent, failed, suppressed, held out, by kind."""
    from keepwise.messages.outbox import ensure_columns
    from keepwise.messages.outbox import report as outbox_report

    backend = connect(db)
    try:
        ensure_columns(backend)
        doc = outbox_report(backend)
    finally:
        backend.disconnect()
    if json_:
        print_json(doc)
        return
    typer.echo(", ".join(f"{k} {v}" for k, v in doc["by_status"].items()))
    for kind, counts in doc["by_kind"].items():
        typer.echo(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if doc["sent_unconfirmed"]:
        typer.echo(
            f"{doc['sent_unconfirmed']} sent without the server's confirmation (interrupted runs): check them"
        )
    for f in doc["failed"]:
        typer.echo(f"  failed {f['message_id']} ({f['kind']} to {f['customer_id']}): {f['error']}")


def unsubscribe(
    token: Annotated[str, typer.Argument(help="The token from an unsubscribe link.")],
    customer: Annotated[str | None, typer.Option("--customer", help="Whose link it must be.")] = None,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Revoke the consent an unsubscribe link names, at once (what the one-click POST endpoint does)."""
    from keepwise.messages.consent import unsubscribe as revoke
    from keepwise.messages.tokens import secret_from_env

    cfg = load_config().messages
    secret = secret_from_env(cfg.secret_env)
    backend = connect(db)
    try:
        n = revoke(
            backend, secret, token, max_age=timedelta(days=int(cfg.unsubscribe_days)), customer_id=customer
        )
    finally:
        backend.disconnect()
    if json_:
        print_json({"revoked": n})
    else:
        err.print(f"revoked {n} consent(s)")


def register(app: typer.Typer) -> None:
    """Add ``keepwise messages`` to the app."""
    sub = typer.Typer(help="Compose, send and account for messages to customers.", no_args_is_help=True)
    sub.command("compose")(compose)
    sub.command("send")(send)
    sub.command("report")(report)
    sub.command("unsubscribe")(unsubscribe)
    app.add_typer(sub, name="messages")
