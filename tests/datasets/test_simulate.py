"""The simulated business: reproducible files that honour the data contract, and truth matching the data."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keepwise.datasets.simulate import TABLE_NAMES, SimulatedBusiness, simulate
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.schema import SCHEMA

SEED = 11
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "a"
    simulate(customers=600, months=24, seed=SEED, out=out)
    return out


@pytest.fixture(scope="module")
def biz() -> SimulatedBusiness:
    return simulate(customers=600, months=24, seed=SEED)


@pytest.fixture(scope="module")
def raw(folder: Path) -> dict[str, pd.DataFrame]:
    """Every CSV read back as text, exactly as written."""
    return {
        name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False) for name in TABLE_NAMES
    }


@pytest.fixture(scope="module")
def truth(folder: Path) -> dict:
    return json.loads((folder / "truth.json").read_text(encoding="utf-8"))


def utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def customer_truth(truth: dict) -> pd.DataFrame:
    df = pd.DataFrame.from_dict(truth["customers"], orient="index")
    for col in ("acquired_at", "dropped_out_at", "pattern_at"):
        df[col] = utc(df[col])
    return df


def order_values(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order with positive lines: customer, time, value."""
    o = orders.assign(value=orders["quantity"] * orders["unit_price"])
    o = o[o["quantity"] > 0]
    return o.groupby("order_id").agg(
        customer_id=("customer_id", "first"), at=("ordered_at", "first"), value=("value", "sum")
    )


# --- reproducibility ------------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes(folder: Path, tmp_path: Path) -> None:
    again = tmp_path / "b"
    simulate(customers=600, months=24, seed=SEED, out=again)
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{t}.csv" for t in TABLE_NAMES] + ["truth.json"])
    for name in names:
        assert (folder / name).read_bytes() == (again / name).read_bytes(), name


