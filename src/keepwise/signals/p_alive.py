"""Warning ``p_alive_drop`` and the P(alive) scores the other rules use, from the BG/NBD purchase model.

The rule
--------
Fit the BG/NBD model (Fader, Hardie and Lee 2005; :mod:`keepwise.models`) on the customers' repeat purchases
(distinct purchase days, time in weeks; a seeded sample of :data:`MAX_FIT` customers when there are more) up
to the end of the review month, and score P(alive) at the end of the review month and at the end of the month
before with the same parameters. The warning fires when P(alive) fell below :data:`THRESHOLD` (0.5) this
month, having been at or above it a month earlier, for a customer with at least :data:`MIN_REPEAT` repeat
purchases (for one-time buyers P(alive) under BG/NBD is always 1).

False-alarm rate: the model is what defines "alive", so the rule inherits its calibration. Measured on the
simulator (``tests/signals/test_accuracy.py``, 10,000 customers, seed 11) it flags 0.31% of the customers who
had not dropped out in the review month (31 warnings, 12 of them customers who really had dropped out); the
test asserts the rate stays below 1%. The simulator plants no pattern for this rule, so its recall is not
measured.

A customer with a recorded exit after their last purchase (``exits``, the lost-customer ledger's "lost
explicitly") has P(alive) 0 from the moment of the exit, whatever the model says: the store knows they left.
Their score is 0 at the end of the month of the exit and after it (``p_alive_prev`` too when the exit came
before the review month). Without exits P(alive) comes from the purchase model alone.

When :mod:`keepwise.models` is not installed or the fit fails (also with a small penalizer), the rule is
skipped and the review says so.

Value at risk: the margin the customer brings in a year times 1 - P(alive).
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa

from keepwise import features
from keepwise.config import ReviewAssumptions
from keepwise.features.orders import days_between
from keepwise.signals.customers import rft_columns
from keepwise.signals.inputs import SignalInputs, among, to_frame

__all__ = ["KIND", "MAX_FIT", "MIN_REPEAT", "THRESHOLD", "detect", "score"]

KIND = "p_alive_drop"
#: The model's four parameters describe the whole customer base; beyond this many customers they are
#: fitted on a seeded random sample of this size (every customer is still scored).
MAX_FIT = 200_000
THRESHOLD = ReviewAssumptions.p_alive_threshold  # default; keepwise.toml [review] overrides it
MIN_REPEAT = 1
_WEEK = 7.0


def _model_class() -> Any | None:
    try:
        from keepwise.models.bgnbd import BetaGeoModel
    except Exception:  # the models issue has not landed, or is broken: the review goes on without it
        return None
    return BetaGeoModel


def _rft(days: Any, as_of: Any) -> pd.DataFrame:
    """Each customer's repeat purchases ``frequency``, ``recency`` and age ``T`` (weeks) at ``as_of``.

    Counts and day differences are computed in the engine; only one row per customer comes back.
    """
    end = ibis.literal(as_of)
    d = days.filter(days.day < end)
    agg = d.group_by("customer_id").aggregate(n=d.day.count(), first=d.day.min(), last=d.day.max())
    agg = agg.select(
        "customer_id",
        n=agg.n,
        recency_days=days_between(agg["last"], agg["first"]),
        age_days=days_between(end, agg["first"]),
    )
    # one order, whatever order the engine's GROUP BY returned: the fit (and its sample) must not depend on it
    df = to_frame(agg).sort_values("customer_id", kind="stable", ignore_index=True)
    df["frequency"] = df["n"].astype(float) - 1
    df["recency"] = df["recency_days"].astype(float) / _WEEK
    df["T"] = df["age_days"].astype(float) / _WEEK
    return df[["customer_id", "frequency", "recency", "T"]]


def _rft_pair(days: Any, as_of: Any, before: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`_rft` at ``as_of`` and at ``before`` (earlier), from one pass over the purchase days.

    The same frames as two calls of :func:`_rft`: each figure is the same engine expression, its aggregates
    taken only over the days before ``before`` for the second.
    """
    end, start = ibis.literal(as_of), ibis.literal(before)
    d = days.filter(days.day < end)
    early = d.day < start
    agg = d.group_by("customer_id").aggregate(
        n=d.day.count(),
        first=d.day.min(),
        last=d.day.max(),
        n_b=d.day.count(where=early),
        first_b=d.day.min(where=early),
        last_b=d.day.max(where=early),
    )
    agg = agg.select(
        "customer_id",
        n=agg.n,
        recency_days=days_between(agg["last"], agg["first"]),
        age_days=days_between(end, agg["first"]),
        n_b=agg.n_b,
        recency_b=days_between(agg["last_b"], agg["first_b"]),
        age_b=days_between(start, agg["first_b"]),
    )
    return _rft_frames(agg)


