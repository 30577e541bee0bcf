"""Snapshot every keepwise command's ``--json`` output on the demo store, and compare two snapshots.

Usage::

    python scripts/cli_json_snapshot.py OUTDIR [--db URL] [--compare OTHERDIR] [--keep] [--jobs N]
    python scripts/cli_json_snapshot.py --compare-only OLDDIR NEWDIR

Without ``--db`` the demo store is built exactly as ``make demo`` builds it (``keepwise simulate
--customers 3000 --months 24 --seed 7`` then ``keepwise load``) in a scratch folder. Every command runs as
``sys.executable -m keepwise.cli`` in a subprocess, so PYTHONPATH decides which sources run (the baseline
worktree's or yours). Commands that write run with their read-only switch (``--no-save``, ``--no-log``,
``--dry-run``); besides, every command that reads the store gets its own copy of the store file, so no
command sees what another wrote and ``--jobs`` commands can run at once. The few that must write (review,
experiment design then analyze, conjoint estimate --save then show and winback) run on their copy, in order.

Each command's stdout goes to ``OUTDIR/<name>.json`` after normalisation of what may differ between two
runs of the same code: the scratch folder's path (``<WORK>``), the store copy's folder (``<STORE>``), the
repository's path (``<REPO>``), timestamps of the run's day (``<NOW>``) and durations (keys ending in
``seconds``). ``OUTDIR/index.txt``
lists every command line with its exit code; ``OUTDIR/simulated.txt`` the SHA-256 of each simulated file;
stderr of a failing command goes to ``OUTDIR/<name>.stderr``.

``--compare OTHERDIR`` (after the snapshot) or ``--compare-only A B`` lists the documents that differ, with
their first differing lines, and exits 1 if any does. Documents that differ only in floats within
``--rtol`` (default 1e-4) are listed as NOISE and do not count: the model fits run on DuckDB GROUP BY
histograms whose row order varies between runs, so the same code gives fits differing by ~1e-9 (standard
errors, from finite differences, by up to ~1e-5).

Input files for the commands that analyse files (uplift trial, experiment results, conjoint answers) are
generated here with numpy from fixed seeds, not by keepwise, so they are the same whatever code runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import difflib
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "examples" / "conjoint" / "winback_study.yaml"
MODELS = ("bgnbd", "mbgnbd", "pareto-nbd", "bgbb", "gamma-gamma", "sbg")
# the concession question is asked at a fixed moment, after the demo data ends
ASKED_AT = "2026-01-05T10:00Z"
CONJOINT_ATTRIBUTES = "plan,free_months,support,contract,price"


class Snapshot:
    """Runs commands into OUTDIR, normalising their stdout, and keeps the index."""

    def __init__(self, out: Path, work: Path) -> None:
        self.out = out
        self.work = work
        self.index: dict[str, str] = {}
        self.order: list[str] = []
        self.stores: list[Path] = []
        self.env = {k: v for k, v in os.environ.items() if k != "KEEPWISE_DB"}
        self.env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONHASHSEED": "0"})
        today = dt.datetime.now(dt.UTC).date()
        days = "|".join(str(today + dt.timedelta(days=d)) for d in (-1, 0, 1))
        self.now_pattern = re.compile(
            rf"(?:{days})(?:[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?)?"
        )
        stamp = dt.datetime.now(dt.UTC)
        # RFC 2822 (e-mail Date headers) of the run's day
        self.mail_date = re.compile(
            "|".join(re.escape((stamp + dt.timedelta(days=d)).strftime("%a, %d %b %Y")) for d in (-1, 0, 1))
            + r" \d{2}:\d{2}:\d{2} [+-]\d{4}"
        )

    def normalise(self, text: str) -> str:
        """Replace the run's paths, today's timestamps and durations by placeholders."""
        for folder in self.stores:
            text = text.replace(str(folder), "<STORE>")
        for path, label in ((self.work, "<WORK>"), (REPO, "<REPO>")):
            for form in {str(path), str(path.resolve())}:
                text = text.replace(form, label)
        text = self.now_pattern.sub("<NOW>", text)
        text = self.mail_date.sub("<NOW>", text)
        return re.sub(r'("\w*seconds\w*": )-?[0-9.eE+-]+', r'\1"<SECONDS>"', text)

    def run(self, name: str, *args: str, save: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``keepwise ARGS`` and write its normalised stdout to ``NAME.json``."""
        cmd = [sys.executable, "-m", "keepwise.cli", *args]
        began = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.work, env=self.env)
        took = time.perf_counter() - began
        shown = self.normalise(" ".join(args))
        self.index[name] = f"{name}\texit {done.returncode}\tkeepwise {shown}"
        print(f"[{done.returncode}] {took:5.1f} s {name}: keepwise {shown}", file=sys.stderr)
        if save:
            (self.out / f"{name}.json").write_text(self.normalise(done.stdout), encoding="utf-8")
            if done.returncode != 0:
                (self.out / f"{name}.stderr").write_text(self.normalise(done.stderr), encoding="utf-8")
        return done

    def copy_store(self, db: str, name: str) -> str | None:
        """A private copy of a DuckDB store file, shown as ``<STORE>/keepwise.duckdb`` (None: not a file).

        Every command gets its own copy, so none sees what another wrote (whatever the order they ran in)
        and commands can run at once (DuckDB lets one process open a file).
        """
        path = duckdb_path(db)
        if path is None:
            return None
        folder = self.work / "stores" / name
        folder.mkdir(parents=True)
        self.stores.append(folder)
        target = folder / "keepwise.duckdb"
        shutil.copyfile(path, target)
        wal = Path(str(path) + ".wal")
        if wal.exists():
            shutil.copyfile(wal, Path(str(target) + ".wal"))
        return f"duckdb:///{target}"


