"""Fit and score BG/NBD and Pareto/NBD side by side: keepwise vs lifetimes 0.11.3 vs pymc-marketing (MAP).

The same simulated customers (exact simulators of each model; customers acquired uniformly over 52 weeks,
observed until week 78, purchase times on a daily grid, time unit weeks) go to every library. For each
library the script times (CPU time of the process, robust to other load on a shared machine; wall time
alongside; keepwise's fit, tenths of a second, is the median of ``--repeat`` fits, lifetimes' and
pymc-marketing's, many seconds, one each) the fit (from per-customer arrays, so keepwise's compression is
included) and the scoring of every customer (expected purchases in the next 52 weeks and P(alive)), and
evaluates the maximised log-likelihood of every library's estimates with one formula (keepwise's), so that
the LLs are comparable. pymc-marketing runs in its own virtualenv (bench/.venv) through
bench/_pymc_runner.py, with flat (HalfFlat) priors so that its MAP is the maximum-likelihood estimate.

    .venv/bin/python bench/models.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from keepwise.models import BetaGeoModel, ParetoNBDModel
from keepwise.models.data import compress_rft
from keepwise.models.simulate import simulate_bgnbd, simulate_pareto_nbd

HERE = Path(__file__).parent
DATA = HERE / "data"
PYMC_PYTHON = HERE / ".venv" / "bin" / "python"
HORIZON = 52.0
TRUTH = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "pareto-nbd": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
}


def simulate(model: str, n: int, seed: int, grid: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact model draws; purchase and observation times then recorded by day (in weeks, days/7, the CDNOW
    convention) or by week (whole weeks)."""
    rng = np.random.default_rng(seed)
    t_days = 546 - rng.integers(0, 364, n)  # first purchase in weeks 0-52, observed to week 78
    sim = simulate_bgnbd if model == "bgnbd" else simulate_pareto_nbd
    d = sim(**TRUTH[model], T=t_days / 7, n=n, seed=seed + 1)
    if grid == "day":
        return d["frequency"].to_numpy(), np.floor(d["recency"].to_numpy() * 7) / 7, t_days / 7
    return d["frequency"].to_numpy(), np.floor(d["recency"].to_numpy()), np.floor(t_days / 7)


def total_ll(
    model_cls: type, params: dict[str, float], x: np.ndarray, tx: np.ndarray, T: np.ndarray
) -> float:
    data, w, _ = compress_rft(x, tx, T)
    ll, _ = model_cls()._loglik(params, data)
    return float(np.sum(w * ll))


def run_keepwise(model: str, x, tx, T, repeat: int = 1) -> dict:
    cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
    walls, cpus = [], []
    for _ in range(
        repeat
    ):  # a fit takes tenths of a second: the median of a few is steadier on a busy machine
        t0, c0 = time.perf_counter(), time.process_time()
        m = cls().fit(x, tx, T)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    fit_wall, fit_s = float(np.median(walls)), float(np.median(cpus))
    t1, c1 = time.perf_counter(), time.process_time()
    ep = m.conditional_expected_number_of_purchases_up_to_time(HORIZON, x, tx, T)
    pa = m.conditional_probability_alive(x, tx, T)
    score_wall, score_s = time.perf_counter() - t1, time.process_time() - c1
    data, _, _ = compress_rft(x, tx, T)
    return {
        "params": m.params_,
        "fit_s": fit_s,
        "fit_wall_s": fit_wall,
        "optimiser_s": m.fit_seconds_,
        "score_s": score_s,
        "score_wall_s": score_wall,
        "expected": ep,
        "p_alive": pa,
        "unique": len(data["x"]),
    }


def run_lifetimes(model: str, x, tx, T) -> dict:
    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    np.random.seed(0)  # noqa: NPY002  lifetimes draws its starting point from the global generator
    f = BetaGeoFitter() if model == "bgnbd" else ParetoNBDFitter()
    t0, c0 = time.perf_counter(), time.process_time()
    f.fit(x, tx, T)
    fit_wall, fit_s = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    ep = np.asarray(f.conditional_expected_number_of_purchases_up_to_time(HORIZON, x, tx, T))
    pa = np.asarray(f.conditional_probability_alive(x, tx, T))
    score_wall, score_s = time.perf_counter() - t1, time.process_time() - c1
    return {
        "params": {k: float(v) for k, v in f.params_.items()},
        "fit_s": fit_s,
        "fit_wall_s": fit_wall,
        "score_s": score_s,
        "score_wall_s": score_wall,
        "expected": ep,
        "p_alive": pa,
    }