def _rft_frames(agg: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two frames of :func:`_rft_pair` from its per-customer expression or rows (``n``, ...)."""
    table = agg if isinstance(agg, pa.Table) else agg.to_pyarrow()
    df = table.to_pandas().sort_values("customer_id", kind="stable", ignore_index=True)
    frames = []
    for df_, n, recency, age in (
        (df, "n", "recency_days", "age_days"),
        # the month before: its index is each customer's row in the first frame (no join needed later)
        (df[df["n_b"] > 0], "n_b", "recency_b", "age_b"),
    ):
        out = pd.DataFrame({"customer_id": df_["customer_id"]}, index=df_.index)
        out["frequency"] = df_[n].astype(float) - 1
        out["recency"] = df_[recency].astype(float) / _WEEK
        out["T"] = df_[age].astype(float) / _WEEK
        frames.append(out)
    return frames[0], frames[1]


def score(inputs: SignalInputs, status: pd.DataFrame | None = None) -> pd.DataFrame | None:
    """P(alive) at the end of the review month and of the month before, or ``None`` without a model.

    Parameters
    ----------
    inputs:
        The shared inputs of the review month.
    status:
        Every customer's lost status (:func:`keepwise.signals.ledger.lost_status`): customers lost by a
        recorded exit (``how == "exit"``) score 0 from their ``lost_at`` on.

    Returns
    -------
    pandas.DataFrame or None
        ``customer_id``, ``frequency``, ``p_alive``, ``p_alive_prev`` (NaN for customers whose first purchase
        falls in the review month).
    """
    cls = _model_class()
    if cls is None:
        inputs.notes.append(
            "P(alive) was not computed: the purchase models (keepwise.models) are not available"
        )
        return None
    if inputs.customer_rows is not None:  # the review's customer table holds the same figures
        now, before = _rft_frames(rft_columns(inputs.customer_rows))
    else:
        days = inputs.days if inputs.days is not None else features.purchase_days(inputs.orders)
        now, before = _rft_pair(days, inputs.period.end, inputs.period.start)
    fit_on = now.sample(MAX_FIT, random_state=0) if len(now) > MAX_FIT else now
    try:
        try:
            model = cls().fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])
        except Exception:  # the model's own advice: retry once with a small penalizer
            model = cls(penalizer=0.001).fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])
        now["p_alive"] = np.asarray(
            model.conditional_probability_alive(now["frequency"], now["recency"], now["T"])
        )
        prev = np.asarray(
            model.conditional_probability_alive(before["frequency"], before["recency"], before["T"])
        )
    except Exception as exc:  # a model failure must not stop the monthly review
        inputs.notes.append(f"P(alive) was not computed: the BG/NBD fit failed ({type(exc).__name__}: {exc})")
        return None
    inputs.model = model
    inputs.rft = now[["customer_id", "frequency", "recency", "T"]]
    # each customer's score of the month before, by row (``before``'s index is its row in ``now``): what
    # a left join on the customer gives, without hashing every id
    prev_all = np.full(len(now), np.nan)
    prev_all[before.index.to_numpy()] = prev
    scored = now[["customer_id", "frequency", "p_alive"]].copy()
    scored["p_alive_prev"] = prev_all
    return _exits_to_zero(scored, status, inputs.period.start)


def _exits_to_zero(scored: pd.DataFrame, status: pd.DataFrame | None, start: Any) -> pd.DataFrame:
    """``scored`` with P(alive) 0 for the customers lost by a recorded exit.

    Their P(alive) of the month before is 0 too when the exit came before ``start``.
    """
    if status is None or status.empty:
        return scored
    exits = status.loc[status["how"] == "exit", ["customer_id", "lost_at"]]
    if exits.empty:
        return scored
    gone = among(scored["customer_id"], exits["customer_id"].to_numpy(dtype=object))
    lost_at = pd.to_datetime(exits["lost_at"], utc=True)
    starts = pd.Timestamp(start)
    starts = starts.tz_localize("UTC") if starts.tzinfo is None else starts.tz_convert("UTC")
    gone_before = among(
        scored["customer_id"], exits.loc[(lost_at < starts).to_numpy(), "customer_id"].to_numpy(dtype=object)
    )
    scored = scored.copy()
    scored.loc[gone, "p_alive"] = 0.0
    scored.loc[gone_before & scored["p_alive_prev"].notna(), "p_alive_prev"] = 0.0
    return scored


def detect(inputs: SignalInputs) -> pd.DataFrame:
    """Customers whose P(alive) crossed below the threshold this month.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (float), ``p_value`` (the P(alive)).
    """
    cols = ["customer_id", "kind", "evidence", "value_at_risk", "p_value"]
    if inputs.p_alive is None:
        return pd.DataFrame(columns=cols)
    pa_ = inputs.p_alive
    crossed = pa_[  # P(alive)'s own conditions first: only those few customers are joined to the summary
        (pa_["frequency"] >= MIN_REPEAT)
        & (pa_["p_alive"] < inputs.rules.p_alive_threshold)
        & (pa_["p_alive_prev"] >= inputs.rules.p_alive_threshold)
    ]
    d = crossed.merge(
        inputs.summary[["customer_id", "annual_margin", "lost", "recency_days"]], on="customer_id"
    )
    d = d[~d["lost"]]
    evidence = [
        f"the chance they are still a customer fell from {100 * b:.0f}% to {100 * a:.0f}% this month "
        f"(last order {r:.0f} days ago)"
        for a, b, r in zip(d["p_alive"], d["p_alive_prev"], d["recency_days"], strict=True)
    ]
    return pd.DataFrame(
        {
            "customer_id": d["customer_id"].to_numpy(),
            "kind": KIND,
            "evidence": evidence,
            "value_at_risk": (d["annual_margin"] * (1 - d["p_alive"])).to_numpy(dtype=float),
            "p_value": d["p_alive"].to_numpy(dtype=float),
        }
    )[cols]
