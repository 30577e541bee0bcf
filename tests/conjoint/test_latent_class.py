"""Latent-class MNL recovers two simulated segments; with one class it is the conditional logit.

End to end: ``keepwise conjoint estimate --model lc`` recovers the same segments, a saved result loads back
bit for bit, the simulator mixes the classes by their shares, and the report shows a segments table.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from keepwise.conjoint import results
from keepwise.conjoint.coding import Coding, choice_data
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.conjoint.report import segments_table
from keepwise.conjoint.simulator import first_choice, share_of_preference, simulate_answers
from keepwise.conjoint.store import load_result, save_result
from keepwise.conjoint.study import load_study
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect

from .conftest import EXAMPLE_STUDY, fit_winback

# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none
BARGAIN = np.array([0.2, 0.1, -0.3, 0.0, 0.2, 0.1, 0.5, -0.15, 0.3])  # price-sensitive, plan barely matters
QUALITY = np.array([-1.5, 0.2, -0.2, 0.1, -1.2, 0.3, -0.2, -0.03, -0.2])  # wants Premium and a manager
SHARE_BARGAIN = 0.6


@pytest.fixture(scope="module")
def segment_answers():
    """Answers in long format of 300 respondents, 60% bargain hunters, and who is one."""
    study = load_study(EXAMPLE_STUDY)
    design = d_efficient(study, 12, 4, seed=3, iterations=500)
    coding = Coding.from_study(study)
    bargain = np.random.default_rng(8).random(300) < SHARE_BARGAIN
    long = simulate_answers(design, coding, np.where(bargain[:, None], BARGAIN, QUALITY), seed=9)
    return long, bargain


@pytest.fixture(scope="module")
def segments(segment_answers):
    long, bargain = segment_answers
    coding = Coding.from_study(load_study(EXAMPLE_STUDY))
    data = choice_data(long, coding, "task", "alternative", "chosen", respondent="respondent")
    return data, bargain


def test_recovers_two_segments_and_their_sizes(segments):
    data, bargain = segments
    model = LatentClassMNL(classes=2, starts=5, seed=1).fit(data)
    # the larger class is the bargain hunters (60% in truth; 181 of 300 drawn, estimated 60.3%)
    assert model.class_shares_[0] == pytest.approx(bargain.mean(), abs=0.04)
    for s, truth in enumerate((BARGAIN, QUALITY)):
        z = (model.class_coef_[s] - truth) / model.class_se_[s]
        assert np.abs(z).max() < 3.5, (s, np.round(z, 2))
    # measured: all 300 respondents in the right class (12 answers each); BIC 6265, 4151, 4193 for 1-3
    assert (model.predict_class() == np.where(bargain, 0, 1)).mean() > 0.95
    summary = model.summary
    assert summary.loc["share", "class 1"] == model.class_shares_[0]


def test_bic_picks_two_classes(segments):
    data, _ = segments
    bic = {S: LatentClassMNL(classes=S, starts=1, seed=2).fit(data).bic_ for S in (1, 2, 3)}
    assert bic[2] < bic[1] and bic[2] < bic[3]


def test_one_class_is_the_conditional_logit(segments):
    """Side by side with keepwise's Newton MNL: same estimates, standard errors and log-likelihood."""
    data, _ = segments
    lc = LatentClassMNL(classes=1).fit(data)
    mnl = ConditionalLogit().fit(data)
    np.testing.assert_allclose(lc.class_coef_[0], mnl.coef_, atol=1e-7)
    np.testing.assert_allclose(lc.class_se_[0], mnl.se_, rtol=1e-4)
    assert lc.log_likelihood_ == pytest.approx(mnl.log_likelihood_, abs=1e-8)


def test_shares_mix_the_classes(segments):
    data, _ = segments
    model = LatentClassMNL(classes=2, starts=3, seed=1).fit(data)
    Z = data.X[:4]
    u = model.class_coef_ @ Z.T
    p = np.exp(u) / np.exp(u).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.shares(Z), model.class_shares_ @ p)


def test_needs_respondents(segments):
    data, _ = segments
    bare = type(data)(data.X, data.starts, data.chosen, data.tasks, data.names)
    with pytest.raises(KeepwiseInputError, match="latent classes need a respondent column"):
        LatentClassMNL().fit(bare)


# ---- the latent-class model end to end: estimate(), the CLI, the store, the simulator, the report ----------

