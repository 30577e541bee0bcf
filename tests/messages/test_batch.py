"""Batched queueing and sending (issue 20): the messages of one at a time, exactly once, consent honoured.

The per-message path (``prepare`` + ``queue``, ``record_held_out``, ``assign_once``, one ``permission`` per
message) is kept as the second implementation the batched flow run is compared with. The SMTP server is a
real aiosmtpd on loopback; the servers that drop the connection do it at a chosen message of a batch.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from keepwise.config import Config
from keepwise.messages import consent, flows, outbox
from keepwise.messages.prepare import prepare, queue
from keepwise.messages.send import SmtpSettings, batch_size, send_outbox
from keepwise.messages.tokens import issue
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.outbox import assign_once
from keepwise.store.store import Store

from .conftest import NOW, SECRET, Recorder, free_port

N = 12


def settings(cfg, port, **kw) -> SmtpSettings:
    return replace(SmtpSettings.from_config(cfg, f"127.0.0.1:{port}"), **kw)


IDS = [f"K{i:02d}" for i in range(N)]


def _load_crowd(store: Store) -> None:
    emails = [f"{c.lower()}@example.com" for c in IDS]
    load_frame(store, "customers", pd.DataFrame({"customer_id": IDS, "name": IDS,
               "language": ["en", "pl"] * (N // 2), "email": emails}))  # fmt: skip
    load_frame(store, "consent", pd.DataFrame({"customer_id": IDS, "channel": "email", "purpose": "marketing",
               "granted_at": "2023-01-01"}))  # fmt: skip


@pytest.fixture
def crowd(store):
    """``N`` customers with marketing consent, none queued yet."""
    _load_crowd(store)
    return store, list(IDS)


def queue_all(store, cfg, ids) -> list[str]:
    ids_out = []
    for c in ids:
        message, link = prepare(store, cfg, "winback", c, "lapse-2024-05", {"reason": None, "offer": None},
                                secret=SECRET, at=NOW)  # fmt: skip
        queue(store, cfg, message, link, at=NOW)
        ids_out.append(f"<{message.message_id}@kawa.example>")
    return ids_out


def rows(store: Store, sql: str) -> list[tuple]:
    from keepwise.store.connection import duckdb_connection

    return duckdb_connection(store).execute(sql).fetchall()


def by_status(store: Store) -> dict[str, int]:
    return dict(rows(store, "SELECT status, count(*) FROM outbox GROUP BY status"))


# ------------------------------------------------------------------------------------ queueing in batches


def _orders(ids: list[str]) -> pd.DataFrame:
    """Each customer's orders every 10 days, ending 40 + 5 i days before NOW: some lapsed, some at risk."""
    frames = []
    for i, c in enumerate(ids):
        end = pd.Timestamp(NOW) - pd.Timedelta(days=40 + 5 * i)
        at = [end - pd.Timedelta(days=10 * k) for k in range(4)]
        frames.append(pd.DataFrame({"order_id": [f"{c}-{k}" for k in range(4)], "line_no": "1",
                                    "customer_id": c, "ordered_at": [a.isoformat() for a in at],
                                    "quantity": "1", "unit_price": "20.00", "currency": "USD"}))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _per_message(store: Store, config: Config, items: list[flows.Due]) -> None:
    """What flows.run did before batches: one message, holdout and assignment at a time."""
    cfg = config.messages
    shares = flows.flow_settings(config)
    for item in items:
        experiment = f"flow:{item.flow}"
        held = flows.holdout_unit(experiment, item.cause, item.customer_id) < float(
            shares[item.flow]["holdout_share"]
        )
        if held:
            outbox.record_held_out(store, item.customer_id, item.kind, item.cause, at=NOW)
        else:
            message, link = prepare(store, cfg, item.kind, item.customer_id, item.cause, item.facts,
                                    secret=SECRET, at=NOW)  # fmt: skip
            queue(store, cfg, message, link, at=NOW)
        assign_once(store, experiment, item.customer_id, "holdout" if held else "treatment", NOW)


