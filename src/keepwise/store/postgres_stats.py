"""The figures a load records (:mod:`keepwise.store.stats`) on PostgreSQL, updated by the rows it changed.

A load into PostgreSQL validates and upserts in DuckDB on a copy of only the stored rows it needs
(:mod:`keepwise.store.postgres_load`), so the figures DuckDB records there describe that copy, not the
table. They are worked out here instead, after the load's rows are written, in the same transaction:

* when the table's recorded figures still hold for the rows it had before the load (its recorded row count
  is the live count less the rows the load added, plus those it removed), they are updated by those rows:
  counts by the added and removed rows' counts; the first and last time by the added rows' (a removed row
  at either end makes it a scan); the distinct customers by the customers of the changed rows whose first
  row came or last row went, asked of PostgreSQL for those customers only; the currencies likewise;
* otherwise (nothing recorded yet, a table changed other than by a load, a first load) they are computed
  from the whole table with the queries of :func:`keepwise.store.stats.scan` in PostgreSQL's dialect.

Either way ``keepwise status`` reads the same figures as a DuckDB store holding the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from keepwise.store.postgres_subset import Wanted
from keepwise.store.schema import SCHEMA, Table
from keepwise.store.stats import COSTED, RECORDED, STATS_DDL, STATS_TABLE, costed_lines, live_counts, scan
from keepwise.store.store import Store

__all__ = ["record_figures"]


def record_figures(
    store: Store, tables: Sequence[str], duck: Any | None = None, fresh: Collection[str] = ()
) -> None:
    """Record the figures of ``tables`` (those of :data:`~keepwise.store.stats.RECORDED`) as they are now.

    Call inside the load's transaction, after its rows are written. ``duck``: the load's DuckDB connection,
    holding each loaded table's copied rows before the load (``_kw_before_NAME``) and after (``NAME``);
    without it every figure is computed from the whole table. ``fresh``: tables that were empty before the
    load; ``duck`` holds every row they hold now, and the figures the DuckDB load recorded of them there
    are theirs (a first load does not scan its table again in PostgreSQL).
    """
    present = set(store.tables())
    names = [t for t in dict.fromkeys(tables) if t in RECORDED and t in present]
    sql = _postgres_sql(store)
    store.sql(STATS_DDL)
    old = {str(n): json.loads(t) for n, t in store.sql(f"SELECT table_name, stats FROM {STATS_TABLE}")}
    figures: dict[str, dict[str, Any]] = {}
    for name in names:
        stored = _columns(store, name)
        if duck is not None and name in fresh:
            loaded = _recorded_in(duck, name, stored)
            if loaded is not None:
                figures[name] = loaded
                continue
        changed = None if duck is None or name not in old else _Changes(duck, name)
        updated = None if changed is None else _updated(store, SCHEMA[name], stored, old.get(name), changed)
        figures[name] = updated if updated is not None else scan(sql, SCHEMA[name], stored=stored)
    if {"orders", "products"} & set(names):
        counts = live_counts(sql, ["orders", "products"], present=present)
        rows, products = int(counts.get("orders", 0)), int(counts.get("products", 0))
        costed = None
        if duck is not None and "products" not in names:
            costed = _costed(store, duck, old.get(COSTED), rows, products)
        figures[COSTED] = {
            "rows": rows,
            "products": products,
            "costed": costed_lines(sql) if costed is None else costed,
        }
    if not figures:
        return
    marks = ", ".join("?" for _ in figures)
    store.sql(f"DELETE FROM {STATS_TABLE} WHERE table_name IN ({marks})", [*figures])
    for name, stats in figures.items():
        text = json.dumps(stats, sort_keys=True)
        store.sql(f"INSERT INTO {STATS_TABLE} VALUES (?, ?, ?)", [name, int(stats["rows"]), text])


def _recorded_in(duck: Any, name: str, stored: dict[str, str]) -> dict[str, Any] | None:
    """What the DuckDB load recorded of table ``name`` in ``duck``, if it has the stored columns."""
    if not duck.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [STATS_TABLE]).fetchall():
        return None
    found = duck.execute(f"SELECT stats FROM {STATS_TABLE} WHERE table_name = ?", [name]).fetchall()
    if not found:
        return None
    figures: dict[str, Any] = json.loads(found[0][0])
    return figures if set(figures.get("filled", {})) == set(stored) else None


def _postgres_sql(store: Store) -> Any:
    """``stats``' statements run on PostgreSQL (DuckDB's ``LIST`` is PostgreSQL's ``array_agg``)."""

    def sql(statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return store.sql(statement.replace("LIST(DISTINCT", "array_agg(DISTINCT"), params)

    return sql


def _columns(store: Store, name: str) -> dict[str, str]:
    """The stored columns of table ``name`` in order, with their PostgreSQL types."""
    rows = store.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema() AND table_catalog = current_database() "
        "ORDER BY ordinal_position",
        [name],
    )
    return {str(c): str(t) for c, t in rows}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Changes:
    """The rows a load removed from table ``name`` and those it added: temporary tables in DuckDB."""

    def __init__(self, duck: Any, name: str):
        self.duck = duck
        before, after = _q(f"_kw_before_{name}"), _q(name)
        self.removed, self.added = _q(f"_kw_removed_{name}"), _q(f"_kw_added_{name}")
        for rows, (one, other) in ((self.removed, (before, after)), (self.added, (after, before))):
            difference = f"SELECT * FROM {one} EXCEPT ALL SELECT * FROM {other}"
            duck.execute(f"CREATE TEMP TABLE IF NOT EXISTS {rows} AS {difference}")
        self.columns = [str(r[0]) for r in duck.execute(f"DESCRIBE {after}").fetchall()]

    def one(self, rows: str, what: str) -> tuple[Any, ...]:
        """The one row of aggregates ``what`` over ``rows`` (``self.removed`` or ``self.added``)."""
        return tuple(self.duck.execute(f"SELECT {what} FROM {rows}").fetchone() or ())

    def values(self, column: str) -> list[Any]:
        """The distinct non-blank values of ``column`` among the removed and the added rows."""
        c = _q(column)
        union = f"SELECT {c} FROM {self.removed} UNION SELECT {c} FROM {self.added}"
        return [v for (v,) in self.duck.execute(f"SELECT * FROM ({union}) WHERE {c} IS NOT NULL").fetchall()]