def duckdb_path(db: str) -> Path | None:
    """The file behind a ``duckdb:///path`` URL."""
    if db.startswith("duckdb:///") and ":memory:" not in db:
        return Path(db[len("duckdb://") :])
    return None


def pick_customers(db: str) -> tuple[str, str, str | None]:
    """A customer with an incident (the latest incident's), one without, and a lost one (for letters)."""
    path = duckdb_path(db)
    if path is None:
        return "C0129", "C0001", "C0002"
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        with_incident = con.execute(
            "SELECT customer_id FROM incidents ORDER BY opened_at DESC, incident_id DESC LIMIT 1"
        ).fetchone()
        without = con.execute(
            "SELECT min(customer_id) FROM customers WHERE customer_id NOT IN "
            "(SELECT customer_id FROM incidents) AND customer_id IN (SELECT customer_id FROM orders)"
        ).fetchone()
        lost = con.execute("SELECT min(customer_id) FROM exits").fetchone()
    finally:
        con.close()
    assert with_incident is not None and without is not None
    return str(with_incident[0]), str(without[0]), None if lost is None else str(lost[0])


def backdate(db: str, experiment: str, day: str) -> None:
    """Move an experiment designed today back to ``day`` so that its window holds the demo's orders."""
    import duckdb

    con = duckdb.connect(str(duckdb_path(db)))
    try:
        stamp = f"TIMESTAMP '{day} 00:00:00'"
        con.execute(f"UPDATE experiments SET created_at = {stamp} WHERE experiment_id = ?", [experiment])
        con.execute(f"UPDATE assignments SET assigned_at = {stamp} WHERE experiment_id = ?", [experiment])
    finally:
        con.close()


