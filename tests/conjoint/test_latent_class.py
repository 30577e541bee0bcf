"""Latent-class MNL recovers two simulated segments; with one class it is the conditional logit."""

from __future__ import annotations

import numpy as np
import pytest

from keepwise.conjoint.coding import Coding, choice_data
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.conjoint.simulator import simulate_answers
from keepwise.conjoint.study import load_study
from keepwise.exceptions import KeepwiseInputError

from .conftest import EXAMPLE_STUDY

# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none
BARGAIN = np.array([0.2, 0.1, -0.3, 0.0, 0.2, 0.1, 0.5, -0.15, 0.3])  # price-sensitive, plan barely matters
QUALITY = np.array([-1.5, 0.2, -0.2, 0.1, -1.2, 0.3, -0.2, -0.03, -0.2])  # wants Premium and a manager
SHARE_BARGAIN = 0.6


@pytest.fixture(scope="module")
def segments():
    study = load_study(EXAMPLE_STUDY)
    design = d_efficient(study, 12, 4, seed=3, iterations=500)
    coding = Coding.from_study(study)
    n = 300
    bargain = np.random.default_rng(8).random(n) < SHARE_BARGAIN
    betas = np.where(bargain[:, None], BARGAIN, QUALITY)
    long = simulate_answers(design, coding, betas, seed=9)
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
