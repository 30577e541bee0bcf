"""The store layer: every read and write of keepwise's own tables goes through :class:`Store`.

A :class:`Store` wraps the Ibis backend that :func:`keepwise.store.connect` opens (DuckDB, Spark, PostgreSQL)
and is the only object in keepwise that sends SQL strings to an engine. Stages read with Ibis expressions
(:meth:`Store.table`, :meth:`Store.read`, :meth:`Store.to_pandas`) and write DataFrames with
:meth:`Store.append`, :meth:`Store.replace_month`, :meth:`Store.replace`, :meth:`Store.upsert`,
:meth:`Store.update` and :meth:`Store.delete`, inside :meth:`Store.transaction` where several writes must land
together. Names are quoted and values rendered by the engine's own SQL dialect (sqlglot), so the same call
works on every engine:

* DuckDB (and PostgreSQL) change rows in place, inside a real transaction;
* Spark's plain Parquet tables cannot delete or update rows: the table is rewritten through a staging table
  (the other rows plus the new ones). A Spark "transaction" only groups the writes; it cannot roll back.

Modules of the store package (``keepwise.store.*``) that need a statement of their own (the outbox's claim,
the consent queries, loads) use :meth:`Store.sql`; nothing outside ``keepwise.store`` does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from keepwise.store import memo
from keepwise.store.rows import Rows, insertable, with_month

if TYPE_CHECKING:  # pandas is imported when a store is used, not by `keepwise --help`
    import pandas as pd

__all__ = ["DOCUMENTS", "Store", "as_store"]

#: Table of the stages' stored JSON documents (kind, month, variant, written_at, body).
DOCUMENTS = "stage_documents"


class Store:
    """keepwise's store: one engine, its tables, and the only place that writes them.

    Parameters
    ----------
    backend:
        An Ibis backend (what ``ibis.duckdb.connect``, ``ibis.postgres.connect`` or
        :func:`keepwise.store.spark.from_session` return).
    url:
        The URL it was opened from, for messages (optional).

    Attributes other than the ones below are looked up on the Ibis backend, so a Store can be passed
    wherever an Ibis backend is expected (``store.table("orders")``, ``store.list_tables()``).
    """

    def __init__(self, backend: Any, url: str | None = None):
        inner: Any = backend.backend if isinstance(backend, Store) else backend
        self.backend: Any = inner
        self.url = url
        self._depth = 0

    # ------------------------------------------------------------------ identity
    @property
    def kind(self) -> str:
        """``duckdb``, ``pyspark`` or ``postgres``: the engine under the store."""
        return str(getattr(self.backend, "name", ""))

    @property
    def is_duckdb(self) -> bool:
        """True when the engine is DuckDB."""
        return self.kind == "duckdb"

    @property
    def is_postgres(self) -> bool:
        """True when the engine is PostgreSQL."""
        return self.kind == "postgres"

    @property
    def is_spark(self) -> bool:
        """True when the engine is Spark."""
        return self.kind == "pyspark"

    @property
    def dialect(self) -> Any:
        """The engine's sqlglot dialect."""
        return self.backend.dialect

    def __getattr__(self, name: str) -> Any:
        # only for names the Store lacks: the Ibis backend's API, so a Store serves wherever a backend does
        if name == "backend":
            raise AttributeError(name)
        return getattr(self.backend, name)

    def __repr__(self) -> str:
        from keepwise.store.connection import redacted

        return f"Store({self.kind}, {redacted(self.url or '')})"

    # ------------------------------------------------------------------ reading
    def table(self, name: str) -> Any:
        """The table ``name`` as an Ibis expression (looked up once per run, :mod:`keepwise.store.memo`)."""
        cache = memo.active(self)
        if cache is None:
            return self.backend.table(name)
        key = ("table", name)
        if key not in cache:
            cache[key] = self.backend.table(name)
        return cache[key]

    def tables(self) -> list[str]:
        """Names of the tables (and views) in the store."""
        return list(self.backend.list_tables())

    def has_table(self, name: str) -> bool:
        """Whether the store has a table (or view) called ``name``."""
        return name in self.tables()

    def to_pandas(self, expr: Any) -> pd.DataFrame:
        """Run an Ibis expression on the engine and return the result as a DataFrame (or scalar)."""
        return self.backend.execute(expr)

    def read(
        self,
        name: str,
        *,
        where: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
        order_by: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows of table ``name`` (equal to ``where``'s values; ``None`` matches NULL) as a DataFrame."""
        t = self.table(name)
        for col, value in (where or {}).items():
            t = t.filter(t[col].isnull() if value is None else t[col] == value)
        if columns is not None:
            t = t.select(*columns)
        if order_by:
            t = t.order_by(*order_by)
        return self.to_pandas(t)

    def count(self, name: str, *, where: Mapping[str, Any] | None = None) -> int:
        """Number of rows of ``name`` matching ``where``."""
        t = self.table(name)
        for col, value in (where or {}).items():
            t = t.filter(t[col].isnull() if value is None else t[col] == value)
        return int(self.backend.execute(t.count()))

    # ------------------------------------------------------------------ SQL (store package only)
    def quote(self, name: str) -> str:
        """``name`` quoted as an identifier in the engine's dialect."""
        import sqlglot as sg

        return str(sg.to_identifier(name, quoted=True).sql(self.dialect))

    def literal(self, value: Any) -> str:
        """``value`` as a SQL literal of the engine's dialect (strings escaped, ``None`` as NULL)."""
        import sqlglot.expressions as sge

        if value is None:
            return "NULL"
        if hasattr(value, "isoformat") and not isinstance(value, str):
            return f"TIMESTAMP {sge.convert(_iso_utc(value)).sql(self.dialect)}"
        return str(sge.convert(value).sql(self.dialect))

    def sql(self, statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows (an empty list for statements without a result).

        Only modules of ``keepwise.store`` call this. On DuckDB and PostgreSQL ``?`` placeholders take
        ``params``; on other engines the values are rendered as literals of the engine's dialect.
        """
        if self.is_duckdb:
            cur = self.backend.con.execute(statement, list(params or []))
            try:
                return list(cur.fetchall())
            except Exception:  # statements without a result set
                return []
        if self.is_postgres:
            from keepwise.store.postgres import run

            return run(self.backend.con, statement, params)
        if params:
            parts = statement.split("?")
            if len(parts) != len(params) + 1:
                raise ValueError("number of ? placeholders and parameters differ")
            statement = parts[0] + "".join(
                self.literal(p) + rest for p, rest in zip(params, parts[1:], strict=True)
            )
        result = self.backend.raw_sql(statement)
        if self.is_spark:
            try:
                return [tuple(r) for r in result.collect()]
            except Exception:
                return []
        try:
            rows = list(result.fetchall())
        except Exception:
            rows = []
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return rows

    def _where(self, where: Mapping[str, Any]) -> str:
        if not where:
            return "TRUE"
        return " AND ".join(
            f"{self.quote(c)} IS NULL" if v is None else f"{self.quote(c)} = {self.literal(v)}"
            for c, v in where.items()
        )

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """Group writes: all land or none (DuckDB, PostgreSQL). Nested calls join the outer transaction.

        On Spark the writes run in order and a failure leaves the earlier ones in place. On PostgreSQL
        (psycopg in autocommit mode) the Ibis backend's own statements inside become savepoints.
        """
        if self._depth or self.is_spark:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self.sql("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self.sql("ROLLBACK")
            raise
        self._depth = 0
        self.sql("COMMIT")

    # ------------------------------------------------------------------ writing
    def append(self, name: str, rows: Rows) -> int:
        """Insert ``rows`` into table ``name`` (created from the frame's columns if it does not exist)."""
        memo.forget(self)  # what the run cached may have changed
        if rows is None or len(rows) == 0:
            if not self.has_table(name) and rows is not None and len(rows.columns):
                self._create_from(name, rows)
            return 0
        rows = insertable(self, rows)  # a frame's objects plain; an Arrow table as it is on DuckDB
        if not self.has_table(name):
            self._create_from(name, rows)
        if self.is_duckdb:
            con = self.backend.con
            view = f"_kw_rows_{id(rows)}"
            con.register(view, rows)
            try:
                con.execute(f"INSERT INTO {self.quote(name)} BY NAME SELECT * FROM {view}")
            finally:
                con.unregister(view)
        elif self.is_postgres:
            from keepwise.store.postgres import copy_rows, frame_rows

            copy_rows(self.backend.con, name, [str(c) for c in rows.columns], frame_rows(rows))
        else:
            if self.is_spark:
                from keepwise.store.rewrite import writable

                writable(self, name)
            self.backend.insert(name, self._fitted(name, rows))
        return len(rows)

    def replace(self, name: str, rows: pd.DataFrame) -> int:
        """Make table ``name`` hold exactly ``rows`` (its columns kept when it exists)."""
        with self.transaction():
            if self.has_table(name):
                self.delete(name, {})
            return self.append(name, rows)

    def replace_month(self, name: str, month: str, rows: Rows, *, column: str = "review_month") -> int:
        """Replace the rows of ``month`` (in ``column``) of table ``name`` with ``rows``; other months stay.

        ``rows`` get ``column`` set to ``month`` (added as the first column when missing). A table whose
        columns changed between keepwise versions is rebuilt with this month's rows only.
        """
        from keepwise.store.postgres import savepoint

        memo.forget(self)  # what the run cached may have changed
        df = with_month(self, rows, column, month)  # an Arrow table stays one on DuckDB (keepwise.store.rows)
        if not self.has_table(name):
            self._create_from(name, df)
            self.append(name, df)
            return len(df)
        if self.is_spark:
            self._spark_rewrite(
                name, keep=self.table(name)[column] != month, new=df, rebuild_if_incompatible=True
            )
            return len(df)
        with self.transaction():
            self.delete(name, {column: month})
            try:
                with savepoint(self):  # PostgreSQL: a failed statement would end the transaction
                    self.append(name, df)
            except Exception:  # the table's shape changed between keepwise versions: rebuild it
                if not (self.is_duckdb or self.is_postgres):
                    raise
                self.drop(name)
                self.append(name, df)
        return len(df)

    def upsert(self, name: str, rows: pd.DataFrame, key: Sequence[str]) -> int:
        """Insert ``rows``, replacing stored rows with the same ``key`` values; returns the rows written."""
        memo.forget(self)  # what the run cached may have changed
        if rows is None or len(rows) == 0:
            return 0
        rows = _plain(rows)
        if not self.has_table(name):
            return self.append(name, rows)
        if self.is_spark:
            import ibis

            old = self.table(name)
            new = ibis.memtable(rows)
            kept = old.anti_join(new.select(*key), list(key))
            self._spark_rewrite(name, keep=None, base=kept, new=rows)
            return len(rows)
        with self.transaction():
            if self.is_duckdb:
                con = self.backend.con
                view = f"_kw_keys_{id(rows)}"
                con.register(view, rows[list(key)])
                try:
                    on = " AND ".join(
                        f"{self.quote(name)}.{self.quote(k)} IS NOT DISTINCT FROM {view}.{self.quote(k)}"
                        for k in key
                    )
                    con.execute(f"DELETE FROM {self.quote(name)} USING {view} WHERE {on}")
                finally:
                    con.unregister(view)
            elif self.is_postgres:
                from keepwise.store.postgres import delete_keys

                delete_keys(self, name, rows[list(key)].drop_duplicates())
            else:
                for values in rows[list(key)].drop_duplicates().itertuples(index=False):
                    self.delete(name, dict(zip(key, values, strict=True)))
            self.append(name, rows)
        return len(rows)

    def delete(self, name: str, where: Mapping[str, Any]) -> int:
        """Delete the rows of ``name`` whose columns equal ``where``'s values (all rows for ``{}``)."""
        memo.forget(self)  # what the run cached may have changed
        if self.is_spark:
            import ibis

            t = self.table(name)
            cond = ibis.literal(True)
            for c, v in where.items():
                cond = cond & (t[c].isnull() if v is None else t[c] == v)
            before = self.count(name)
            self._spark_rewrite(name, keep=~cond)
            return before - self.count(name)
        n = self.count(name, where=where)
        self.sql(f"DELETE FROM {self.quote(name)} WHERE {self._where(where)}")
        return n

    def update(self, name: str, values: Mapping[str, Any], where: Mapping[str, Any]) -> int:
        """Set ``values`` on the rows of ``name`` matching ``where``; returns how many rows matched."""
        memo.forget(self)  # what the run cached may have changed
        if self.is_spark:
            import ibis

            t = self.table(name)
            cond = ibis.literal(True)
            for c, v in where.items():
                cond = cond & (t[c].isnull() if v is None else t[c] == v)
            n = self.count(name, where=where)
            schema = t.schema()
            changed = t.mutate(
                **{
                    c: ibis.ifelse(cond, ibis.literal(v, type=schema[c]), t[c])
                    if v is not None
                    else ibis.ifelse(cond, ibis.null(schema[c]), t[c])
                    for c, v in values.items()
                }
            )
            self._spark_rewrite(name, keep=None, base=changed)
            return n
        n = self.count(name, where=where)
        sets = ", ".join(f"{self.quote(c)} = {self.literal(v)}" for c, v in values.items())
        self.sql(f"UPDATE {self.quote(name)} SET {sets} WHERE {self._where(where)}")
        return n

    def drop(self, name: str) -> None:
        """Drop table ``name`` if it exists."""
        # not backend.drop_table: Ibis 12 with sqlglot 30 renders its DROP statement without the name on Spark
        memo.forget_table(self, name)
        self.sql(f"DROP TABLE IF EXISTS {self.quote(name)}")

    def materialize(self, expr: Any, name: str) -> Any:
        """Compute ``expr`` once into a temporary table of the engine and return it as a table expression."""
        self.backend._run_pre_execute_hooks(expr)  # registers the expression's in-memory tables
        if not (self.is_duckdb or self.is_postgres):
            return expr.cache()
        if self.is_postgres:  # no CREATE OR REPLACE TABLE there
            self.drop(name)
        replace = "" if self.is_postgres else "OR REPLACE "
        # the engine's own compiler: ibis.to_sql unbinds the expression and pretty-prints (slower)
        self.sql(f"CREATE {replace}TEMP TABLE {self.quote(name)} AS {self.backend.compile(expr)}")
        memo.forget_table(self, name)
        return self.table(name)

    def drop_temp(self, name: str) -> None:
        """Drop a table made by :meth:`materialize` (nothing to do on engines that cache instead)."""
        if self.is_duckdb or self.is_postgres:
            self.drop(name)

    # ------------------------------------------------------------------ stage documents
    def save_document(self, kind: str, month: str, document: Any, *, variant: str = "") -> None:
        """Store a stage's JSON document (what its command prints with ``--json``) for ``month``.

        The dashboard and the API read it back with :meth:`load_document` instead of computing again.
        ``variant`` tells apart documents of one stage and month made with different options.
        """
        from keepwise.store.documents import save

        save(self, kind, month, document, variant=variant)

    def load_document(self, kind: str, month: str, *, variant: str = "") -> Any | None:
        """The document :meth:`save_document` stored for ``kind`` and ``month``, or ``None``."""
        from keepwise.store.documents import load

        return load(self, kind, month, variant=variant)

    # ------------------------------------------------------------------ helpers
    def _create_from(self, name: str, rows: pd.DataFrame) -> None:
        memo.forget(self)  # what the run cached may have changed
        from keepwise.store.schema import SCHEMA

        if self.is_postgres:
            from keepwise.store.postgres import create_from

            return create_from(self, name, rows)
        if name in SCHEMA:
            if self.is_duckdb:
                self.sql(SCHEMA[name].create_sql())
                return
            import ibis

            from keepwise.store.measurement import IBIS_TYPES

            types = {c.name: ibis.dtype(IBIS_TYPES[c.type]) for c in SCHEMA[name].columns}
            self.backend.create_table(name, schema=ibis.schema(types))
            return
        if self.is_duckdb:
            con = self.backend.con
            view = f"_kw_shape_{id(rows)}"
            con.register(view, rows)
            try:
                con.execute(
                    f"CREATE TABLE IF NOT EXISTS {self.quote(name)} AS SELECT * FROM {view} WHERE false"
                )
            finally:
                con.unregister(view)
            return
        import ibis

        self.backend.create_table(name, schema=ibis.memtable(rows).schema())

    def _fitted(self, name: str, rows: pd.DataFrame) -> Any:
        from keepwise.store.rewrite import fitted

        return fitted(self, name, rows)

    def _spark_rewrite(self, name: str, **how: Any) -> None:
        from keepwise.store.rewrite import rewrite

        rewrite(self, name, **how)


def as_store(handle: Any) -> Store:
    """``handle`` as a :class:`Store`: a Store is returned as it is, an Ibis backend is wrapped."""
    return handle if isinstance(handle, Store) else Store(handle)


def _iso_utc(value: Any) -> str:
    import pandas as pd

    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.isoformat(sep=" ")


def _plain(rows: pd.DataFrame) -> pd.DataFrame:
    """Object columns with Python values, NaN as None (what every engine's insert accepts)."""
    import pandas as pd

    df = rows.copy()
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = df[col].map(lambda v: None if v is None or (isinstance(v, float) and pd.isna(v)) else v)
    return df
