"""Conditional logit on 1 million choice rows: keepwise (Newton, analytic Hessian) beside statsmodels.

Usage: .venv/bin/python bench/conjoint.py [--rows 1000000] [--statsmodels-rows 1000000]
       .venv/bin/python bench/conjoint.py --hb-prior [--seeds 3]
       .venv/bin/python bench/conjoint.py --hb-mixing [--seeds 3] [--hb-module FILE] [--burn B --draws D]

``--hb-prior`` compares the hierarchical Bayes prior variance ``s^2`` (and Metropolis steps per iteration) on
simulated respondents with known part-worths (400 respondents x 12 tasks of the example study, the truth of
``tests/conjoint/test_hb.py``, one simulated panel per seed): coverage of the 9 population means by their 95%
intervals, the ratio of estimated to true population sd, the correlation of individual posterior means with
the truth, the smallest effective sample size of a population mean and ESS per second.

``--hb-mixing`` runs the sampler on the panel of ``tests/conjoint/test_hb.py`` (panel 0) with sampler seeds
0..seeds-1 and prints, per seed, the largest split and rank-normalised R-hat and the smallest classic and bulk
effective sample size of the 9 population means (all computed by ``keepwise.conjoint.hb``), the coverage of
the true means and the seconds. ``--hb-module FILE`` takes ``HierarchicalBayesMNL`` from another file, e.g.
the random-walk sampler before 2026-11-23: ``git show dd4d36d:src/keepwise/conjoint/hb.py > /tmp/hb_rw.py``.

250,000 tasks of 4 alternatives (1,000,000 rows), 9 columns (effects-coded attributes, price and none,
as in examples/conjoint/winback_study.yaml) with known part-worths; choices drawn with Gumbel errors
(seed 0). The same arrays go to statsmodels' ConditionalLogit (``statsmodels.discrete.conditional_models``,
maximum likelihood by BFGS on the same likelihood: one chosen row per group) and to scipy's L-BFGS-B on
keepwise's analytic log-likelihood and gradient. xlogit was not installed: it would need its own
environment and it is a GPU-oriented mixed-logit package; statsmodels is already a test dependency.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import optimize

from keepwise.conjoint.coding import ChoiceData
from keepwise.conjoint.mnl import ConditionalLogit, mnl_loglik

TRUE = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])


def make(rows: int, seed: int = 0) -> ChoiceData:
    rng = np.random.default_rng(seed)
    J = 4
    T = rows // J
    X = np.zeros((T, J, 9))
    for start, n_levels in ((0, 3), (2, 3), (4, 3), (6, 2)):
        level = rng.integers(0, n_levels, (T, J - 1))
        table = np.vstack([np.eye(n_levels - 1), -np.ones((1, n_levels - 1))])
        X[:, : J - 1, start : start + n_levels - 1] = table[level]
    X[:, : J - 1, 7] = rng.choice([19.0, 29.0, 39.0, 49.0], (T, J - 1))
    X[:, J - 1, 8] = 1.0  # the none alternative
    u = X @ TRUE + rng.gumbel(size=(T, J))
    chosen = np.arange(T) * J + u.argmax(axis=1)
    starts = np.arange(T) * J
    names = [f"x{k}" for k in range(9)]
    return ChoiceData(X.reshape(T * J, 9), starts, chosen, np.arange(T), names)


def run_keepwise(data: ChoiceData) -> tuple[float, np.ndarray, float]:
    started = time.perf_counter()
    model = ConditionalLogit().fit(data)
    return time.perf_counter() - started, model.coef_, model.log_likelihood_


def run_scipy(data: ChoiceData) -> tuple[float, np.ndarray, float]:
    def f(beta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g, _ = mnl_loglik(beta, data)
        assert g is not None
        return -ll, -g

    started = time.perf_counter()
    res = optimize.minimize(
        f, np.zeros(9), jac=True, method="L-BFGS-B", options={"maxiter": 1000, "gtol": 1e-8}
    )
    return time.perf_counter() - started, res.x, -res.fun


def run_statsmodels(data: ChoiceData) -> tuple[float, np.ndarray, float]:
    from statsmodels.discrete.conditional_models import ConditionalLogit as SMConditionalLogit

    y = np.zeros(len(data.X))
    y[data.chosen] = 1
    groups = np.repeat(np.arange(data.n_tasks), data.sizes)
    started = time.perf_counter()
    res = SMConditionalLogit(y, data.X, groups=groups).fit(disp=0, maxiter=200)
    return time.perf_counter() - started, np.asarray(res.params), float(res.llf)


HB_MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
HB_SD = np.array([0.8, 0.6, 0.6, 0.4, 0.6, 0.5, 0.5, 0.03, 1.0])


def hb_panel(seed: int, respondents: int = 400, tasks: int = 12) -> tuple[ChoiceData, np.ndarray]:
    """Simulated answers to the example study by respondents with known, correlated part-worths."""
    from pathlib import Path

    from keepwise.conjoint.coding import Coding, choice_data
    from keepwise.conjoint.design import d_efficient
    from keepwise.conjoint.simulator import simulate_answers
    from keepwise.conjoint.study import load_study

    study = load_study(Path(__file__).parents[1] / "examples" / "conjoint" / "winback_study.yaml")
    design = d_efficient(study, tasks, 10, seed=3)
    coding = Coding.from_study(study)
    corr = np.eye(9)
    corr[0, 1] = corr[1, 0] = -0.4
    corr[7, 8] = corr[8, 7] = 0.3
    truth = np.random.default_rng(42 + seed).multivariate_normal(
        HB_MEAN, np.outer(HB_SD, HB_SD) * corr, respondents
    )
    long = simulate_answers(design, coding, truth, seed=1 + seed)
    return choice_data(long, coding, "task", "alternative", "chosen", respondent="respondent"), truth


def hb_prior(seeds: int, settings: list[tuple[float, int, int]]) -> None:
    """One row per (prior variance, Metropolis steps, iterations) setting, averaged over ``seeds`` panels."""
    from keepwise.conjoint.hb import HierarchicalBayesMNL

    print(
        "| prior variance s^2 | MH steps | burn + draws | means covered (of 9) | sd ratio (median, range) |"
        " individual corr | min ESS of a mean | ESS/s | seconds |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    panels = [hb_panel(seed) for seed in range(seeds)]
    for s2, steps, iterations in settings:
        covered, ratios, corrs, ess, secs = [], [], [], [], []
        for data, truth in panels:
            started = time.perf_counter()
            model = HierarchicalBayesMNL(
                burn=iterations, draws=iterations, prior_variance=s2, mh_steps=steps, seed=0, max_rhat=99
            ).fit(data)
            secs.append(time.perf_counter() - started)
            lower, upper = np.percentile(model.mean_draws_, [2.5, 97.5], axis=(0, 1))
            covered.append(int(((lower <= HB_MEAN) & (HB_MEAN <= upper)).sum()))
            ratios.append(np.sqrt(np.diag(model.cov_)) / HB_SD)
            corrs.append(np.corrcoef(model.individual_.ravel(), truth.ravel())[0, 1])
            ess.append(float(np.min(model.ess_["mean"])))
        r = np.concatenate(ratios)
        print(
            f"| {s2:g} | {steps} | {iterations:,} + {iterations:,} | {np.mean(covered):.1f} "
            f"({min(covered)}-{max(covered)}) | {np.median(r):.2f} ({r.min():.2f}-{r.max():.2f}) | "
            f"{np.mean(corrs):.3f} | {np.mean(ess):.0f} | {np.mean(ess) / np.mean(secs):.2f} | "
            f"{np.mean(secs):.1f} |",
            flush=True,
        )


def hb_mixing(seeds: int, module: str | None, options: dict[str, int]) -> None:
    """Convergence diagnostics and seconds of one HB sampler on panel 0, one row per sampler seed."""
    import importlib.util
    import warnings

    from keepwise.conjoint import hb

    sampler = hb.HierarchicalBayesMNL
    if module:
        spec = importlib.util.spec_from_file_location("hb_other", module)
        assert spec is not None and spec.loader is not None
        other = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(other)
        sampler = other.HierarchicalBayesMNL
    data, _ = hb_panel(0)
    print(
        "| seed | burn + draws | split R-hat (max) | rank R-hat (max) | classic ESS (min) | bulk ESS (min) |"
        " means covered | seconds | bulk ESS/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for seed in range(seeds):
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sampler(seed=seed, max_rhat=99, **options).fit(data)
        seconds = time.perf_counter() - started
        draws = model.mean_draws_
        lower, upper = np.percentile(draws, [2.5, 97.5], axis=(0, 1))
        bulk = float(hb.bulk_ess(draws).min())
        print(
            f"| {seed} | {model.burn:,} + {model.draws:,} | {hb.split_rhat(draws).max():.3f} | "
            f"{hb.rank_normalized_rhat(draws).max():.3f} | {hb.effective_sample_size(draws).min():.0f} | "
            f"{bulk:.0f} | {int(((lower <= HB_MEAN) & (HB_MEAN <= upper)).sum())} | {seconds:.1f} | "
            f"{bulk / seconds:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--statsmodels-rows", type=int, default=1_000_000)
    parser.add_argument("--hb-prior", action="store_true", help="compare HB prior variances instead")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hb-mixing", action="store_true", help="HB convergence diagnostics and seconds")
    parser.add_argument("--hb-module", help="file with another HierarchicalBayesMNL (--hb-mixing)")
    parser.add_argument("--burn", type=int, help="HB burn-in per chain (--hb-mixing; default the sampler's)")
    parser.add_argument("--draws", type=int, help="HB kept draws per chain (--hb-mixing)")
    args = parser.parse_args()
    if args.hb_mixing:
        options = {k: v for k, v in (("burn", args.burn), ("draws", args.draws)) if v is not None}
        hb_mixing(args.seeds, args.hb_module, options)
        return
    if args.hb_prior:
        hb_prior(
            args.seeds,
            [(0.05, 1, 10_000), (0.1, 1, 10_000), (0.5, 1, 10_000), (1.0, 1, 10_000), (0.1, 3, 5_000)],
        )
        return
    data = make(args.rows)
    print(f"{args.rows:,} rows, {data.n_tasks:,} tasks, 9 coefficients")
    results = {"keepwise Newton": run_keepwise(data), "scipy L-BFGS-B (keepwise gradient)": run_scipy(data)}
    sm_data = data if args.statsmodels_rows == args.rows else make(args.statsmodels_rows)
    results[f"statsmodels ConditionalLogit ({args.statsmodels_rows:,} rows)"] = run_statsmodels(sm_data)
    base = results["keepwise Newton"][0]
    print("| run | seconds | ratio to keepwise | log-likelihood | max abs diff of coefficients to keepwise |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, coef, ll) in results.items():
        diff = np.abs(coef - results["keepwise Newton"][1]).max()
        print(f"| {name} | {seconds:.2f} | {seconds / base:.1f}x | {ll:,.2f} | {diff:.1e} |")
    print("keepwise estimates", np.round(results["keepwise Newton"][1], 4), "truth", TRUE)


if __name__ == "__main__":
    main()
