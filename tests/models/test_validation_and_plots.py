"""Data preparation, calibration/holdout validation and the plots, on the CDNOW sample."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.models import (
    BetaGeoModel,
    ParetoNBDModel,
    calibration_and_holdout,
    plotting,
    summary_from_transactions,
)
from keepwise.models.validation import (
    compare_models,
    holdout_comparison,
    p_alive_history,
    tracking_table,
)


@pytest.fixture(scope="module")
def cal_holdout(cdnow_sample_transactions):
    return calibration_and_holdout(cdnow_sample_transactions, "customer", "date", "1997-09-30", "1998-06-30")


@pytest.fixture(scope="module")
def bgnbd(cal_holdout):
    d = cal_holdout
    return BetaGeoModel().fit(d["frequency_cal"], d["recency_cal"], d["T_cal"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_summary_reproduces_the_published_cdnow_summary(cdnow_sample_transactions, cdnow_spend):
    # Hardie's cdnow_customers_summary_with_transactions.csv (x, t_x, T, zbar; 2 decimals) from the raw sample
    s = summary_from_transactions(
        cdnow_sample_transactions, "customer", "date", "amount", "1997-09-30", "week"
    )
    ref = cdnow_spend.set_index("ID")
    s = s.reindex(ref.index)
    assert (s["frequency"] == ref["x"]).all()
    np.testing.assert_allclose(s["recency"], ref["t_x"], atol=0.005)
    np.testing.assert_allclose(s["T"], ref["T"], atol=0.005)
    np.testing.assert_allclose(s["monetary_value"], ref["zbar"], atol=0.005)


def test_summary_rejects_missing_columns(cdnow_sample_transactions):
    with pytest.raises(KeepwiseInputError, match="transactions have no column 'when'"):
        summary_from_transactions(cdnow_sample_transactions, "customer", "when")


def test_holdout_comparison_by_frequency_and_total(bgnbd, cal_holdout):
    table = holdout_comparison(bgnbd, cal_holdout, max_frequency=7)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "7+", "total"]
    assert table.loc["total", "customers"] == 2357
    # 1,882 repeat purchase days in weeks 40-78 (counted from the raw sample)
    assert table.loc["total", "actual_total"] == 1882
    # the sum of conditional expectations is 1,653 (lifetimes gives the same, see test_bgnbd.py): the BG/NBD
    # fitted on the 39-week calibration under-forecasts this holdout by about 12%
    assert table.loc["total", "predicted_total"] == pytest.approx(1653.4, abs=0.5)
    assert table.loc["0", "predicted"] == pytest.approx(table.loc["0", "actual"], abs=0.06)
    assert table["customers"].drop("total").sum() == 2357
    # predicted means rise with calibration frequency
    assert np.all(np.diff(table["predicted"].drop("total").to_numpy()) > 0)


def test_compare_models_by_aic(cdnow_summary):
    d = cdnow_summary
    bg = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    pn = ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"])
    table = compare_models({"bgnbd": bg, "pareto-nbd": pn})
    # FHL (2005) p. 279: BG/NBD LL -9582.4 beats Pareto/NBD -9595.0 with the same number of parameters
    assert list(table.index) == ["bgnbd", "pareto-nbd"]
    assert table.loc["bgnbd", "aic"] == pytest.approx(8 + 2 * 9582.43, abs=0.01)
    assert table.loc["pareto-nbd", "n_params"] == 4


def test_tracking_table_counts_repeat_purchases(bgnbd, cdnow_sample_transactions):
    tr = tracking_table(bgnbd, cdnow_sample_transactions, "customer", "date", "1997-01-01", "1998-07-01")
    assert len(tr) == 78
    # all repeat purchase days by the end of week 78 (calibration 1,359 + holdout 1,882)
    s = summary_from_transactions(cdnow_sample_transactions, "customer", "date", None, "1998-06-30", "week")
    assert tr["actual"].iloc[-1] == s["frequency"].sum()
    assert np.all(np.diff(tr["actual"]) >= 0) and np.all(np.diff(tr["predicted"]) >= 0)
    # FHL 2005 figure 2: cumulative tracking within a few percent at week 78
    assert tr["predicted"].iloc[-1] == pytest.approx(tr["actual"].iloc[-1], rel=0.05)


def test_p_alive_history_steps(bgnbd):
    h = p_alive_history(bgnbd, [2.0, 5.0], until=20.0, step=1.0)
    assert h.loc[h["T"] == 0, "p_alive"].item() == 1.0  # no repeat purchase yet: alive in BG/NBD
    at5 = h[h["T"] == 5.0].iloc[0]
    # right after a purchase a BG/NBD customer has dropped out with probability a / (b + x - 1 + a)
    a, b = bgnbd.params_["a"], bgnbd.params_["b"]
    assert at5["frequency"] == 2 and at5["recency"] == 5.0
    assert at5["p_alive"] == pytest.approx(1 / (1 + a / (b + 1)))
    later = h[h["T"] > 5.0]["p_alive"].to_numpy()
    assert np.all(np.diff(later) < 0)  # P(alive) decays while the customer stays silent


def test_plot_frequency_recency_matrix_shows_expected_purchases(bgnbd):
    ax = plotting.plot_frequency_recency_matrix(bgnbd, t=1, T=38.86, max_frequency=10)
    assert ax.get_title() == "Expected purchases in the next 1 periods"
    assert ax.get_xlabel() == "Recency (time of last purchase)"
    assert ax.get_ylabel() == "Frequency (repeat purchases)"
    Z = np.asarray(ax.images[0].get_array())
    assert Z.shape == (11, 40)
    want = bgnbd.conditional_expected_number_of_purchases_up_to_time(1, [10], [38.86], [38.86])[0]
    assert Z[10, -1] == pytest.approx(want)  # top-right: frequent and recent, the best customers
    assert Z[10, -1] == Z.max()


def test_plot_probability_alive_matrix(bgnbd):
    ax = plotting.plot_probability_alive_matrix(bgnbd, T=38.86, max_frequency=10)
    assert ax.get_title() == "Probability a customer is alive"
    Z = np.asarray(ax.images[0].get_array())
    assert np.all(Z[0] == 1.0)  # no repeat purchases: alive for sure under BG/NBD
    assert Z[10, 0] == pytest.approx(bgnbd.conditional_probability_alive([10], [0.0], [38.86])[0])
    assert Z.min() < 0.01


def test_plot_calibration_vs_holdout(bgnbd, cal_holdout):
    ax = plotting.plot_calibration_purchases_vs_holdout_purchases(bgnbd, cal_holdout, max_frequency=7)
    assert ax.get_title() == "Actual vs predicted purchases in the holdout period"
    assert ax.get_xlabel() == "Purchases in the calibration period"
    actual, model = ax.get_lines()
    table = holdout_comparison(bgnbd, cal_holdout, 7).drop(index="total")
    np.testing.assert_allclose(actual.get_ydata(), table["actual"])
    np.testing.assert_allclose(model.get_ydata(), table["predicted"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Actual", "Model"]


def test_plot_history_alive(bgnbd):
    ax = plotting.plot_history_alive(bgnbd, [2.0, 5.0], until=20.0)
    assert ax.get_title() == "History of P(alive)"
    line = ax.get_lines()[0]
    assert line.get_xdata()[-1] == 20.0
    assert line.get_ydata()[-1] == pytest.approx(bgnbd.conditional_probability_alive([2], [5.0], [20.0])[0])
    assert len(ax.get_lines()) == 3  # the curve and one marker per repeat purchase


def test_plot_cumulative_transactions(bgnbd, cdnow_sample_transactions):
    tr = tracking_table(bgnbd, cdnow_sample_transactions, "customer", "date", "1997-01-01", "1998-07-01")
    ax = plotting.plot_cumulative_transactions(bgnbd, tr, calibration_end=39)
    assert ax.get_title() == "Tracking cumulative repeat purchases"
    assert ax.get_ylabel() == "Cumulative repeat purchases"
    actual, model, cut = ax.get_lines()
    assert actual.get_ydata()[-1] == tr["actual"].iloc[-1]
    np.testing.assert_allclose(model.get_ydata(), tr["predicted"])
    assert list(cut.get_xdata()) == [39, 39]
    assert isinstance(tr, pd.DataFrame)


def test_plot_retention_curve_sbg_and_kaplan_meier():
    from keepwise.models import KaplanMeier, ShiftedBetaGeometricModel, survivors_to_durations

    # Fader and Hardie (2007) table 1, regular customers, years 0-7
    t, churned, w = survivors_to_durations([1000, 631, 468, 382, 326, 289, 262, 241])
    sbg = ShiftedBetaGeometricModel().fit(t, churned, w)
    km = KaplanMeier().fit(t, churned, w)
    ax = plotting.plot_retention_curve(sbg, km)
    assert ax.get_title() == "Retention: share of the cohort still active"
    assert ax.get_ylabel() == "Share still active"
    model_line, km_line = ax.get_lines()
    np.testing.assert_allclose(model_line.get_ydata(), sbg.survival_function(np.arange(8.0)))
    # with no censoring before year 7, Kaplan-Meier is the observed survivor share
    np.testing.assert_allclose(km_line.get_ydata(), [1, 0.631, 0.468, 0.382, 0.326, 0.289, 0.262, 0.241])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sBG model", "Kaplan-Meier"]
