"""One customer's history for the customer page and ``/api/v1/customers/{id}``: what happened, month by month.

:func:`customer_history` adds to :func:`keepwise.web.data.customer_profile` the purchase timeline (orders and
returns, a page at a time, and their totals per month for the chart), P(alive) over time (each stored review
month, and each ``keepwise clv`` run), profit and tier per stored month (``profit_ttm``), the concession
decisions (``decision_log``), the exit, the consent history (``consent_events``) and the messages sent
(``outbox``). Each section reads only this customer's rows (:mod:`keepwise.store.customer_history`). A section
whose input the store lacks (orders-only data has no incidents, exits or consent) says so in ``notes``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keepwise.money import cents
from keepwise.store import Store
from keepwise.store import customer_history as history
from keepwise.store.inventory import Note, inventory
from keepwise.web.paging import Page

__all__ = ["SECTIONS", "customer_history", "p_alive_figure", "timeline_figure"]

#: The lists of the document that are paginated (``?page=&per_page=``).
SECTIONS = ("timeline.orders",)


def _money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their ``Decimal`` amounts as 2-place strings."""
    return [{k: cents(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


def _timeline(store: Store, customer_id: str, page: Page) -> dict[str, Any]:
    """Orders (a page, newest first), purchases and returns per month (for the chart), and the order count.

    One read of the customer's order lines, added up here in exact decimals: ``purchases`` are the lines
    bought (quantity above 0) at their price, ``returns`` the lines returned (negative), in the currency of
    the order.
    """
    orders: dict[str, dict[str, Any]] = {}
    months: dict[tuple[str, str], dict[str, Any]] = {}
    zero = Decimal(0)
    lines = history.order_lines(store, customer_id)
    for line in lines:
        amount = line["quantity"] * line["unit_price"]
        bought, back = (amount, zero) if line["quantity"] > 0 else (zero, amount)
        o = orders.setdefault(
            line["order_id"],
            {
                "order_id": line["order_id"],
                "ordered_at": line["ordered_at"],
                "lines": 0,
                "purchases": zero,
                "returns": zero,
                "currency": line["currency"],
            },
        )
        o["lines"] += 1
        o["purchases"] += bought
        o["returns"] += back
        at = o["ordered_at"]
        key = (f"{at.year:04d}-{at.month:02d}", o["currency"])
        m = months.setdefault(
            key, {"month": key[0], "currency": key[1], "orders": set(), "purchases": zero, "returns": zero}
        )
        m["orders"].add(line["order_id"])
        m["purchases"] += bought
        m["returns"] += back
    newest = sorted(orders.values(), key=lambda o: (o["ordered_at"], o["order_id"]), reverse=True)
    shown = [
        {
            **o,
            "kind": "return" if o["purchases"] == 0 and o["returns"] != 0 else "order",
            "purchases": cents(o["purchases"]),
            "returns": cents(o["returns"]),
        }
        for o in page.cut(newest)
    ]
    by_month = [
        {**m, "orders": len(m["orders"]), "purchases": cents(m["purchases"]), "returns": cents(m["returns"])}
        for _, m in sorted(months.items())
    ]
    summary = {
        "orders": len(orders),
        "lines": len(lines),
        "first": min((x["ordered_at"] for x in lines), default=None),
        "last": max((x["ordered_at"] for x in lines), default=None),
        "revenue": sum((x["quantity"] * x["unit_price"] for x in lines), zero) if lines else None,
    }
    return {"orders": shown, "months": by_month, "summary": summary}


def _p_alive(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """P(alive) at the end of each stored review month, then at each ``keepwise clv`` run's history date."""
    out = [
        {"month": r["review_month"], "p_alive": round(float(r["p_alive"]), 4), "from": "keepwise review"}
        for r in history.rows_of(
            store, "review_p_alive", customer_id, ["review_month", "p_alive"], "review_month ASC"
        )
        if r["p_alive"] is not None and r["p_alive"] == r["p_alive"]
    ]
    for r in history.rows_of(store, "clv", customer_id, ["as_of", "model", "p_alive"], "as_of ASC"):
        if r.get("p_alive") is None or r["p_alive"] != r["p_alive"]:
            continue
        day = r["as_of"].date().isoformat() if hasattr(r["as_of"], "date") else str(r["as_of"])
        out.append(
            {
                "month": day[:7],
                "as_of": day,
                "p_alive": round(float(r["p_alive"]), 4),
                "from": f"keepwise clv ({r['model']})",
            }
        )
    return out


def _profit(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """Profit, tier and rank of each month ``keepwise profit --view ttm`` stored (trailing twelve months)."""
    rows = history.rows_of(
        store,
        "profit_ttm",
        customer_id,
        ["month", "profit", "revenue", "tier", "rank", "currency"],
        "month ASC",
    )
    return [{**r, "rank": int(r["rank"])} for r in _money(rows)]


def customer_history(store: Store, customer_id: str, page: Page | None = None) -> dict[str, Any]:
    """The history sections of one (known) customer's page; see the module's description.

    Returns
    -------
    dict
        ``timeline`` (``orders``: one page of orders, newest first, with ``purchases`` and ``returns`` in
        the order's ``currency``; ``months``: purchases, returns and orders per month and currency),
        ``p_alive_history``, ``profit_history``, ``concessions`` (decisions asked and recorded), ``exits``,
        ``consent_history``, ``messages`` and ``notes`` (each input the store lacks, and the command that
        fills a figure not stored yet).
    """
    page = page or Page()
    inv = inventory(store)
    notes: list[Note] = []
    timeline = _timeline(store, customer_id, page)
    summary = timeline.pop("summary")
    doc: dict[str, Any] = {"orders_total": summary["orders"], "order_summary": summary, "timeline": timeline}
    doc["p_alive_history"] = _p_alive(store, customer_id)
    if not doc["p_alive_history"]:
        notes.append(
            Note(
                "review_p_alive",
                "no P(alive) stored for this customer",
                "run `keepwise review` (each month) or `keepwise clv` to fill it",
            )
        )
    doc["profit_history"] = _profit(store, customer_id)
    if not store.has_table("profit_ttm"):
        notes.append(
            Note(
                "profit_ttm",
                "no twelve-month profit stored",
                "run `keepwise profit --view ttm` (each month) to fill it",
            )
        )
    doc["concessions"] = _money(
        history.rows_of(
            store,
            "decision_log",
            customer_id,
            [
                "decided_at",
                "kind",
                "incident_id",
                "recommendation",
                "asked",
                "recommended",
                "granted",
                "currency",
                "action",
                "outcome",
                "outcome_at",
            ],
            "decided_at DESC",
        )
    )
    doc["exits"] = history.rows_of(
        store,
        "exits",
        customer_id,
        ["lost_at", "reason_code", "reason_text", "competitor", "wanted_back"],
        "lost_at DESC",
    )
    consent = history.rows_of(
        store, "consent_events", customer_id, ["at", "channel", "purpose", "event", "source"], "at DESC"
    )
    if not consent:  # a store whose consent was loaded but never changed here: the loaded rows as events
        for r in history.rows_of(
            store,
            "consent",
            customer_id,
            ["channel", "purpose", "granted_at", "revoked_at", "source"],
            "granted_at DESC",
        ):
            if r["revoked_at"] is not None:
                consent.append(
                    {
                        "at": r["revoked_at"],
                        "channel": r["channel"],
                        "purpose": r["purpose"],
                        "event": "revoked",
                        "source": r["source"],
                    }
                )
            consent.append(
                {
                    "at": r["granted_at"],
                    "channel": r["channel"],
                    "purpose": r["purpose"],
                    "event": "granted",
                    "source": r["source"],
                }
            )
        consent.sort(key=lambda e: e["at"], reverse=True)
    doc["consent_history"] = consent
    doc["messages"] = history.rows_of(
        store,
        "outbox",
        customer_id,
        [
            "message_id",
            "queued_at",
            "sent_at",
            "template",
            "kind",
            "subject",
            "status",
            "attempts",
            "confirmed",
        ],
        "queued_at DESC",
    )
    for m in doc["messages"]:
        if m.get("attempts") is not None:
            m["attempts"] = int(m["attempts"])
    for name, instead in (
        ("incidents", "no incidents or concessions can be shown"),
        ("exits", "no exit can be shown; a customer counts as lost after a long silence (the review's rule)"),
        ("consent", "no consent can be shown: only service messages about an open problem may be sent"),
    ):
        note = inv.note(name, instead)
        if note is not None:
            notes.append(note)
    doc["notes"] = [n.to_json() for n in notes]
    return doc


def timeline_figure(doc: dict[str, Any], div_id: str = "fig-timeline") -> str | None:
    """Purchases (bars up) and returns (bars down) per month, one pair per currency; ``None``: no orders."""
    import plotly.graph_objects as go

    from keepwise.charts import fragment

    months = doc["timeline"]["months"]
    if not months:
        return None
    fig = go.Figure()
    for currency in sorted({m["currency"] for m in months}):
        mine = [m for m in months if m["currency"] == currency]
        x = [m["month"] for m in mine]
        fig.add_bar(x=x, y=[float(m["purchases"]) for m in mine], name=f"purchases ({currency})")
        if any(Decimal(m["returns"]) for m in mine):
            fig.add_bar(x=x, y=[float(m["returns"]) for m in mine], name=f"returns ({currency})")
    fig.update_layout(
        title="Purchases and returns by month",
        barmode="relative",
        height=320,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h"},
    )
    return fragment(fig, div_id)


def p_alive_figure(doc: dict[str, Any], div_id: str = "fig-p-alive") -> str | None:
    """P(alive) over time (stored review months, and ``keepwise clv`` runs); ``None``: nothing stored."""
    import plotly.graph_objects as go

    from keepwise.charts import fragment

    points = doc["p_alive_history"]
    if not points:
        return None
    fig = go.Figure()
    for source in sorted({p["from"] for p in points}):
        mine = [p for p in points if p["from"] == source]
        fig.add_scatter(
            x=[p["month"] for p in mine], y=[p["p_alive"] for p in mine], mode="lines+markers", name=source
        )
    fig.update_layout(
        title="Chance still a customer, P(alive)",
        yaxis={"range": [0, 1], "tickformat": ".0%"},
        xaxis={"tickformat": "%b %Y", "dtick": "M1"},
        height=280,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h"},
    )
    return fragment(fig, div_id)
