"""Hierarchical Bayes recovers known individual part-worths of simulated respondents (seeded)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

from keepwise.conjoint.coding import Coding, choice_data
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.hb import (
    HierarchicalBayesMNL,
    bulk_ess,
    effective_sample_size,
    rank_normalized_rhat,
    split_rhat,
)
from keepwise.conjoint.simulator import simulate_answers
from keepwise.conjoint.study import load_study
from keepwise.exceptions import ConvergenceError, KeepwiseInputError, StatisticalWarning

EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none
TRUE_MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
TRUE_SD = np.array([0.8, 0.6, 0.6, 0.4, 0.6, 0.5, 0.5, 0.03, 1.0])


@functools.cache
def simulated(respondents: int = 400, tasks: int = 12):
    """Simulated respondents' answers and true part-worths (cached: the design search takes seconds)."""
    study = load_study(EXAMPLE)
    design = d_efficient(study, tasks, 10, seed=3)
    coding = Coding.from_study(study)
    corr = np.eye(9)
    corr[0, 1] = corr[1, 0] = -0.4
    corr[7, 8] = corr[8, 7] = 0.3
    truth = np.random.default_rng(42).multivariate_normal(
        TRUE_MEAN, np.outer(TRUE_SD, TRUE_SD) * corr, respondents
    )
    long = simulate_answers(design, coding, truth, seed=1)
    return choice_data(long, coding, "task", "alternative", "chosen", respondent="respondent"), truth


@pytest.mark.slow
def test_recovers_individual_part_worths_and_covers_population_means():
    """400 respondents x 12 tasks (3 offers + none), 9 part-worths, 2 chains x 1,500 + 5,500 iterations.

    Measured with this seed: all 9 population means inside their 95% intervals, per-coefficient correlation of
    posterior means with the truth 0.30-0.53 (12 answers per respondent cannot pin down 9 part-worths each:
    the posterior means are shrunk), population sds within 21%, largest rank-normalised R-hat 1.032, bulk ESS
    of the means 91-341, slice evaluations 3.2 per respondent; 29-35 s alone. The smallest ESS is below the
    warning threshold of 100, so the run warns (the random-walk sampler before gave R-hat 1.12 and bulk ESS
    10 in 34 s: bench/RESULTS.md).
    """
    data, truth = simulated()
    with pytest.warns(StatisticalWarning, match="smallest effective sample size"):
        model = HierarchicalBayesMNL(seed=0).fit(data)
    lower, upper = np.percentile(model.mean_draws_, [2.5, 97.5], axis=(0, 1))
    covered = (lower <= TRUE_MEAN) & (TRUE_MEAN <= upper)
    assert covered.sum() >= 8
    corr = np.array([np.corrcoef(model.individual_[:, k], truth[:, k])[0, 1] for k in range(9)])
    assert corr.min() > 0.25 and corr.mean() > 0.45
    # across all part-worths of all respondents (levels differ in mean, so this is what a simulator sees)
    assert np.corrcoef(model.individual_.ravel(), truth.ravel())[0, 1] > 0.65  # measured 0.70
    sd = np.sqrt(np.diag(model.cov_))
    np.testing.assert_allclose(sd, TRUE_SD, rtol=0.3)
    assert np.max(model.rhat_["mean"]) < 1.05
    assert np.min(model.ess_["mean"]) > 60
    assert 0.2 < model.acceptance_ < 0.45
    assert 2 < model.slice_evaluations_ < 5
    assert model.summary.shape == (9, 7)


def test_short_run_on_a_small_sample_is_seeded_and_shaped():
    data, _ = simulated(respondents=40, tasks=12)
    quiet = {"max_rhat": 99, "warn_rhat": 99, "warn_ess": 0}
    a = HierarchicalBayesMNL(burn=200, draws=200, seed=7, **quiet).fit(data)
    b = HierarchicalBayesMNL(burn=200, draws=200, seed=7, **quiet).fit(data)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.individual_.shape == (40, 9)
    assert a.mean_draws_.shape == (2, 200, 9)
    assert a.individual_draws_.shape[1] == 40


def test_too_short_a_run_warns_and_says_what_to_do():
    """200 + 200 iterations on 400 x 12: R-hat too high and effective samples too few (the error for R-hat
    above ``max_rhat`` is switched off here, so the warning is what the user sees)."""
    data, _ = simulated()
    expected = (
        r"(?s)largest R-hat 1\.\d+, warn above 1\.05; smallest effective sample size \d+, warn below 100.*"
    )
    with pytest.warns(StatisticalWarning, match=expected + "Run more draws.*more tasks per respondent"):
        model = HierarchicalBayesMNL(burn=200, draws=200, seed=3, max_rhat=99).fit(data)
    assert np.max(model.rhat_["mean"]) > 1.05 and np.min(model.ess_["mean"]) < 100


def test_disagreeing_chains_raise_a_convergence_error_with_numbered_checks():
    data, _ = simulated(respondents=40, tasks=12)
    with pytest.raises(ConvergenceError, match=r"1\. run longer.*2\. .*3\. .*4\. "):
        HierarchicalBayesMNL(burn=0, draws=40, seed=1, max_rhat=1.0001).fit(data)


def test_needs_respondents():
    data, _ = simulated(respondents=20, tasks=12)
    no_respondent = type(data)(data.X, data.starts, data.chosen, data.tasks, data.names)
    with pytest.raises(KeepwiseInputError, match="needs a respondent column"):
        HierarchicalBayesMNL().fit(no_respondent)


def test_rhat_and_ess_on_independent_draws():
    draws = np.random.default_rng(0).normal(size=(4, 1000, 2))
    np.testing.assert_allclose(split_rhat(draws), 1.0, atol=0.01)
    ess = effective_sample_size(draws)
    assert np.all((ess > 2000) & (ess < 5000))
    stuck = draws + np.arange(4)[:, None, None]  # chains at different levels
    assert np.all(split_rhat(stuck) > 1.5)


def test_rank_normalized_rhat_sees_a_chain_with_a_different_spread():
    """Same centre, different scale: the classic split R-hat misses it, the folded rank R-hat does not."""
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(4, 1000, 1))
    draws[0] *= 3.0
    assert split_rhat(draws)[0] < 1.01
    assert rank_normalized_rhat(draws)[0] > 1.1
    independent = rng.standard_cauchy(size=(4, 1000, 1))  # no variance: rank normalisation still works
    assert rank_normalized_rhat(independent)[0] < 1.01
    assert 3000 < bulk_ess(independent)[0] < 5500
