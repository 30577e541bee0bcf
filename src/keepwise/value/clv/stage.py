"""The CLV stage: value every customer from the store and keep the values in the ``clv`` table.

:func:`run` fits the purchase model (BG/NBD by default) and the Gamma-Gamma spend model on the compressed
histograms computed in the engine, scores the unique tuples, joins the scores back to customers in the
engine and writes one row per customer through the :class:`~keepwise.store.Store` (a rerun for the same
history date and model replaces its rows). The horizon and the discount rate come from ``[clv]`` of
``keepwise.toml`` unless given. ``keepwise clv`` is this function and a printer.

On real data:

* Orders worth $0 (free items, full discounts) are purchase occasions for the purchase model, but the
  Gamma-Gamma spend model takes every purchase to be worth more than 0: customers with a repeat purchase worth
  0 are left out of its fit. They are still valued by their own mean spend (shrunk to the population's, as
  everyone is), except those whose repeat purchases average 0, who get the population's mean spend per
  purchase, as a customer without repeat purchases does: their purchases say nothing about what they will
  pay, and a value of 0 would claim more than the data shows. The ``notes`` say how many.
* A customer with a recorded exit (``exits.lost_at`` on or before the history date and on or after their
  last purchase day) has P(alive) 0, no expected purchases, a value of 0 and no next purchase date.
* The expected next purchase date is left empty where P(alive) is below ``[clv] next_purchase_min_p_alive``
  (default 0.05), and where the model's mean wait is infinite (``r + x <= 1``).
* Without unit costs the margin rate is 100% (CLV in revenue) unless ``--margin`` or ``[value]
  default_margin_rate`` gives one; the notes say which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.exports import write_csv
from keepwise.features import order_lines
from keepwise.features.btyd import (
    customer_summary,
    exited_after_last_purchase,
    histogram,
    purchase_days_until,
)
from keepwise.features.covariates import covariate_histogram
from keepwise.store import Store, as_store
from keepwise.store.inventory import Inventory, Note, inventory
from keepwise.value.clv.lifetime import customer_lifetime_value, uses_dert
from keepwise.value.fitting import (
    PURCHASE_MODELS,
    covariate_effects,
    covariate_spec,
    fit_spend,
    fit_with_covariates,
    new_model,
)

__all__ = ["TABLE", "ClvResult", "margin_rate", "model_label", "run", "save_clv"]

#: The table the stage writes.
TABLE = "clv"


@dataclass
class ClvResult:
    """What one CLV run computed.

    Attributes
    ----------
    document:
        The figures ``keepwise clv --json`` prints (:meth:`to_json`), with ``notes``: what the run lacked or
        left out and what it did instead (:class:`~keepwise.store.inventory.Note` as JSON).
    values:
        One row per customer (Ibis, in the engine): ``customer_id``, the covariates, ``x``, ``t_x``, ``T``,
        ``p_alive``, ``expected_purchases``, ``next_purchase_date``, ``expected_spend``, ``clv`` and, with
        draws, ``clv_lower``, ``clv_upper``; highest value first.
    purchase_model, spend_model:
        The fitted models.
    notes:
        The notes themselves (the human output prints them).
    """

    document: dict[str, Any]
    values: Any
    purchase_model: Any
    spend_model: Any
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise clv --json`` prints."""
        return self.document


def margin_rate(store: Store, end: date) -> tuple[float, str]:
    """Share of revenue that is margin, and the currency, over the orders up to ``end`` (in the engine)."""
    store = as_store(store)
    before = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    lines = order_lines(store, before=before)
    raw = store.table("orders")
    currencies = store.to_pandas(raw.select("currency").distinct())["currency"].dropna().tolist()
    if len(currencies) > 1:
        raise KeepwiseInputError(
            f"orders are in several currencies ({', '.join(sorted(currencies))}): CLV needs one; load one "
            "currency per store"
        )
    tot = store.to_pandas(lines.aggregate(rev=lines.revenue.sum(), mar=lines.margin.sum())).iloc[0]
    rev = float(tot["rev"] or 0)
    rate = float(tot["mar"] or 0) / rev if rev > 0 else 1.0
    return rate, (currencies[0] if currencies else "")


def model_label(model: str, names: list[str], on: list[str] | None) -> str:
    """The clv table's ``model`` of a run, e.g. ``bgnbd ~ channel,segment on alpha``.

    A rerun replaces only the rows of the same label.
    """
    if not names:
        return model
    return f"{model} ~ {','.join(names)}" + (f" on {','.join(on)}" if on else "")


