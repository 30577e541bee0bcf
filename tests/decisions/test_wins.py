"""Wins against losses: shares checked against hand counts, the findings, the chart and ``keepwise wins``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config
from keepwise.decisions.wins import wins_against_losses
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.ingest import load_frame

# Wins in 2024 (one in 2023, outside a 12-month window): service 2, quality 2, price 1, range 1, no reason 1.
WINS = [
    ("A", "2024-01-05", "service"),
    ("B", "2024-02-05", "Service "),  # case and spaces do not matter
    ("C", "2024-03-05", "quality"),
    ("D", "2024-04-05", "quality"),
    ("E", "2024-05-05", "price"),
    ("F", "2024-06-05", "range"),
    ("G", "2024-07-05", None),
    ("H", "2023-06-05", "price"),
]
# Exits in 2024: service 2, price 1, moved 1, unknown 1; one in 2023 (competitor) and one after the month.
EXITS = [
    ("A", "2024-08-01", "service"),
    ("C", "2024-09-01", "service"),
    ("E", "2024-10-01", "price"),
    ("F", "2024-11-01", "moved"),
    ("G", "2024-11-15", "unknown"),
    ("H", "2023-09-01", "competitor"),
    ("B", "2025-01-10", "quality"),
]


@pytest.fixture
def wl_store(store):
    ids = sorted({c for c, *_ in WINS})
    load_frame(
        store,
        "customers",
        pd.DataFrame({"customer_id": ids, "acquired_at": "2023-01-01"}),
        source="customers",
    )
    load_frame(
        store,
        "exits",
        pd.DataFrame(EXITS, columns=["customer_id", "lost_at", "reason_code"], dtype=object),
        source="exits",
    )
    for cid, at, code in WINS:  # the wins table is written with SQL until it becomes loadable
        store.con.execute(
            "INSERT INTO wins (customer_id, won_at, reason_code) VALUES (?, CAST(? AS TIMESTAMPTZ), ?)",
            [cid, at, code],
        )
    return store


def _config(*strengths: str) -> Config:
    cfg = Config()
    return dataclasses.replace(cfg, decisions=dataclasses.replace(cfg.decisions, strengths=list(strengths)))


def test_shares_match_hand_counts(wl_store):
    r = wins_against_losses(wl_store, "2024-12", months=12, config=_config("service", "Quality"))
    # hand counts: 6 wins with a reason (+1 without), 4 exits with a reason (+1 unknown)
    assert (r.won_total, r.won_unknown, r.lost_total, r.lost_unknown) == (7, 1, 5, 1)
    got = {x.reason: (x.won, x.won_share, x.lost, x.lost_share, x.strength) for x in r.rows}
    assert got == {
        "service": (2, 33.3, 2, 50.0, True),
        "quality": (2, 33.3, 0, 0.0, True),
        "price": (1, 16.7, 1, 25.0, False),
        "range": (1, 16.7, 0, 0.0, False),
        "moved": (0, 0.0, 1, 25.0, False),
    }
    assert [x.reason for x in r.rows] == ["service", "price", "quality", "moved", "range"]
    assert r.verdicts == {"service": "contradicted", "quality": "confirmed"}
    assert r.findings[0] == (
        "service is a declared strength, yet 50.0% of lost customers left over service, more than the "
        "33.3% of won customers who chose you for it: fix it before you sell it."
    )
    assert r.findings[1].startswith("quality is a declared strength and customers agree: 33.3% of won")
    assert "price wins you 16.7% of customers" in r.findings[2]
    assert (
        r.findings[3]
        == "The most common reason for leaving is service (50.0% of lost customers who gave a reason)."
    )
    doc = r.to_json()
    for row in doc["reasons"]:  # every share the findings quote is the JSON's, to one decimal
        if row["declared_strength"]:
            text = " ".join(doc["findings"])
            assert f"{row['won_share']:.1f}%" in text and f"{row['lost_share']:.1f}%" in text
    assert doc["strengths"] == [
        {"reason": "service", "verdict": "contradicted"},
        {"reason": "quality", "verdict": "confirmed"},
    ]
    json.dumps(doc)


def test_all_history_and_undeclared_strengths(wl_store):
    r = wins_against_losses(wl_store, "2024-12", config=_config("delivery"))
    assert (r.won_total, r.lost_total) == (8, 6)  # 2023 rows count; the 2025 exit does not
    assert r.row("price") is not None and (r.row("price").won, r.row("price").won_share) == (2, 28.6)  # type: ignore[union-attr]
    assert r.verdicts == {"delivery": "unproven"}
    nothing = wins_against_losses(wl_store, "2024-12", config=_config())
    assert nothing.findings[-1].startswith("No strengths are declared")


def test_the_chart_shows_the_shares(wl_store):
    r = wins_against_losses(wl_store, "2024-12", months=12, config=_config("service"))
    fig = r.figure()
    won, lost = fig.data
    assert list(won.y) == ["★ service", "price", "quality", "moved", "range"]
    assert list(won.x) == [33.3, 16.7, 33.3, 0.0, 16.7]
    assert list(lost.x) == [50.0, 25.0, 0.0, 25.0, 0.0]
    assert "declared strength" in fig.layout.title.text


def test_bad_input(wl_store):
    with pytest.raises(KeepwiseInputError, match="months must be at least 1, not 0"):
        wins_against_losses(wl_store, "2024-12", months=0, config=Config())
    cfg = Config()
    bad = dataclasses.replace(cfg, decisions=dataclasses.replace(cfg.decisions, strengths="service"))  # type: ignore[arg-type]
    with pytest.raises(KeepwiseInputError, match=r"decisions\.strengths must be a list of reason codes"):
        wins_against_losses(wl_store, "2024-12", config=bad)


def test_cli_json_html_and_errors(wl_store, db_url, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    wl_store.disconnect()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keepwise.toml").write_text('[decisions]\nstrengths = ["service", "quality"]\n')
    out = tmp_path / "wins.html"
    res = CliRunner().invoke(
        app, ["wins", "--month", "2024-12", "--months", "12", "--json", "--html", str(out), "--db", db_url]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == {
        "month",
        "period",
        "won",
        "lost",
        "strengths",
        "reasons",
        "findings",
        "assumptions",
        "notes",
    }
    assert doc["period"] == {"start": "2024-01-01T00:00:00+00:00", "end": "2025-01-01T00:00:00+00:00"}
    assert doc["assumptions"][0]["value"] == ["service", "quality"]
    assert doc["assumptions"][0]["from"] == "keepwise.toml"
    page = out.read_text()
    assert "Plotly.newPlot" in page and "<script src=" not in page  # plotly.js inline, offline
    assert '"x":[33.3,16.7,33.3,0.0,16.7]' in page.replace(" ", "")
    assert "fix it before you sell it" in page

    from keepwise.cli import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr("sys.argv", ["keepwise", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main()
        return int(exc.value.code or 0), capsys.readouterr().err

    assert run("wins", "--months", "0", "--month", "2024-12", "--db", db_url) == (
        2,
        "error: months must be at least 1, not 0\n",
    )
    code, err = run("wins", "--html", str(tmp_path / "no" / "x.html"), "--db", db_url)
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err


def test_shares_against_the_simulators_truth(sim_db: str, tmp_path: Path):
    """simulate(3000, 24, seed=3): every win row is a customer's true reason at acquisition (exact counts);
    recorded exit reasons are the true reasons, 8% of them hidden as 'unknown' (shares within 3 points)."""
    import shutil

    from keepwise.datasets import simulate
    from keepwise.store import connect

    biz = simulate(customers=3000, months=24, seed=3)
    truth = biz.truth["customers"]
    copy = tmp_path / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}", read_only=True)
    try:
        r = wins_against_losses(backend, "2025-12", config=_config("service", "quality"))
    finally:
        backend.disconnect()
    won = pd.Series([c["win_reason"] for c in truth.values() if c["win_recorded"]]).value_counts()
    assert r.won_total == int(won.sum()) and r.won_unknown == 0
    assert {x.reason: x.won for x in r.rows if x.won} == won.to_dict()
    recorded = [c["true_reason"] for c in truth.values() if c["exit_recorded"]]
    true_share = pd.Series(recorded).value_counts(normalize=True) * 100
    assert r.lost_total == len(recorded)
    assert 0.04 < r.lost_unknown / r.lost_total < 0.12  # the simulator hides 8% as 'unknown'
    for reason, share in true_share.items():
        row = r.row(str(reason))
        assert row is not None and abs(row.lost_share - share) < 3.0, (reason, row, share)
    assert set(r.verdicts) == {"service", "quality"}


def test_review_section_covers_the_twelve_months(wl_store):
    from keepwise import review
    from keepwise.signals import ReviewPeriod

    provider = dict(review.SECTIONS)["wins"]
    ctx = review.ReviewContext(wl_store, ReviewPeriod.of("2024-12"), config=_config("service"))
    section = provider(ctx)
    assert section is not None and section.key == "wins"
    assert section.data["won"] == {"total": 7, "reason_unknown": 1}  # the 2023 win is outside
    assert section.headline.startswith("service is a declared strength, yet 50.0% of lost customers")
    assert 'id="fig-wins"' in section.html and "fix it before you sell it" in section.html
    empty = review.ReviewContext(wl_store, ReviewPeriod.of("2022-06"), config=_config())
    assert provider(empty) is None