def write_inputs(work: Path) -> dict[str, Path]:
    """The files the file-reading commands analyse, generated from fixed seeds."""
    rng = np.random.default_rng(20240601)
    files: dict[str, Path] = {}

    # a randomised experiment's results, one row per customer
    n = 1200
    arm = np.array(["control", "vip", "call"])[np.arange(n) % 3]
    pre = rng.gamma(2.0, 50.0, n)
    lift = np.select([arm == "vip", arm == "call"], [12.0, 4.0], 0.0)
    frame = pd.DataFrame(
        {
            "customer_id": [f"E{i:05d}" for i in range(n)],
            "arm": arm,
            "pre_profit": pre.round(2),
            "profit": (0.6 * pre + lift + rng.normal(0, 25, n)).round(2),
            "retained": (rng.random(n) < np.where(arm == "control", 0.7, 0.75)).astype(int),
        }
    )
    files["experiment"] = work / "experiment.csv"
    frame.to_csv(files["experiment"], index=False)

    # contract durations for the shifted-beta-geometric model (one row per customer)
    churn = rng.beta(1.2, 4.0, 2000)
    duration = np.minimum(rng.geometric(churn), 8)
    files["durations"] = work / "durations.csv"
    pd.DataFrame({"duration": duration, "churned": (duration < 8).astype(int)}).to_csv(
        files["durations"], index=False
    )

    # an uplift trial (three arms) and a population to score
    def population(size: int, prefix: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": [f"{prefix}{i:05d}" for i in range(size)],
                "tenure_years": rng.gamma(2.0, 1.5, size).round(3),
                "orders_12m": rng.poisson(4.0, size),
                "aov": rng.gamma(4.0, 20.0, size).round(2),
                "complaints_12m": rng.poisson(0.4, size),
            }
        )

    trial = population(3000, "U")
    t_arm = np.array(["control", "call", "discount"])[rng.integers(0, 3, len(trial))]
    base = -0.5 + 0.25 * trial["orders_12m"] - 0.6 * trial["complaints_12m"]
    effect = np.select(
        [t_arm == "call", t_arm == "discount"],
        [0.5 * trial["complaints_12m"], 0.3 + 0.004 * trial["aov"]],
        0.0,
    )
    p = 1.0 / (1.0 + np.exp(-(base + effect)))
    trial["arm"] = t_arm
    trial["retained"] = (rng.random(len(trial)) < p).astype(int)
    files["trial"] = work / "trial.csv"
    trial.to_csv(files["trial"], index=False)
    people = population(800, "P")
    people["margin"] = (0.35 * people["orders_12m"] * people["aov"]).round(2)
    files["people"] = work / "people.csv"
    people.to_csv(files["people"], index=False)

    # conjoint answers to the example win-back study: 150 respondents, 8 tasks of 3 offers and "none"
    levels = {
        "plan": ["Basic", "Standard", "Premium"],
        "free_months": ["0", "1", "3"],
        "support": ["Email", "Phone", "Dedicated manager"],
        "contract": ["Monthly", "Annual"],
    }
    worth = {
        "plan": [-0.8, 0.3, 0.5],
        "free_months": [-0.6, 0.1, 0.5],
        "support": [-0.5, 0.2, 0.3],
        "contract": [0.4, -0.4],
    }
    prices = [19.0, 29.0, 39.0, 49.0]
    rows = []
    for respondent in range(1, 151):
        scale = rng.normal(1.0, 0.3)
        for task in range(1, 9):
            utilities = []
            offers: list[dict[str, object]] = []
            while len(offers) < 3:
                pick = {a: int(rng.integers(len(v))) for a, v in levels.items()}
                price = prices[int(rng.integers(len(prices)))]
                offer = {a: levels[a][i] for a, i in pick.items()}
                if (offer["plan"], offer["support"]) == ("Basic", "Dedicated manager"):
                    continue
                if offer["plan"] == "Premium" and price == 19.0:
                    continue
                offers.append({**offer, "price": price, "none": 0})
                u = sum(worth[a][i] for a, i in pick.items()) - 0.08 * price
                utilities.append(scale * u + rng.gumbel())
            offers.append(
                {"plan": "", "free_months": "", "support": "", "contract": "", "price": 0.0, "none": 1}
            )
            utilities.append(scale * -2.0 + rng.gumbel())
            best = int(np.argmax(utilities))
            for alternative, shown in enumerate(offers, start=1):
                rows.append(
                    {
                        "respondent": respondent,
                        "task": f"{respondent}-{task}",
                        "alternative": alternative,
                        **shown,
                        "chosen": int(alternative - 1 == best),
                    }
                )
    files["answers"] = work / "answers.csv"
    pd.DataFrame(rows).to_csv(files["answers"], index=False)
    offer_base = {"plan": "Standard", "free_months": "1", "support": "Phone", "contract": "Monthly"}
    files["offers"] = work / "offers.yaml"  # JSON is YAML
    candidates = [{**offer_base, "price": p, "cost": 12} for p in (29, 39, 49)]
    files["offers"].write_text(json.dumps({"candidates": candidates}), encoding="utf-8")
    return files


