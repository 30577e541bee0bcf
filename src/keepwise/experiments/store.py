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
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.design import Design, assign, parse_arms
from keepwise.store.measurement import ensure_tables
from keepwise.store.store import Store, as_store
from keepwise.value.profitability import (
    customer_ledger,
    latest_month,
    month_label,
    parse_month,
    profitability,
)

__all__ = [
    "METRICS",
    "design_experiment",
    "experiment_metrics",
    "load_design",
    "population",
    "save_assignment",
]

#: Metrics :func:`experiment_metrics` reads from the store.
METRICS: tuple[str, ...] = ("retained", "orders", "revenue", "margin", "profit")


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
    """Select the population, assign it and save it; returns (assignment with population columns, status)."""
    store = as_store(store)
    pop = population(store, rule, month=month, config=config)
    if len(pop) < 2:
        raise KeepwiseInputError(f"population '{rule}' has fewer than 2 customers")
    assignment = assign(pop, design)
    status = save_assignment(store, design, assignment, at=at)
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
) -> tuple[pd.DataFrame, Design, dict[str, str]]:
    """Per-customer metrics of experiment ``name`` (see the module docstring).

    Returns
    -------
    (frame, design, window)
        ``frame`` has ``customer_id``, ``arm``, the :data:`METRICS` and their ``pre_`` versions; ``window``
        gives the first and last month of the window (``YYYY-MM``).
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
    data_last = parse_month(latest_month(store))
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
    }
    if last > data_last:
        window["warning"] = (
            f"the store has data up to {month_label(data_last)} only; the window is not complete"
        )
    return out, design, window