def _updated(
    store: Store, spec: Table, stored: dict[str, str], old: dict[str, Any] | None, changes: _Changes
) -> dict[str, Any] | None:
    """The figures of ``spec`` updated by ``changes`` from ``old``, or ``None`` when they must be scanned."""
    if old is None or list(stored) != changes.columns or set(old.get("filled", {})) != set(stored):
        return None
    counts = ", ".join(["COUNT(*)", *(f"COUNT({_q(c)})" for c in stored)])
    n_removed, *removed = changes.one(changes.removed, counts)
    n_added, *added = changes.one(changes.added, counts)
    ((live,),) = store.sql(f"SELECT COUNT(*) FROM {store.quote(spec.name)}")
    if int(old["rows"]) != int(live) - n_added + n_removed:
        return None  # the table changed since the figures were recorded
    new = dict(old)
    new["rows"] = int(live)
    new["filled"] = {
        c: int(old["filled"][c]) - int(r) + int(a) for c, r, a in zip(stored, removed, added, strict=True)
    }
    times = [c.name for c in spec.columns if c.type == "timestamp" and c.name in stored]
    if times and not _ends(new, changes, times[0], n_removed):
        return None
    if "customers" in old and not _customers(store, spec.name, new, changes):
        return None
    if "currencies" in old and not _currencies(store, new, changes):
        return None
    return new


def _ends(new: dict[str, Any], changes: _Changes, column: str, n_removed: int) -> bool:
    """Update ``first`` and ``last``; false when they must be scanned.

    The rows kept all lie between the old first and last time, so the new first time is the added rows'
    earliest when that is no later than the old first, else the old first unless a removed row held it
    (then the table is scanned); the same for the last.
    """
    c = _q(column)
    first, last = _when(new.get("first")), _when(new.get("last"))
    low, high = changes.one(changes.added, f"MIN({c}), MAX({c})")
    if n_removed:
        gone_low, gone_high = changes.one(changes.removed, f"MIN({c}), MAX({c})")
        if gone_low is not None:
            if first is None or last is None:
                return False
            if gone_low <= first and (low is None or low > first):
                return False
            if gone_high >= last and (high is None or high < last):
                return False
    if low is not None:
        first = low if first is None or low < first else first
        last = high if last is None or high > last else last
    new["first"], new["last"] = _iso(first), _iso(last)
    return True


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _iso(value: datetime | None) -> str | None:
    """As :mod:`keepwise.store.stats` records a time: ISO 8601 in UTC."""
    return None if value is None else value.astimezone(UTC).isoformat()


