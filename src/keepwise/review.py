"""The monthly retention review: warning signs, the lost-customer ledger and retention metrics for one month.

A review is a list of *sections*. Each section comes from a provider, a function that takes the
:class:`ReviewContext` (the store, the month, the shared order expressions and the results of the sections
before it) and returns a :class:`Section` (or ``None`` to stay out of this review)::

    from keepwise.review import Section, register_section

    def my_section(ctx):
        return Section(key="profitability", title="Profitability", headline="...", data={...})

    register_section("profitability", my_section)

A section's ``data`` must be JSON-able (money as strings); it appears in ``keepwise review --json`` under the
section's key. Its ``html`` is a fragment for the report (figures made with
:func:`keepwise.report.figures.fragment`; the page embeds plotly.js once). Its ``tables`` are written back to
the store as ``review_<name>`` with a ``review_month`` column, replacing that month's earlier rows, so the
dashboard reads them. The built-in sections are ``warnings``, ``lost`` and ``metrics``. The review's whole
JSON document (what ``keepwise review --json`` prints, less the report file) is stored as
``review_document`` and each customer's P(alive) as ``review_p_alive``, for the dashboard and the API.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import sqlglot as sg
import sqlglot.expressions as sge

from keepwise import features
from keepwise.config import Config, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.report import figures
from keepwise.signals import (
    KINDS,
    Ledger,
    ReviewPeriod,
    SignalInputs,
    build_ledger,
    compute_metrics,
    detect_warnings,
    last_complete_month,
    lost_status,
    prepare,
)
from keepwise.signals import p_alive as p_alive_rule
from keepwise.signals.inputs import money
from keepwise.signals.ledger import model_lifetime_values

__all__ = [
    "SECTIONS",
    "Review",
    "ReviewContext",
    "Section",
    "SectionProvider",
    "register_section",
    "run_review",
]


@dataclass
class Section:
    """One part of the review.

    Attributes
    ----------
    key:
        Name in the JSON document and in the report's anchors (``warnings``, ``lost``, ...).
    title:
        Heading in the report.
    headline:
        One sentence a manager reads first, with the money figure.
    data:
        JSON-able content (money as strings with two decimals).
    html:
        Fragment for the report (tables, figure ``div`` elements); may be empty.
    tables:
        DataFrames to write back to the store as ``review_<name>`` (a ``review_month`` column is added).
    """

    key: str
    title: str
    headline: str
    data: Any
    html: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class ReviewContext:
    """What a section provider receives.

    Attributes
    ----------
    backend:
        The store (an Ibis backend).
    period:
        The review month.
    lines, orders:
        Order lines and orders before the end of the month (Ibis expressions, cached in the engine).
    inputs:
        The shared per-customer summary of :mod:`keepwise.signals`.
    status:
        Every customer's lost status at the end of the month (:func:`keepwise.signals.lost_status`).
    sections:
        The sections produced so far, by key.
    config:
        The assumptions (``keepwise.toml``) the review runs with; ``config.review`` holds its own rules.
    """

    backend: Any
    period: ReviewPeriod
    lines: ir.Table
    orders: ir.Table
    inputs: SignalInputs
    status: pd.DataFrame
    sections: dict[str, Section] = field(default_factory=dict)
    config: Config = field(default_factory=Config)


SectionProvider = Callable[[ReviewContext], Section | None]


@dataclass
class Review:
    """The result of :func:`run_review`."""

    period: ReviewPeriod
    sections: list[Section]
    notes: list[str]
    assumptions: list[dict[str, Any]] = field(default_factory=list)

    def section(self, key: str) -> Section | None:
        """The section called ``key``, if the review has it."""
        return next((s for s in self.sections if s.key == key), None)

    @property
    def headlines(self) -> list[str]:
        """Every section's headline, in order."""
        return [s.headline for s in self.sections]

    def to_json(self) -> dict[str, Any]:
        """The review as one JSON-able document: month, headlines, notes and each section's data by key."""
        doc: dict[str, Any] = {
            "month": self.period.month,
            "headlines": {s.key: s.headline for s in self.sections},
            "notes": self.notes,
            "assumptions": self.assumptions,
        }
        for s in self.sections:
            doc[s.key] = s.data
        return doc