def run(
    store: Store,
    *,
    config: Config | None = None,
    save: bool = True,
    model: str = "bgnbd",
    horizon_months: int | None = None,
    discount_rate: float | None = None,
    margin: float | None = None,
    as_of: date | None = None,
    time_unit: str = "week",
    draws: int = 100,
    method: str = "auto",
    covariates: list[str] | None = None,
    covariates_on: list[str] | None = None,
    covariates_file: Path | None = None,
    out: Path | None = None,
) -> ClvResult:
    """Customer lifetime value of every customer: discounted expected purchases x expected spend x margin.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is accepted too).
    config:
        Settings; ``None`` reads ``keepwise.toml`` from the working directory.
    save:
        Write the values to the ``clv`` table, replacing the rows of the same history date and model.
    model:
        Purchase model: one of :data:`keepwise.value.fitting.PURCHASE_MODELS`.
    horizon_months, discount_rate:
        Months ahead and annual discount rate; ``None``: ``[clv] horizon_months`` and
        ``[clv] discount_rate`` of the settings.
    margin:
        Share of revenue that is margin; ``None``: measured from the orders.
    as_of:
        Last day of history to use; ``None``: the last order's day.
    time_unit:
        The models' time unit, ``"week"`` or ``"day"``.
    draws:
        Parameter draws for the 95% intervals (0: none).
    method:
        Discounting: ``"auto"``, ``"monthly"`` or ``"dert"`` (see :func:`customer_lifetime_value`).
    covariates, covariates_on, covariates_file:
        Fit the purchase model with these customer columns (of ``covariates_file`` or the ``customers``
        table) acting on these parameters, and value each customer with his own parameters.
    out:
        Also write one row per customer to this ``.csv`` or ``.parquet`` file.

    Returns
    -------
    ClvResult
        ``to_json()`` is what ``keepwise clv --json`` prints.
    """
    store = as_store(store)
    cfg = config or load_config()
    settings = cfg.clv
    horizon = settings.horizon_months if horizon_months is None else horizon_months
    rate = settings.discount_rate if discount_rate is None else discount_rate
    if model not in PURCHASE_MODELS:
        raise BadInput("model", f"must be one of {', '.join(PURCHASE_MODELS)}", model)
    if not np.isfinite(rate) or rate <= -1:
        raise BadInput("discount_rate", "must be above -1 (e.g. 0.1 for 10% a year)")
    if margin is not None and not 0 <= margin <= 1:
        raise BadInput("margin", "must be a share between 0 and 1")
    if out is not None and out.suffix.lower() not in (".csv", ".parquet"):
        raise BadInput("out", "must name a .csv or .parquet file")
    names = list(covariates or [])
    on = covariates_on or None
    purchase: Any = new_model(model)
    if names:
        covariate_spec(purchase, names, on)  # fail early on a wrong parameter
    label = model_label(model, names, on)
    z: Any = None
    references: dict[str, Any] = {}
    inv = inventory(store)
    notes: list[Note] = []

    days, end = purchase_days_until(store, as_of)
    if as_of is None:
        notes.append(
            Note(
                "as_of",
                "none given",
                f"valued as of {end.isoformat()}, the last day with an order in the data",
            )
        )
    summary = customer_summary(days, end, time_unit)
    spend, left_out, _ = fit_spend(summary)
    notes += [left_out] if left_out is not None else []
    if names:
        # score each unique (x, t_x, T, zbar, covariates) once; fit on the same rows (same likelihood)
        summary, keys, source = covariate_histogram(
            store, summary, ["x", "t_x", "T", "zbar"], names, covariates_file
        )
        z, references = fit_with_covariates(
            purchase, keys, ("x", "t_x", "T"), names, source, on, keys["count"]
        )
    else:
        rft = histogram(summary, ["x", "t_x", "T"])
        purchase.fit(rft["x"], rft["t_x"], rft["T"], weights=rft["count"])
        # score each unique (x, t_x, T, zbar) once, then join back to customers in the engine
        keys = histogram(summary, ["x", "t_x", "T", "zbar"])
    share, share_source, currency = _margin(store, end, margin, inv, cfg, notes)
    scored = customer_lifetime_value(
        purchase,
        spend,
        keys["x"],
        keys["t_x"],
        keys["T"],
        keys["zbar"],
        horizon_months=horizon,
        discount_rate=rate,
        time_unit=time_unit,
        margin=share,
        n_draws=draws,
        method=method,
        covariates=z,
    )
    key_cols = ["x", "t_x", "T", "zbar", *names]
    scored = pd.concat([keys[key_cols].reset_index(drop=True), scored], axis=1)
    threshold = settings.next_purchase_min_p_alive
    dates = _next_purchase(purchase, z, keys, end, time_unit)
    scored["next_purchase_date"] = dates.where(scored["p_alive"].to_numpy() >= threshold)
    joined = summary.inner_join(ibis.memtable(scored), key_cols)
    cols = ["customer_id", *names, "x", "t_x", "T", "p_alive", "expected_purchases", "next_purchase_date"]
    cols += ["expected_spend", "clv"]
    cols += ["clv_lower", "clv_upper"] if draws > 0 else []
    exits_note = inv.note(
        "exits",
        instead="P(alive) comes from the purchase model alone: no customer is known to have left, so "
        "nobody's value is set to 0 for a recorded exit",
    )
    notes += [exits_note] if exits_note is not None else []
    flagged = _with_exits(joined, exited_after_last_purchase(store, days, end), cols)
    values = flagged.select(cols).order_by([ibis.desc("clv"), "customer_id"])
    counts = _totals(store, flagged, scored, keys["count"].to_numpy(dtype=float), key_cols)
    n_customers, total = counts["n"], counts["total"]
    if out is not None:
        if out.suffix.lower() == ".csv":
            write_csv(values, out)
        else:
            values.to_parquet(out)
    saved = 0
    if save:
        run_of = {"as_of": end, "model": label, "horizon_months": horizon, "discount_rate": rate}
        saved = save_clv(store, store.to_pandas(values), run_of, currency)
    doc = {
        "model": model,
        "spend_model": "gamma-gamma",
        "as_of": end.isoformat(),
        "time_unit": time_unit,
        "horizon_months": horizon,
        "discount_rate": rate,
        "margin_rate": share,
        "margin_rate_source": share_source,
        "currency": currency,
        "n_customers": n_customers,
        "total_clv": total,
        "mean_clv": total / n_customers if n_customers else 0.0,
        "exited_customers": counts["exited"],
        "next_purchase_min_p_alive": threshold,
        "without_next_purchase_date": counts["undated"],
        "params": purchase.params_,
        "spend_params": spend.params_,
        "clv_model": label,
        "discounting": "continuous (DERT)" if uses_dert(purchase, method) else "monthly",
        "out": str(out) if out is not None else None,
        "table": TABLE if saved else None,
        "rows_saved": saved,
    }
    if names:
        doc["covariates"] = covariate_effects(purchase)
        doc["reference_levels"] = references
    doc["assumptions"] = _assumptions(cfg, horizon, rate)
    doc["notes"] = [n.to_json() for n in notes]
    return ClvResult(doc, values, purchase, spend, notes)


