"""What the dashboard and the API read from the store: stored reviews, customer profiles, optional parts.

Nothing here runs the monthly review: it reads what ``keepwise review`` wrote (``review_document`` holds the
review's JSON document, ``review_p_alive`` each customer's P(alive), ``review_warnings`` and ``review_lost``
the rows behind them).
"""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from typing import Any

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents
from keepwise.signals.period import ReviewPeriod
from keepwise.web.app import NotFound

__all__ = [
    "conjoint_document",
    "conjoint_result",
    "customer_profile",
    "review_document",
    "review_months",
    "winback_document",
]


def _tables(backend: Any) -> set[str]:
    return set(backend.list_tables())


def _rows(backend: Any, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = backend.con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def review_months(backend: Any) -> list[str]:
    """Months with a stored review, newest first."""
    if "review_document" not in _tables(backend):
        return []
    rows = backend.con.execute(
        "SELECT DISTINCT review_month FROM review_document ORDER BY review_month DESC"
    ).fetchall()
    return [str(r[0]) for r in rows]


def review_document(backend: Any, month: str | None = None) -> dict[str, Any]:
    """The JSON document of the review of ``month`` (default: the latest) as ``keepwise review --json``.

    The CLI's document also names the HTML file it wrote (``report``); the stored one has no file.
    """
    if month is not None:
        month = ReviewPeriod.of(month).month  # a malformed month is the CLI's one-line error
    months = review_months(backend)
    if not months:
        raise NotFound("the store holds no review yet; run `keepwise review` first")
    chosen = month or months[0]
    if chosen not in months:
        raise NotFound(
            f"no review of {chosen} in the store (stored: {', '.join(months)}); "
            f"run `keepwise review --month {chosen}`"
        )
    row = backend.con.execute(
        "SELECT document FROM review_document WHERE review_month = ? ORDER BY written_at DESC LIMIT 1",
        [chosen],
    ).fetchone()
    doc: dict[str, Any] = json.loads(row[0])
    return doc


def _money_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: cents(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


def customer_profile(backend: Any, customer_id: str, config: Config) -> dict[str, Any]:
    """Everything the store knows about one customer, for the customer page and ``/api/customers/{id}``.

    Returns
    -------
    dict
        ``customer`` (the customers row), ``orders`` (orders, lines, first and last order, revenue and gross
        margin over their whole history), ``profit`` (their row of :func:`keepwise.value.profitability`
        over the trailing twelve months: tier, quintile, rank and the money fields; ``None`` if they bought
        nothing in that window), ``p_alive`` (from the latest stored review, if it had the purchase model),
        ``warnings`` and ``lost`` (from the latest stored review), ``incidents`` and ``consent``.
    """
    rows = _rows(backend, "SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    if not rows:
        raise NotFound(f"unknown customer id '{customer_id}'")
    customer = _money_rows(rows)[0]
    o = backend.con.execute(
        "SELECT count(DISTINCT order_id), count(*), min(ordered_at), max(ordered_at), "
        "sum(quantity * unit_price), sum(quantity * (unit_price - coalesce(unit_cost, 0))) "
        "FROM orders WHERE customer_id = ?",
        [customer_id],
    ).fetchone()
    orders = {
        "orders": int(o[0]),
        "lines": int(o[1]),
        "first": o[2],
        "last": o[3],
        "revenue": cents(o[4]),
        "gross_margin": cents(o[5]),
    }
    doc: dict[str, Any] = {
        "customer_id": customer_id,
        "customer": customer,
        "orders": orders,
        "profit": _profit(backend, customer_id, config) if orders["orders"] else None,
    }
    months = review_months(backend)
    latest = months[0] if months else None
    tables = _tables(backend)
    doc["review_month"] = latest
    doc["p_alive"] = None
    if latest and "review_p_alive" in tables:
        p = backend.con.execute(
            "SELECT p_alive, p_alive_prev FROM review_p_alive WHERE review_month = ? AND customer_id = ?",
            [latest, customer_id],
        ).fetchone()
        if p is not None:
            doc["p_alive"] = {
                "month": latest,
                "p_alive": None if p[0] is None else round(float(p[0]), 4),
                "p_alive_month_before": None if p[1] is None or p[1] != p[1] else round(float(p[1]), 4),
            }
    doc["warnings"] = (
        _rows(
            backend,
            "SELECT kind, evidence, value_at_risk FROM review_warnings WHERE review_month = ? "
            "AND customer_id = ? ORDER BY kind",
            [latest, customer_id],
        )
        if latest and "review_warnings" in tables
        else []
    )
    lost = (
        _rows(
            backend,
            "SELECT lost_at, how, reason, competitor, annual_margin, simple_value FROM review_lost "
            "WHERE review_month = ? AND customer_id = ?",
            [latest, customer_id],
        )
        if latest and "review_lost" in tables
        else []
    )
    doc["lost"] = lost[0] if lost else None
    doc["incidents"] = _money_rows(
        _rows(
            backend,
            "SELECT incident_id, opened_at, category, description, status, concession_amount, currency, "
            "resolved_at FROM incidents WHERE customer_id = ? ORDER BY opened_at DESC",
            [customer_id],
        )
    )
    doc["consent"] = _rows(
        backend,
        "SELECT channel, purpose, granted_at, revoked_at, source FROM consent WHERE customer_id = ? "
        "ORDER BY granted_at DESC",
        [customer_id],
    )
    return doc


def _profit(backend: Any, customer_id: str, config: Config) -> dict[str, Any] | None:
    from keepwise.value.profitability import FIELDS, latest_month, profitability

    month = latest_month(backend)
    df = profitability(backend, month, view="ttm", config=config)
    mine = df[df["customer_id"] == customer_id]
    if mine.empty:
        return None
    r = mine.iloc[0]
    return {
        "month": month,
        "view": "ttm",
        "tier": str(r["tier"]),
        "quintile": int(r["quintile"]),
        "rank": int(r["rank"]),
        "of": len(df),
        "currency": config.value.reporting_currency,
        **{f: cents(r[f]) for f in FIELDS},
    }


def _optional(module: str) -> Any | None:
    """The module, or ``None`` if this keepwise does not have it (yet)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            return None
        raise


def winback_document(backend: Any, config: Config, month: str | None = None, top: int = 20) -> dict[str, Any]:
    """The win-back ranking exactly as ``keepwise winback [--month M] [--top N] --json`` prints it."""
    module = _optional("keepwise.decisions.winback")
    if module is None:
        raise NotFound(
            "the win-back ranking is not available in this keepwise yet (keepwise.decisions.winback)"
        )
    if top < 0:
        raise KeepwiseInputError(f"--top must be 0 (all) or more, not {top}")
    if month is not None:
        ReviewPeriod.of(month)
    ranking = module.rank_winback(backend, month, config=config)
    doc: dict[str, Any] = ranking.to_json(top=top or None)
    return doc


def conjoint_result(backend: Any, study: str | None = None) -> Any:
    """The conjoint study ``study`` (default: the one saved last), or ``None`` if the store has none."""
    module = _optional("keepwise.conjoint.store")
    if module is None:
        return None
    return module.load_result(backend, study)


def conjoint_document(result: Any) -> dict[str, Any]:
    """A saved study as ``keepwise conjoint show --json`` prints it."""
    from keepwise.conjoint.report import show_document

    return show_document(result)
