"""Spark as the engine: PySpark through Ibis, for stores too large for one machine.

The same Ibis feature expressions that run on DuckDB (:mod:`keepwise.features`, and the purchase-day summaries
behind ``keepwise fit``) run unchanged on Spark; only per-customer summaries, or the compressed histogram of
unique ``(x, t_x, T)`` tuples with their counts, come back to Python.

URLs (``--db`` / ``KEEPWISE_DB``)
    ``spark-local``
        Spark in this process's machine (``local[2]``), started on first use.
    ``spark://host:port``
        A Spark standalone cluster's master.

    Both take optional query parameters: ``data=DIR`` registers the contract tables found in ``DIR`` (see
    :func:`register_parquet`), ``partitions=N`` sets ``spark.sql.shuffle.partitions`` (default 4 locally,
    Spark's 200 on a cluster), ``dir=DIR`` is where Spark keeps its warehouse and scratch files (default: a
    new temporary folder, or ``KEEPWISE_SPARK_DIR``).
    Example: ``spark-local?data=/exports/2026-10&partitions=8``.

How data gets in
    A retailer with hundreds of millions of order lines exports the contract's tables from its warehouse as
    Parquet, one file or one folder of part files per table (``orders/part-*.parquet``, ``customers.parquet``,
    ...), and names that folder in the URL (``spark-local?data=DIR``) or calls :func:`register_parquet`.
    Columns are cast to the contract's types on the way in (money ``DECIMAL(18,4)``, timestamps UTC), and a
    table that is absent is registered empty, as a new DuckDB store has it. A business that already has a
    DuckDB store copies it across with :func:`copy_from_duckdb` (DuckDB writes the Parquet files).

The session runs in UTC, and the backend returns timestamps as UTC-aware values, as the DuckDB store does.
Spark needs Java 17 or newer; :func:`check_java` says so in one line when it is missing.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.schema import SCHEMA, SQL_TYPES, TABLES, ColumnType

__all__ = [
    "SMALL_DATA_CONF",
    "SparkSettings",
    "check_java",
    "connect_spark",
    "copy_from_duckdb",
    "export_parquet",
    "from_session",
    "parse_spark_url",
    "register_parquet",
    "spark_session",
    "spark_type",
]

MIN_JAVA = 17
LOCAL_MASTER = "local[2]"
DIR_ENV_VAR = "KEEPWISE_SPARK_DIR"

#: Spark SQL names of the store's SQL types where they differ (:data:`keepwise.store.schema.SQL_TYPES`).
_SPARK_NAMES = {"VARCHAR": "STRING", "TIMESTAMPTZ": "TIMESTAMP"}


def spark_type(column_type: ColumnType) -> str:
    """The Spark SQL type a contract column of ``column_type`` is read as (``TIMESTAMP`` is an instant)."""
    sql = SQL_TYPES[column_type]
    return _SPARK_NAMES.get(sql, sql)


#: Settings for small data (tests, demos, a sample on a laptop): the JVM compiles with its quick C1 compiler
#: only and Spark interprets query plans instead of generating Java code for each. The JVM starts sooner and
#: first queries run faster; repeated queries on millions of lines run slower (bench/RESULTS.md, "Feature
#: queries on DuckDB and on local Spark"), so it is not the default.
SMALL_DATA_CONF: dict[str, str] = {
    "spark.driver.extraJavaOptions": (
        "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m -XX:+UseSerialGC"
    ),
    "spark.sql.codegen.wholeStage": "false",
}

#: Spark's log4j2 settings: errors only, on stderr (stdout belongs to ``--json``).
_LOG4J2 = """\
rootLogger.level = error
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

_URL_HELP = "use spark-local or spark://host:port, optionally with ?data=DIR&partitions=N&dir=DIR"


@dataclass(frozen=True)
class SparkSettings:
    """What a ``spark-local`` or ``spark://host:port`` URL asks for."""

    master: str
    data: Path | None = None
    partitions: int | None = None
    work_dir: Path | None = None


