"""Fit BG/NBD or Pareto/NBD with pymc-marketing (MAP, flat priors so MAP = MLE) and score; run by models.py.

Runs inside bench/.venv (pymc-marketing is a bench-only dependency). Usage:
    bench/.venv/bin/python bench/_pymc_runner.py MODEL INPUT.npz OUTPUT.npz HORIZON
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd


def main() -> None:
    model_name, src, dst, horizon = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel

    import_s = time.perf_counter() - t0
    z = np.load(src)
    data = pd.DataFrame(
        {"customer_id": np.arange(len(z["x"])), "frequency": z["x"], "recency": z["t_x"], "T": z["T"]}
    )
    if model_name == "bgnbd":
        names = ("r", "alpha", "a", "b")
        cls = BetaGeoModel
    else:
        names = ("r", "alpha", "s", "beta")
        cls = ParetoNBDModel
    config = {k: Prior("HalfFlat") for k in names}
    model = cls(data=data, model_config=config)
    t1, c1, k1 = time.perf_counter(), time.process_time(), _children_cpu()
    model.fit(method="map")
    fit_wall, fit_s = time.perf_counter() - t1, time.process_time() - c1 + _children_cpu() - k1
    post = model.idata.posterior
    params = np.array([float(post[k].values.ravel()[0]) for k in names])
    t2, c2, k2 = time.perf_counter(), time.process_time(), _children_cpu()
    ep = model.expected_purchases(future_t=horizon).values.ravel()
    pa = model.expected_probability_alive().values.ravel()
    score_wall, score_s = time.perf_counter() - t2, time.process_time() - c2 + _children_cpu() - k2
    np.savez(
        dst,
        params=params,
        fit_s=fit_s,
        fit_wall_s=fit_wall,
        score_s=score_s,
        score_wall_s=score_wall,
        import_s=import_s,
        expected=ep,
        p_alive=pa,
    )


def _children_cpu() -> float:
    """CPU seconds of finished child processes (pytensor compiles C code in subprocesses)."""
    import resource

    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


if __name__ == "__main__":
    main()