# ---- built-in sections ---------------------------------------------------------------------------------
def _warnings_section(ctx: ReviewContext) -> Section:
    w = detect_warnings(ctx.inputs)
    per_customer = w.drop_duplicates("customer_id")
    n_customers = len(per_customer)
    worth = sum(per_customer["annual_margin"], Decimal(0))
    at_risk = sum(w["value_at_risk"], Decimal(0))
    by_kind = {
        k: {
            "count": int((w["kind"] == k).sum()),
            "value_at_risk": str(money(sum(w.loc[w["kind"] == k, "value_at_risk"], Decimal(0)))),
        }
        for k in KINDS
    }
    if n_customers:
        headline = (
            f"{n_customers:,} customers worth {figures.money_text(worth)} a year in margin show warning "
            f"signs; {figures.money_text(at_risk)} of it is at risk"
        )
    else:
        headline = "No customer shows warning signs this month"
    data = [
        {
            "customer_id": r["customer_id"],
            "kind": r["kind"],
            "evidence": r["evidence"],
            "value_at_risk": str(r["value_at_risk"]),
        }
        for r in w.to_dict("records")
    ]
    top = w.head(50)
    html = figures.fragment(figures.warnings_bar(by_kind), "fig-warnings") + figures.html_table(
        ["#", "customer", "warning", "evidence", "value at risk / year"],
        [
            (r["rank"], r["customer_id"], r["kind"], r["evidence"], f"${r['value_at_risk']:,}")
            for r in top.to_dict("records")
        ],
        numeric=(0, 4),
    )
    if len(w) > len(top):
        html += f"<p>The {len(top)} largest of {len(w):,} warnings; all are in the JSON and the store.</p>"
    table = w.assign(
        value_at_risk=w["value_at_risk"].map(str), annual_margin=w["annual_margin"].map(str)
    ).drop(columns=["p_value"])
    return Section(
        key="warnings",
        title="Warning signs",
        headline=headline,
        data=data,
        html=html,
        tables={"warnings": table},
    )


def _lost_section(ctx: ReviewContext) -> Section:
    model_values = None
    if ctx.inputs.model is not None and ctx.inputs.rft is not None:
        try:
            model_values = model_lifetime_values(
                ctx.inputs.model, ctx.inputs.rft, ctx.status, ctx.config.review
            )
        except Exception as exc:  # the model-based figure is a bonus; the annuity stands in for it
            ctx.inputs.notes.append(f"model lifetime values not computed ({type(exc).__name__}: {exc})")
    ledger: Ledger = build_ledger(
        ctx.backend,
        ctx.orders,
        ctx.period,
        status=ctx.status,
        model_values=model_values,
        rules=ctx.config.review,
    )
    if ledger.count:
        headline = (
            f"{ledger.count:,} customers were lost in the last 12 months ({100 * ledger.rate:.1f}% of those "
            f"at risk), taking {figures.money_text(ledger.annual_margin_lost)} of margin a year with them; "
            f"lifetime value lost {figures.money_text(ledger.simple_value_lost)} "
            f"({figures.money_text(ledger.discounted_value_lost)} discounted), and replacing them costs "
            f"{figures.money_text(ledger.replacement_cost)}"
        )
    else:
        headline = "No customer was lost in the last 12 months"
    data = ledger.to_json()
    comp = ", ".join(f"{k} ({v})" for k, v in ledger.competitors.items()) or "none named"
    html = (
        figures.fragment(figures.reasons_pareto(ledger.by_reason), "fig-reasons")
        + f"<p>Competitors named: {figures.escape(comp)}.</p>"
        + f"<p class='rule'>Rule: {figures.escape(data['rule'])}. Discounted value: "
        + f"{figures.escape(ledger.discounted_method)}.</p>"
        + figures.html_table(
            [
                "customer",
                "lost on",
                "how",
                "reason",
                "competitor",
                "margin / year",
                "lifetime value (simple)",
            ],
            [
                (
                    r["customer_id"],
                    pd.Timestamp(r["lost_at"]).date().isoformat(),
                    r["how"],
                    r["reason"],
                    r["competitor"] or "",
                    f"${r['annual_margin']:,}",
                    f"${r['simple_value']:,}",
                )
                for r in ledger.customers.sort_values("simple_value", ascending=False)
                .head(50)
                .to_dict("records")
            ],
            numeric=(5, 6),
        )
    )
    table = ledger.customers.assign(
        **{
            c: ledger.customers[c].map(str)
            for c in ("monthly_margin", "annual_margin", "simple_value", "discounted_value")
        }
    )
    return Section(
        key="lost", title="Customers lost", headline=headline, data=data, html=html, tables={"lost": table}
    )