def parse_spark_url(url: str) -> SparkSettings:
    """Read a Spark store URL; a malformed one raises a one-line :class:`KeepwiseInputError`."""
    base, _, query = url.partition("?")
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in ("data", "partitions", "dir"):
            raise KeepwiseInputError(f"store URL '{url}': unknown parameter '{key}'; {_URL_HELP}")
        params[key] = value
    if base == "spark-local":
        master = LOCAL_MASTER
    elif base.startswith("spark://"):
        parts = urlsplit(base)
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None or parts.path not in ("", "/"):
            raise KeepwiseInputError(f"store URL '{url}' names no master host and port; {_URL_HELP}")
        master = f"spark://{parts.hostname}:{port}"
    else:
        raise KeepwiseInputError(f"store URL '{url}' is not understood; {_URL_HELP}")
    partitions: int | None = None
    if "partitions" in params:
        text = params["partitions"]
        if not text.isdigit() or int(text) < 1:
            raise KeepwiseInputError(
                f"store URL '{url}': partitions must be a whole number >= 1, not {text!r}"
            )
        partitions = int(text)
    data = Path(params["data"]) if params.get("data") else None
    if data is not None and not data.is_dir():
        raise KeepwiseInputError(f"store URL '{url}': data folder '{data}' does not exist")
    work = Path(params["dir"]) if params.get("dir") else None
    return SparkSettings(master=master, data=data, partitions=partitions, work_dir=work)


def check_java() -> int:
    """The major version of the Java that Spark will start (``JAVA_HOME``, else ``java`` on ``PATH``).

    Raises :class:`KeepwiseInputError` in one line when there is none or it is older than Java 17.
    """
    install = "install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={home} has no bin/java" if home else "no java on PATH"
        raise KeepwiseInputError(f"Spark needs Java ({where}): {install}")
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KeepwiseInputError(
            f"Spark needs Java, but '{java} -version' failed ({exc}): {install}"
        ) from None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if m is None:
        raise KeepwiseInputError(f"Spark needs Java, but '{java} -version' printed no version: {install}")
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_402" is Java 8
        major = int(m.group(2))
    if major < MIN_JAVA:
        raise KeepwiseInputError(
            f"Spark 4 needs Java {MIN_JAVA} or newer, found Java {major} at {java}: {install}"
        )
    return major