def _margin(
    store: Store, end: date, margin: float | None, inv: Inventory, cfg: Config, notes: list[Note]
) -> tuple[float, str, str]:
    """The margin rate to value with, where it came from, and the currency; a note when costs are missing."""
    measured, currency = margin_rate(store, end)
    if margin is not None:
        return margin, "--margin", currency
    if inv.has("orders.unit_cost"):
        return measured, "measured from orders", currency
    default = getattr(cfg.value, "default_margin_rate", None)  # [value] default_margin_rate, when set
    if default is not None:
        share = float(default)
        notes.append(
            Note(
                "orders.unit_cost",
                "no unit costs recorded",
                f"CLV is margin at [value] default_margin_rate = {share:.0%} of revenue",
            )
        )
        return share, "[value] default_margin_rate (no unit costs recorded)", currency
    notes.append(
        Note(
            "orders.unit_cost",
            "no unit costs recorded",
            "CLV shown is revenue, not margin (margin rate 100%); give --margin or set [value] "
            "default_margin_rate",
        )
    )
    return measured, "no unit costs recorded: CLV is revenue", currency


def _with_exits(joined: Any, exited: Any | None, cols: list[str]) -> Any:
    """``joined`` with ``exited`` (bool) and, for customers with a recorded exit, nothing more expected.

    Their P(alive), expected purchases and value (and its interval) are 0 and they have no next purchase
    date: the store records that they left after their last purchase.
    """
    if exited is None:
        return joined.mutate(exited=ibis.literal(False))
    e = exited.select(exit_id=exited.customer_id, exit_at=exited.lost_at)
    j = joined.left_join(e, joined.customer_id == e.exit_id)
    gone = j.exit_at.notnull()
    zeroed = {
        c: ibis.ifelse(gone, ibis.literal(0.0), j[c])
        for c in ("p_alive", "expected_purchases", "clv", "clv_lower", "clv_upper")
        if c in cols
    }
    no_date = ibis.null().cast(j.next_purchase_date.type())
    return j.mutate(
        exited=gone, next_purchase_date=ibis.ifelse(gone, no_date, j.next_purchase_date), **zeroed
    ).drop("exit_id", "exit_at")


