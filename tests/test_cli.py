"""The command line: every command registered, --json output is one document, errors are one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from keepwise import cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True, env=env
    )


def test_the_command_table_is_what_each_module_registers_with_its_own_help():
    """``keepwise --help`` lists COMMAND_TABLE without importing the commands: it must say what they say."""
    from pathlib import Path

    found = {}
    for module in cli.COMMAND_MODULES:
        for name, command in cli._registered(module).items():
            found[name] = (module, (command.short_help or command.help or "").split("\n\n")[0])
    assert found == cli.COMMAND_TABLE
    here = {p.stem for p in Path(cli.__file__).with_name("commands").glob("*.py")} - {"__init__", "common"}
    assert here == set(cli.COMMAND_MODULES)  # every command module is listed


def test_help_imports_no_command_and_a_command_imports_its_module_alone():
    code = (
        "import sys; from keepwise import cli; sys.argv = ['keepwise', *sys.argv[1:]]\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('keepwise.commands.')), file=sys.stderr)"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code, "--help"], capture_output=True, text=True, check=True
    )
    assert "status" in listed.stdout and listed.stderr.strip() == "['keepwise.commands.common']"
    one = subprocess.run([sys.executable, "-c", code, "schema", "--json"], capture_output=True, text=True)
    assert json.loads(one.stdout)["orders"]["key"] == ["order_id", "line_no"]
    assert one.stderr.strip() == "['keepwise.commands.common', 'keepwise.commands.schema']"


def test_importing_the_cli_leaves_the_heavy_libraries_for_the_commands_that_use_them():
    # `keepwise --help` builds every command; the heavy libraries are imported only when one runs
    heavy = ("scipy", "statsmodels", "ibis", "pandas", "numpy", "duckdb")
    code = f"import sys, keepwise.cli; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_schema_json_is_the_contract():
    result = run("schema", "--json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["orders"]["key"] == ["order_id", "line_no"]
    unit_price = next(c for c in doc["orders"]["columns"] if c["name"] == "unit_price")
    assert unit_price == {
        "name": "unit_price",
        "type": "DECIMAL(18,4)",
        "required": True,
        "description": "Price of one unit.",
        "min_value": 0,
    }


def test_status_json_counts_rows_and_customers(db_url, tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,acquired_at\nA,2024-01-01\nB,2024-03-01\n")
    assert run("load", str(tmp_path / "customers.csv"), "--db", db_url).returncode == 0
    result = run("status", "--json", "--db", db_url)
    assert result.returncode == 0, result.stderr
    customers = json.loads(result.stdout)["tables"]["customers"]
    assert customers == {
        "rows": 2,
        "customers": 2,
        "first": "2024-01-01T00:00:00+00:00",
        "last": "2024-03-01T00:00:00+00:00",
    }


def test_keepwise_db_environment_variable_names_the_store(tmp_path):
    import os

    env = {**os.environ, "KEEPWISE_DB": f"duckdb:///{tmp_path}/env.duckdb"}
    assert run("status", env=env).returncode == 0
    assert (tmp_path / "env.duckdb").exists()


def test_unknown_table_is_a_one_line_error(db_url, tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n")
    result = run("load", "nope", str(tmp_path / "x.csv"), "--db", db_url)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: unknown table 'nope'")


def test_bad_store_url_is_a_one_line_error():
    result = run("status", "--db", "mysql://nowhere")
    assert result.returncode == 2
    assert result.stderr == (
        "error: store URL 'mysql://nowhere' is not supported; use duckdb:///file.duckdb, "
        "duckdb://:memory:, postgres://..., spark-local or spark://host:port\n"
    )


def test_a_usage_mistake_exits_2_without_a_traceback():
    result = run("status", "--bogus")
    assert result.returncode == 2
    assert "No such option: --bogus" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_model_that_does_not_converge_on_the_data_is_a_one_line_error_not_an_internal_one(tmp_path):
    # nobody bought twice: BG/NBD's drop-out process is not identified, which is about the data
    summary = tmp_path / "summary.csv"
    summary.write_text("frequency,recency,T\n0,0,10\n0,0,20\n0,0,30\n0,0,5\n")
    result = run("fit", "bgnbd", "--summary", str(summary))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: BetaGeoModel did not converge: ")
    assert "Things to check: (1) the data" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def _store_with_a_customer(tmp_path) -> str:
    from keepwise.store import connect

    url = f"duckdb:///{tmp_path}/one.duckdb"
    store = connect(url)
    try:
        store.con.execute("INSERT INTO customers (customer_id, name, currency) VALUES ('C1', 'Ada', 'USD')")
    finally:
        store.disconnect()
    return url


def test_out_of_range_arguments_are_one_line_errors_with_exit_2(tmp_path):
    # issue 21 item 5: these were exit 1 "internal error: ValueError: year 10000 is out of range" and
    # "InvalidOperation" before keepwise.months and keepwise.arguments bounded them
    url = _store_with_a_customer(tmp_path)
    cases = {
        (
            "profit",
            "--month",
            "9999-12",
        ): "error: '9999-12' is out of range; a month runs from 1900-01 to 2200-12",
        (
            "winback",
            "--month",
            "0001-01",
        ): "error: '0001-01' is out of range; a month runs from 1900-01 to 2200-12",
        (
            "wins",
            "--months",
            "1000000000",
        ): "error: --months: must be a whole number from 1 to 3612 (got 1000000000)",
        (
            "concession",
            "C1",
            "--cost",
            "1e400",
            "--no-log",
        ): "error: --cost: must be an amount such as 200.00, not '1e400'",
        (
            "concession",
            "C1",
            "--cost",
            "99999999999999999999",
            "--no-log",
        ): "error: --cost: must be an amount "
        "with at most 14 digits before the decimal point and 4 after, not 99999999999999999999",
    }
    for args, line in cases.items():
        result = run(*args, "--db", url)
        assert (result.returncode, result.stderr) == (2, line + "\n"), args


def test_a_bad_lock_timeout_is_a_one_line_error(tmp_path):
    import os

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1]); print('x', flush=True); "
         "sys.stdin.readline()", str(tmp_path / "held.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "x"
        env = {**os.environ, "KEEPWISE_LOCK_TIMEOUT": "soon"}
        result = run("status", "--db", f"duckdb:///{tmp_path}/held.duckdb", env=env)
    finally:
        holder.communicate("\n", timeout=30)
    assert result.returncode == 2
    assert (
        result.stderr
        == "error: KEEPWISE_LOCK_TIMEOUT must be a number of seconds from 0 to 86400, not 'soon'\n"
    )


def test_a_date_the_arguments_push_off_the_calendar_is_exit_2_and_a_fault_is_exit_1(
    tmp_path, monkeypatch, capsys
):
    # `keepwise clv --as-of 9999-12-31` was exit 1 "internal error: OverflowError: date value out of range"
    import pytest

    import keepwise.commands.status as status_command

    url = f"duckdb:///{tmp_path}/s.duckdb"
    too_far = "error: a date computed from the request is out of range (date value out of range); use dates "
    fault = "internal error: RuntimeError: disk on fire (please report it)\n"
    for raised, code, line in (
        (OverflowError("date value out of range"), 2, too_far + "from 1900 to 2200\n"),
        (RuntimeError("disk on fire\nsecond line"), 1, fault),
    ):

        def broken(*args, raised=raised):
            raise raised

        monkeypatch.setattr(status_command, "store_status", broken)
        monkeypatch.setattr(sys, "argv", ["keepwise", "status", "--db", url])
        with pytest.raises(SystemExit) as ended:
            cli.main()
        assert ended.value.code == code
        assert capsys.readouterr().err == line


def test_values_taken_without_pydantic_still_meet_typer_s_checks(tmp_path):
    """cli._values_as_given: text for str and Path options as Typer gives it, Typer's own checks kept."""
    from typer.testing import CliRunner

    probe = typer.Typer()

    @probe.command()
    def go(
        path: Annotated[Path, typer.Option(exists=True, dir_okay=False)],
        n: int = 1,
        name: str = "x",
        folder: Path | None = None,
    ) -> None:
        print(type(path).__name__, path.name, n, repr(name), folder)

    (tmp_path / "f.csv").write_text("a\n")
    runner = CliRunner(env={"COLUMNS": "300"})
    ok = runner.invoke(probe, ["--path", str(tmp_path / "f.csv"), "--n", "3", "--name", "", "--folder", "d"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == f"{type(tmp_path).__name__} f.csv 3 '' d"
    folder = runner.invoke(probe, ["--path", str(tmp_path)])
    assert folder.exit_code == 2 and "is a directory" in folder.output
    missing = runner.invoke(probe, ["--path", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad = runner.invoke(probe, ["--path", str(tmp_path / "f.csv"), "--n", "three"])
    assert bad.exit_code == 2 and "valid integer" in bad.output


_COMPILE = """
import sys
from keepwise._lazy import one_sql_compiler
shimmed = one_sql_compiler() if sys.argv[1] == "shim" else False
import ibis
import ibis.backends.sql.compilers as sc
from ibis.backends.sql.compilers import PostgresCompiler
from keepwise.store import connect
store = connect("duckdb://")
t = ibis.table({"customer_id": "string", "amount": "decimal(18, 2)", "at": "timestamp('UTC')"}, name="orders")
f = t.filter(t.at < "2025-01-01")
q = f.group_by("customer_id").aggregate(n=f.count(), s=f.amount.sum())
print(shimmed)
print(store.backend.compile(q.order_by("customer_id")))
print(PostgresCompiler().to_sqlglot(q).sql("postgres"))
print(sc.postgres.compiler.dialect.__name__, sorted(sc.__all__))
print(sorted(m for m in sys.modules if m.startswith("ibis.backends.sql.compilers.")))
"""


def test_ibis_imports_only_the_compilers_a_store_uses_and_compiles_the_same():
    """_lazy.one_sql_compiler (run by ``keepwise`` first): the same SQL, two compilers imported of twenty."""
    runs = {
        way: subprocess.run([sys.executable, "-c", _COMPILE, way], capture_output=True, text=True, timeout=99)
        for way in ("shim", "plain")
    }
    for way, done in runs.items():
        assert done.returncode == 0, (way, done.stderr[-2000:])
    shim, plain = (runs[w].stdout.splitlines() for w in ("shim", "plain"))
    assert shim[0] == "True" and plain[0] == "False"
    assert shim[1:-1] == plain[1:-1]  # the DuckDB and PostgreSQL SQL, the dialect, every compiler's name
    loaded = eval(shim[-1])
    assert {"ibis.backends.sql.compilers.duckdb", "ibis.backends.sql.compilers.postgres"} <= set(loaded)
    assert len(loaded) < len(eval(plain[-1])) and "ibis.backends.sql.compilers.bigquery" not in loaded