def _work_dir(settings: SparkSettings) -> Path:
    if settings.work_dir is not None:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        return settings.work_dir.resolve()
    if os.environ.get(DIR_ENV_VAR):
        path = Path(os.environ[DIR_ENV_VAR])
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    path = Path(tempfile.mkdtemp(prefix="keepwise-spark-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def spark_session(settings: SparkSettings | None = None, conf: dict[str, str] | None = None) -> Any:
    """Start (or join) the Spark session a URL asks for: UTC, quiet, with its files under one folder.

    Locally: ``local[2]``, driver bound to the loopback address, 4 shuffle partitions (Spark's 200 make small
    jobs slow), no web UI, no console progress bar, log level ERROR. Arrow moves results to pandas. ``conf``
    adds or overrides Spark settings (``spark.driver.memory``, ``spark.driver.extraJavaOptions``, ...); they
    take effect only when this call starts the session.
    """
    settings = settings or SparkSettings(master=LOCAL_MASTER)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise KeepwiseInputError(
            "Spark stores need PySpark: pip install 'keepwise[spark]' (PySpark 4.0 and Java 17+)"
        ) from None
    check_java()
    work = _work_dir(settings)
    local = settings.master.startswith("local")
    partitions = settings.partitions or (4 if local else None)
    log4j = work / "log4j2.properties"
    log4j.write_text(_LOG4J2, encoding="utf-8")
    java_opts = (
        f"-Dderby.system.home={work / 'derby'} -Duser.timezone=UTC "
        f"-Dlog4j2.configurationFile={log4j.as_uri()}"
    )
    extra = dict(conf or {})
    if "spark.driver.extraJavaOptions" in extra:
        java_opts += " " + extra.pop("spark.driver.extraJavaOptions")
    builder = (
        SparkSession.builder.master(settings.master)
        .appName("keepwise")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(work / "warehouse"))
        .config("spark.local.dir", str(work / "tmp"))
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.log.level", "ERROR")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    for key, value in extra.items():
        builder = builder.config(key, value)
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = builder.config("spark.driver.host", "127.0.0.1").config(
            "spark.driver.bindAddress", "127.0.0.1"
        )
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up failures
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KeepwiseInputError(f"cannot start Spark at {settings.master}: {first}") from exc
    if partitions is not None:
        session.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return session


def _backend_class() -> Any:
    import ibis
    import ibis.expr.datatypes as dt
    import ibis.expr.schema as sch
    from ibis.backends.pyspark import Backend

    _ = ibis.pyspark  # loading the backend through ibis registers its options (ibis.options.pyspark)

    class SparkBackend(Backend):
        """Ibis' PySpark backend with UTC-aware timestamps that stops only a Spark session it started.

        Spark's ``TIMESTAMP`` is an instant shown in the session time zone (UTC here); Ibis maps it to a
        timestamp without a zone, so results would come back naive. Declaring the zone in the schema makes
        them come back as UTC-aware values, as the DuckDB store's do, and changes nothing in the SQL.
        """

        owns_session: bool = False

        def get_schema(
            self, table_name: str, *, catalog: str | None = None, database: str | None = None
        ) -> Any:
            schema = super().get_schema(table_name, catalog=catalog, database=database)
            return sch.Schema(
                {
                    name: dt.Timestamp(timezone="UTC", scale=typ.scale, nullable=typ.nullable)
                    if typ.is_timestamp() and typ.timezone is None
                    else typ
                    for name, typ in schema.items()
                }
            )

        def to_pyarrow(self, expr: Any, /, *, params: Any = None, limit: Any = None, **kwargs: Any) -> Any:
            """Results straight from Spark's Arrow batches.

            Ibis' own path goes through pandas, which is slower and whose nanosecond timestamps cannot hold
            the year 9999.
            """
            from ibis.formats.pyarrow import PyArrowData

            self._run_pre_execute_hooks(expr)
            table_expr = expr.as_table()
            sql = self.compile(table_expr, params=params, limit=limit, **kwargs)
            table = self._session.sql(sql).toArrow()
            return expr.__pyarrow_result__(PyArrowData.convert_table(table, table_expr.schema()))

        def execute(self, expr: Any, /, *, params: Any = None, limit: Any = None, **kwargs: Any) -> Any:
            """Execute through Arrow and convert to pandas the way Ibis' DuckDB backend does."""
            import pandas as pd
            import pyarrow.types as pat
            from ibis.backends.pyspark.converter import PySparkPandasData

            table = self.to_pyarrow(expr.as_table(), params=params, limit=limit, **kwargs)
            df = pd.DataFrame(
                {
                    name: col.to_pylist()
                    if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
                    else col.to_pandas()
                    for name, col in zip(table.column_names, table.columns, strict=True)
                }
            )
            df = PySparkPandasData.convert_table(df, expr.as_table().schema())
            return expr.__pandas_result__(df)

        def disconnect(self) -> None:
            """Stop the Spark session if this backend started it; a shared session is left running."""
            if self.owns_session:
                super().disconnect()

    return SparkBackend


def from_session(session: Any) -> Any:
    """The keepwise Ibis backend over a Spark session you already have (a notebook's or a job's ``spark``).

    The session's time zone is set to UTC (Ibis does this too). :meth:`disconnect` leaves the session running.
    """
    return _backend_class()().connect(session)


def connect_spark(url: str, conf: dict[str, str] | None = None) -> Any:
    """Open a Spark store: the Ibis backend over the session the URL names, with ``data=`` registered.

    If a Spark session is already running in this process it is joined (Spark allows one per process) and
    left running on ``disconnect()``; a session started here is stopped by ``disconnect()``. ``conf``: see
    :func:`spark_session` (e.g. :data:`SMALL_DATA_CONF`).
    """
    settings = parse_spark_url(url)
    try:
        from pyspark import SparkContext

        # process-wide (SparkSession.getActiveSession() only sees sessions started in this thread)
        running = SparkContext._active_spark_context is not None
    except ImportError:
        running = False
    session = spark_session(settings, conf)
    backend = from_session(session)
    backend.owns_session = not running
    if settings.data is not None:
        register_parquet(backend, settings.data)
    return backend


def _parquet_source(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.parquet", folder / name):
        if candidate.is_file() or (candidate.is_dir() and any(candidate.glob("*.parquet"))):
            return candidate
    return None


def register_parquet(backend: Any, folder: str | Path, *, empty_missing: bool = True) -> dict[str, str]:
    """Register the contract tables found in ``folder`` as Spark views named after the tables.

    Each table is ``folder/TABLE.parquet`` or a folder ``folder/TABLE/`` of Parquet part files (as Spark, Hive
    or a warehouse's ``UNLOAD`` writes them). Columns are cast to the contract's types; optional columns the
    files lack are null; columns outside the contract are dropped. A table with no file is registered empty
    (unless ``empty_missing`` is false), so expressions that join it still run.

    Returns
    -------
    dict
        Table name -> the path it was read from (``""`` for a table registered empty).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise KeepwiseInputError(f"Parquet folder '{folder}' does not exist")
    session = backend._session
    found: dict[str, str] = {}
    for t in TABLES:
        src = _parquet_source(folder, t.name)
        if src is None:
            if empty_missing:
                cols = ", ".join(f"CAST(NULL AS {spark_type(c.type)}) AS `{c.name}`" for c in t.columns)
                session.sql(f"SELECT {cols} WHERE 1 = 0").createOrReplaceTempView(t.name)
                found[t.name] = ""
            continue
        df = session.read.parquet(str(src))
        have = set(df.columns)
        missing = [c.name for c in t.columns if c.required and c.name not in have]
        if missing:
            raise KeepwiseInputError(f"{src}: table {t.name} lacks required column(s) {', '.join(missing)}")
        exprs = [
            f"CAST(`{c.name}` AS {spark_type(c.type)}) AS `{c.name}`"
            if c.name in have
            else f"CAST(NULL AS {spark_type(c.type)}) AS `{c.name}`"
            for c in t.columns
        ]
        df.selectExpr(*exprs).createOrReplaceTempView(t.name)
        found[t.name] = str(src)
    if not any(found.values()):
        names = ", ".join(f"{t.name}.parquet" for t in TABLES[:3])
        raise KeepwiseInputError(f"Parquet folder '{folder}' holds no contract table (expected {names}, ...)")
    return found


def export_parquet(duck: Any, folder: str | Path, tables: list[str] | None = None) -> dict[str, Path]:
    """Write the contract tables of a DuckDB store as ``folder/TABLE.parquet`` (decimals and UTC kept).

    Empty tables are not written. Returns table name -> file written.
    """
    from keepwise.store.connection import duckdb_connection

    con = duckdb_connection(duck)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    present = set(duck.list_tables())
    written: dict[str, Path] = {}
    for name in tables or [t.name for t in TABLES]:
        if name not in SCHEMA:
            raise KeepwiseInputError(f"'{name}' is not a contract table")
        if name not in present:
            continue
        (count,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
        if count == 0:
            continue
        path = out / f"{name}.parquet"
        con.execute(f"COPY \"{name}\" TO '{path.as_posix()}' (FORMAT parquet)")
        written[name] = path
    return written


def copy_from_duckdb(
    duck: Any, spark: Any, folder: str | Path | None = None, tables: list[str] | None = None
) -> dict[str, str]:
    """Copy a DuckDB store's contract tables into a Spark store (through Parquet files in ``folder``).

    ``folder`` defaults to a new folder under the Spark session's warehouse directory; on a cluster it must
    be a path every executor can read (a shared file system or object store mount). With ``tables`` only
    those are (re)registered; without it, every contract table is, empty where the DuckDB store has no rows.
    """
    if folder is None:
        warehouse = spark._session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
        folder = Path(tempfile.mkdtemp(prefix="from-duckdb-", dir=_ensure_dir(Path(warehouse))))
    export_parquet(duck, folder, tables)
    return register_parquet(spark, folder, empty_missing=tables is None)


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
