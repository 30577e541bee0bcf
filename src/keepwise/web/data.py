"""What the dashboard and the API read from the store: stored reviews, customer profiles, stage documents.

Nothing here runs the monthly review: it reads what ``keepwise review`` wrote (``review_document`` holds the
review's JSON document, ``review_p_alive`` each customer's P(alive), ``review_warnings`` and ``review_lost``
the rows behind them). Every read goes through the :class:`~keepwise.store.Store` with Ibis expressions.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import ibis

from keepwise.config import Config
from keepwise.conjoint.results import ConjointResult
from keepwise.money import cents
from keepwise.signals.period import ReviewPeriod
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note
from keepwise.web.app import NotFound
from keepwise.web.cache import Kept

__all__ = [
    "conjoint_document",
    "conjoint_result",
    "customer_profile",
    "mark_document",
    "review_document",
    "review_months",
]


def _rows(expr: Any) -> list[dict[str, Any]]:
    """The rows of an Ibis expression as plain Python values (decimals, aware datetimes, ``None``)."""
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def review_months(store: Store) -> list[str]:
    """Months with a stored review, newest first."""
    return list(_reviews(store))


def _reviews(store: Store) -> dict[str, str]:
    """When the latest review of each reviewed month was written, by month, newest month first (one query)."""
    store = as_store(store)
    if not store.has_table("review_document"):
        return {}
    t = store.table("review_document")
    months = (
        t.group_by("review_month").aggregate(written=t.written_at.max()).order_by(ibis.desc("review_month"))
    )
    return {str(r["review_month"]): str(r["written"]) for r in _rows(months)}


def review_document(store: Store, month: str | None = None, kept: Kept[Any] | None = None) -> dict[str, Any]:
    """The JSON document of the review of ``month`` (default: the latest) as ``keepwise review --json``.

    The CLI's document also names the HTML file it wrote (``report``); the stored one has no file. With
    ``kept``, the document is parsed once per review written (the caller must not change it).
    """
    store = as_store(store)
    if month is not None:
        month = ReviewPeriod.of(month).month  # a malformed month is the CLI's one-line error
    written = _reviews(store)
    months = list(written)
    if not months:
        raise NotFound("the store holds no review yet; run `keepwise review` first")
    chosen = month or months[0]
    if chosen not in months:
        raise NotFound(
            f"no review of {chosen} in the store (stored: {', '.join(months)}); "
            f"run `keepwise review --month {chosen}`"
        )
    t = store.table("review_document")
    latest = t.filter(t.review_month == chosen).order_by(ibis.desc("written_at")).limit(1)

    def load() -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(_rows(latest.select("document"))[0]["document"])
        return doc

    if kept is None:
        return load()
    found: dict[str, Any] = kept.get((store.url, "review", chosen), written[chosen], load)
    return found


def _money_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: cents(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in rows]


def customer_profile(
    store: Store, customer_id: str, config: Config, *, orders: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Everything the store knows about one customer, for the customer page and ``/api/customers/{id}``.

    ``orders``, when given, is the customer's ``orders``, ``lines``, ``first``, ``last`` and ``revenue`` (a
    ``Decimal``) added up already from their order lines (the customer page reads them once), instead of
    an aggregate of the orders table here.

    Returns
    -------
    dict
        ``customer`` (the customers row), ``orders`` (orders, lines, first and last order, revenue and gross
        margin over their whole history), ``margin_basis`` (``measured``, ``assumed`` or ``revenue``: no unit
        costs, so every margin is revenue), ``profit`` (their row of :func:`keepwise.value.profitability`
        over the trailing twelve months: tier, quintile, rank and the money fields; ``None`` if they bought
        nothing in that window), ``p_alive`` (from the latest stored review, if it had the purchase model),
        ``warnings`` and ``lost`` (from the latest stored review), ``incidents`` and ``consent``.
    """
    from keepwise.store import customer_history as history

    store = as_store(store)
    columns = list(store.table("customers").columns)
    rows = history.rows_of(store, "customers", customer_id, columns, "customer_id ASC", 1)
    if not rows:
        raise NotFound(f"unknown customer id '{customer_id}'")
    customer = _money_rows(rows)[0]
    agg = orders or history.order_summary(store, customer_id)
    value = _value(store, customer_id, config)
    orders = {
        "orders": int(agg["orders"]),
        "lines": int(agg["lines"]),
        "first": agg["first"],
        "last": agg["last"],
        "revenue": cents(agg["revenue"]),
        "gross_margin": None if value is None else value["margin"],
    }
    doc: dict[str, Any] = {
        "customer_id": customer_id,
        "customer": customer,
        "orders": orders,
        "profit": None,
        "value": value,
        "notes": [],
    }
    doc["margin_basis"] = _margin_basis(store, config, doc["notes"])
    if orders["orders"]:
        try:
            doc["profit"] = _profit(store, customer_id)
        except _NoProfit as gap:
            doc["notes"].append(
                Note(
                    "profit_ttm",
                    f"no twelve-month profitability of {gap.month} stored",
                    f"tier and rank are not shown; run `keepwise profit --view ttm --month {gap.month}`",
                ).to_json()
            )
    latest = history.latest(store, "review_document", "review_month")
    latest = None if latest is None else str(latest)
    doc["review_month"] = latest
    doc["p_alive"] = None
    doc["warnings"] = []
    lost: list[dict[str, Any]] = []
    if latest is not None:

        def reviewed(table: str, columns: list[str], order: str = "review_month ASC") -> list[dict[str, Any]]:
            # a review stored by an older keepwise has fewer columns: those it lacks are left out
            return history.rows_of(store, table, customer_id, columns, order, where={"review_month": latest})

        p = reviewed("review_p_alive", ["p_alive", "p_alive_prev"])
        if p:
            now, before = p[0]["p_alive"], p[0]["p_alive_prev"]
            doc["p_alive"] = {
                "month": latest,
                "p_alive": None if now is None else round(float(now), 4),
                "p_alive_month_before": None
                if before is None or before != before
                else round(float(before), 4),
            }
        doc["warnings"] = reviewed("review_warnings", ["kind", "evidence", "value_at_risk"], "kind ASC")
        lost = reviewed(
            "review_lost",
            [
                "lost_at",
                "how",
                "reason",
                "competitor",
                "basis",
                "monthly_margin",
                "annual_margin",
                "discounted_value",
                "simple_value",
            ],
        )
    doc["lost"] = lost[0] if lost else None
    incident_columns = [
        "incident_id",
        "opened_at",
        "category",
        "description",
        "status",
        "concession_amount",
        "currency",
        "resolved_at",
    ]
    doc["incidents"] = _money_rows(
        history.rows_of(store, "incidents", customer_id, incident_columns, "opened_at DESC", _ALL)
    )
    consent_columns = ["channel", "purpose", "granted_at", "revoked_at", "source"]
    doc["consent"] = history.rows_of(store, "consent", customer_id, consent_columns, "granted_at DESC", _ALL)
    return doc


