"""Every experiment in the store at a glance: design, status and, once its window has ended, its results.

The dashboard's experiments page and ``/api/v1/experiments`` read this; the results are those of
:func:`keepwise.experiments.analyze`, exactly what ``keepwise experiment analyze NAME --details --json``
prints. Experiments come from two places: designs saved by ``keepwise experiment design`` (table
``experiments``) and the message flows' holdouts (``flow:NAME`` in ``assignments``, designed by the flows).

Status, from the data and never the wall clock: ``measuring`` while the data do not yet reach the last day
of the window measured (the ``months`` after the assignment), ``complete`` once they do (results ready).
"""

from __future__ import annotations

from typing import Any, cast

import pandas as pd

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.design import Design
from keepwise.experiments.run import analyze
from keepwise.experiments.store import (
    TooEarly,
    _data_end,
    _recorded_design,
    _window_start,
    load_design,
)
from keepwise.months import add_months
from keepwise.months import parse_month as parse_month_start
from keepwise.store.store import Store, as_store
from keepwise.value.profitability import month_label

__all__ = [
    "START_COMMAND",
    "STATUSES",
    "experiment_ids",
    "experiment_report",
    "experiment_summaries",
    "summary",
]

#: What an experiment can be doing: still measuring, or done with results.
STATUSES = ("measuring", "complete")

#: The command that starts an experiment, said where there is none.
START_COMMAND = "keepwise experiment design NAME --population top:1200 --month YYYY-MM"


def experiment_ids(store: Store) -> list[str]:
    """Designed experiments (by design time) then the flows' holdouts, each once."""
    store = as_store(store)
    designed: list[str] = []
    if store.has_table("experiments"):
        rows = store.read("experiments", columns=["experiment_id", "created_at"])
        designed = [str(x) for x in rows.sort_values(["created_at", "experiment_id"])["experiment_id"]]
    recorded: list[str] = []
    if store.has_table("assignments"):
        a = store.table("assignments")
        ids = store.to_pandas(a.select("experiment_id").distinct())["experiment_id"].astype(str)
        recorded = sorted(i for i in ids if i not in designed)
    return designed + recorded


def _counts(store: Store) -> dict[str, tuple[dict[str, int], pd.Timestamp | None]]:
    """Per experiment: customers in each arm and the first assignment time (one query)."""
    if not store.has_table("assignments"):
        return {}
    a = store.table("assignments")
    rows = store.to_pandas(
        a.group_by(["experiment_id", "arm"]).aggregate(n=a.customer_id.count(), first=a.assigned_at.min())
    )
    out: dict[str, tuple[dict[str, int], pd.Timestamp | None]] = {}
    for r in rows.itertuples(index=False):
        arms, first = out.get(str(r.experiment_id), ({}, None))
        arms[str(r.arm)] = int(cast(Any, r.n))
        ts = pd.Timestamp(cast(Any, r.first))
        ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
        out[str(r.experiment_id)] = (arms, ts if first is None or ts < first else first)
    return out


