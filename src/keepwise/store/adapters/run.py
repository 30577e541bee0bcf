"""Running an import: read the exports, map them, match customers, report, and load in one transaction.

The load is :func:`keepwise.store.ingest.load_frames`: the same validation, all-or-nothing transaction and
upsert by key as ``keepwise load``, so importing the same export twice changes nothing and a later export
that overlaps an earlier one adds only what is new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError, LoadError
from keepwise.store.adapters.base import ROW, WHO_COLUMNS, Adapter, Context, Mapped, Problem
from keepwise.store.adapters.people import Matcher
from keepwise.store.adapters.tables import IMPORT_CHARGES, IMPORT_IDS, ensure_import_tables
from keepwise.store.adapters.values import header_of, read_export
from keepwise.store.schema import SCHEMA, Table, load_order
from keepwise.store.store import Store, as_store

__all__ = ["ImportReport", "run_import", "wrong_file"]

_FILE = "_file"


@dataclass
class ImportReport:
    """What an import found and did (or, with ``dry_run``, would do)."""

    source: str
    files: list[str]
    dry_run: bool
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    customers: dict[str, int] = field(default_factory=lambda: {"new": 0, "known": 0})
    first: str | None = None
    last: str | None = None
    revenue: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, str] = field(default_factory=dict)
    charges: dict[str, str] = field(default_factory=dict)
    minutes: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    matched: set[str] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "source": self.source,
            "files": self.files,
            "dry_run": self.dry_run,
            "tables": self.tables,
            "customers": self.customers,
            "first": self.first,
            "last": self.last,
            "revenue": self.revenue,
            "refunds": self.refunds,
            "charges": self.charges,
            "minutes": self.minutes,
            "skipped": self.skipped,
            "problems": [p.as_dict() for p in self.problems],
        }


def wrong_file(
    adapter: Adapter, header: list[str], file: str, others: Iterable[Adapter]
) -> KeepwiseInputError:
    """The error for a file that is not ``adapter``'s export: expected and found columns, the fitting one."""
    missing = adapter.missing(header)
    best = max(others, key=lambda a: a.fit(header), default=None)
    hint = (
        f"; it looks like a {best.title} export: keepwise import {best.name} {file}"
        if best is not None and best.fit(header) > 0 and best.name != adapter.name
        else ""
    )
    shown = ", ".join(header[:12]) + (", ..." if len(header) > 12 else "")
    return KeepwiseInputError(
        f"{file} is not a {adapter.title} export: missing {', '.join(missing)} (found: {shown}){hint}"
    )