def build_demo(snap: Snapshot) -> str:
    """Simulate and load the demo store as ``make demo`` does; returns its URL."""
    data = snap.work / "demo" / "data"
    db = f"duckdb:///{snap.work / 'demo' / 'keepwise.duckdb'}"
    for name, args in (
        (
            "simulate",
            ("simulate", "--customers", "3000", "--months", "24", "--seed", "7", "--out", str(data)),
        ),
        ("load", ("load", str(data), "--db", db)),
    ):
        done = snap.run(name, *args, save=False)
        if done.returncode != 0:
            sys.exit(f"{name} failed:\n{done.stderr}")
    lines = [
        f"{f.name}\t{hashlib.sha256(f.read_bytes()).hexdigest()}"
        for f in sorted(data.iterdir())
        if f.is_file()
    ]
    (snap.out / "simulated.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return db


class Plan:
    """Commands to run: independent groups run in parallel, the commands of one group one after another."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.groups: list[list[Callable[[], object]]] = []
        self.chain: list[Callable[[], object]] | None = None

    def add(self, step: Callable[[], object], name: str | None = None) -> None:
        """Add a step, to the open chain if there is one."""
        if name is not None:
            self.snap.order.append(name)
        if self.chain is None:
            self.groups.append([step])
        else:
            self.chain.append(step)

    def skip(self, *names: str) -> None:
        """Record commands left out: they write, and only a DuckDB file store can be copied."""
        for name in names:
            self.snap.order.append(name)
            self.snap.index[name] = f"{name}\tskipped\tit writes; only a DuckDB file store can be copied"

    @contextlib.contextmanager
    def sequence(self) -> Iterator[None]:
        """Steps added inside run in order (they share a store copy)."""
        self.chain = []
        try:
            yield
        finally:
            self.groups.append(self.chain)
            self.chain = None

    def execute(self, jobs: int) -> None:
        """Run every group, ``jobs`` at a time."""

        def run_group(group: list[Callable[[], object]]) -> None:
            for step in group:
                step()

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for future in [pool.submit(run_group, g) for g in self.groups]:
                future.result()


def snapshot(out: Path, db: str | None, keep: bool, jobs: int = 2) -> None:
    """Run every command into OUTDIR."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="kw-snapshot-"))
    snap = Snapshot(out, work)
    try:
        if db is None:
            db = build_demo(snap)
        plan = Plan(snap)
        plan_all(plan, db, write_inputs(work))
        plan.execute(jobs if duckdb_path(db) else 1)
        lines = [snap.index.get(name, f"{name}\tnot run") for name in snap.order]
        (out / "index.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    finally:
        if keep:
            print(f"scratch folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def plan_all(plan: Plan, db: str, files: dict[str, Path]) -> None:
    """Every command; those that write run in a chain on their own copy of the store."""
    snap = plan.snap
    with_incident, without_incident, lost = pick_customers(db)
    work = snap.work
    names = {
        "db": db,
        "work": work,
        "study": STUDY,
        "asked": ASKED_AT,
        "incident": with_incident,
        "no_incident": without_incident,
        "lost": lost or "",
        **{f"file_{k}": v for k, v in files.items()},
    }

    def run(name: str, command: str, **more: object) -> None:
        def step() -> None:
            store = snap.copy_store(db, name) if "{db}" in command else None
            values = {k: shlex.quote(str(v)) for k, v in {**names, **more, "db": store or db}.items()}
            snap.run(name, *shlex.split(command.format(**values)))

        plan.add(step, name)

    answers = (
        "--file {file_answers} --task-column task --alternative-column alternative --choice-column chosen"
        f" --attributes {CONJOINT_ATTRIBUTES}"
        " --categorical free_months --none-column none --price-column price"
    )
    uplift_fit = (
        "uplift fit --file {file_trial} --arm-column arm --outcome retained"
        " --features tenure_years,orders_12m,aov,complaints_12m --seed 5 --json"
    )

    run("schema", "schema --json")
    run("schema_orders", "schema orders --json")
    run("status", "status --db {db} --json")
    if duckdb_path(db):  # the review writes its tables (into its own copy of the store)
        run("review", "review --db {db} --json --html {work}/review.html")
    else:
        plan.skip("review")
    run("profit", "profit --db {db} --json")
    run("profit_ttm", "profit --view ttm --db {db} --json")
    run("profit_lifetime", "profit --view lifetime --db {db} --json")
    for model in MODELS:
        if model == "sbg":  # contract durations are not in the orders
            run("fit_sbg", "fit sbg --summary {file_durations} --json")
        else:
            run(f"fit_{model}", f"fit {model} --db {{db}} --json")
    run("fit_bgnbd_covariates", "fit bgnbd --covariates channel,segment --db {db} --json")
    run("fit_bgnbd_calibration", "fit bgnbd --calibration-end 2025-06-30 --db {db} --json")
    run("clv", "clv --no-save --db {db} --json")
    run("clv_pareto_nbd", "clv --no-save --model pareto-nbd --db {db} --json")
    run(
        "clv_covariates",
        "clv --no-save --covariates channel --as-of 2025-09-30 --draws 20 --db {db} --json",
    )
    ask = "--at {asked} --no-log --db {db} --json"
    run("concession_incident", "concession {incident} --cost 200.00 " + ask)
    run("concession_no_incident", "concession {no_incident} --cost 200.00 " + ask)
    run("concession_small", "concession {incident} --cost 5 " + ask)
    run("concessions_report", "concessions report --db {db} --json")
    run("winback", "winback --db {db} --json")
    run("winback_all", "winback --top 0 --db {db} --json")
    run("outreach", "outreach --no-save --db {db} --json")
    run("wins", "wins --db {db} --json")
    run("wins_12", "wins --months 12 --db {db} --json")
    run("flows_dry_run", "flows run --dry-run --db {db} --json")
    run("messages_report", "messages report --db {db} --json")
    run("messages_compose_thanks", "messages compose --customer {incident} --kind thanks --db {db} --json")
    if lost:
        run("messages_compose_winback", "messages compose --customer {lost} --kind winback --db {db} --json")

    # experiments: one designed in (a copy of) the store and moved back in time, one read from a file
    experiment_db = snap.copy_store(db, "experiment")
    if experiment_db is None:
        plan.skip("experiment_design", "experiment_analyze_store")
    else:
        with plan.sequence():
            run(
                "experiment_design",
                "experiment design snapshot-vip --population top:600 --seed 3 --stratify-by profit_decile"
                " --db {exp} --json",
                exp=experiment_db,
            )
            plan.add(lambda: backdate(experiment_db, "snapshot-vip", "2024-12-15"))
            run(
                "experiment_analyze_store",
                "experiment analyze snapshot-vip --cuped --details --db {exp} --json",
                exp=experiment_db,
            )
    run(
        "experiment_analyze_file",
        "experiment analyze --file {file_experiment} --control control --metric profit --metric retained"
        " --covariate profit=pre_profit --profit-metric profit --program-cost 500 --bootstrap 200 --seed 4"
        " --details --json",
    )

    # uplift: fit on the trial with each learner, score and plan the population with the DR one
    run("uplift_fit_t", uplift_fit + " --learner t --model-out {work}/uplift-t.pkl")
    run("uplift_fit_x", uplift_fit + " --learner x --model-out {work}/uplift-x.pkl")
    with plan.sequence():  # score and plan read the model the fit writes
        run("uplift_fit_dr", uplift_fit + " --learner dr --model-out {work}/uplift.pkl")
        run("uplift_score", "uplift score --model {work}/uplift.pkl --file {file_people} --json")
        run(
            "uplift_plan",
            "uplift plan --model {work}/uplift.pkl --file {file_people} --cost call=20 --cost discount=15"
            " --value-column margin --budget 3000 --json",
        )

    # conjoint: design the example study, estimate answers to it, simulate offers, save and show
    run(
        "conjoint_design",
        "conjoint design {study} --out {work}/design --tasks 8 --versions 4 --seed 1 --json",
    )
    run(
        "conjoint_design_overlap",
        "conjoint design {study} --out {work}/design2 --method balanced-overlap --seed 2 --json",
    )
    run("conjoint_estimate_mnl", f"conjoint estimate {answers} --currency USD --json")
    run(
        "conjoint_estimate_lc",
        f"conjoint estimate {answers} --model lc --classes 2 --respondent-column respondent --seed 6 --json",
    )
    run(
        "conjoint_estimate_hb",
        f"conjoint estimate {answers} --model hb --draws 1000 --burn 1000 --respondent-column respondent"
        " --seed 6 --json",
    )
    run("conjoint_simulate", f"conjoint simulate {answers} --offers {{file_offers}} --json")
    conjoint_db = snap.copy_store(db, "conjoint")
    if conjoint_db is None:
        plan.skip("conjoint_estimate_save", "conjoint_show", "winback_with_study", "winback_with_study_file")
    else:
        with plan.sequence():
            run(
                "conjoint_estimate_save",
                f"conjoint estimate {answers} --currency USD --save snapshot-study --study {{study}}"
                " --db {cj} --json",
                cj=conjoint_db,
            )
            run("conjoint_show", "conjoint show --db {cj} --json", cj=conjoint_db)
            run("winback_with_study", "winback --db {cj} --json", cj=conjoint_db)
            run("winback_with_study_file", "winback --study {study} --db {cj} --json", cj=conjoint_db)


#: relative differences up to this are float noise: the BTYD fits run on DuckDB's GROUP BY histograms, whose
#: row order changes from run to run, so the same code gives estimates differing by ~1e-9 and standard errors
#: (finite differences) by up to ~1e-5
NOISE_RTOL = 1e-4


def float_gap(a: object, b: object, path: str = "") -> tuple[float, str] | None:
    """The largest relative difference between two JSON documents that differ only in their floats.

    None when they differ in anything else: keys, their order, lengths, texts, integers, booleans.
    """
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return None
        gaps = [float_gap(a[k], b[k], f"{path}/{k}") for k in a]
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return None
        gaps = [float_gap(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))]
    elif isinstance(a, float) and isinstance(b, float):
        if a == b or (math.isnan(a) and math.isnan(b)):
            return 0.0, path
        return abs(a - b) / max(abs(a), abs(b)), path
    else:
        return (0.0, path) if type(a) is type(b) and a == b else None
    if any(g is None for g in gaps):
        return None
    return max((g for g in gaps if g is not None), default=(0.0, path))


def compare(old: Path, new: Path, context: int = 3, shown: int = 12, rtol: float = NOISE_RTOL) -> int:
    """Print the documents that differ between two snapshot folders; 1 if any does, else 0.

    Documents whose only differences are floats within ``rtol`` (relative) are listed as NOISE, with the
    largest difference and where it is, and do not count as different.
    """
    names = sorted({p.name for p in old.iterdir()} | {p.name for p in new.iterdir()})
    differ = noise = 0
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            differ += 1
            print(f"ONLY IN {old if a.exists() else new}: {name}")
            continue
        if a.read_bytes() == b.read_bytes():
            continue
        a_text, b_text = a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")
        gap = None
        if name.endswith(".json"):
            try:
                gap = float_gap(json.loads(a_text), json.loads(b_text))
            except ValueError:
                gap = None
        if gap is not None and gap[0] <= rtol:
            noise += 1
            print(f"NOISE: {name} (floats only; largest relative difference {gap[0]:.1e} at {gap[1] or '/'})")
            continue
        differ += 1
        lines = list(
            difflib.unified_diff(
                a_text.splitlines(), b_text.splitlines(), str(a), str(b), n=context, lineterm=""
            )
        )
        print(f"DIFFERS: {name} ({sum(1 for x in lines if x[:1] in '+-') - 2} changed lines)")
        for line in lines[:shown]:
            print(f"    {line}")
    same = len(names) - differ - noise
    print(f"{same} identical, {noise} float noise only (rtol {rtol:g}), {differ} differ ({old} vs {new})")
    return 1 if differ else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, snapshot and/or compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", type=Path, help="folder for the snapshot (replaced)")
    parser.add_argument("--db", help="store URL (default: build the demo store as make demo does)")
    parser.add_argument("--compare", type=Path, metavar="OTHERDIR", help="compare OUTDIR with this snapshot")
    parser.add_argument("--compare-only", nargs=2, type=Path, metavar=("OLD", "NEW"), help="only compare")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--jobs", type=int, default=2, help="commands run at once (default 2)")
    parser.add_argument(
        "--rtol", type=float, default=NOISE_RTOL, help=f"float noise tolerated (default {NOISE_RTOL:g})"
    )
    args = parser.parse_args(argv)
    if args.compare_only:
        old, new = args.compare_only
        return compare(old, new, rtol=args.rtol)
    if args.outdir is None:
        parser.error("OUTDIR is required (or --compare-only OLD NEW)")
    snapshot(args.outdir, args.db, args.keep, args.jobs)
    if args.compare:
        return compare(args.compare, args.outdir, rtol=args.rtol)
    return 0


if __name__ == "__main__":
    sys.exit(main())