def run_pymc(model: str, x, tx, T, tag: str) -> dict | None:
    if not PYMC_PYTHON.exists():
        return None
    DATA.mkdir(exist_ok=True)
    src, dst = DATA / f"{tag}.npz", DATA / f"{tag}-pymc.npz"
    np.savez(src, x=x, t_x=tx, T=T)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(PYMC_PYTHON), str(HERE / "_pymc_runner.py"), model, str(src), str(dst), str(HORIZON)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    z = np.load(dst)
    names = ("r", "alpha", "a", "b") if model == "bgnbd" else ("r", "alpha", "s", "beta")
    return {
        "params": dict(zip(names, map(float, z["params"]), strict=True)),
        "fit_s": float(z["fit_s"]),
        "fit_wall_s": float(z["fit_wall_s"]),
        "score_s": float(z["score_s"]),
        "score_wall_s": float(z["score_wall_s"]),
        "process_wall_s": wall,
        "expected": z["expected"],
        "p_alive": z["p_alive"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--models", nargs="+", default=["bgnbd", "pareto-nbd"])
    ap.add_argument("--no-pymc", action="store_true", help="skip pymc-marketing")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--grid", choices=["day", "week"], default="day", help="time grid of the recorded data")
    ap.add_argument("--repeat", type=int, default=5, help="keepwise fits per data set (median time reported)")
    args = ap.parse_args()
    # warm up both libraries (lazy imports, first-call set-up) so that the timings measure the work
    for model in args.models:
        wx, wtx, wT = simulate(model, 2000, 0, args.grid)
        run_keepwise(model, wx, wtx, wT)
        run_lifetimes(model, wx, wtx, wT)
    rows = []
    for n in args.sizes:
        for model in args.models:
            x, tx, T = simulate(model, n, args.seed, args.grid)
            cls = BetaGeoModel if model == "bgnbd" else ParetoNBDModel
            res = {
                "keepwise": run_keepwise(model, x, tx, T, args.repeat),
                "lifetimes": run_lifetimes(model, x, tx, T),
            }
            if not args.no_pymc:
                pm = run_pymc(model, x, tx, T, f"{model}-{n}-{args.grid}")
                if pm is not None:
                    res["pymc-marketing"] = pm
            kw = res["keepwise"]
            ll_kw = total_ll(cls, kw["params"], x, tx, T)
            for lib, r in res.items():
                ll = total_ll(cls, r["params"], x, tx, T)
                row = {
                    "customers": n,
                    "grid": args.grid,
                    "model": model,
                    "library": lib,
                    "fit_s": r["fit_s"],
                    "fit_wall_s": r["fit_wall_s"],
                    "score_s": r["score_s"],
                    "score_wall_s": r["score_wall_s"],
                    "log_likelihood": ll,
                    "ll_rel_diff": abs(ll - ll_kw) / abs(ll_kw),
                    "max_rel_diff_params": max(
                        abs(r["params"][k] - kw["params"][k]) / abs(kw["params"][k]) for k in kw["params"]
                    ),
                    "fit_speedup_vs": kw["fit_s"] and r["fit_s"] / kw["fit_s"],
                    "score_speedup_vs": r["score_s"] / kw["score_s"],
                    "max_rel_diff_expected": float(
                        np.max(np.abs(r["expected"] - kw["expected"]) / np.maximum(kw["expected"], 1e-12))
                    ),
                    "max_abs_diff_p_alive": float(np.max(np.abs(r["p_alive"] - kw["p_alive"]))),
                    "params": r["params"],
                }
                if lib == "keepwise":
                    row["unique_tuples"] = kw["unique"]
                    row["optimiser_s"] = kw["optimiser_s"]
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "params"}), flush=True)
    DATA.mkdir(exist_ok=True)
    (DATA / f"models-{args.grid}.json").write_text(json.dumps(rows, indent=2))
    print(
        "\n| customers | model | library | unique tuples | fit CPU s (wall) | score CPU s (wall) "
        "| fit: x keepwise | score: x keepwise | LL | LL rel. diff | max rel. diff params "
        "| max rel. diff E[Y(52)] | max diff P(alive) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['customers']:,} | {r['model']} | {r['library']} | {r.get('unique_tuples', '')} | "
            f"{r['fit_s']:.2f} ({r['fit_wall_s']:.2f}) | {r['score_s']:.2f} ({r['score_wall_s']:.2f}) | "
            f"{r['fit_speedup_vs']:.1f} | {r['score_speedup_vs']:.1f} | {r['log_likelihood']:.3f} | "
            f"{r['ll_rel_diff']:.1e} | {r['max_rel_diff_params']:.1e} | {r['max_rel_diff_expected']:.1e} | "
            f"{r['max_abs_diff_p_alive']:.1e} |"
        )


if __name__ == "__main__":
    main()
