"""``keepwise messages compose | send | report | unsubscribe``: write, send and account for messages."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.config import load_config
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.messages.compose import KINDS
from keepwise.store.connection import DEFAULT_URL, connect

#: The option each argument of the messages stage is given with.
FLAGS = {
    "smtp": "--smtp",
    "limit": "--limit",
    "incident": "--incident",
    "customer": "--customer",
    "kind": "--kind",
    "as_of": "--as-of",
}

AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Act as of this moment instead of now: a date (its end, UTC) or a time with its zone, e.g. "
        "2024-12-31 or 2024-12-31T09:00Z (for back-filling and tests).",
        show_default=False,
    ),
]


@contextmanager
def as_options() -> Iterator[None]:
    """Phrase the stage's :class:`BadInput` errors with the command's option names."""
    try:
        yield
    except BadInput as exc:
        raise KeepwiseInputError(exc.phrased(FLAGS.get(exc.field, exc.field))) from None


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

    from keepwise.messages.preview import preview

    if (incident is None) == (customer is None):
        raise KeepwiseInputError("give either --incident ID or --customer ID --kind KIND")
    if customer is not None and kind is None:
        raise KeepwiseInputError(f"--customer needs --kind (one of: {', '.join(KINDS)})")
    if kind is not None and kind not in KINDS:
        raise KeepwiseInputError(f"unknown --kind '{kind}'; the kinds are: {', '.join(KINDS)}")
    if customer is not None and kind == "adjustment":
        raise KeepwiseInputError("an adjustment letter is about an incident: use --incident ID")
    config = load_config()
    cfg = config.messages
    secret = os.environ.get(cfg.secret_env) or None
    store = connect(db, read_only=True)
    try:
        with as_options():
            message = preview(
                store, incident=incident, customer=customer, kind=kind, config=config, secret=secret
            )
    finally:
        store.disconnect()
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
    as_of: AsOfOption = None,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Send every queued message once (consent checked at send time; safe to rerun after a crash).

    With --as-of, consent is checked at that moment and the statuses are stamped with it.
    """
    from keepwise.messages.flows import parse_as_of
    from keepwise.messages.outbox import LockBusy
    from keepwise.messages.send import SmtpSettings
    from keepwise.messages.send import run as send_run

    config = load_config()
    with as_options():
        SmtpSettings.from_config(config.messages, smtp)  # a bad server or setting is refused before opening
        moment = None if as_of is None else parse_as_of(as_of)
    store = connect(db)
    try:
        with as_options():
            result = send_run(
                store,
                config=config,
                smtp=smtp,
                limit=limit,
                log=None if json_ else err.print,
                clock=None if moment is None else (lambda: moment),
            )
    except LockBusy as exc:
        if json_:
            print_json({"skipped": str(exc)})
        else:
            err.print(f"skipped: {exc}")
        return
    finally:
        store.disconnect()
    if json_:
        print_json(result.as_dict())
    else:
        err.print(
            f"sent {result.sent}, failed {result.failed}, not allowed {result.suppressed}, "
            f"retries {result.retried}, recovered from an interrupted run {result.reconciled}"
        )


def report(json_: JsonOption = False, db: DbOption = DEFAULT_URL) -> None:
    """Outbox report: queued, sent, failed, suppressed, held out, by kind."""
    from keepwise.messages.outbox import run_report

    store = connect(db)
    try:
        doc = run_report(store)
    finally:
        store.disconnect()
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
    from keepwise.store.secret import signing_secret

    cfg = load_config().messages
    store = connect(db)
    try:
        secret = signing_secret(store, cfg.secret_env, create=False)
        n = revoke(
            store, secret, token, max_age=timedelta(days=int(cfg.unsubscribe_days)), customer_id=customer
        )
    finally:
        store.disconnect()
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