def _metrics_section(ctx: ReviewContext) -> Section:
    m = compute_metrics(ctx.orders, ctx.period)
    churn = m["churn_rate"]
    nrr = m["revenue_retention"]
    parts = []
    if churn is not None:
        parts.append(f"{100 * (1 - churn):.0f}% of last month's buyers bought again this month")
    if nrr is not None:
        parts.append(
            f"customers from a year ago brought {100 * nrr:.0f}% of their revenue of the year before"
        )
    parts.append(f"{m['reactivations']:,} came back after six months or more")
    headline = "; ".join(parts)
    html = figures.fragment(figures.cohort_heatmap(m["cohorts"]), "fig-cohorts") + figures.fragment(
        figures.trend_chart(m["monthly"][-24:]), "fig-trend"
    )
    long = pd.DataFrame(m["cohorts"])
    return Section(
        key="metrics",
        title="Retention",
        headline=headline,
        data=m,
        html=html,
        tables={"metrics": pd.DataFrame(m["monthly"]), "cohorts": long},
    )


#: Section providers in report order: (key, provider). Other parts of keepwise add theirs with
#: :func:`register_section`.
SECTIONS: list[tuple[str, SectionProvider]] = [
    ("warnings", _warnings_section),
    ("lost", _lost_section),
    ("metrics", _metrics_section),
]

#: Modules that register sections when imported; a module that is missing or broken is skipped with a note.
PLUGIN_MODULES: list[str] = [
    "keepwise.value.review_section",
    "keepwise.decisions.wins",
    "keepwise.decisions.outreach_review",
    "keepwise.conjoint.review_section",
]


def register_section(key: str, provider: SectionProvider, *, before: str | None = None) -> None:
    """Add (or replace) the section ``key``; it runs after the built-in ones unless ``before`` names one."""
    SECTIONS[:] = [(k, p) for k, p in SECTIONS if k != key]
    keys = [k for k, _ in SECTIONS]
    at = keys.index(before) if before in keys else len(SECTIONS)
    SECTIONS.insert(at, (key, provider))


def _load_plugins(notes: list[str]) -> None:
    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # another part of keepwise missing must not stop the review
            notes.append(f"section module {name} not loaded ({type(exc).__name__})")
            continue
        register = getattr(module, "register_review_section", None)
        if callable(register):
            register()
        elif callable(getattr(module, "profitability_section", None)) and "profitability" not in dict(
            SECTIONS
        ):
            register_section("profitability", _profitability_adapter(module.profitability_section))


def _jsonable(value: Any) -> Any:
    return json.loads(
        json.dumps(value, default=lambda v: str(v) if not hasattr(v, "isoformat") else v.isoformat())
    )


def _profitability_adapter(make: Callable[..., dict[str, Any]]) -> SectionProvider:
    """Wrap ``keepwise.value.review_section.profitability_section`` (a dict) as a section provider."""

    def provider(ctx: ReviewContext) -> Section:
        doc = make(ctx.backend, ctx.period.month)
        sentences = [str(x) for x in doc.get("sentences", [])]
        html = "".join(f"<p>{figures.escape(x)}</p>" for x in sentences)
        if doc.get("figure") is not None:
            html += figures.fragment(doc["figure"], "fig-profitability")
        data = _jsonable({k: v for k, v in doc.items() if k != "figure"})
        return Section(
            key="profitability",
            title=str(doc.get("title", "Profitability")),
            headline=sentences[0] if sentences else "Profitability",
            data=data,
            html=html,
        )

    return provider


