"""What the outreach rules read from the store: activity around the month, review warnings, losses by period.

Every read is an Ibis expression, so it runs on each engine of the store.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from keepwise.config import Config
from keepwise.store import Store
from keepwise.value.profitability import View, customer_ledger, frame, parse_month


def _utc(ts: Any) -> pd.Timestamp | None:
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return None
    t = pd.Timestamp(ts)
    return t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")


def _rows(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{customer_id: row as a dict} of a per-customer frame."""
    return {str(r["customer_id"]): {str(k): v for k, v in r.items()} for r in df.to_dict("records")}


def _by_customer(expr: Any) -> dict[str, dict[str, Any]]:
    """Execute a per-customer expression into {customer_id: row}."""
    return {r["customer_id"]: r for r in expr.to_pyarrow().to_pylist()}


def _activity(store: Store, start: datetime, end: datetime) -> dict[str, dict[str, dict[str, Any]]]:
    """Orders, contacts, incidents and exits per customer around the month ``[start, end)``."""
    lo, hi = ibis.literal(start), ibis.literal(end)
    o = store.table("orders")
    before = o.filter(o.ordered_at < lo)
    during = o.filter((o.ordered_at >= lo) & (o.ordered_at < hi))
    last_before = _by_customer(before.group_by("customer_id").aggregate(at=before.ordered_at.max()))
    this_month = _by_customer(
        during.group_by("customer_id").aggregate(
            first=during.ordered_at.min(),
            orders=during.order_id.nunique(),
            revenue=(during.quantity * during.unit_price).sum(),
        )
    )

    logs = store.table("time_logs")
    logs = logs.filter(logs.started_at < hi).select(customer_id=logs.customer_id, at=logs.started_at)
    box = store.table("outbox")
    box = box.filter((box.status == "sent") & box.sent_at.notnull() & (box.sent_at < hi))
    contacts = ibis.union(logs, box.select(customer_id=box.customer_id, at=box.sent_at), distinct=False)
    if store.has_table("outreach_actions"):  # contacts and re-engagements marked done
        done = store.table("outreach_actions")
        done = done.filter(
            (done.status == "done")
            & done.action.isin(["contact", "re_engage"])
            & done.recorded_at.notnull()
            & (done.recorded_at < hi)
        )
        contacts = ibis.union(
            contacts, done.select(customer_id=done.customer_id, at=done.recorded_at), distinct=False
        )
    last_contact = _by_customer(contacts.group_by("customer_id").aggregate(at=contacts["at"].max()))
    lb = before.group_by("customer_id").aggregate(last=before.ordered_at.max())
    c = contacts.left_join(lb, contacts.customer_id == lb.customer_id)
    c = c.filter((c["at"] < lo) & (c["last"].isnull() | (c["at"] > c["last"])))
    unanswered = _by_customer(c.group_by("customer_id").aggregate(n=c.count()))

    inc = store.table("incidents")
    inc = inc.filter((inc.opened_at >= lo) & (inc.opened_at < hi))
    incidents = _by_customer(inc.group_by("customer_id").aggregate(n=inc.count(), first=inc.opened_at.min()))
    ex = store.table("exits")
    ex = ex.filter(ex.lost_at < hi)
    exits = _by_customer(ex.group_by("customer_id").aggregate(at=ex.lost_at.max()))
    return {
        "last_before": last_before,
        "this_month": this_month,
        "last_contact": last_contact,
        "unanswered": unanswered,
        "incidents": incidents,
        "exits": exits,
    }


def _warnings(store: Store, month: str) -> dict[str, list[str]]:
    """Warning kinds per customer from the monthly review of ``month`` (empty if it has not run).

    Each customer's kinds come in the review's order (its ``rank``; then customer and kind), on every engine.
    """
    if not store.has_table("review_warnings"):
        return {}
    w = store.table("review_warnings")
    if not {"customer_id", "kind", "review_month"} <= set(w.columns):
        return {}
    order = [c for c in ("rank", "customer_id", "kind") if c in w.columns]
    ordered = w.filter(w.review_month == month).order_by(order).select("customer_id", "kind")
    rows = ordered.to_pyarrow().to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        kinds = out.setdefault(r["customer_id"], [])
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    return out


def _losses(store: Store, month: str, cfg: Config) -> pd.DataFrame:
    """Per customer: profit of each of the last ``unprofitable_periods`` periods and the window's totals."""
    d = cfg.decisions
    last = parse_month(month)
    n_months = d.unprofitable_periods * d.unprofitable_period_months
    view: View = "ttm" if n_months <= 12 else "lifetime"
    ledger = customer_ledger(store, month, view=view, by_month=True, config=cfg)
    ledger = ledger.filter(ledger.month_index > last - n_months)
    m = frame(
        ledger.select("customer_id", "month_index", "revenue", "gross_margin", "cost_to_serve", "profit")
    )
    cols = ["customer_id", "revenue", "gross_margin", "cost_to_serve", "profit", "months_negative", "periods"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m["k"] = (last - m["month_index"]) // d.unprofitable_period_months
    per = m.groupby(["customer_id", "k"])["profit"].sum()
    periods = per.unstack("k").reindex(columns=range(d.unprofitable_periods))
    tot = m.groupby("customer_id")[["revenue", "gross_margin", "cost_to_serve", "profit"]].sum()
    tot["months_negative"] = (m["profit"] < 0).groupby(m["customer_id"]).sum().astype(int)
    tot["periods"] = [
        [None if pd.isna(v) else v for v in row] for row in periods.reindex(tot.index).itertuples(index=False)
    ]
    return tot.reset_index()[cols]
