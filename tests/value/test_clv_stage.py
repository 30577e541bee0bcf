"""``keepwise.value.clv.run``: the CLV stage values the store's customers and keeps them in the clv table."""

from __future__ import annotations

import pytest

from keepwise.config import ClvAssumptions, Config
from keepwise.datasets.simulate import simulate
from keepwise.exceptions import BadInput
from keepwise.store.ingest import load_frame
from keepwise.value.clv import run


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from keepwise.store import connect

    store = connect(f"duckdb:///{tmp_path_factory.mktemp('clv') / 'store.duckdb'}")
    business = simulate(customers=1000, months=24, seed=7)
    for name in ("customers", "products", "orders"):
        load_frame(store, name, business.tables[name], source=name)
    yield store
    store.disconnect()


def test_run_keeps_one_row_per_customer_and_a_rerun_replaces_them(shop):
    first = run(shop, config=Config(), draws=0)
    again = run(shop, config=Config(), draws=0)
    doc = again.to_json()
    assert doc["table"] == "clv" and doc["rows_saved"] == doc["n_customers"] == shop.count("clv")
    assert first.to_json() == doc  # the same history gives the same figures, to the last digit
    stored = shop.read("clv", order_by=["customer_id"])
    assert stored["customer_id"].is_unique and set(stored["model"]) == {"bgnbd"}
    assert float(stored["clv"].map(float).sum()) == pytest.approx(doc["total_clv"], abs=len(stored) * 5e-5)


def test_the_settings_give_the_horizon_and_the_rate_and_arguments_override_them(shop):
    default = run(shop, config=Config(), draws=0, save=False).to_json()
    cfg = Config(clv=ClvAssumptions(horizon_months=24, discount_rate=0.25))
    configured = run(shop, config=cfg, draws=0, save=False).to_json()
    assert (configured["horizon_months"], configured["discount_rate"]) == (24, 0.25)
    assert configured["total_clv"] != pytest.approx(default["total_clv"], rel=1e-3)
    back = run(shop, config=cfg, draws=0, save=False, horizon_months=12, discount_rate=0.1).to_json()
    assert {k: v for k, v in back.items() if k != "assumptions"} == {
        k: v for k, v in default.items() if k != "assumptions"
    }
    shown = {a["name"]: (a["value"], a["from"]) for a in back["assumptions"]}
    assert shown["clv.horizon_months"] == (12, "option") and shown["clv.discount_rate"] == (0.1, "option")


def test_bad_arguments_are_domain_errors(shop):
    with pytest.raises(BadInput, match="discount_rate: must be above -1"):
        run(shop, config=Config(), discount_rate=-1.5, save=False)
    with pytest.raises(BadInput, match="model: must be one of bgnbd, mbgnbd, pareto-nbd"):
        run(shop, config=Config(), model="bgbb", save=False)