LC_ARGS = [
    "--task-column", "task", "--alternative-column", "alternative", "--choice-column", "chosen",
    "--respondent-column", "respondent", "--attributes", "plan,free_months,support,contract,price",
    "--categorical", "free_months", "--none-column", "none", "--price-column", "price",
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "conjoint", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def segment_csv(segment_answers, tmp_path_factory):
    path = tmp_path_factory.mktemp("lc") / "answers.csv"
    segment_answers[0].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def winback_lc(segment_answers):
    """Two latent classes fitted through :func:`keepwise.conjoint.results.estimate` (the CLI's coding)."""
    return fit_winback(segment_answers[0], "lc", classes=2, seed=0)


def truth_in(names: list[str], beta: np.ndarray) -> dict[str, float]:
    """The planted part-worths (study coding) as the coefficients named ``names`` (another effects coding).

    An effects-coded coefficient ``a[l]`` is the zero-centred part-worth of level ``l``, whichever level is
    the reference, so the truth maps level by level; numeric columns map by name.
    """
    coding = Coding.from_study(load_study(EXAMPLE_STUDY))
    out = {}
    for name in names:
        if "[" in name:
            attribute, level = name[:-1].split("[", 1)
            out[name] = float(coding.level_vector(attribute, level) @ beta)
        else:
            out[name] = float(beta[coding.names.index(name)])
    return out


def test_cli_recovers_the_planted_segments(segment_csv, segment_answers):
    _, bargain = segment_answers
    result = run(
        "estimate", "--file", str(segment_csv), *LC_ARGS, "--model", "lc", "--classes", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"] == "lc" and doc["classes"] == 2
    assert doc["n_tasks"] == 3600 and doc["n_respondents"] == 300
    # the same fit as the Python test above in the study's coding: log-likelihood -2021.41, BIC 4151.2
    assert doc["log_likelihood"] == pytest.approx(-2021.4058, abs=1e-3)
    assert doc["bic"] == pytest.approx(-2 * doc["log_likelihood"] + 19 * np.log(300), rel=1e-12)
    first, second = doc["segments"]
    # the larger class is the bargain hunters: 181 of 300 drawn (60.3%), estimated 60.3%
    assert first["share"] == pytest.approx(bargain.mean(), abs=0.04)
    assert first["share"] + second["share"] == pytest.approx(1.0, abs=1e-12)
    for seg, beta in ((first, BARGAIN), (second, QUALITY)):
        assert list(seg["coefficients"]) == list(doc["coefficients"])  # the same names as mnl
        truth = truth_in(list(seg["coefficients"]), beta)
        z = {k: (seg["coefficients"][k] - truth[k]) / seg["std_errors"][k] for k in truth}
        assert max(map(abs, z.values())) < 3.5, z
    # the bargain hunters weigh price most, the others the plan
    assert max(first["importance"], key=first["importance"].get) == "price"
    assert max(second["importance"], key=second["importance"].get) == "plan"
    # population-level coefficients are the share-weighted means of the classes'
    for name, value in doc["coefficients"].items():
        mixed = first["share"] * first["coefficients"][name] + second["share"] * second["coefficients"][name]
        assert value == pytest.approx(mixed, rel=1e-12, abs=1e-15)
    assert {w["attribute"] for w in first["wtp"]} == {"plan", "free_months", "support", "contract"}


def test_share_weighted_population_standard_errors(winback_lc):
    """Delta method by hand at a second route: numerical Jacobian of sum_s pi_s beta_s in (betas, logits)."""
    model = winback_lc.model
    S, K = model.class_coef_.shape
    theta = np.concatenate(
        [model.class_coef_.ravel(), np.log(model.class_shares_[1:] / model.class_shares_[0])]
    )

    def mixed(t):
        alpha = np.r_[0.0, t[S * K :]]
        pi = np.exp(alpha) / np.exp(alpha).sum()
        return pi @ t[: S * K].reshape(S, K)

    J = np.empty((K, len(theta)))
    for i in range(len(theta)):
        h = np.zeros_like(theta)
        h[i] = 1e-6
        J[:, i] = (mixed(theta + h) - mixed(theta - h)) / 2e-6
    np.testing.assert_allclose(model.se_, np.sqrt(np.diag(J @ model.theta_cov_ @ J.T)), rtol=1e-6)
    np.testing.assert_allclose(model.coef_, mixed(theta), rtol=1e-12)


def test_mixture_shares_by_hand():
    """Two classes, two offers and none: shares and first choice against a hand computation."""
    frame = pd.DataFrame({"price": [10.0, 20.0], "none": [0, 1]})
    coding = Coding.from_frame(frame, ["price", "none"], none="none", price="price")
    model = LatentClassMNL(classes=2)
    model.class_shares_ = np.array([0.7, 0.3])
    model.class_coef_ = np.array([[-0.1, 0.0], [-0.02, -1.0]])  # columns: price, none
    model.coef_ = model.class_shares_ @ model.class_coef_
    result = results.ConjointResult(model, coding)
    offers = [{"name": "cheap", "price": 10}, {"name": "dear", "price": 20}]
    # class 1 utilities -1, -2, 0 (none); class 2: -0.2, -0.4, -1
    e1 = [math.exp(-1), math.exp(-2), math.exp(0)]
    e2 = [math.exp(-0.2), math.exp(-0.4), math.exp(-1)]
    by_hand = [0.7 * a / sum(e1) + 0.3 * b / sum(e2) for a, b in zip(e1, e2, strict=True)]
    shares = share_of_preference(result, offers)
    assert shares.index.tolist() == ["cheap", "dear", "none"]
    np.testing.assert_allclose(shares.to_numpy(), by_hand, rtol=1e-14)
    # not the unweighted mean of the two classes
    assert abs(shares["cheap"] - (e1[0] / sum(e1) + e2[0] / sum(e2)) / 2) > 0.03  # 0.039
    # first choice: class 1 stays out (none), class 2 takes the cheap offer
    np.testing.assert_allclose(first_choice(result, offers).to_numpy(), [0.3, 0.0, 0.7], rtol=1e-14)


def test_store_round_trip_is_bit_identical(winback_lc, tmp_path):
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    backend = connect(url)
    save_result(backend, winback_lc, "segments", source="answers.csv")
    backend.disconnect()
    loaded = load_result(connect(url), "segments")
    assert loaded is not None and type(loaded.model) is LatentClassMNL
    assert loaded.coding == winback_lc.coding
    a, b = winback_lc.model, loaded.model
    for name in (
        "class_shares_",
        "class_coef_",
        "class_se_",
        "theta_cov_",
        "coef_",
        "se_",
        "cov_",
        "membership_",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.log_likelihood_, a.bic_, a.n_tasks_, a.n_respondents_) == (
        b.log_likelihood_, b.bic_, b.n_tasks_, b.n_respondents_,
    )  # fmt: skip
    np.testing.assert_array_equal(a.respondents_, b.respondents_)
    assert results.segments(loaded) == results.segments(winback_lc)
    pd.testing.assert_frame_equal(
        results.importance(loaded), results.importance(winback_lc), check_exact=True
    )
    pd.testing.assert_frame_equal(results.wtp(loaded), results.wtp(winback_lc), check_exact=True)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    market = [
        {"plan": "Standard", "free_months": "1", "support": "Phone", "contract": "Monthly", "price": 29}
    ]
    pd.testing.assert_series_equal(
        share_of_preference(loaded, market), share_of_preference(winback_lc, market), check_exact=True
    )


def test_save_and_show_the_segments(segment_csv, tmp_path, winback_lc, monkeypatch):
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    saved = run(
        "estimate", "--file", str(segment_csv), *LC_ARGS, "--model", "lc", "--classes", "2",
        "--currency", "usd", "--save", "segments", "--db", url, "--json",
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    page = tmp_path / "segments.html"
    shown = run("show", "--study", "segments", "--db", url, "--html", str(page), "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["model"] == "LatentClassMNL"
    assert doc["segments"] == json.loads(saved.stdout)["segments"]
    for cli, python in zip(doc["segments"], results.segments(winback_lc), strict=True):
        assert cli["share"] == pytest.approx(python["share"], rel=1e-9)
        assert cli["coefficients"] == pytest.approx(python["coefficients"], rel=1e-9)
    html = page.read_text(encoding="utf-8")
    assert "Segments (latent classes)" in html
    table = segments_table(winback_lc)
    share = f"{table['share'][0]:.1f}%"
    assert f'<td>class 1</td><td class="num">{share}</td>' in html
    assert "Latent-class logit with 2 classes on 300 respondents" in html
    text = run("show", "--study", "segments", "--db", url)
    assert text.returncode == 0 and "importance: price" in text.stderr
    # the dashboard's API answers with the same document, segments included
    from fastapi.testclient import TestClient

    from keepwise.config import Config
    from keepwise.web import create_app

    token = "t" * 24
    monkeypatch.setenv("KEEPWISE_WEB_TOKEN", token)
    with TestClient(create_app(url, Config())) as c:
        bearer = {"Authorization": f"Bearer {token}"}
        api = c.get("/api/conjoint", params={"study": "segments"}, headers=bearer)
    assert api.status_code == 200, api.text
    assert api.json() == {k: v for k, v in doc.items() if k != "html"}  # show --html added the page's path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "lc", "--classes", "1"], "error: --model lc needs --classes 2 or more, or auto (got 1)"),
        (["--model", "lc"], "error: --model lc needs --classes K (2 or more) or --classes auto"),
        (["--model", "lc", "--classes", "two"], "error: --classes must be a whole number or auto, not 'two'"),
        (["--classes", "2"], "error: --classes goes with --model lc only"),
        (["--model", "lc", "--classes", "40"], "error: 300 respondents are too few for 40 classes"),
    ],
)
def test_latent_class_mistakes_are_one_line_exit_2(segment_csv, extra, message):
    result = run("estimate", "--file", str(segment_csv), *LC_ARGS, *extra, "--json")
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr


def test_latent_class_needs_a_respondent_column(segment_csv):
    args = [a for a in LC_ARGS if a not in ("--respondent-column", "respondent")]
    result = run("estimate", "--file", str(segment_csv), *args, "--model", "lc", "--classes", "2")
    assert result.returncode == 2
    assert result.stderr == "error: --model lc needs --respondent-column (whose tasks are whose)\n"


def test_too_few_respondents_per_parameter(segment_answers):
    long, _ = segment_answers
    few = long[long["respondent"] <= 18]  # 2 classes x 9 coefficients + 1 share logit = 19 parameters
    with pytest.raises(KeepwiseInputError) as caught:
        fit_winback(few, "lc", classes=2, starts=1)
    assert str(caught.value) == (
        "18 respondents are too few for 2 classes of 9 coefficients (19 parameters): latent classes need "
        "at least one respondent per parameter; use fewer classes"
    )


def test_auto_picks_two_classes_by_bic(segment_csv):
    result = run(
        "estimate", "--file", str(segment_csv), *LC_ARGS, "--model", "lc", "--classes", "auto", "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    bic = doc["bic_by_classes"]
    assert doc["classes"] == 2 and min(bic, key=bic.get) == "2"
    # BIC 6265, 4151, 4187 and 4228 for 1-4 classes: the scan stops after two rises in a row
    assert list(bic) == ["1", "2", "3", "4"]
    assert bic["2"] == pytest.approx(doc["bic"], rel=1e-12)


@pytest.mark.browser
def test_whatif_in_chromium_mixes_the_classes(request, tmp_path, offline_page):
    """The page's JavaScript weights the classes by their shares, as the Python simulator does."""
    from .test_report import test_whatif_shares_in_chromium_equal_the_simulator as whatif_in_chromium

    whatif_in_chromium("winback_lc", request, tmp_path, offline_page)


def test_the_review_section_shows_the_segments(winback_lc):
    from keepwise.report.sections.conjoint import conjoint_section
    from keepwise.review import ReviewContext
    from keepwise.signals import ReviewPeriod

    backend = connect("duckdb://:memory:")
    save_result(backend, winback_lc, "segments")
    section = conjoint_section(ReviewContext(backend, ReviewPeriod.of("2025-01")))  # reads only the store
    assert section is not None and section.data["model"] == "lc"
    shares = winback_lc.model.class_shares_
    assert section.data["segments"] == [
        {"class": 1, "share": round(float(shares[0]), 4)},
        {"class": 2, "share": round(float(shares[1]), 4)},
    ]
    assert "Segments (latent classes)" in section.html
    # population importance is the share-weighted mean of the classes' importances
    table = segments_table(winback_lc)
    top = section.data["importance"][0]
    by_class = table[f"importance: {top['attribute']}"].to_numpy()
    assert top["importance"] == round(float(shares @ by_class), 2)
