"""The BG/NBD fit at a million customers: this tree, another tree and lifetimes, side by side in one run.

Run: ``.venv/bin/python bench/fit.py [--customers 1000000] [--grid day] [--baseline SRC] [--rounds 2]``.

The data are bench/models.py's (the exact BG/NBD simulator with the CDNOW estimates as truth, first purchases
over 52 weeks, observed to week 78, times recorded by day in weeks), drawn once and saved in
``bench/data/fit-N-GRID.npz``. Each side runs in a fresh process (``--baseline SRC`` puts SRC first on the
path, e.g. a checkout of main's ``src``): it warms up on 2,000 customers, then fits every customer
``--repeat`` times from the per-customer arrays (compression, the warm start, BFGS, the Hessian and the last
Newton step included) and reports the median CPU time of a fit. lifetimes' ``BetaGeoFitter`` fits once per
round (about ten seconds at a million customers). The sides alternate over ``--rounds`` rounds, so that the
machine's load falls on all of them alike; the table gives each side's median over the rounds, lifetimes'
CPU over it, and the maximised log-likelihood of each side's estimates, evaluated with one formula.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np

HERE = Path(__file__).parent
DATA = HERE / "data"

KEEPWISE = """
import json, sys, time
import numpy as np
from keepwise.models import BetaGeoModel
from keepwise.models.data import compress_rft
d = np.load(sys.argv[1])
x, tx, T = d["x"], d["tx"], d["T"]
BetaGeoModel().fit(x[:2000], tx[:2000], T[:2000])  # imports and first-call set-up
cpus = []
for _ in range(int(sys.argv[2])):
    c = time.process_time()
    m = BetaGeoModel().fit(x, tx, T)
    cpus.append(time.process_time() - c)
data, w, _ = compress_rft(x, tx, T)
ll = float(np.sum(w * BetaGeoModel()._loglik(m.params_, data)[0]))
print(json.dumps({"cpu": sorted(cpus)[len(cpus) // 2], "params": m.params_, "ll": ll}))
"""

LIFETIMES = """
import json, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter
d = np.load(sys.argv[1])
x, tx, T = d["x"], d["tx"], d["T"]
np.random.seed(0)
BetaGeoFitter().fit(x[:2000], tx[:2000], T[:2000])
np.random.seed(0)
f = BetaGeoFitter()
c = time.process_time()
f.fit(x, tx, T)
print(json.dumps({"cpu": time.process_time() - c, "params": {k: float(v) for k, v in f.params_.items()}}))
"""


def data(customers: int, grid: str, seed: int) -> Path:
    """The simulated customers (drawn once, then read from ``bench/data``)."""
    path = DATA / f"fit-{customers}-{grid}-{seed}.npz"
    if not path.exists():
        sys.path.insert(0, str(HERE))
        from models import simulate  # bench/models.py: the same data as the model benchmark

        x, tx, T = simulate("bgnbd", customers, seed, grid)
        DATA.mkdir(exist_ok=True)
        np.savez(path, x=x, tx=tx, T=T)
    return path


def child(code: str, *args: str, src: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python with ``src`` first on its path; the JSON it prints last."""
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def loglik(path: Path, params: dict[str, float], src: str) -> float:
    """The log-likelihood of ``params`` on the data, by this tree's formula (the same for every side)."""
    code = """
import json, sys
import numpy as np
from keepwise.models import BetaGeoModel
from keepwise.models.data import compress_rft
d = np.load(sys.argv[1])
data, w, _ = compress_rft(d["x"], d["tx"], d["T"])
print(json.dumps(float(np.sum(w * BetaGeoModel()._loglik(json.loads(sys.argv[2]), data)[0]))))
"""
    return float(child(code, str(path), json.dumps(params), src=src))  # type: ignore[arg-type]


def main() -> None:
    """Time each side in turn for ``--rounds`` rounds and print one Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--grid", choices=["day", "week"], default="day")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--baseline", metavar="SRC", help="also time the fit of the sources in SRC")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of all sides, alternating")
    ap.add_argument("--repeat", type=int, default=7, help="keepwise fits per round (median)")
    ap.add_argument("--no-lifetimes", action="store_true", help="skip lifetimes (not installed)")
    args = ap.parse_args()
    path = data(args.customers, args.grid, args.seed)
    here = str(HERE.parent / "src")
    sides = [("keepwise, this tree", here)]
    if args.baseline:
        sides.insert(0, (f"keepwise, {args.baseline}", args.baseline))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    life: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for _ in range(args.rounds):
        for label, src in sides:
            runs[label].append(child(KEEPWISE, str(path), str(args.repeat), src=src))
        if not args.no_lifetimes:
            life.append(child(LIFETIMES, str(path), src=here))
    print(f"{args.customers:,} customers, {args.grid} grid; {time.perf_counter() - t0:.0f} s in all\n")
    life_cpu = median(r["cpu"] for r in life) if life else float("nan")
    print("| side | fit CPU s (median of rounds) | each round | lifetimes / side | log-likelihood |")
    print("|---|---:|---|---:|---:|")
    for label, rs in runs.items():
        cpu = median(r["cpu"] for r in rs)
        each = ", ".join(f"{r['cpu']:.3f}" for r in rs)
        print(f"| {label} | {cpu:.3f} | {each} | {life_cpu / cpu:.1f}x | {rs[-1]['ll']:.3f} |")
    if life:
        ll = loglik(path, life[-1]["params"], here)
        each = ", ".join(f"{r['cpu']:.2f}" for r in life)
        print(f"| lifetimes 0.11.3 `BetaGeoFitter` | {life_cpu:.2f} | {each} | 1.0x | {ll:.3f} |")
    print()
    last = runs[sides[-1][0]][-1]["params"]
    for label, rs in runs.items():
        p = rs[-1]["params"]
        print(f"{label}: {json.dumps(p)}; largest relative difference from this tree's estimates ", end="")
        print(f"{max(abs(p[k] - last[k]) / abs(last[k]) for k in last):.1e}")
    if life:
        p = life[-1]["params"]
        worst = max(abs(p[k] - last[k]) / abs(last[k]) for k in last)
        print(f"lifetimes: largest relative difference from this tree's estimates {worst:.1e}")


if __name__ == "__main__":
    main()
