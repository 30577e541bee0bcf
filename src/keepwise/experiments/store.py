"""Experiments in the store: choose a population, write the design and assignments, read back the metrics.

Populations (``rule``):

- ``top:N``: the N most profitable customers over the trailing twelve months ending with the latest month
  (or ``month``), by :func:`keepwise.value.profitability.profitability`;
- ``tier:NAME[,NAME]``: the customers in those profit tiers (platinum, gold, iron, lead) over the same window;
- ``list:FILE``: the customer ids in a CSV file with a ``customer_id`` column;
- ``all``: every customer active in the window.

Each population row carries ``customer_id``, ``profit`` (trailing twelve months), ``tier``, ``profit_decile``
(1 = most profitable tenth) and the customer's ``segment`` and ``channel``, so any of them can be a stratum.

Metrics of customer ``i`` over the window of ``months`` calendar months that starts with the first full month
after the experiment's assignment (or the month of assignment, if it was made at 00:00 UTC on the 1st):
``retained`` (1 if they ordered in the window), ``orders`` (distinct orders), ``revenue``, ``margin`` (gross
margin) and ``profit`` (from :func:`keepwise.value.profitability.customer_ledger`), and ``pre_*`` the same
over the ``months`` before the window (the CUPED covariate). Customers with no activity count as zero.

Time comes from the data, not the wall clock. An experiment designed for a past month (its trailing-profit
window ending with ``month``) is assigned at that month's end, so its window starts with the month after it
(:func:`assignment_time`); one designed for the current month is assigned now. Its window has ended when
the data reach the window's last day (the latest order falls on that day or later: the rule that makes a
month complete for the review); before that :func:`experiment_metrics` marks the window ``complete: false``
and the analysis refuses with :class:`TooEarly`, instead of comparing months that have no data yet.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.design import Design, assign, parse_arms
from keepwise.months import add_months
from keepwise.months import parse_month as parse_month_start
from keepwise.store.measurement import ensure_tables
from keepwise.store.store import Store, as_store
from keepwise.value.profitability import (
    customer_ledger,
    latest_month,
    month_label,
    profitability,
)

__all__ = [
    "METRICS",
    "TooEarly",
    "assignment_time",
    "design_experiment",
    "experiment_metrics",
    "load_design",
    "population",
    "save_assignment",
]

#: Metrics :func:`experiment_metrics` reads from the store.
METRICS: tuple[str, ...] = ("retained", "orders", "revenue", "margin", "profit")


class TooEarly(KeepwiseInputError):
    """An experiment's window has not ended in the data: there is nothing to compare yet.

    Attributes
    ----------
    ends_on:
        The window's last day.
    data_end:
        The day of the store's latest order (``None`` without orders).
    """

    def __init__(self, ends_on: date, data_end: date | None):
        self.ends_on = ends_on
        self.data_end = data_end
        reach = f"the data reach {data_end:%Y-%m-%d}" if data_end else "the store has no orders"
        super().__init__(
            f"too early: the window ends on {ends_on:%Y-%m-%d} and {reach}; analyse it once the data reach "
            "that day, or measure fewer months"
        )


def assignment_time(month: str, now: datetime | None = None) -> datetime:
    """When an experiment designed for ``month`` is assigned: the month's end if it has passed, else now.

    An experiment designed for a past month (on history that goes on, or a store whose data end then) is
    assigned at the first instant after the month, so its window starts with the next month; the month in
    progress is assigned at ``now`` (default: the wall clock, the one moment this reads it).
    """
    end = add_months(parse_month_start(month), 1)
    moment = now or datetime.now(UTC)
    return end if end <= moment else moment


def population(
    store: Store, rule: str, *, month: str | None = None, config: Config | None = None
) -> pd.DataFrame:
    """The customers a population rule selects (see the module docstring), most profitable first."""
    store = as_store(store)
    month = month or latest_month(store)
    prof = profitability(store, month, view="ttm", config=config or Config())
    frame = pd.DataFrame(
        {
            "customer_id": prof["customer_id"].astype(str),
            "profit": prof["profit"].map(float),
            "tier": prof["tier"].astype(str),
        }
    )
    n = len(frame)
    customers = store.table("customers").select("customer_id", "segment", "channel").to_pandas()
    frame = frame.merge(customers.astype({"customer_id": str}), on="customer_id", how="left")
    frame[["segment", "channel"]] = frame[["segment", "channel"]].fillna("unknown")
    kind, _, arg = rule.partition(":")
    if kind == "top":
        try:
            count = int(arg)
        except ValueError:
            raise KeepwiseInputError(f"population '{rule}': write top:N, e.g. top:1200") from None
        if count < 2:
            raise KeepwiseInputError(f"population '{rule}': N must be at least 2")
        if count > n:
            raise KeepwiseInputError(f"population '{rule}': only {n} customers were active in the window")
        return _deciles(frame.head(count))
    if kind == "tier":
        tiers = {t.strip() for t in arg.split(",") if t.strip()}
        unknown = tiers - {"platinum", "gold", "iron", "lead"}
        if not tiers or unknown:
            raise KeepwiseInputError(f"population '{rule}': tiers are platinum, gold, iron and lead")
        return _deciles(frame[frame["tier"].isin(tiers)])
    if kind == "list":
        path = Path(arg)
        if not path.exists():
            raise KeepwiseInputError(f"population '{rule}': file '{path}' does not exist")
        listed = pd.read_csv(path, dtype=str)
        if "customer_id" not in listed.columns:
            raise KeepwiseInputError(f"{path} has no column 'customer_id'")
        ids = listed["customer_id"].dropna().unique()
        base = pd.DataFrame({"customer_id": ids})
        listed_frame = base.merge(frame, on="customer_id", how="left").fillna(
            {"profit": 0.0, "tier": "none", "segment": "unknown", "channel": "unknown"}
        )
        return _deciles(listed_frame.sort_values("profit", ascending=False, kind="stable"))
    if kind == "all" and not arg:
        return _deciles(frame)
    raise KeepwiseInputError(f"population '{rule}' is not understood; use top:N, tier:NAME, list:FILE or all")


def _deciles(frame: pd.DataFrame) -> pd.DataFrame:
    """Number the (profit-ordered) population's tenths: 1 = its most profitable tenth."""
    out = frame.reset_index(drop=True)
    n = len(out)
    out["profit_decile"] = (np.arange(n) * 10 // max(n, 1) + 1).astype(int)
    return out


def load_design(store: Store, name: str) -> Design | None:
    """The stored design of experiment ``name``, or ``None``."""
    store = as_store(store)
    if not store.has_table("experiments"):
        return None
    t = store.table("experiments")
    rows = t.filter(t.experiment_id == name).to_pandas()
    if rows.empty:
        return None
    r = rows.iloc[0]
    strata = tuple(s for s in str(r["strata"] or "").split(",") if s)
    return Design(
        name=name,
        arms=parse_arms(str(r["arms"])),
        seed=int(r["seed"]),
        control=str(r["control"]),
        strata=strata,
        population=str(r["population"] or ""),
    )


def _arms_text(arms: dict[str, float]) -> str:
    return ",".join(f"{a}:{r:g}" for a, r in arms.items())


def save_assignment(
    store: Store, design: Design, assignment: pd.DataFrame, *, at: datetime | None = None
) -> str:
    """Write the design and its assignment; never silently re-assign an existing experiment.

    Returns ``"created"``, or ``"unchanged"`` when the experiment exists with exactly this design and
    assignment (re-running a design with the same seed is harmless). Anything else raises
    :class:`KeepwiseInputError`.
    """
    store = as_store(store)
    existing = load_design(store, design.name)
    if existing is not None:
        a = store.table("assignments")
        stored = (
            a.filter(a.experiment_id == design.name)
            .select("customer_id", "arm")
            .to_pandas()
            .sort_values("customer_id")
            .reset_index(drop=True)
        )
        same_design = (
            _arms_text(existing.arms) == _arms_text(design.arms)
            and existing.seed == design.seed
            and existing.control == design.control
            and existing.strata == design.strata
        )
        ours = assignment[["customer_id", "arm"]].sort_values("customer_id").reset_index(drop=True)
        if same_design and stored.equals(ours.astype({"customer_id": str, "arm": str})):
            return "unchanged"
        raise KeepwiseInputError(
            f"experiment '{design.name}' already exists with a different design or population; keepwise "
            "never re-assigns an experiment: give the new design a new name"
        )
    now = at or datetime.now(UTC)
    design_row = pd.DataFrame(
        {
            "experiment_id": [design.name],
            "arms": [_arms_text(design.arms)],
            "control": [design.control],
            "seed": [str(design.seed)],
            "strata": [",".join(design.strata)],
            "population": [design.population],
            "created_at": [pd.Timestamp(now)],
        }
    )
    rows = pd.DataFrame(
        {
            "experiment_id": design.name,
            "customer_id": assignment["customer_id"].astype(str).to_numpy(),
            "arm": assignment["arm"].astype(str).to_numpy(),
            "assigned_at": pd.Timestamp(now),
        }
    )
    ensure_tables(store, ("experiments", "assignments"))
    with store.transaction():
        store.append("experiments", design_row)
        store.append("assignments", rows)
    return "created"


def design_experiment(
    store: Store,
    design: Design,
    rule: str,
    *,
    month: str | None = None,
    config: Config | None = None,
    at: datetime | None = None,
) -> tuple[pd.DataFrame, str]:
    """Select the population, assign it and save it; returns (assignment with population columns, status).

    ``at`` (the time of the assignment) defaults to :func:`assignment_time` of ``month`` (default: the latest
    month with data): a design for a past month is measured from the month after it.
    """
    store = as_store(store)
    month = month or latest_month(store)
    pop = population(store, rule, month=month, config=config)
    if len(pop) < 2:
        raise KeepwiseInputError(f"population '{rule}' has fewer than 2 customers")
    assignment = assign(pop, design)
    status = save_assignment(store, design, assignment, at=at or assignment_time(month))
    return assignment.merge(pop, on="customer_id", how="left"), status


def _window_start(assigned_at: pd.Timestamp) -> int:
    ts = assigned_at.tz_convert("UTC") if assigned_at.tzinfo else assigned_at.tz_localize("UTC")
    index = ts.year * 12 + ts.month - 1
    at_month_start = ts == pd.Timestamp(datetime(ts.year, ts.month, 1, tzinfo=UTC))
    return index if at_month_start else index + 1


def _recorded_design(store: Store, name: str) -> Design | None:
    """A design read off the ``assignments`` of an experiment designed elsewhere (a message flow's holdout).

    The arms and their shares are those recorded; the control is ``holdout`` or ``control`` when one of them
    is an arm, else the first arm in alphabetical order.
    """
    a = store.table("assignments")
    counts = a.filter(a.experiment_id == name).group_by("arm").aggregate(n=a.customer_id.count()).to_pandas()
    if len(counts) < 2:
        return None
    arms = {str(r.arm): float(r.n) for r in counts.itertuples()}
    control = next((c for c in ("holdout", "control") if c in arms), sorted(arms)[0])
    return Design(name=name, arms=arms, seed=0, control=control, population="as recorded in assignments")


def experiment_metrics(
    store: Store, name: str, *, months: int = 12, config: Config | None = None
) -> tuple[pd.DataFrame, Design, dict[str, str | None]]:
    """Per-customer metrics of experiment ``name`` (see the module docstring).

    Returns
    -------
    (frame, design, window)
        ``frame`` has ``customer_id``, ``arm``, the :data:`METRICS` and their ``pre_`` versions; ``window``
        gives the first and last month of the window (``YYYY-MM``), its last day ``ends_on`` and the day the
        data reach ``data_end`` (``YYYY-MM-DD``), and, when the data end before the window does, a
        ``warning`` (the analysis then refuses with :class:`TooEarly`).
    """
    store = as_store(store)
    design = load_design(store, name) or _recorded_design(store, name)
    if design is None:
        known = store.table("experiments").experiment_id.to_pandas().tolist()
        raise KeepwiseInputError(
            f"no experiment '{name}' in the store" + (f"; known: {', '.join(known)}" if known else "")
        )
    if months < 1:
        raise KeepwiseInputError("the window must be at least 1 month")
    a = store.table("assignments")
    assigned = a.filter(a.experiment_id == name).select("customer_id", "arm", "assigned_at").to_pandas()
    first = _window_start(pd.Timestamp(assigned["assigned_at"].min()))
    last = first + months - 1
    pre_first = first - months
    end_label = month_label(last)
    ends_on = (add_months(parse_month_start(end_label), 1) - timedelta(days=1)).date()
    data_end = _data_end(store)
    ledger = customer_ledger(store, end_label, view="lifetime", by_month=True, config=config or Config())
    ids = list(assigned["customer_id"].astype(str))
    ledger = ledger.filter(ledger.customer_id.isin(ids) & (ledger.month_index >= pre_first))
    period = ibis.ifelse(ledger.month_index >= first, "in", "pre")
    money = (
        ledger.mutate(period=period)
        .group_by(["customer_id", "period"])
        .aggregate(
            revenue=ledger.revenue.sum().cast("float64"),
            margin=ledger.gross_margin.sum().cast("float64"),
            profit=ledger.profit.sum().cast("float64"),
        )
        .to_pandas()
    )
    o = store.table("orders")
    om = (o.ordered_at.year() * 12 + o.ordered_at.month() - 1).name("m")
    orders = (
        o.filter(o.customer_id.isin(ids))
        .mutate(m=om)
        .filter(lambda t: (t.m >= pre_first) & (t.m <= last))
        .mutate(period=lambda t: ibis.ifelse(t.m >= first, "in", "pre"))
        .group_by(["customer_id", "period"])
        .aggregate(orders=lambda t: t.order_id.nunique())
        .to_pandas()
    )
    out = assigned[["customer_id", "arm"]].astype(str).copy()
    for per, prefix in (("in", ""), ("pre", "pre_")):
        m = money[money["period"] == per].set_index("customer_id")
        n = orders[orders["period"] == per].set_index("customer_id")
        for col in ("revenue", "margin", "profit"):
            out[prefix + col] = out["customer_id"].map(m[col]).fillna(0.0).astype(float)
        out[prefix + "orders"] = out["customer_id"].map(n["orders"]).fillna(0).astype(float)
        out[prefix + "retained"] = (out[prefix + "orders"] > 0).astype(float)
    window = {
        "first_month": month_label(first),
        "last_month": month_label(last),
        "pre_first_month": month_label(pre_first),
        "ends_on": ends_on.isoformat(),
        "data_end": None if data_end is None else data_end.isoformat(),
    }
    if data_end is None or data_end < ends_on:
        window["warning"] = str(TooEarly(ends_on, data_end))
    return out, design, window


def _data_end(store: Store) -> date | None:
    """The day (UTC) of the store's latest order, or ``None`` without orders."""
    latest = store.to_pandas(store.table("orders").ordered_at.max())
    if latest is None or pd.isna(latest):
        return None
    ts = pd.Timestamp(latest)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    return ts.date()
