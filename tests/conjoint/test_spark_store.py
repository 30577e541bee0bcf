"""The measurement stage's tables on local Spark: a conjoint study and an experiment's assignment."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from keepwise.conjoint.store import list_studies, load_result, save_result
from keepwise.experiments.design import Design, assign
from keepwise.experiments.store import load_design, save_assignment
from keepwise.store import connect

from .conftest import fit_winback, winback_answers

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark_store(tmp_path_factory):
    pytest.importorskip("pyspark")
    store = connect(f"spark-local?partitions=2&dir={tmp_path_factory.mktemp('spark-measure')}")
    yield store


def test_a_conjoint_study_is_saved_replaced_and_loaded_on_spark(spark_store):
    fitted = fit_winback(winback_answers(60))
    save_result(spark_store, fitted, "spring", source="a.csv", prohibitions=[{"plan": "Basic"}])
    save_result(spark_store, fitted, "spring", source="b.csv")  # replaces the first
    save_result(spark_store, fitted, "autumn", saved_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert list_studies(spark_store)["study"].tolist() == ["spring", "autumn"]
    latest = load_result(spark_store)
    assert latest is not None and latest.study == "spring" and latest.prohibitions is None
    assert latest.coefficients == fitted.coefficients
    estimates = spark_store.read("conjoint_estimates", where={"study": "spring"})
    assert len(estimates) == len(fitted.coefficients)


def test_an_assignment_is_saved_once_on_spark(spark_store):
    design = Design("spark-exp", {"control": 1, "treatment": 1}, seed=1)
    assignment = assign(pd.DataFrame({"customer_id": [f"c{i}" for i in range(40)]}), design)
    assert save_assignment(spark_store, design, assignment) == "created"
    assert save_assignment(spark_store, design, assignment) == "unchanged"
    assert load_design(spark_store, "spark-exp") == design
    assert spark_store.count("assignments", where={"experiment_id": "spark-exp"}) == 40
