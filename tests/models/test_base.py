"""The shared machinery: compression, save/load, convergence errors, input validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from keepwise.exceptions import ConvergenceError, KeepwiseInputError
from keepwise.models import BetaGeoModel, ParetoNBDModel, compress_rft


def test_fitting_on_compressed_tuples_equals_fitting_on_customers(cdnow_summary):
    d = cdnow_summary
    full = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    x, tx, T = (d[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    data, w, _ = compress_rft(x, tx, T)
    assert len(w) < len(d) / 2 and w.sum() == len(d)
    comp = BetaGeoModel().fit(data["x"], data["t_x"], data["T"], weights=w)
    assert comp.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-12)
    for k in full.params_:
        assert comp.params_[k] == pytest.approx(full.params_[k], rel=1e-7)
    assert comp.n_customers_ == 2357


def test_save_and_load_round_trip(tmp_path, cdnow_summary):
    d = cdnow_summary
    m = ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"])
    m.save(tmp_path / "pnbd.json")
    state = json.loads((tmp_path / "pnbd.json").read_text())
    assert state["model"] == "ParetoNBDModel" and set(state["params"]) == {"r", "alpha", "s", "beta"}
    back = ParetoNBDModel.load(tmp_path / "pnbd.json")
    pd.testing.assert_frame_equal(back.summary, m.summary)
    x, tx, T = d["frequency"][:20], d["recency"][:20], d["T"][:20]
    np.testing.assert_array_equal(
        back.conditional_probability_alive(x, tx, T), m.conditional_probability_alive(x, tx, T)
    )
    with pytest.raises(KeepwiseInputError, match="holds a ParetoNBDModel, not a BetaGeoModel"):
        BetaGeoModel.load(tmp_path / "pnbd.json")


def test_convergence_error_lists_what_to_check():
    # nobody ever buys again: the purchase rate runs to zero and the model is not identified
    x = np.zeros(100)
    with pytest.raises(ConvergenceError) as info:
        BetaGeoModel().fit(x, x, np.full(100, 30.0))
    msg = str(info.value)
    assert msg.startswith("BetaGeoModel did not converge:")
    for n in range(1, 6):
        assert f"({n})" in msg


@pytest.mark.parametrize(
    ("f", "r", "T", "message"),
    [
        ([1, 2], [1.0], [5.0, 5.0], "frequency, recency and T must have the same length"),
        ([1], [6.0], [5.0], "recency must not exceed T"),
        ([0], [1.0], [5.0], "a customer with frequency 0 must have recency 0"),
        ([1.5], [1.0], [5.0], "frequency must be a whole number of repeat purchases"),
        ([-1], [0.0], [5.0], "frequency has negative values"),
        ([1], [np.nan], [5.0], "recency has missing or infinite values"),
    ],
)
def test_input_errors_say_what_to_fix(f, r, T, message):
    with pytest.raises(KeepwiseInputError, match=message):
        BetaGeoModel().fit(f, r, T)


def test_unfitted_model_and_covariate_errors(cdnow_summary):
    with pytest.raises(KeepwiseInputError, match="BetaGeoModel is not fitted yet"):
        BetaGeoModel().conditional_probability_alive([1], [1.0], [2.0])
    d = cdnow_summary
    with pytest.raises(
        KeepwiseInputError, match="ParetoNBDModel takes covariates on alpha, beta, not on 'r'"
    ):
        ParetoNBDModel().fit(
            d["frequency"],
            d["recency"],
            d["T"],
            covariates=pd.DataFrame({"z": np.zeros(len(d))}),
            covariate_columns={"r": ["z"]},
        )
    with pytest.raises(KeepwiseInputError, match="covariate column 'w' is not in the covariates DataFrame"):
        ParetoNBDModel().fit(
            d["frequency"],
            d["recency"],
            d["T"],
            covariates=pd.DataFrame({"z": np.zeros(len(d))}),
            covariate_columns={"alpha": ["w"]},
        )


def test_parameter_draws_follow_the_fitted_covariance(cdnow_summary):
    d = cdnow_summary
    m = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    draws = m.sample_params(4000, seed=3)
    sd_log_r = np.std(np.log(draws["r"]))
    assert sd_log_r == pytest.approx(m.summary.loc["r", "se"] / m.params_["r"], rel=0.05)
    assert np.median(draws["alpha"]) == pytest.approx(m.params_["alpha"], rel=0.01)
