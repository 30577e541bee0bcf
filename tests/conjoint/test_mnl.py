"""Conditional logit: published Heating estimates, input checks, gradient and Hessian against differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keepwise.conjoint.coding import Coding, choice_data
from keepwise.conjoint.mnl import ConditionalLogit, mnl_loglik
from keepwise.exceptions import ConvergenceError, KeepwiseInputError


def fit_heating(long: pd.DataFrame) -> ConditionalLogit:
    coding = Coding.from_frame(long, ["ic", "oc"])
    return ConditionalLogit().fit(choice_data(long, coding, "idcase", "alt", "chosen"))


def test_heating_reproduces_the_mlogit_vignette(heating_long):
    """Croissant, "Estimation of multinomial logit models in R: the mlogit packages", vignette section
    'Heating'
    (model ``depvar ~ ic + oc | 0`` on Train's Heating data, Train 2009 *Discrete Choice Methods with
    Simulation*, exercise 3): ic -0.0062319 (se 0.0003528), oc -0.0045801 (se 0.0003222), LL -1095.2."""
    model = fit_heating(heating_long)
    assert model.names_ == ["ic", "oc"]
    assert model.n_tasks_ == 900
    np.testing.assert_allclose(model.coef_, [-0.0062319, -0.0045801], atol=5e-8)
    np.testing.assert_allclose(model.se_, [0.0003528, 0.0003222], atol=5e-8)
    assert round(model.log_likelihood_, 1) == -1095.2
    # equal shares over five systems: LL(0) = 900 log(1/5)
    assert model.null_log_likelihood_ == pytest.approx(900 * np.log(0.2))
    assert model.rho_squared_ == pytest.approx(1 - model.log_likelihood_ / (900 * np.log(0.2)))
    assert list(model.summary.columns) == ["coef", "se", "z", "p", "lower 95%", "upper 95%"]


def test_heating_installation_cost_wtp_matches_train(heating_long):
    """Train (2009, exercise 3.1): the ratio of coefficients, oc/ic = 0.73, is the $ of installation cost that
    a household would pay for $1 less in yearly operating cost."""
    model = fit_heating(heating_long)
    assert model.coef_[1] / model.coef_[0] == pytest.approx(0.7349, abs=1e-4)


def test_gradient_and_information_match_finite_differences(heating_long):
    coding = Coding.from_frame(heating_long, ["ic", "oc"])
    data = choice_data(heating_long, coding, "idcase", "alt", "chosen")
    beta = np.array([-0.004, -0.003])
    _, g, H = mnl_loglik(beta, data)
    assert g is not None and H is not None
    h = 1e-7
    num_g = [
        (mnl_loglik(beta + h * e, data, False)[0] - mnl_loglik(beta - h * e, data, False)[0]) / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(g, num_g, rtol=1e-5)
    num_H = np.array(
        [(mnl_loglik(beta + h * e, data)[1] - mnl_loglik(beta - h * e, data)[1]) / (2 * h) for e in np.eye(2)]
    )
    np.testing.assert_allclose(-num_H, H, rtol=1e-4)


def test_row_order_does_not_matter(heating_long):
    shuffled = heating_long.sample(frac=1.0, random_state=3).reset_index(drop=True)
    np.testing.assert_allclose(fit_heating(shuffled).coef_, fit_heating(heating_long).coef_, rtol=1e-10)


def long_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["task", "alt", "chosen", "price", "plan"])


def test_two_chosen_alternatives_name_the_row_and_column():
    frame = long_frame(
        [(1, "a", 1, 10, "x"), (1, "b", 0, 20, "y"), (2, "a", 1, 10, "x"), (2, "b", 1, 20, "y")]
    )
    coding = Coding.from_frame(frame, ["price"])
    with pytest.raises(KeepwiseInputError, match=r"answers.csv, row 3, column 'chosen': task 2 has 2 chosen"):
        choice_data(frame, coding, "task", "alt", "chosen", source="answers.csv")


def test_bad_choice_value_and_bad_number_name_the_row():
    frame = long_frame([(1, "a", 1, 10, "x"), (1, "b", 2, 20, "y")])
    coding = Coding.from_frame(frame, ["price"])
    with pytest.raises(KeepwiseInputError, match=r"f.csv, row 2, column 'chosen': choice must be 1"):
        choice_data(frame, coding, "task", "alt", "chosen", source="f.csv")
    coding = Coding.from_frame(long_frame([(1, "a", 1, 10, "x"), (1, "b", 0, 20, "y")]), ["price"])
    frame = long_frame([(1, "a", 1, 10, "x"), (1, "b", 0, "ten", "y")])
    with pytest.raises(
        KeepwiseInputError, match=r"f.csv, row 2, column 'price': expected a number, got 'ten'"
    ):
        choice_data(frame, coding, "task", "alt", "chosen", source="f.csv")


def test_duplicate_alternative_and_single_alternative_tasks_are_refused():
    frame = long_frame([(1, "a", 1, 10, "x"), (1, "a", 0, 20, "y")])
    with pytest.raises(KeepwiseInputError, match=r"row 2, column 'alt': alternative 'a' appears twice"):
        choice_data(frame, Coding.from_frame(frame, ["price"]), "task", "alt", "chosen")
    frame = long_frame([(1, "a", 1, 10, "x"), (1, "b", 0, 20, "y"), (2, "a", 1, 10, "x")])
    with pytest.raises(KeepwiseInputError, match=r"row 3, column 'task': task 2 has only one alternative"):
        choice_data(frame, Coding.from_frame(frame, ["price"]), "task", "alt", "chosen")


def test_a_column_constant_within_tasks_is_refused():
    frame = long_frame(
        [(1, "a", 1, 10, "x"), (1, "b", 0, 10, "y"), (2, "a", 0, 20, "x"), (2, "b", 1, 20, "y")]
    )
    data = choice_data(frame, Coding.from_frame(frame, ["price", "plan"]), "task", "alt", "chosen")
    with pytest.raises(KeepwiseInputError, match=r"\['price'\] do not vary within any task"):
        ConditionalLogit().fit(data)


def test_perfect_prediction_is_a_convergence_error_with_numbered_checks():
    frame = long_frame(
        [(t, alt, int(alt == "a"), p, "x") for t in range(5) for alt, p in (("a", 1), ("b", 2))]
    )
    data = choice_data(frame, Coding.from_frame(frame, ["price"]), "task", "alt", "chosen")
    with pytest.raises(ConvergenceError, match=r"1\. .*2\. .*3\. "):
        ConditionalLogit(max_iter=30).fit(data)