#: No limit on a customer's rows of a table (all of them, as before).
_ALL = 2**62


def _margin_basis(store: Store, config: Config, notes: list[dict[str, str]]) -> str:
    """``measured`` (unit costs recorded), ``assumed`` (``[value] default_margin_rate``) or ``revenue``.

    Without unit costs or an assumed rate, every margin figure is revenue: the page labels it so and a note
    says why.
    """
    from keepwise.store.inventory import inventory
    from keepwise.web.customer_data import costs_note

    note = costs_note(inventory(store), config)
    if note is None:
        return "measured"
    notes.append(note.to_json())
    return "assumed" if config.value.default_margin_rate is not None else "revenue"


def _value(store: Store, customer_id: str, config: Config) -> dict[str, Any] | None:
    """The customer's one honest value (:func:`keepwise.value.worth.worth`), as review and win-back give it.

    ``None`` for a customer without orders; otherwise ``margin`` (lifetime), ``margin_a_year``,
    ``monthly_margin``, ``basis``, ``years`` and ``purchase_days``, money as text with two decimals.
    """
    from keepwise.value.worth import RULE, worth

    w = worth(store, [customer_id], rules=config.review)
    if w.empty:
        return None
    r = w.iloc[0]
    return {
        "margin": cents(r["margin"]),
        "margin_a_year": cents(r["annual_margin"]),
        "monthly_margin": cents(r["monthly_margin"]),
        "basis": str(r["basis"]),
        "years": float(r["years"]),
        "purchase_days": int(r["purchase_days"]),
        "rule": RULE,
        "clv": _clv(store, customer_id),
    }


def _clv(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The customer's discounted model-based value from the latest ``keepwise clv`` run (``None``: no run)."""
    from keepwise.store import customer_history as history

    if not store.has_table("clv"):
        return None
    t = store.table("clv")
    wanted = ["as_of", "model", "horizon_months", "clv"]
    if not set(wanted) <= set(t.columns):
        return None
    then = "computed_at DESC" if "computed_at" in t.columns else "model ASC"
    rows = history.rows_of(store, "clv", customer_id, wanted, f"as_of DESC, {then}", 1)
    if not rows:
        return None
    r = rows[0]
    return {
        "as_of": r["as_of"],
        "model": r["model"],
        "horizon_months": int(r["horizon_months"]),
        "value": None if r["clv"] is None else cents(r["clv"]),
    }


def _profit(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The customer's row of the stored trailing-twelve-month profitability (``keepwise profit --view ttm``).

    One query of the ``profit_ttm`` table for the latest month (:func:`~keepwise.value.profit.run` stored
    it); ``None`` if they bought nothing in that window. A month never stored is a note naming the command.
    """
    from keepwise.value.profit import table_name
    from keepwise.value.profitability import FIELDS, latest_month

    month = latest_month(store)
    table = table_name("ttm")
    if not store.has_table(table):
        raise _NoProfit(month)
    from keepwise.store import customer_history as history

    columns = list(store.table(table).columns)
    rows = history.rows_of(store, table, customer_id, columns, "month ASC", 1, where={"month": month})
    of = history.count_of(store, table, {"month": month})
    if not rows:
        if not of:
            raise _NoProfit(month)
        return None
    r = {**rows[0], "of": of}
    return {
        "month": month,
        "view": "ttm",
        "tier": str(r["tier"]),
        "quintile": int(r["quintile"]),
        "rank": int(r["rank"]),
        "of": int(r["of"]),
        "currency": str(r["currency"]),
        **{f: cents(r[f]) for f in FIELDS},
    }


class _NoProfit(Exception):
    """No trailing-twelve-month profitability stored for ``month``."""

    def __init__(self, month: str):
        super().__init__(month)
        self.month = month


def conjoint_result(store: Store, study: str | None = None) -> ConjointResult | None:
    """The conjoint study ``study`` (default: the one saved last), or ``None`` if the store has none."""
    from keepwise.conjoint.store import load_result

    return load_result(store, study)


def conjoint_document(result: ConjointResult) -> dict[str, Any]:
    """A saved study as ``keepwise conjoint show --json`` prints it."""
    from keepwise.conjoint.report import show_document

    doc: dict[str, Any] = show_document(result)
    return doc


def mark_document(row: dict[str, Any]) -> dict[str, Any]:
    """A recorded outreach action as ``keepwise outreach done|skip --json`` prints it."""
    from keepwise.decisions.outreach import mark_document as document

    return document(row)
