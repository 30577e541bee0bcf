"""A conjoint study saved by ``keepwise conjoint estimate --save``, read back by the API and the dashboard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from .conftest import TOKEN, api_token, cli

STUDY = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none (the example study's coding, as in tests/conjoint)
MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])


@pytest.fixture(scope="module")
def study_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    from keepwise.conjoint.coding import Coding
    from keepwise.conjoint.design import d_efficient
    from keepwise.conjoint.simulator import simulate_answers
    from keepwise.conjoint.study import load_study

    folder = tmp_path_factory.mktemp("conjoint")
    study = load_study(STUDY)
    design = d_efficient(study, 12, 4, seed=3, iterations=200)
    truth = np.tile(MEAN, (150, 1))
    answers = simulate_answers(design, Coding.from_study(study), truth, seed=1)
    answers.to_csv(folder / "answers.csv", index=False)
    url = f"duckdb:///{folder}/store.duckdb"
    code, stdout, err = cli(
        "conjoint", "estimate", "--file", str(folder / "answers.csv"), "--task-column", "task",
        "--alternative-column", "alternative", "--choice-column", "chosen",
        "--attributes", "plan,free_months,support,contract,price,none", "--respondent-column", "respondent",
        "--categorical", "free_months", "--price-column", "price", "--none-column", "none",
        "--currency", "USD", "--save", "spring", "--json", "--db", url,
    )  # fmt: skip
    assert code == 0, err
    return url, json.loads(stdout)


def test_api_serves_the_saved_study_as_estimated(study_store, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    url, printed = study_store
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(url, config)) as c:
        doc = c.get("/api/conjoint", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        page = c.get("/conjoint", follow_redirects=True)
    code, stdout, err = cli("conjoint", "show", "--json", "--db", url)
    assert code == 0, err
    assert doc == json.loads(stdout)  # keepwise conjoint show --json
    assert doc["study"] == "spring"
    for key in ("coefficients", "std_errors", "part_worths", "importance", "wtp"):
        assert doc[key] == printed[key], key  # as keepwise conjoint estimate printed them
    assert doc["coefficients"]["price"] == pytest.approx(MEAN[7], abs=0.03)  # the simulated truth
    assert page.status_code == 200  # the sign-in form: pages need a session
    assert "Sign in" in page.text


def test_dashboard_embeds_the_conjoint_section(study_store, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.config import Config
    from keepwise.web import create_app

    url, _ = study_store
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(url, Config()), base_url="http://127.0.0.1:8000") as c:  # no shared token
        c.headers["Authorization"] = f"Bearer {api_token(url, 'manager')}"  # every page needs a login
        page = c.get("/conjoint")
        rebound = c.get("/api/conjoint", headers={"Host": "attacker.example"})
    assert page.status_code == 200
    assert "No study yet" not in page.text
    assert "Plotly.newPlot" in page.text
    assert rebound.status_code == 400  # without a token only loopback host names are answered