def _contents(store: Store) -> tuple[list, list, list]:
    out = rows(store, "SELECT * FROM outbox ORDER BY message_id")
    arms = rows(store, "SELECT * FROM assignments ORDER BY experiment_id, customer_id")
    bodies = [
        (m, re.sub(r"={15}\d+==", "=B=", b))
        for m, b in rows(store, "SELECT * FROM message_bodies ORDER BY 1")
    ]
    return out, arms, bodies


def test_a_batched_flow_run_queues_what_one_message_at_a_time_queued(
    crowd, cfg, secret, tmp_path, monkeypatch
):
    store, ids = crowd
    load_frame(store, "orders", _orders(ids))
    config = Config(
        messages=replace(cfg, flows={"winback": {"holdout_share": 0.3}, "thanks": {"top_share": 0.5}})
    )
    other = connect(f"duckdb:///{tmp_path}/per_message.duckdb")
    try:
        _load_crowd(other)
        load_frame(other, "orders", _orders(ids))
        _per_message(other, config, flows.due(other, config, NOW))
        monkeypatch.setattr(flows, "QUEUE_BATCH", 4)  # several batches
        result = flows.run(store, as_of=NOW, config=config, send=False)
        assert result.queued + result.held_out == len(flows.due(store, config, NOW)) > 8
        assert result.held_out > 0 and set(result.due) == {"winback", "at_risk", "thanks"}
        assert _contents(store) == _contents(other)
    finally:
        other.disconnect()
    again = flows.run(store, as_of=NOW, config=config, send=False)  # a rerun queues nothing new
    assert (again.queued, again.held_out, again.already_known) == (0, 0, result.queued + result.held_out)


# ----------------------------------------------------------------------------- permission a batch at a time


def test_batched_permission_answers_as_one_message_at_a_time(business, cfg):
    asks = [consent.Asking(c, e, k, cause) for c, e in [("C1", "ada@example.com"), ("C2", "zofia@example.pl"),
            ("C3", "bob@example.com"), ("C4", "ewa@example.pl"), ("C9", None)]
            for k, cause in [("winback", "x"), ("thanks", "x"), ("goodbye", "x"), ("adjustment", "I1"),
                             ("adjustment", "I3"), ("confirm", "x")]]  # fmt: skip
    consent.suppress(business, "EWA@example.pl", "complaint", at=NOW)
    for at in (NOW, NOW + timedelta(days=40), NOW - timedelta(days=600)):
        one = [consent.permission(business, customer_id=a.customer_id, recipient=a.recipient, kind=a.kind,
                                  cause=a.cause, at=at) for a in asks]  # fmt: skip
        assert consent.permissions(business, asks, at=at) == one
        assert {p.allowed for p in one} == {True, False}


def test_a_consent_withdrawn_while_a_run_is_sending_stops_the_next_batches(crowd, cfg, smtp):
    handler, port = smtp
    store, ids = crowd
    queue_all(store, cfg, ids)
    late = ids[-1]

    def log(line: str) -> None:  # the customer unsubscribes while the first batch is being sent
        if line.endswith(": sent") and len(handler.messages) == 2:
            token = issue(SECRET, late, "unsubscribe", at=NOW)
            consent.unsubscribe(store, SECRET, token, max_age=timedelta(days=60), at=NOW)

    early = ids[0]
    token = issue(SECRET, early, "unsubscribe", at=NOW)  # and one before the run
    consent.unsubscribe(store, SECRET, token, max_age=timedelta(days=60), at=NOW)
    result = send_outbox(
        store, settings(cfg, port, batch=3), clock=lambda: NOW + timedelta(seconds=1), log=log
    )
    assert (result.sent, result.suppressed) == (N - 2, 2)
    received = {str(m["To"]) for m in handler.messages}
    assert f"{early.lower()}@example.com" not in received and f"{late.lower()}@example.com" not in received
    assert by_status(store) == {"sent": N - 2, "suppressed": 2}