def _is_duckdb(backend: Any) -> bool:
    return getattr(backend, "name", "") == "duckdb"


def _write_tables(backend: Any, month: str, tables: dict[str, pd.DataFrame]) -> None:
    """Replace ``month``'s rows of each ``review_<name>`` table with the frame's rows; other months stay.

    On DuckDB (and Postgres) each table is updated in place: delete the month, insert the frame. On Spark,
    whose plain Parquet tables cannot delete rows, see :func:`_replace_month_spark`. Names are quoted by the
    engine's SQL dialect. A table whose columns changed between keepwise versions is rebuilt with this
    month's rows only, on DuckDB and on Spark.
    """
    for name, frame in tables.items():
        table = f"review_{name}"
        df = frame.copy()
        df.insert(0, "review_month", month)
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = df[col].map(
                    lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else str(v)
                )
        quoted = sg.to_identifier(table, quoted=True).sql(backend.dialect)
        where = f"review_month = {sge.convert(month).sql(backend.dialect)}"
        if getattr(backend, "name", "") == "pyspark":
            _replace_month_spark(backend, table, month, df)
            continue
        if not _is_duckdb(backend):  # Postgres
            if table not in backend.list_tables():
                backend.create_table(table, df)
            else:
                backend.raw_sql(f"DELETE FROM {quoted} WHERE {where}")
                backend.insert(table, df)
            continue
        con = backend.con
        con.register("_kw_review_frame", df)
        try:
            con.execute(f"CREATE TABLE IF NOT EXISTS {quoted} AS SELECT * FROM _kw_review_frame WHERE false")
            con.execute(f"DELETE FROM {quoted} WHERE {where}")
            try:
                con.execute(f"INSERT INTO {quoted} BY NAME SELECT * FROM _kw_review_frame")
            except (
                Exception
            ):  # the table's shape changed between keepwise versions: rebuild it for this month
                con.execute(f"CREATE OR REPLACE TABLE {quoted} AS SELECT * FROM _kw_review_frame")
        finally:
            con.unregister("_kw_review_frame")


def _replace_month_spark(backend: Any, table: str, month: str, df: pd.DataFrame) -> None:
    """Spark: the table's other months plus ``df``, written to a staging table and copied back over the table.

    Spark cannot overwrite a table while reading it, so the union is first written to ``<table>_kw_staging``
    (dropped afterwards; if the copy back fails, the staging table still holds every row). New columns, or a
    column whose type cannot be cast to the table's, rebuild the table with this month's rows only (as DuckDB
    does when ``INSERT ... BY NAME`` fails).
    """
    new = ibis.memtable(df)
    if table not in backend.list_tables():
        backend.create_table(table, new)
        return
    old = backend.table(table)
    target = old.schema()
    compatible = set(new.columns) <= set(target) and all(  # same kind of type (scale or width may differ)
        typ.is_null() or type(typ) is type(target[col]) or (typ.is_numeric() and target[col].is_numeric())
        for col, typ in new.schema().items()
    )
    if not compatible:
        backend.create_table(table, new, overwrite=True)
        return
    fitted = new.select(
        *[
            new[col].cast(typ) if col in new.columns else ibis.null(typ).name(col)
            for col, typ in target.items()
        ]
    )
    staging = f"{table}_kw_staging"
    backend.create_table(staging, old.filter(old.review_month != month).union(fitted), overwrite=True)
    backend.create_table(table, backend.table(staging), overwrite=True)
    # not backend.drop_table: Ibis 12 with sqlglot 30 renders its DROP statement without the table name
    backend.raw_sql(f"DROP TABLE IF EXISTS {sg.to_identifier(staging, quoted=True).sql(backend.dialect)}")


