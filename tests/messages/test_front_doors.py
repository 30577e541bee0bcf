"""The stage's front doors: what the commands print is what flows.run, send.run and preview return."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from keepwise import cli
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.jsonio import dumps
from keepwise.messages import flows, outbox, send
from keepwise.messages.preview import preview
from keepwise.store import connect

from .conftest import NOW
from .test_flows import shop  # noqa: F401  (the shop fixture)


def test_flows_run_json_is_what_the_command_prints(shop, db_url, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)  # no keepwise.toml: the defaults, for the command and the front door
    shop.disconnect()
    at = ["--as-of", NOW.isoformat()]  # the document says the moment it acted as of
    printed = CliRunner().invoke(cli.app, ["flows", "run", "--dry-run", *at, "--json", "--db", db_url])
    assert printed.exit_code == 0, printed.output
    store = connect(db_url)
    try:
        result = flows.run(store, dry_run=True, as_of=NOW)
    finally:
        store.disconnect()
    assert printed.stdout == dumps(result.to_json()) + "\n"
    assert json.loads(printed.stdout)["dry_run"] is True


def test_send_run_sends_the_outbox_with_the_configured_settings(business, cfg, smtp):
    from dataclasses import replace

    from keepwise.config import Config
    from keepwise.messages.prepare import incident_facts, prepare, queue

    handler, port = smtp
    customer, facts = incident_facts(business, "I1")
    message, link = prepare(business, cfg, "adjustment", customer, "I1", facts, secret=None, at=NOW)
    assert queue(business, cfg, message, link, at=NOW)
    config = Config(messages=replace(cfg, smtp_host="127.0.0.1", smtp_port=port))
    result = send.run(business, config=config, clock=lambda: NOW)
    assert (result.sent, result.failed) == (1, 0) and len(handler.messages) == 1
    assert outbox.run_report(business)["by_status"]["sent"] == 1


def test_a_bad_server_is_a_domain_error_the_command_words_as_its_option(
    store, cfg, db_url, tmp_path, monkeypatch
):
    from keepwise.config import Config

    with pytest.raises(BadInput) as caught:
        send.run(store, config=Config(messages=cfg), smtp="no-port-here")
    assert caught.value.field == "smtp" and "--" not in str(caught.value)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli.app, ["messages", "send", "--smtp", "nowhere", "--db", db_url])
    assert isinstance(result.exception, KeepwiseInputError)
    assert str(result.exception) == "--smtp: must be HOST:PORT, e.g. 127.0.0.1:2525 (got 'nowhere')"


def test_preview_composes_without_queueing_and_refuses_an_adjustment_without_its_incident(business, cfg):
    from keepwise.config import Config

    config = Config(messages=cfg)
    message = preview(business, customer="C2", kind="winback", config=config, at=NOW)
    assert message.kind == "winback" and message.language == "pl"
    assert message.facts["reason"] == "price"
    assert outbox.report(business)["by_status"]["queued"] == 0
    with pytest.raises(BadInput) as caught:
        preview(business, customer="C2", kind="adjustment", config=config, at=NOW)
    assert caught.value.field == "kind" and "--" not in str(caught.value)