def test_a_batch_spans_about_a_second_at_the_throttle(cfg):
    base = SmtpSettings.from_config(cfg, "127.0.0.1:25")
    assert batch_size(replace(base, interval=0.0, batch=100)) == 100
    assert batch_size(replace(base, interval=0.2, batch=100)) == 5
    assert batch_size(replace(base, interval=2.0, batch=100)) == 1


# ---------------------------------------------------------------------------- a server that drops the line


class Dropper(Recorder):
    """A recorder that closes the connection at the ``nth`` RCPT (before the body) or DATA (after the dot)."""

    def __init__(self, step: str, nth: int, pipelining: bool = False) -> None:
        super().__init__()
        self.step, self.nth, self.pipelining = step, nth, pipelining
        self.seen = {"RCPT": 0, "DATA": 0}
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sessions += 1
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    def _drop(self, server, step: str) -> bool:
        self.seen[step] += 1
        if self.step == step and self.seen[step] == self.nth:
            server.transport.close()
            return True
        return False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._drop(server, "RCPT"):
            return "421 4.3.0 closing"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        if self._drop(server, "DATA"):
            return "421 4.3.0 closing"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelined"])
def dropper(request):
    servers = []

    def start(step: str, nth: int) -> tuple[Dropper, int]:
        handler = Dropper(step, nth, pipelining=request.param)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append(controller)
        return handler, controller.port

    yield start
    for controller in servers:
        controller.stop()


def test_a_connection_dropped_before_the_dot_mid_batch_delivers_every_message_once(crowd, cfg, dropper):
    store, ids = crowd
    expected = queue_all(store, cfg, ids)
    handler, port = dropper("RCPT", 5)
    result = send_outbox(store, settings(cfg, port, batch=4), clock=lambda: NOW)
    assert (result.sent, result.retried, result.failed) == (N, 1, 0)
    assert sorted(handler.ids()) == sorted(expected)  # each once: none lost, none twice
    assert handler.sessions == 2  # one session for the run, one more after the drop
    assert by_status(store) == {"sent": N}
    assert rows(store, "SELECT count(*) FROM outbox WHERE confirmed")[0][0] == N


def test_a_connection_dropped_after_the_dot_is_never_resent(crowd, cfg, dropper):
    store, ids = crowd
    expected = queue_all(store, cfg, ids)
    handler, port = dropper("DATA", 5)
    result = send_outbox(store, settings(cfg, port, batch=4), clock=lambda: NOW)
    assert (result.sent, result.retried) == (N, 0)
    lost = sorted(expected)[4]  # the fifth sent (by id): the server took the dot and closed without a reply
    assert sorted(handler.ids()) == sorted(set(expected) - {lost})
    assert outbox.report(store)["sent_unconfirmed"] == 1
    again = send_outbox(store, settings(cfg, port, batch=4), clock=lambda: NOW)  # a rerun resends nothing
    assert again.sent == 0 and len(handler.ids()) == N - 1


# ------------------------------------------------------------------------- no store round trip per message


def test_sending_makes_one_statement_per_message_and_a_few_per_batch(crowd, cfg, smtp, monkeypatch):
    """The claim before each final dot is the only statement a message costs; the rest is per batch."""
    handler, port = smtp
    store, ids = crowd
    queue_all(store, cfg, ids)
    calls: list[str] = []
    real = Store.sql

    def counting(self, statement, params=None):
        calls.append(statement)
        return real(self, statement, params)

    monkeypatch.setattr(Store, "sql", counting)
    send_outbox(store, settings(cfg, port, batch=N), clock=lambda: NOW)
    one_batch = len(calls)
    claims = sum("status = ?" in c and "UPDATE outbox" in c and "VALUES" not in c for c in calls)
    assert claims == N and one_batch - claims < 20
    assert len(handler.messages) == N
