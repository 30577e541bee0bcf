"""``keepwise simulate``: write a synthetic business with known truth as CSV files and ``truth.json``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from keepwise.commands.common import JsonOption, err, print_json


def simulate(
    customers: Annotated[int, typer.Option("--customers", help="Number of customers.")] = 3000,
    months: Annotated[
        int, typer.Option("--months", help="Length in calendar months (12+ for patterns).")
    ] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write TABLE.csv files and truth.json into.")
    ] = Path("simulated"),
    start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD (UTC).")] = "2024-01-01",
    json_: JsonOption = False,
) -> None:
    """Simulate a business with known truth and write it to a folder, ready for ``keepwise load DIR``.

    Purchases and drop-out follow a Pareto/NBD process, spend a gamma-gamma process; regular buyers who stop,
    declining order values and dropped product ranges are planted, with staff time, incidents, exits,
    referrals and consent. truth.json records what really happened.
    """
    from keepwise.datasets.simulate import simulate as run

    began = time.perf_counter()
    biz = run(customers=customers, months=months, seed=seed, start=start)
    biz.write(out)
    seconds = time.perf_counter() - began
    rows = {name: len(df) for name, df in biz.tables.items()}
    if json_:
        print_json({"out": str(out), "rows": rows, "seconds": round(seconds, 2)})
        return
    summary = ", ".join(f"{name} {count:,}" for name, count in rows.items())
    err.print(f"wrote {out}/ in {seconds:.1f} s: {summary}, and truth.json", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``keepwise simulate`` to ``app``."""
    app.command("simulate")(simulate)