def _materialize(backend: Any, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` once into a temporary table of the engine and return it as a table expression."""
    if not _is_duckdb(backend):
        return expr.cache()
    sql = ibis.to_sql(expr, dialect="duckdb")
    backend.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
    return backend.table(name)


def _drop(backend: Any, name: str) -> None:
    if _is_duckdb(backend):
        backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')


def run_review(
    backend: Any,
    month: str | None = None,
    *,
    write: bool = True,
    sections: list[tuple[str, SectionProvider]] | None = None,
    config: Config | None = None,
) -> Review:
    """Run the review of one month.

    Parameters
    ----------
    backend:
        The store (:func:`keepwise.store.connect`).
    month:
        ``YYYY-MM``; default: the last complete calendar month in the orders.
    write:
        Write each section's tables back to the store as ``review_<name>``.
    sections:
        Providers to run instead of :data:`SECTIONS` (and of the registered plugins).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory, else the documented defaults);
        the review's own rules are ``[review]``, and the report lists them.

    Returns
    -------
    Review
        The sections in order, and notes on what could not be computed.
    """
    notes: list[str] = []
    cfg = config or load_config()
    period = ReviewPeriod.of(month) if month else last_complete_month(backend)
    first = backend.table("orders").ordered_at.min().to_pyarrow().as_py()
    if first is None:
        raise KeepwiseInputError("the store holds no orders; load some first (keepwise load DIR)")
    if pd.Timestamp(period.end) <= pd.Timestamp(first):
        raise KeepwiseInputError(
            f"month {period.month} is before the first order ({first:%Y-%m-%d}); pick a later one"
        )
    if _is_duckdb(backend):
        # DuckDB draws a progress bar on stdout for long queries; stdout belongs to --json
        backend.raw_sql("SET enable_progress_bar = false")
    if sections is None:
        _load_plugins(notes)
        sections = list(SECTIONS)
    lines = _materialize(backend, features.order_lines(backend, period.end), "_kw_review_lines")
    ords = _materialize(backend, features.orders(lines), "_kw_review_orders")
    try:
        status = lost_status(backend, ords, period, cfg.review)
        lost_ids = set(status.loc[status["lost"], "customer_id"])
        inputs = prepare(lines, ords, period, lost_ids, cfg.review)
        inputs.p_alive = p_alive_rule.score(inputs)
        ctx = ReviewContext(backend, period, lines, ords, inputs, status, config=cfg)
        done: list[Section] = []
        for key, provider in sections:
            try:
                section = provider(ctx)
            except KeepwiseInputError:
                raise
            except Exception as exc:
                if key in ("warnings", "lost", "metrics"):
                    raise
                notes.append(f"section '{key}' failed and was left out ({type(exc).__name__}: {exc})")
                continue
            if section is not None:
                ctx.sections[section.key] = section
                done.append(section)
        notes.extend(inputs.notes)
        review = Review(period=period, sections=done, notes=notes, assumptions=used(cfg, "review"))
        if write:
            for s in done:
                _write_tables(backend, period.month, s.tables)
            _write_document(backend, review, inputs.p_alive)
    finally:
        _drop(backend, "_kw_review_orders")
        _drop(backend, "_kw_review_lines")
    return review


def _json_default(value: Any) -> Any:
    """The JSON of ``keepwise review --json``: decimals and timestamps as strings (as the CLI prints them)."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _write_document(backend: Any, review: Review, p_alive: pd.DataFrame | None) -> None:
    """Store the review's JSON document (``review_document``) and P(alive) per customer (``review_p_alive``).

    The dashboard and the API (:mod:`keepwise.web`) read these instead of running the review again.
    """
    doc = json.dumps(review.to_json(), default=_json_default, ensure_ascii=False)
    frame = pd.DataFrame(
        {"written_at": [pd.Timestamp.now(tz="UTC").isoformat()], "document": [doc]}, dtype=object
    )
    tables = {"document": frame}
    if p_alive is not None:
        tables["p_alive"] = p_alive[["customer_id", "p_alive", "p_alive_prev"]]
    _write_tables(backend, review.period.month, tables)
