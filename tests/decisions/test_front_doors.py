"""The decisions stage's front doors: each returns what its command prints with ``--json``, and writes.

``keepwise.decisions.winback.run``, ``keepwise.decisions.outreach.run`` and ``.mark``,
``keepwise.decisions.concession.advise`` and ``keepwise.decisions.concession_log.report``, on a copy of the
decisions test store (simulate(3000, 24, seed=3)).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config
from keepwise.decisions import concession, concession_log, outreach, winback
from keepwise.exceptions import BadInput
from keepwise.jsonio import dumps
from keepwise.store import Store, connect

MONTH = "2025-12"


@pytest.fixture(scope="module")
def url(sim_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private copy of the decisions test store, shared by this module's tests."""
    copy = tmp_path_factory.mktemp("front-doors") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    return f"duckdb:///{copy}"


def _cli(*args: str) -> str:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return res.stdout


def _printed(doc: object) -> str:
    """``doc`` as the CLI prints it (:func:`keepwise.commands.common.print_json`)."""
    import contextlib
    import io

    from keepwise.commands.common import print_json

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_json(doc)
    return buf.getvalue()


def test_winback_run_is_the_cli_json_and_saves_its_rows_and_document(url: str):
    printed = _cli("winback", "--month", MONTH, "--top", "5", "--no-save", "--db", url)
    store = connect(url)
    try:
        assert not store.has_table(winback.TABLE)
        result = winback.run(store, MONTH, config=Config(), top=5)
        assert _printed(result.to_json()) == printed
        assert len(result.to_json()["ranked"]) == 5
        rows = store.read(winback.TABLE, where={"month": MONTH})
        assert len(rows) == len(result.ranking.rows) == result.saved
        contact = rows[rows["status"] == "contact"].sort_values("rank")
        assert list(contact["customer_id"]) == [r.customer.customer_id for r in result.ranking.top()]
        first = result.ranking.top()[0]
        assert str(contact["expected_value"].iloc[0]) == f"{first.expected_value:.4f}"
        # the stored document is the whole ranking, not cut to the top 5
        doc = store.load_document("winback", MONTH)
        assert doc == json.loads(dumps(result.ranking.to_json()))
        assert len(doc["ranked"]) == result.ranking.to_json()["counts"]["contact"] > 5
        # a rerun replaces the month's rows
        winback.run(store, MONTH, config=Config())
        assert store.count(winback.TABLE, where={"month": MONTH}) == len(rows)
        with pytest.raises(BadInput, match="top: must be 0"):
            winback.run(store, MONTH, config=Config(), top=-1)
    finally:
        store.disconnect()


def test_outreach_run_and_mark_are_the_cli(url: str):
    printed = _cli("outreach", "--month", MONTH, "--no-save", "--db", url)
    store = connect(url)
    try:
        dry = outreach.run(store, MONTH, config=Config(), save=False)
        assert _printed(dry.to_json()) == printed
        assert dry.saved is None and dry.to_json()["saved"] is None
        saved = outreach.run(store, MONTH, config=Config(), top=3)
        n = len(saved.plan.actions)
        assert saved.saved == {"table": "outreach_actions", "saved": n, "kept": 0, "rows": n}
        assert store.load_document("outreach", MONTH) == json.loads(dumps(saved.to_json()))
        assert all(len(saved.shown(kind)) <= 3 for kind in ("contact", "re_engage"))
        first = saved.plan.actions[0]
        marked = outreach.mark(
            store,
            first.customer_id,
            MONTH,
            "done",
            first.action,
            "called",
            at=datetime(2026, 1, 2, tzinfo=UTC),
        )
        assert marked.to_json() == {
            "month": MONTH,
            "customer_id": first.customer_id,
            "action": first.action,
            "recommendation": first.recommendation,
            "status": "done",
            "note": "called",
            "recorded_at": "2026-01-02T00:00:00+00:00",
        }
        with pytest.raises(BadInput, match="action: must be one of reprice_or_part_ways, re_engage, contact"):
            outreach.mark(store, first.customer_id, MONTH, "done", "call")
        again = outreach.run(store, MONTH, config=Config())
        assert again.saved == {"table": "outreach_actions", "saved": n - 1, "kept": 1, "rows": n}
    finally:
        store.disconnect()
    code = CliRunner().invoke(
        app, ["outreach", "skip", first.customer_id, "--month", MONTH, "--action", first.action, "--db", url]
    )
    assert code.exit_code == 0, code.output


def test_mark_document_stays_importable_from_the_command():
    from keepwise.commands.outreach import mark_document

    row = {
        "month": MONTH,
        "customer_id": "C1",
        "action": "contact",
        "recommendation": "contact",
        "status": "skipped",
        "note": None,
        "recorded_at": datetime(2026, 1, 2, 9, tzinfo=UTC),
    }
    assert mark_document(row) == outreach.mark_document(row)


def test_concession_advise_is_the_cli_json_and_a_bad_cost_is_bad_input(url: str):
    printed = _cli("concession", "C0002", "--cost", "40", "--no-log", "--db", url)
    store = connect(url, read_only=True)
    try:
        advice = concession.advise(store, "C0002", "40", config=Config(), log=False)
        assert _printed(advice.to_json()) == printed
        for cost, problem in (
            ("lots", "must be an amount such as 200.00"),
            ("-5", "must be an amount of at least 0"),
        ):
            with pytest.raises(BadInput) as caught:
                concession.advise(store, "C0002", cost, config=Config(), log=False)
            assert caught.value.field == "cost"
            assert caught.value.problem.startswith(problem)
            assert "--" not in str(caught.value)
    finally:
        store.disconnect()


def test_concession_log_report_reads_the_settings(url: str):
    from keepwise.value.profitability import reporting_currency  # the data's one currency when unset

    store = connect(url)
    try:
        concession.advise(store, "C0002", "40", config=Config(), at=datetime(2025, 6, 1, 10, tzinfo=UTC))
        cfg = Config()
        rep = concession_log.report(store, config=cfg)
        same = concession_log.concession_report(
            store, window_days=cfg.decisions.outcome_window_days, currency=reporting_currency(store, cfg)
        )
        assert rep.to_json() == same.to_json()
        assert rep.to_json()["total"]["decisions"] == 1
    finally:
        store.disconnect()
    printed = _cli("concessions", "report", "--db", url)
    assert json.loads(printed) == rep.to_json()


def test_front_doors_take_a_raw_ibis_backend(url: str):
    store = connect(url, read_only=True)
    try:
        raw = store.backend
        assert not isinstance(raw, Store)
        assert outreach.run(raw, MONTH, config=Config(), save=False).month == MONTH
    finally:
        store.disconnect()


def test_decisions_hold_no_sql():
    src = Path(outreach.__file__).parent
    mine = [p for p in src.rglob("*.py") if p.name not in ("wins.py", "outreach_review.py")]
    for path in mine:
        text = path.read_text()
        for needle in (".execute(", "raw_sql", "duckdb_connection", ".con."):
            assert needle not in text, f"{path.name} uses {needle}"