def test_different_seed_differs(folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "c"
    simulate(customers=600, months=24, seed=SEED + 1, out=other)
    for name in ("customers.csv", "orders.csv", "time_logs.csv", "truth.json"):
        assert (folder / name).read_bytes() != (other / name).read_bytes(), name


def test_output_does_not_depend_on_the_clock(truth: dict) -> None:
    assert truth["start"] == "2024-01-01T00:00:00Z"
    assert truth["end"] == "2026-01-01T00:00:00Z"
    assert truth["seed"] == SEED


# --- the data contract ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_file_honours_the_contract(raw: dict[str, pd.DataFrame], name: str) -> None:
    df = raw[name]
    spec = SCHEMA[name]
    assert list(df.columns) == spec.column_names
    assert len(df) > 0
    for col in spec.columns:
        values = df[col.name]
        present = values[values != ""]
        if col.required:
            assert len(present) == len(values), f"{name}.{col.name} has empty required values"
        if col.type == "timestamp":
            assert present.str.match(ISO_Z).all(), f"{name}.{col.name}: not ISO 8601 with Z"
            assert utc(present).notna().all()
        elif col.type == "money":
            assert present.str.match(MONEY).all(), f"{name}.{col.name}: not a 2-decimal amount"
            amounts = present.map(Decimal)
            if col.min_value is not None:
                assert (amounts >= Decimal(str(col.min_value))).all(), f"{name}.{col.name} below minimum"
        elif col.type in ("quantity", "minutes"):
            numbers = pd.to_numeric(present)
            assert (numbers == numbers.round()).all()
            if col.min_value is not None:
                assert (numbers >= col.min_value).all()
        elif col.type == "currency":
            assert set(present) == {"USD"}
        elif col.type == "boolean":
            assert set(present) <= {"true", "false"}
        if col.allowed:
            assert set(present) <= set(col.allowed), f"{name}.{col.name}: {set(present) - set(col.allowed)}"
    assert not df.duplicated(list(spec.key)).any(), f"{name}: duplicate key {spec.key}"


def test_foreign_keys_resolve(raw: dict[str, pd.DataFrame]) -> None:
    customers = set(raw["customers"]["customer_id"])
    for name in TABLE_NAMES:
        if "customer_id" in raw[name].columns and name != "customers":
            assert set(raw[name]["customer_id"]) <= customers, name
    referred = raw["advocacy"]["referred_customer_id"]
    assert set(referred[referred != ""]) <= customers
    assert set(raw["orders"]["product_id"]) <= set(raw["products"]["product_id"])
    assert set(raw["time_logs"]["staff_id"]) <= set(raw["staff_rates"]["staff_id"])


def test_orders_carry_product_cost_and_a_few_returns(raw: dict[str, pd.DataFrame]) -> None:
    orders = raw["orders"].merge(
        raw["products"][["product_id", "unit_cost", "category"]], on="product_id", suffixes=("", "_product")
    )
    assert (orders["unit_cost"] == orders["unit_cost_product"]).all()
    assert (orders["category"] == orders["category_product"]).all()
    qty = pd.to_numeric(orders["quantity"])
    assert 0.01 < (qty < 0).mean() < 0.06
    assert set(pd.to_numeric(orders["line_no"])) == {1, 2, 3, 4}
    assert 4 <= orders["category"].nunique() <= 6
    counts = raw["products"].groupby("category").size()
    assert counts.between(5, 20).all()


def test_a_return_follows_a_purchase_of_the_same_product(biz: SimulatedBusiness) -> None:
    o = biz.orders
    returns = o[o["quantity"] < 0]
    bought = o[o["quantity"] > 0].groupby(["customer_id", "product_id"])["ordered_at"].min()
    first = bought.reindex(pd.MultiIndex.from_frame(returns[["customer_id", "product_id"]]))
    assert first.notna().all()
    assert (first.to_numpy() < returns["ordered_at"].to_numpy()).all()


def test_staff_rates_change_mid_month(biz: SimulatedBusiness) -> None:
    rates = biz.staff_rates
    assert rates["staff_id"].nunique() == 5
    changes = rates[rates["valid_from"] > rates["valid_from"].min()]
    assert len(changes) >= 1
    assert (changes["valid_from"].dt.day == 15).all()
    assert rates["practical_minutes_per_month"].gt(0).all()


def test_consent_revocations_follow_grants(biz: SimulatedBusiness) -> None:
    c = biz.consent
    revoked = c.dropna(subset=["revoked_at"])
    assert len(revoked) > 0
    assert (revoked["revoked_at"] > revoked["granted_at"]).all()
    without = set(biz.customers["customer_id"]) - set(c["customer_id"])
    assert 0 < len(without) < 0.1 * len(biz.customers)


def test_the_dataframes_are_what_was_written(biz: SimulatedBusiness, raw: dict[str, pd.DataFrame]) -> None:
    for name in TABLE_NAMES:
        assert len(biz.tables[name]) == len(raw[name]), name
    assert (
        biz.orders["unit_price"].round(2).map("{:.2f}".format).tolist()
        == raw["orders"]["unit_price"].tolist()
    )


# --- truth matches the data -----------------------------------------------------------------------------
def test_nothing_happens_after_a_customer_dropped_out(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    dropped = t[t["dropped_out"]]
    assert 0.2 < len(dropped) / len(t) < 0.7
    assert set(dropped["dropout_cause"]) == {"natural", "incident", "stopped_regular"}
    for name, column in (("orders", "ordered_at"), ("time_logs", "started_at"), ("incidents", "opened_at")):
        df = biz.tables[name].merge(dropped[["dropped_out_at"]], left_on="customer_id", right_index=True)
        assert (df[column] <= df["dropped_out_at"]).all(), name
    alive = t[~t["dropped_out"]]
    assert alive["dropped_out_at"].isna().all()


def test_truth_totals_match_the_records(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    o = biz.orders
    revenue = (o["quantity"] * o["unit_price"]).groupby(o["customer_id"]).sum()
    cogs = (o["quantity"] * o["unit_cost"]).groupby(o["customer_id"]).sum()
    np.testing.assert_allclose(t["revenue"], revenue.reindex(t.index, fill_value=0), atol=0.005)
    np.testing.assert_allclose(t["cogs"], cogs.reindex(t.index, fill_value=0), atol=0.005)
    # cost to serve: minutes x the rate of that staff member valid when the work started
    logs = biz.time_logs.sort_values("started_at")
    rates = biz.staff_rates.sort_values("valid_from")
    priced = pd.merge_asof(logs, rates, left_on="started_at", right_on="valid_from", by="staff_id")
    cost = (priced["minutes"] * priced["hourly_cost"] / 60).groupby(priced["customer_id"]).sum()
    np.testing.assert_allclose(t["cost_to_serve"], cost.reindex(t.index, fill_value=0), atol=0.001)
    i = biz.incidents
    conc = i["concession_amount"].fillna(0).groupby(i["customer_id"]).sum()
    np.testing.assert_allclose(t["concessions"], conc.reindex(t.index, fill_value=0), atol=0.005)
    operating = t["revenue"] - t["cogs"] - t["cost_to_serve"] - t["concessions"]
    np.testing.assert_allclose(t["operating_profit"], operating, atol=0.02)
    np.testing.assert_allclose(t["lifetime_profit"], operating + t["advocacy_value"], atol=0.02)
    monthly = sum(row[0] for rows in t["monthly"] for row in rows.values())
    assert monthly == pytest.approx(t["revenue"].sum(), abs=1.0)


def test_heavy_cost_customers_take_far_more_time(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    assert set(truth["patterns"]["heavy_cost"]) == set(t.index[t["heavy_cost"]])
    minutes = biz.time_logs.groupby("customer_id")["minutes"].sum().reindex(t.index, fill_value=0)
    assert (minutes == t["minutes"]).all()
    assert minutes[t["heavy_cost"]].mean() > 3 * minutes[~t["heavy_cost"]].mean()
    assert biz.time_logs["customer_id"].nunique() > 0.5 * len(t)
    assert {"call", "visit", "quote"} <= set(biz.time_logs["activity"])


def test_aov_decline_customers_spend_less_in_the_last_three_months(
    biz: SimulatedBusiness, truth: dict
) -> None:
    ids = truth["patterns"]["aov_decline"]
    assert len(ids) >= 10
    starts = truth["patterns"]["starts"]["aov_decline"]
    values = order_values(biz.orders)
    for cid in ids:
        at = pd.Timestamp(starts[cid])
        assert at == pd.Timestamp("2025-10-01T00:00:00Z")
        mine = values[values["customer_id"] == cid]
        before, after = mine[mine["at"] < at], mine[mine["at"] >= at]
        assert len(before) >= 5 and len(after) >= 1
        assert after["value"].mean() < 0.8 * before["value"].mean(), cid
        # the frequency is kept: still buying in the last month
        assert mine["at"].max() >= pd.Timestamp("2025-11-01T00:00:00Z")
    assert not customer_truth(truth).loc[ids, "dropped_out"].any()


def test_stopped_regular_customers_were_regular_and_then_stopped(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    ids = truth["patterns"]["stopped_regular"]
    assert len(ids) >= 10
    end = pd.Timestamp(truth["end"])
    values = order_values(biz.orders)
    for cid in ids:
        stop = pd.Timestamp(truth["patterns"]["starts"]["stopped_regular"][cid])
        assert t.loc[cid, "dropped_out_at"] == stop and t.loc[cid, "dropout_cause"] == "stopped_regular"
        assert pd.Timedelta(days=58) <= end - stop <= pd.Timedelta(days=155)
        times = values.loc[values["customer_id"] == cid, "at"].sort_values()
        assert times.max() <= stop
        assert times.max() - times.min() >= pd.Timedelta(days=300)
        gaps = times.diff().dropna().dt.total_seconds() / 86400
        assert gaps.between(20, 40).all(), cid
    # the control: regular buyers who never stopped are still buying at the end
    for cid in truth["patterns"]["regular"]:
        times = values.loc[values["customer_id"] == cid, "at"]
        assert end - times.max() <= pd.Timedelta(days=40)
        assert not t.loc[cid, "dropped_out"]


def test_dropped_category_customers_stop_one_range_only(biz: SimulatedBusiness, truth: dict) -> None:
    planted = truth["patterns"]["dropped_category"]
    assert len(planted) >= 10
    o = biz.orders[biz.orders["quantity"] > 0]
    for p in planted:
        at = pd.Timestamp(p["at"])
        assert pd.Timedelta(days=85) <= pd.Timestamp(truth["end"]) - at <= pd.Timedelta(days=190)
        mine = o[o["customer_id"] == p["customer_id"]]
        same = mine[mine["category"] == p["category"]]
        assert (same["ordered_at"] < at).all()
        assert (mine.loc[mine["category"] != p["category"], "ordered_at"] >= at).any()
        months = pd.period_range(mine["ordered_at"].min().tz_localize(None), at.tz_localize(None), freq="M")
        bought = same["ordered_at"].dt.tz_localize(None).dt.to_period("M").nunique()
        assert bought >= 0.6 * (len(months) - 1), p


def test_pattern_groups_are_disjoint_and_control_is_the_rest(truth: dict) -> None:
    pats = truth["patterns"]
    groups = [
        set(pats["aov_decline"]),
        set(pats["stopped_regular"]),
        {p["customer_id"] for p in pats["dropped_category"]},
    ]
    assert sum(len(g) for g in groups) == len(set().union(*groups))
    assert set(pats["control"]) == set(truth["customers"]) - set().union(*groups)


def test_referred_customers_joined_after_the_referral(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    refs = biz.advocacy[biz.advocacy["kind"] == "referral"]
    assert len(refs) > 10
    joined = t.loc[refs["referred_customer_id"], "acquired_at"].to_numpy()
    assert (joined > refs["at"].to_numpy()).all()
    assert (
        t.loc[refs["referred_customer_id"], "referred_by"].to_numpy() == refs["customer_id"].to_numpy()
    ).all()
    referrer_joined = t.loc[refs["customer_id"], "acquired_at"].to_numpy()
    assert (referrer_joined < refs["at"].to_numpy()).all()
    assert (t["referred_by"].notna() == (t["channel"] == "referral")).all()
    assert {"case_study", "review"} <= set(biz.advocacy["kind"])


def test_incidents_with_truth_and_real_consequences(biz: SimulatedBusiness, truth: dict) -> None:
    inc = biz.incidents.set_index("incident_id")
    ti = pd.DataFrame.from_dict(truth["incidents"], orient="index")
    assert list(ti.index) == list(inc.index)
    assert set(inc["category"]) == {"late", "damaged", "billing", "quality"}
    assert (ti["concession_granted"] == inc["concession_amount"].notna()).all()
    assert ti["concession_granted"].any() and not ti["concession_granted"].all()
    assert (ti["p_leave_with_concession"] <= ti["p_leave_without_concession"]).all()
    assert ti["p_leave_without_concession"].std() > 0.02  # heterogeneous
    assert (ti["left_if_conceded"] <= ti["left_if_refused"]).all()
    resolved = inc[inc["status"] != "open"]
    assert (resolved["resolved_at"] >= resolved["opened_at"]).all()
    assert inc.loc[inc["status"] == "open", "concession_amount"].isna().all()
    t = customer_truth(truth)
    caused = ti[ti["caused_exit"]]
    assert len(caused) > 0
    for iid, row in caused.iterrows():
        left = t.loc[row["customer_id"]]
        assert left["dropout_cause"] == "incident"
        gap = left["dropped_out_at"] - inc.loc[iid, "opened_at"]
        assert pd.Timedelta(days=2) <= gap <= pd.Timedelta(days=12)
        assert row["left_if_conceded" if row["concession_granted"] else "left_if_refused"]
        assert row["outcome"] == "left"
    assert (t["dropout_cause"] == "incident").sum() == len(caused)


def test_exits_for_most_lost_customers(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    ex = biz.exits.set_index("customer_id")
    lost = t[t["dropped_out"]]
    assert set(ex.index) <= set(lost.index)
    assert 0.6 < len(ex) / len(lost) < 0.9
    assert (t.loc[ex.index, "exit_recorded"]).all()
    assert (ex["lost_at"] >= lost.loc[ex.index, "dropped_out_at"]).all()
    known = ex[ex["reason_code"] != "unknown"]
    assert (known["reason_code"] == lost.loc[known.index, "true_reason"]).all()
    assert ex["competitor"].notna().any()
    assert not lost.loc[lost["true_reason"].isin(["moved", "closed"]), "winnable"].any()
    assert (lost.loc[~lost["winnable"].astype(bool), "p_winback"] == 0).all()
    assert lost.loc[lost["winnable"].astype(bool), "p_winback"].between(0, 1).all()
    assert t.loc[~t["dropped_out"], "true_reason"].isna().all()


def test_winback_attempts_follow_the_truth(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    wb = biz.winback_attempts.set_index("customer_id")
    assert wb.index.is_unique and len(wb) > 50
    lost = t[t["dropped_out"]]
    assert set(wb.index) <= set(lost.index)
    # attempted 30-120 days after leaving, before the end
    gap = (wb["attempted_at"] - lost.loc[wb.index, "dropped_out_at"]).dt.total_seconds() / 86400
    assert gap.between(29.9, 126).all()
    assert (wb["attempted_at"] < pd.Timestamp(truth["end"])).all()
    # moved or closed customers never come back; the reason is the one the business recorded
    gone = lost.loc[wb.index, "true_reason"].isin(["moved", "closed"])
    assert not wb.loc[gone.to_numpy(), "won_back"].any()
    ex = biz.exits.set_index("customer_id")["reason_code"]
    expected = ex.reindex(wb.index).fillna("unknown")
    assert (wb["reason_code"] == expected).all()
    # truth records the same attempts and outcomes
    assert (t.loc[wb.index, "won_back"].astype(bool) == wb["won_back"]).all()
    assert t.drop(index=wb.index)["won_back"].isna().all()
    # outcomes are draws with p_winback: the count won back is within 4 sd of its expectation
    p = t.loc[wb.index, "p_winback"].to_numpy(float)
    assert abs(wb["won_back"].sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum())
    costs = {r: v["cost"] for r, v in truth["params"]["winback_offers"].items()}
    assert (wb["cost"] == wb["reason_code"].map(costs)).all()


def test_wins_record_why_customers_chose_the_business(biz: SimulatedBusiness, truth: dict) -> None:
    t = customer_truth(truth)
    wins = biz.wins.set_index("customer_id")
    assert 0.5 < len(wins) / len(t) < 0.7
    assert set(wins["reason_code"]) <= set(truth["params"]["win_reasons"])
    assert (wins["reason_code"] == t.loc[wins.index, "win_reason"]).all()
    assert (wins["won_at"] == t.loc[wins.index, "acquired_at"]).all()
    referral = t.loc[wins.index, "channel"] == "referral"
    assert (wins.loc[referral.to_numpy(), "reason_code"] == "recommendation").mean() > 0.6
    assert (wins.loc[~referral.to_numpy(), "reason_code"] == "recommendation").mean() < 0.1


def test_base_customers_record_their_pareto_nbd_draws(truth: dict) -> None:
    t = customer_truth(truth)
    base = t[t["cohort"] == "base"]
    assert base["lambda_per_week"].gt(0).all() and base["mu_per_week"].gt(0).all()
    assert t.loc[t["cohort"] != "base", "mu_per_week"].isna().all()
    assert truth["params"]["pareto_nbd"]["unit"] == "week"
    assert set(truth["params"]["gamma_gamma"]) == {"p", "q", "v"}
    spend = truth["params"]["gamma_gamma"]
    assert base["mean_spend"].to_numpy() == pytest.approx(spend["p"] / base["nu"].to_numpy(), abs=0.01)


# --- options ---------------------------------------------------------------------------------------------
def test_short_periods_plant_no_patterns() -> None:
    biz = simulate(customers=100, months=6, seed=1)
    pats = biz.truth["patterns"]
    assert pats["aov_decline"] == pats["stopped_regular"] == pats["dropped_category"] == []
    assert biz.truth["end"] == "2024-07-01T00:00:00Z"


def test_start_moves_everything(tmp_path: Path) -> None:
    biz = simulate(customers=50, months=12, seed=2, start="2023-03-01")
    assert biz.truth["start"] == "2023-03-01T00:00:00Z"
    assert biz.orders["ordered_at"].min() >= pd.Timestamp("2023-03-01T00:00:00Z")
    assert biz.orders["ordered_at"].max() < pd.Timestamp("2024-03-01T00:00:00Z")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be a whole number of at least 1, not 0"),
        ({"months": 0}, "months must be a whole number of at least 1, not 0"),
        ({"seed": -1}, "seed must be a whole number of at least 0, not -1"),
        ({"start": "2024-13-01"}, "start must be a date like 2024-01-01, not '2024-13-01'"),
    ],
)
def test_bad_options_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(KeepwiseInputError, match=re.escape(message)):
        simulate(**kwargs)


def test_cli_writes_the_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from keepwise.cli import app

    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--customers",
            "80",
            "--months",
            "12",
            "--seed",
            "4",
            "--out",
            str(tmp_path / "d"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rows"]["customers"] == 80
    assert (tmp_path / "d" / "truth.json").exists()


def test_a_simulated_folder_loads_cleanly_into_a_fresh_store(folder: Path, store, raw) -> None:
    from keepwise.store.ingest import load_path

    results = load_path(store, folder, show_progress=False)
    assert {r.table for r in results} == set(TABLE_NAMES)
    for name in TABLE_NAMES:
        count = store.con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        assert count == len(raw[name]), name