def summary(
    store: Store,
    experiment_id: str,
    *,
    months: int = 12,
    counts: dict[str, tuple[dict[str, int], pd.Timestamp | None]] | None = None,
    data_end: Any = None,
    config: Config | None = None,
) -> dict[str, Any] | None:
    """One experiment's design, arms, window and status (``None``: no such experiment).

    ``design`` gives the arms with their ratios, the control arm and its share of the customers, the unit
    randomised (the customer), the population, seed and strata; ``start`` is the first assignment,
    ``window`` the months measured and ``ends_on`` its last day; ``status`` is ``measuring`` until the data
    reach that day, then ``complete``. A flow's holdout (``flow:NAME``) is designed by the flow's
    ``holdout_share`` (``[messages.flows.NAME]`` of ``config``): its arms are ``holdout`` and ``treatment``
    in that ratio. ``command`` is the command that prints the same results.
    """
    store = as_store(store)
    design = load_design(store, experiment_id)
    origin = "designed"
    if design is None and store.has_table("assignments"):
        design = _recorded_design(store, experiment_id)
        origin = "flow holdout" if experiment_id.startswith("flow:") else "recorded assignments"
        flow_design = _flow_design(experiment_id, config) if design is not None else None
        design = flow_design or design
    if design is None:
        return None
    created = None
    if origin == "designed":
        rows = store.read("experiments", where={"experiment_id": experiment_id}, columns=["created_at"])
        created = None if rows.empty else pd.Timestamp(rows["created_at"].iloc[0]).isoformat()
    counts = _counts(store) if counts is None else counts
    arms_n, first = counts.get(experiment_id, ({}, None))
    data_end = _data_end(store) if data_end is None else data_end
    total_ratio = sum(design.arms.values())
    window: dict[str, Any] | None = None
    status = "measuring"
    if first is not None:
        start = _window_start(first)
        last = start + months - 1
        ends_on = (add_months(parse_month_start(month_label(last)), 1) - pd.Timedelta(days=1)).date()
        window = {
            "first_month": month_label(start),
            "last_month": month_label(last),
            "months": months,
            "ends_on": ends_on.isoformat(),
        }
        status = "complete" if data_end is not None and data_end >= ends_on else "measuring"
    command = f"keepwise experiment analyze {experiment_id} --details --json"
    if months != 12:
        command += f" --months {months}"
    if origin == "flow holdout":
        command += " --ratios " + ",".join(f"{a}:{r:.12g}" for a, r in design.arms.items())
    return {
        "experiment": experiment_id,
        "origin": origin,
        "command": command,
        "status": status,
        "design": {
            "arms": dict(design.arms),
            "control": design.control,
            "control_share": design.arms[design.control] / total_ratio if total_ratio else None,
            "unit": "customer",
            "population": design.population,
            "seed": design.seed if origin == "designed" else None,
            "strata": list(design.strata),
            "created_at": created,
        },
        "customers": sum(arms_n.values()),
        "arms": {arm: arms_n.get(arm, 0) for arm in design.arms},
        "start": None if first is None else first.isoformat(),
        "window": window,
        "data_end": None if data_end is None else data_end.isoformat(),
    }


def _flow_design(experiment_id: str, config: Config | None) -> Design | None:
    """A message flow's holdout, ``flow:NAME``: ``holdout`` at the flow's share (``None``: no holdout)."""
    from keepwise.messages.flows import flow_settings

    name = experiment_id.removeprefix("flow:")
    settings = flow_settings(config or Config()).get(name) if experiment_id.startswith("flow:") else None
    share = float(settings["holdout_share"]) if settings else 0.0
    if not 0 < share < 1:
        return None
    return Design(
        name=experiment_id,
        arms={"holdout": share, "treatment": 1 - share},
        seed=0,
        control="holdout",
        population=f"customers the {name} flow wrote to or held out",
    )


def experiment_summaries(
    store: Store, *, months: int = 12, config: Config | None = None
) -> list[dict[str, Any]]:
    """:func:`summary` of every experiment in the store (designed ones first, then the flows' holdouts)."""
    store = as_store(store)
    counts = _counts(store)
    data_end = _data_end(store) if store.has_table("orders") else None
    out = []
    for experiment_id in experiment_ids(store):
        one = summary(store, experiment_id, months=months, counts=counts, data_end=data_end, config=config)
        if one is not None:
            out.append(one)
    return out


def experiment_report(
    store: Store, experiment_id: str, *, months: int = 12, config: Config | None = None
) -> dict[str, Any] | None:
    """:func:`summary` with ``results``, or ``None`` while measuring (``waiting`` then says until when).

    ``results`` is the analysis ``keepwise experiment analyze NAME --details --json`` prints; ``problem``
    says why there are none when the analysis refuses the data (an arm with fewer than 2 customers).
    Returns ``None`` when there is no such experiment.
    """
    store = as_store(store)
    doc = summary(store, experiment_id, months=months, config=config)
    if doc is None:
        return None
    doc["results"] = None
    doc["waiting"] = None
    doc["problem"] = None
    if doc["status"] == "complete":
        try:
            ratios = doc["design"]["arms"] if doc["origin"] == "flow holdout" else None
            analysis = analyze(store, experiment_id, months=months, ratios=ratios, config=config)
            doc["results"] = analysis.to_json(details=True)
        except TooEarly as exc:  # the rule above and the analysis agree; kept for safety
            doc["status"], doc["waiting"] = "measuring", str(exc)
        except KeepwiseInputError as exc:  # an arm too small to compare: said, not a failed page
            doc["problem"] = str(exc)
    else:
        window = doc["window"] or {}
        doc["waiting"] = (
            f"results once the data reach {window.get('ends_on')} (the last day of the {months} months "
            f"measured); the data reach {doc['data_end']}"
        )
    return doc
