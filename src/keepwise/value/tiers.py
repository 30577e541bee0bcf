"""Profitability tiers: quintiles and the customer pyramid, and how customers move between them.

The pyramid follows Zeithaml, Rust and Lemon, "The Customer Pyramid: Creating and Serving Profitable
Customers", California Management Review 43(4), 2001, pp. 118-142: *platinum* (the most profitable),
*gold* (profitable, but less so), *iron* (the volume that uses capacity; not profitable enough for special
treatment) and *lead* (customers who cost the company money). The paper gives no fixed shares; keepwise
ranks customers by profit and, by default, puts the top 5% in platinum, the next 15% in gold, every customer
with a negative profit in lead (whatever their rank) and the rest in iron. The shares and the lead threshold
are set in ``keepwise.toml`` (``[value]`` ``platinum_share``, ``gold_share``, ``lead_below_profit``).

Ranking is in the engine (window functions), with ties broken by ``customer_id`` so a tier never depends on
row order.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise.config import Config, ValueAssumptions, load_config

__all__ = ["TIERS", "assign_tiers", "movement_summary", "tier_movement", "tier_summary", "tiers_of"]

#: The pyramid, top first.
TIERS: tuple[str, ...] = ("platinum", "gold", "iron", "lead")
_LEVEL = {t: i for i, t in enumerate(TIERS)}


def assign_tiers(
    ledger: ir.Table,
    cfg: ValueAssumptions,
    *,
    by: str = "profit",
    group_by: str | None = None,
    count: str | None = None,
) -> ir.Table:
    """Add ``rank``, ``quintile`` and ``tier`` to a per-customer expression, in the engine.

    Parameters
    ----------
    ledger:
        One row per customer with ``customer_id`` and the column ``by``.
    cfg:
        The ``[value]`` assumptions (tier shares and the lead threshold).
    by:
        The column to rank on (``profit`` by default).
    group_by:
        Rank within each value of this column (e.g. a period), as if each were its own ledger.
    count:
        Keep the number of customers ranked together (``n`` of the formulas below) in this column.

    Returns
    -------
    ibis.Table
        ``ledger`` plus ``rank`` (1 = most profitable; ties by ``customer_id``), ``quintile`` (1 = top 20%:
        ``floor((rank - 1) x 5 / n) + 1``) and ``tier``: lead if ``by`` < ``lead_below_profit``; else platinum
        if ``rank`` <= ceil(platinum_share x n); else gold if ``rank`` <= ceil((platinum_share + gold_share)
        x n); else iron.
    """
    order = [ibis.desc(ledger[by]), ibis.asc(ledger.customer_id)]
    groups = [] if group_by is None else [ledger[group_by]]
    t = ledger.mutate(
        rank=(ibis.row_number().over(group_by=groups, order_by=order) + 1).cast("int64"),
        _n=ledger.customer_id.count().over(group_by=groups),
    )
    platinum_cut = (t._n * cfg.platinum_share).round(6).ceil()
    gold_cut = (t._n * (cfg.platinum_share + cfg.gold_share)).round(6).ceil()
    lead_below = ibis.literal(cfg.lead_below_profit, type="decimal(18, 4)")
    tier = ibis.cases(
        (t[by] < lead_below, "lead"),
        (t["rank"] <= platinum_cut, "platinum"),
        (t["rank"] <= gold_cut, "gold"),
        else_="iron",
    )
    quintile = (((t["rank"] - 1) * 5) // t._n + 1).cast("int64")
    t = t.mutate(quintile=quintile, tier=tier)
    return t.drop("_n") if count is None else t.rename({count: "_n"})


def tiers_of(frame: pd.DataFrame, config: Config | None = None, *, by: str = "profit") -> pd.DataFrame:
    """Tiers of customers given as a DataFrame (e.g. a simulator's true profit), by :func:`assign_tiers`.

    Parameters
    ----------
    frame:
        ``customer_id`` and the column ``by`` (Decimal or float).
    config:
        Assumptions; ``None`` reads ``keepwise.toml``.
    by:
        The column to rank on.

    Returns
    -------
    pandas.DataFrame
        ``frame`` with ``rank``, ``quintile`` and ``tier``, most profitable first.
    """
    from keepwise.value.profitability import frame as to_frame

    cfg = (config or load_config()).value
    data = frame[["customer_id", by]].copy()
    data[by] = data[by].map(str)
    t = ibis.memtable(data)
    t = t.mutate(**{by: t[by].cast("decimal(18, 4)")})
    return to_frame(assign_tiers(t, cfg, by=by), sort_by="rank")


def tier_summary(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Per tier: number of customers, their profit (Decimal) and their share of customers (%).

    Parameters
    ----------
    df:
        A :func:`keepwise.value.profitability` result (columns ``tier`` and ``profit``).
    """
    n = len(df)
    out = []
    for tier in TIERS:
        rows = df[df["tier"] == tier]
        out.append(
            {
                "tier": tier,
                "customers": len(rows),
                "customer_share": round(100 * len(rows) / n, 2) if n else 0.0,
                "profit": sum(rows["profit"], start=_zero()),
            }
        )
    return out


def _zero() -> Any:
    from decimal import Decimal

    return Decimal("0.0000")


def tier_movement(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Who went up, who went down between two periods.

    Parameters
    ----------
    before, after:
        :func:`keepwise.value.profitability` results (``customer_id`` and ``tier``) of two periods, e.g. two
        consecutive months.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``tier_before``, ``tier_after`` and ``movement``: ``up`` (towards platinum),
        ``down``, ``same``, ``new`` (not in ``before``) or ``gone`` (not in ``after``), sorted by customer.
    """
    b = before[["customer_id", "tier"]].rename(columns={"tier": "tier_before"})
    a = after[["customer_id", "tier"]].rename(columns={"tier": "tier_after"})
    m = b.merge(a, on="customer_id", how="outer")
    lb = m["tier_before"].map(_LEVEL)
    la = m["tier_after"].map(_LEVEL)
    movement = pd.Series("same", index=m.index, dtype="object")
    movement[la < lb] = "up"
    movement[la > lb] = "down"
    movement[lb.isna()] = "new"
    movement[la.isna()] = "gone"
    m["movement"] = movement
    return m.sort_values("customer_id", kind="stable").reset_index(drop=True)


def movement_summary(moves: pd.DataFrame) -> dict[str, Any]:
    """Counts of each movement and the from-to matrix ``matrix[before][after]`` of :func:`tier_movement`."""
    counts = {k: int((moves["movement"] == k).sum()) for k in ("up", "down", "same", "new", "gone")}
    both = moves.dropna(subset=["tier_before", "tier_after"])
    matrix = {
        b: {a: int(((both["tier_before"] == b) & (both["tier_after"] == a)).sum()) for a in TIERS}
        for b in TIERS
    }
    return {**counts, "matrix": matrix}