def _totals(
    store: Store, flagged: Any, scored: pd.DataFrame, weights: np.ndarray, key_cols: list[str]
) -> dict[str, Any]:
    """Customers, total value, exited customers and customers without a date, summed in a fixed order.

    Sums run over the unique tuples in Python (the engine's sum of floats may differ in its last bits from
    run to run); only the exited customers per tuple come from the engine.
    """
    gone = flagged.filter(flagged.exited)
    per_key = store.to_pandas(gone.group_by(key_cols).aggregate(n_exited=gone.count()))
    merged = scored.reset_index(drop=True).assign(_w=weights, _row=np.arange(len(scored)))
    merged = merged.merge(per_key, on=key_cols, how="left").sort_values("_row", kind="stable")
    n_exited = merged["n_exited"].fillna(0).to_numpy(dtype=float)
    clv = merged["clv"].to_numpy(dtype=float)
    undated = merged["next_purchase_date"].isna().to_numpy()
    return {
        "n": int(weights.sum()),
        "total": float(np.dot(weights, clv) - np.dot(n_exited, clv)),
        "exited": int(n_exited.sum()),
        "undated": int((weights - n_exited)[undated].sum()),
    }


def _assumptions(cfg: Config, horizon: int, rate: float) -> list[dict[str, Any]]:
    """The ``[clv]`` figures the run used (:func:`keepwise.config.used`), with options that overrode them."""
    rows = used(cfg, "clv")
    given = {"clv.horizon_months": horizon, "clv.discount_rate": rate}
    for row in rows:
        if row["name"] in given and given[row["name"]] != row["value"]:
            row["value"], row["from"] = given[row["name"]], "option"
    return rows


def _next_purchase(purchase: Any, z: Any, keys: pd.DataFrame, end: date, time_unit: str) -> pd.DatetimeIndex:
    """Expected date of the next purchase if the customer stays alive (NaT: infinite mean wait)."""
    from keepwise.models.data import days_per_unit

    wait = purchase._time_to_next(
        purchase._params_for(z, len(keys)),
        keys["x"].to_numpy(float),
        keys["t_x"].to_numpy(float),
        keys["T"].to_numpy(float),
    )
    wait_days = np.where(np.isfinite(wait), wait * days_per_unit(time_unit), np.nan)
    return pd.Timestamp(end) + pd.to_timedelta(np.round(wait_days), unit="D")


def save_clv(store: Store, rows: pd.DataFrame, run: dict[str, Any], currency: str) -> int:
    """Replace the clv table's rows of this run's history date and model by ``rows``, in one transaction.

    ``run`` holds ``as_of`` (a date, stored as midnight UTC), ``model`` (the label), ``horizon_months`` and
    ``discount_rate``. Amounts are stored as ``DECIMAL(18, 4)`` in ``currency``; the expected next purchase
    date, a day, as midnight UTC. Returns the rows written.
    """
    store = as_store(store)
    day = pd.Timestamp(run["as_of"].isoformat(), tz="UTC")
    table = pd.DataFrame(
        {
            "customer_id": rows["customer_id"],
            "as_of": day,
            "model": run["model"],
            "horizon_months": run["horizon_months"],
            "discount_rate": float(run["discount_rate"]),
            "p_alive": rows["p_alive"],
            "expected_purchases": rows["expected_purchases"],
            "next_purchase_date": _utc(rows["next_purchase_date"]),
            "expected_spend": rows["expected_spend"],
            "clv": rows["clv"],
        }
    )
    for col in ("clv_lower", "clv_upper"):
        if col in rows.columns:
            table[col] = rows[col]
    table["currency"] = currency or None
    table["computed_at"] = datetime.now(UTC)
    with store.transaction():
        if store.has_table(TABLE):
            store.delete(TABLE, {"as_of": day, "model": run["model"]})
        store.append(TABLE, table)
    return len(table)


def _utc(column: pd.Series) -> pd.Series:
    """Timestamps as UTC instants (naive ones are taken to be in UTC)."""
    ts = pd.to_datetime(column)
    return ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