def run_import(
    store: Store,
    adapter: Adapter,
    files: list[Path],
    *,
    others: Iterable[Adapter] = (),
    timezone: str | None = None,
    date_format: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import ``files`` with ``adapter``; with ``dry_run`` only report what would change."""
    store = as_store(store)
    others = list(others)
    report = ImportReport(adapter.source_name, [f.name for f in files], dry_run)
    mapped_all: list[tuple[Path, Mapped]] = []
    for path in files:
        header = header_of(path)
        if adapter.missing(header):
            raise wrong_file(adapter, header, path.name, others)
        frame = read_export(path, list(adapter.reads))
        ctx = Context(path, timezone=timezone, date_format=date_format)
        mapped_all.append((path, adapter.map(frame, ctx)))
    matcher = Matcher.from_store(store, report.source)
    frames, columns = _resolve(mapped_all, matcher, adapter, report)
    frames = _with_customers(frames, matcher, store)
    for table, when in (("orders", "ordered_at"), ("incidents", "opened_at"), ("time_logs", "started_at")):
        if table in columns:  # a new customer's first row: where its currency and first time came from
            told = columns.setdefault("customers", {})
            told.setdefault("currency", columns[table].get("currency", "currency"))
            told.setdefault("acquired_at", columns[table].get(when, when))
    _figures(frames, report)
    if dry_run:
        _known(store, frames, report)
        return report
    if store.is_spark:  # the load needs a transaction: all or nothing
        raise KeepwiseInputError(
            f"importing is supported on DuckDB and PostgreSQL stores (this store is {store.kind}); "
            "a dry run works on any store"
        )
    ensure_import_tables(store)
    order = [t for t in load_order(set(frames) & set(SCHEMA)) if t in frames]
    items: list[tuple[Table | str, pd.DataFrame, str]] = [(t, frames[t], _label(report, t)) for t in order]
    items += [
        (spec, frames[spec.name], _label(report, spec.name))
        for spec in (IMPORT_IDS, IMPORT_CHARGES)
        if spec.name in frames
    ]
    from keepwise.store.ingest import load_frames

    try:
        results = load_frames(store, items)
    except LoadError as exc:
        raise _located(exc, frames, columns) from None
    for r in results:
        report.tables[r.table] = {
            "rows": r.rows,
            "new": r.new,
            "updated": r.updated,
            "unchanged": r.unchanged,
        }
    return report


def _label(report: ImportReport, table: str) -> str:
    return f"{table} from {', '.join(report.files)}"


def _resolve(
    mapped_all: list[tuple[Path, Mapped]], matcher: Matcher, adapter: Adapter, report: ImportReport
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """Give every row its customer id; rows without one become problems. Frames of all files are joined."""
    pieces: dict[str, list[pd.DataFrame]] = {}
    columns: dict[str, dict[str, str]] = {}
    for path, mapped in mapped_all:
        for reason, n in mapped.skipped.items():
            report.skipped[reason] = report.skipped.get(reason, 0) + n
        report.problems.extend(mapped.problems)
        named = dict(mapped.tables)
        if mapped.charges is not None:
            named[IMPORT_CHARGES.name] = mapped.charges
        if mapped.consent is not None:
            named["consent"] = mapped.consent
        for table, frame in named.items():
            columns.setdefault(table, {}).update(mapped.columns.get(table, {}))
            frame = frame.assign(**{_FILE: path.name})
            if all(w in frame.columns for w in WHO_COLUMNS):
                frame = _match(
                    frame, matcher, adapter, report, path.name, table, mapped.columns.get(table, {})
                )
            if table == "time_logs" and len(frame):
                frame = _added_up(frame)
            pieces.setdefault(table, []).append(frame)
    frames: dict[str, pd.DataFrame] = {}
    for table, parts in pieces.items():
        frame = pd.concat(parts, ignore_index=True)
        key = list((IMPORT_CHARGES if table == IMPORT_CHARGES.name else SCHEMA[table]).key)
        frames[table] = frame.drop_duplicates(subset=key, keep="last").reset_index(drop=True)
    return frames, columns


def _match(
    frame: pd.DataFrame,
    matcher: Matcher,
    adapter: Adapter,
    report: ImportReport,
    file: str,
    table: str,
    columns: dict[str, str],
) -> pd.DataFrame:
    """Resolve each distinct who-tuple once; rows left without a customer are reported by reason.

    ``columns`` gives the export's column of each who-column (``_email`` -> ``Email``) for the report.
    """
    who = frame[list(WHO_COLUMNS)].fillna("").astype(str)
    key = who["_email"] + "\x1f" + who["_ext"] + "\x1f" + who["_client"]
    codes, uniques = pd.factorize(key)
    names = who["_name"].groupby(codes, sort=True).first().to_numpy()
    ids = np.empty(len(uniques), dtype=object)
    why = np.full(len(uniques), None, dtype=object)
    for n, (k, name) in enumerate(zip(uniques, names, strict=True)):
        email, ext, client = str(k).split("\x1f")
        res = matcher.resolve(email, ext, client, str(name), create=adapter.creates_customers)
        ids[n] = res.customer_id
        if res.customer_id is None:
            column = "_email" if email else "_ext" if ext else "_client" if client else ""
            why[n] = f"{res.kind}\x1f{res.reason}\x1f{columns.get(column, '')}"
    report.matched.update(str(c) for c in ids if c is not None)
    customer = pd.Series(ids[codes], index=frame.index, dtype=object)
    if table not in ("consent", IMPORT_CHARGES.name):  # those people are reported with their orders
        reasons = pd.Series(why[codes], index=frame.index, dtype=object)
        for reason, rows in frame[ROW][reasons.notna()].groupby(reasons[reasons.notna()], sort=False):
            kind, message, column = str(reason).split("\x1f")
            at = tuple(sorted({int(r) for r in rows}))
            report.problems.append(Problem(kind, message, file, at, column or None, len(at)))
    return frame.assign(customer_id=customer)[customer.notna()].drop(columns=list(WHO_COLUMNS))


def _added_up(logs: pd.DataFrame) -> pd.DataFrame:
    """Entries of one person for one customer starting at the same time: one row, minutes added up."""
    key = ["customer_id", "staff_id", "started_at"]
    grouped = logs.assign(minutes=logs["minutes"].astype(float)).groupby(key, sort=False, dropna=False)
    out = grouped.agg(
        minutes=("minutes", "sum"),
        activity=(
            "activity",
            lambda a: "; ".join(dict.fromkeys(str(x) for x in a if isinstance(x, str))) or None,
        ),
        **{ROW: (ROW, "first"), _FILE: (_FILE, "first")},
    ).reset_index()
    return out.assign(minutes=out["minutes"].round(4))


def _with_customers(
    frames: dict[str, pd.DataFrame], matcher: Matcher, store: Store
) -> dict[str, pd.DataFrame]:
    """Add the new customers (first seen = their first order, ticket or entry here) and this import's links.

    Known customers are never rewritten by an import: a customers export adds the new ones only.
    """
    new_ids = set(matcher.new_customers)
    rows = pd.DataFrame(list(matcher.new_customers.values()), columns=["customer_id", "email", "name"])
    firsts: list[pd.DataFrame] = []
    for table, when in (("orders", "ordered_at"), ("incidents", "opened_at"), ("time_logs", "started_at")):
        if table in frames and len(frames[table]):
            f = frames[table]
            cur = f["currency"] if "currency" in f.columns else pd.Series(None, index=f.index, dtype=object)
            firsts.append(
                pd.DataFrame(
                    {
                        "customer_id": f["customer_id"],
                        "acquired_at": f[when],
                        "currency": cur,
                        ROW: f[ROW],
                        _FILE: f[_FILE],
                    }
                )
            )
    if firsts and len(rows):
        seen = pd.concat(firsts).sort_values("acquired_at").groupby("customer_id").first()
        rows = rows.join(seen, on="customer_id")
    given = frames.get("customers")
    if given is not None:
        given = given[given["customer_id"].isin(new_ids)]
        rows = pd.concat([given, rows[~rows["customer_id"].isin(given["customer_id"])]], ignore_index=True)
    frames["customers"] = rows.reset_index(drop=True)
    if "consent" in frames:
        frames["consent"] = _without_stored_consent(frames["consent"], store)
    if "staff_rates" in frames and store.has_table("staff_rates"):  # a rate is set once; later ones by hand
        rated = set(store.read("staff_rates", columns=["staff_id"])["staff_id"].astype(str))
        frames["staff_rates"] = frames["staff_rates"][~frames["staff_rates"]["staff_id"].isin(rated)]
    frames[IMPORT_IDS.name] = matcher.links_frame()
    return frames


def _without_stored_consent(consent: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Keep one grant per customer and channel (the earliest), and none where the store holds one already."""
    consent = consent.sort_values("granted_at").drop_duplicates(["customer_id", "channel", "purpose"])
    if store.has_table("consent"):
        held = store.read("consent", columns=["customer_id", "channel", "purpose"])
        have = set(held.astype(str).itertuples(index=False, name=None))
        keep = [
            t not in have
            for t in consent[["customer_id", "channel", "purpose"]].itertuples(index=False, name=None)
        ]
        consent = consent[keep]
    return consent.reset_index(drop=True)


def _money(value: float) -> str:
    return f"{value:.2f}"


def _figures(frames: dict[str, pd.DataFrame], report: ImportReport) -> None:
    """Customers new and known, date range, revenue and refunds per currency, minutes."""
    new = set(frames.get("customers", pd.DataFrame(columns=["customer_id"]))["customer_id"])
    times: list[pd.Series] = []
    for table, when in (("orders", "ordered_at"), ("incidents", "opened_at"), ("time_logs", "started_at")):
        f = frames.get(table)
        if f is None or not len(f):
            continue
        times.append(pd.to_datetime(f[when], utc=True))
    report.customers = {"new": len(new), "known": len(report.matched - new)}
    if times:
        all_times = pd.concat(times)
        report.first, report.last = all_times.min().isoformat(), all_times.max().isoformat()
    orders = frames.get("orders")
    if orders is not None and len(orders):
        amount = orders["quantity"].astype(float) * orders["unit_price"].astype(float)
        for cur, total in amount[amount > 0].groupby(orders["currency"]).sum().items():
            report.revenue[str(cur)] = _money(total)
        for cur, total in amount[amount < 0].groupby(orders["currency"]).sum().items():
            report.refunds[str(cur)] = _money(-total)
    charges = frames.get(IMPORT_CHARGES.name)
    if charges is not None and len(charges):
        label = charges["kind"].astype(str) + " " + charges["currency"].astype(str)
        for what, total in charges["amount"].astype(float).groupby(label).sum().items():
            report.charges[str(what)] = _money(total)
    logs = frames.get("time_logs")
    if logs is not None and len(logs):
        report.minutes = f"{logs['minutes'].astype(float).sum():.2f}"


def _known(store: Store, frames: dict[str, pd.DataFrame], report: ImportReport) -> None:
    """For a dry run: per table, rows, and how many of their keys the store holds already."""
    import ibis

    for table, frame in frames.items():
        if not len(frame):
            continue
        spec = (
            IMPORT_CHARGES
            if table == IMPORT_CHARGES.name
            else IMPORT_IDS
            if table == IMPORT_IDS.name
            else SCHEMA[table]
        )
        known = 0
        if len(frame) and store.has_table(table):
            keys = frame[list(spec.key)].drop_duplicates()
            stored = store.table(table).select(*spec.key)
            matched = stored.semi_join(ibis.memtable(keys), list(spec.key))
            known = len(store.to_pandas(matched))
        report.tables[table] = {"rows": len(frame), "new": len(frame) - known, "known": known}


def _located(
    exc: LoadError, frames: dict[str, pd.DataFrame], columns: dict[str, dict[str, str]]
) -> LoadError:
    """A load error on a mapped row, told against the export: its file, row and column."""
    table = exc.source.split(" from ")[0]
    frame = frames.get(table)
    if frame is None or exc.row is None or not 0 < exc.row <= len(frame):
        return exc
    at = frame.iloc[exc.row - 1]
    if pd.isna(at.get(ROW)):
        return exc
    column = columns.get(table, {}).get(exc.column or "", exc.column)
    return LoadError(str(at[_FILE]), f"{exc.problem} ({table}.{exc.column})", row=int(at[ROW]), column=column)