def _customers(store: Store, name: str, new: dict[str, Any], changes: _Changes) -> bool:
    """Update the distinct customers by the changed rows' customers who gained a first row or lost a last.

    Each such customer's rows are counted by PostgreSQL now; before the load it had that many, less the
    added rows, plus the removed ones.
    """
    who = changes.values("customer_id")
    if not who:
        return True
    import pyarrow as pa

    wanted = Wanted(("customer_id",), pa.table({"customer_id": pa.array([str(w) for w in who])}))
    temp = wanted.to_postgres(store, name, "_kw_who")
    now = dict(
        store.sql(
            f"SELECT customer_id, COUNT(*) FROM {store.quote(name)} "
            f"WHERE customer_id IN (SELECT customer_id FROM {temp}) GROUP BY customer_id"
        )
    )
    store.sql(f"DROP TABLE {temp}")
    per = "SELECT customer_id, COUNT(*) FROM {} WHERE customer_id IS NOT NULL GROUP BY customer_id"
    added = dict(changes.duck.execute(per.format(changes.added)).fetchall())
    removed = dict(changes.duck.execute(per.format(changes.removed)).fetchall())
    gained = lost = 0
    for w in who:
        after = int(now.get(w, 0))
        before = after - int(added.get(w, 0)) + int(removed.get(w, 0))
        gained += after > 0 and before == 0
        lost += after == 0 and before > 0
    new["customers"] = int(new["customers"]) + gained - lost
    return True


def _currencies(store: Store, new: dict[str, Any], changes: _Changes) -> bool:
    """Update the currencies: the added rows' join; a removed row's currency stays if a stored row has it."""
    c = _q("currency")
    (added,) = changes.one(changes.added, f"LIST(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL)")
    (removed,) = changes.one(changes.removed, f"LIST(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL)")
    have = set(new["currencies"]) | set(added or [])
    for code in set(removed or []) - set(added or []):
        ((kept,),) = store.sql("SELECT EXISTS (SELECT 1 FROM orders WHERE currency = ?)", [code])
        if not kept:
            have.discard(code)
    new["currencies"] = sorted(str(x) for x in have)
    return True


def _costed(store: Store, duck: Any, old: dict[str, Any] | None, rows: int, products: int) -> int | None:
    """The costed order lines updated by the orders a load changed (its products unchanged), or ``None``.

    ``None`` when nothing fresh was recorded (the recorded counts of orders and products are not those
    before the load). The changed lines are costed as :func:`keepwise.store.stats.costed_lines` costs
    them, against the stored products of their ``product_id``.
    """
    if old is None or int(old.get("products", -1)) != products:
        return None
    changes = _Changes(duck, "orders")
    (n_removed,) = changes.one(changes.removed, "COUNT(*)")
    (n_added,) = changes.one(changes.added, "COUNT(*)")
    if int(old["rows"]) != rows - n_added + n_removed:
        return None
    import pyarrow as pa

    ids = [str(p) for p in changes.values("product_id")]
    found: list[tuple[Any, ...]] = []
    if ids:
        temp = Wanted(("product_id",), pa.table({"product_id": pa.array(ids, pa.string())}))
        name = temp.to_postgres(store, "products", "_kw_pids")
        found = store.sql(
            'SELECT "product_id", "unit_cost" FROM "products" '
            f'WHERE "product_id" IN (SELECT "product_id" FROM {name})'
        )
        store.sql(f"DROP TABLE {name}")
    costs = pa.table(
        {"pid": pa.array([str(p) for p, _ in found], pa.string()), "std_cost": [c for _, c in found]}
    )
    duck.register("_kw_costs", costs)
    costed = (
        'SELECT COUNT(COALESCE(o."unit_cost", p.std_cost)) FROM {} o '
        'LEFT JOIN _kw_costs p ON o."product_id" = p.pid'
    )
    ((gone,),) = duck.execute(costed.format(changes.removed)).fetchall()
    ((came,),) = duck.execute(costed.format(changes.added)).fetchall()
    duck.unregister("_kw_costs")
    return int(old["costed"]) - int(gone) + int(came)
