"""Exact simulators of each model, for parameter-recovery tests and benchmarks.

Each draws customer-level latent rates from the mixing distributions and then the data exactly as the model
says they arise, in continuous time where the model is continuous: unlike lifetimes' generators, purchases
are never merged into periods. Given ``N`` Poisson arrivals on ``[0, L]`` the time of the ``k``-th is ``L``
times a Beta(k, N - k + 1) variable (uniform order statistics), which gives ``t_x`` without drawing every
purchase.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keepwise.models.base import FloatArray


def _rng(seed: Any) -> np.random.Generator:
    return np.random.default_rng(seed)


def _t_x(rng: np.random.Generator, x: Any, n_arrivals: Any, length: Any) -> FloatArray:
    """Time of the x-th of ``n_arrivals`` uniform arrivals on [0, length] (0 when x = 0)."""
    x = np.asarray(x, dtype=float)
    safe_x = np.maximum(x, 1)
    b = rng.beta(safe_x, np.maximum(n_arrivals - x + 1, 1))
    return np.asarray(np.where(x > 0, length * b, 0.0))


def _T(n: int, T: Any) -> FloatArray:
    return np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()


def simulate_bgnbd(
    r: float, alpha: float, a: float, b: float, T: Any, n: int, seed: Any = 0, alpha_i: Any = None
) -> pd.DataFrame:
    """BG/NBD customers: frequency, recency, T (and the latent ``lambda``, ``p``, ``alive``).

    Purchases arrive at Poisson rate ``lambda ~ Gamma(r, alpha)``; after each repeat purchase the customer
    drops out with probability ``p ~ Beta(a, b)``; the number of purchases before dropping out is geometric.
    ``alpha_i`` optionally gives a per-customer ``alpha`` (covariates).
    """
    rng = _rng(seed)
    Tn = _T(n, T)
    scale = 1.0 / (np.asarray(alpha_i, dtype=float) if alpha_i is not None else alpha)
    lam = rng.gamma(r, scale, size=n)
    p = rng.beta(a, b, size=n)
    arrivals = rng.poisson(lam * Tn)
    until_death = rng.geometric(p)  # purchase after which the customer drops out (1, 2, ...)
    x = np.minimum(arrivals, until_death)
    tx = _t_x(rng, x, arrivals, Tn)
    return pd.DataFrame(
        {
            "frequency": x.astype(float),
            "recency": tx,
            "T": Tn,
            "lambda": lam,
            "p": p,
            "alive": arrivals < until_death,
        }
    )


def simulate_mbgnbd(
    r: float, alpha: float, a: float, b: float, T: Any, n: int, seed: Any = 0
) -> pd.DataFrame:
    """MBG/NBD customers: as BG/NBD but the customer may also drop out at time 0 (geometric from 0)."""
    rng = _rng(seed)
    Tn = _T(n, T)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    arrivals = rng.poisson(lam * Tn)
    until_death = rng.geometric(p) - 1  # purchases made before dropping out (0, 1, ...)
    x = np.minimum(arrivals, until_death)
    tx = _t_x(rng, x, arrivals, Tn)
    return pd.DataFrame(
        {
            "frequency": x.astype(float),
            "recency": tx,
            "T": Tn,
            "lambda": lam,
            "p": p,
            "alive": arrivals < until_death,
        }
    )


def simulate_pareto_nbd(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: Any,
    n: int,
    seed: Any = 0,
    alpha_i: Any = None,
    beta_i: Any = None,
) -> pd.DataFrame:
    """Pareto/NBD customers, observed until ``T``.

    Poisson purchases at ``lambda ~ Gamma(r, alpha)`` during an exponential lifetime with rate
    ``mu ~ Gamma(s, beta)``.
    """
    rng = _rng(seed)
    Tn = _T(n, T)
    a_sc = 1.0 / (np.asarray(alpha_i, dtype=float) if alpha_i is not None else alpha)
    b_sc = 1.0 / (np.asarray(beta_i, dtype=float) if beta_i is not None else beta)
    lam = rng.gamma(r, a_sc, size=n)
    mu = rng.gamma(s, b_sc, size=n)
    life = rng.exponential(1.0 / mu)
    active = np.minimum(life, Tn)
    x = rng.poisson(lam * active)
    tx = _t_x(rng, x, x, active)
    return pd.DataFrame(
        {"frequency": x.astype(float), "recency": tx, "T": Tn, "lambda": lam, "mu": mu, "alive": life > Tn}
    )


def simulate_bgbb(
    alpha: float, beta: float, gamma: float, delta: float, n_periods: int, n: int, seed: Any = 0
) -> pd.DataFrame:
    """BG/BB customers over ``n_periods`` opportunities: frequency, recency, n_periods.

    Recency is the last opportunity with a transaction. At each opportunity a customer drops out with
    probability ``theta ~ Beta(gamma, delta)``, else transacts with probability ``p ~ Beta(alpha, beta)``.
    """
    rng = _rng(seed)
    p = rng.beta(alpha, beta, size=n)
    theta = rng.beta(gamma, delta, size=n)
    alive_periods = np.minimum(rng.geometric(theta) - 1, n_periods)  # opportunities survived
    t = np.arange(1, n_periods + 1)[None, :]
    buys = (rng.random((n, n_periods)) < p[:, None]) & (t <= alive_periods[:, None])
    x = buys.sum(axis=1)
    tx = np.where(x > 0, np.max(np.where(buys, t, 0), axis=1), 0)
    return pd.DataFrame(
        {
            "frequency": x.astype(float),
            "recency": tx.astype(float),
            "n_periods": float(n_periods),
            "p": p,
            "theta": theta,
        }
    )


def simulate_gamma_gamma(p: float, q: float, v: float, frequency: Any, seed: Any = 0) -> pd.DataFrame:
    """Mean repeat-purchase value ``zbar`` for customers with the given frequencies.

    ``nu ~ Gamma(q, v)`` and the mean of ``x`` Gamma(p, nu) values is Gamma(p x, x nu) (0 for x = 0).
    """
    rng = _rng(seed)
    x = np.asarray(frequency, dtype=float)
    nu = rng.gamma(q, 1.0 / v, size=len(x))
    z = rng.gamma(np.maximum(p * x, 1e-12), 1.0 / (np.maximum(x, 1) * nu))
    return pd.DataFrame({"frequency": x, "monetary_value": np.where(x > 0, z, 0.0), "nu": nu})


def simulate_sbg(alpha: float, beta: float, n_periods: int, n: int, seed: Any = 0) -> pd.DataFrame:
    """Contracts of the sBG model observed for ``n_periods``: duration, and whether cancelled or censored."""
    rng = _rng(seed)
    theta = rng.beta(alpha, beta, size=n)
    t = rng.geometric(theta)
    churned = t <= n_periods
    return pd.DataFrame(
        {"duration": np.minimum(t, n_periods).astype(float), "churned": churned.astype(float)}
    )


def simulate_bgnbd_transactions(
    r: float,
    alpha: float,
    a: float,
    b: float,
    n: int,
    start: Any,
    end: Any,
    acquisition_days: int = 84,
    seed: Any = 0,
) -> pd.DataFrame:
    """A BG/NBD transaction log in days, customers acquired uniformly in ``acquisition_days`` from ``start``.

    Rates are per week (7 days). Returns ``customer_id``, ``date`` (first purchase included), one row per
    purchase, at most one per day (a purchase falling on a day already taken moves to the next free day, so
    counts are exact and times off by under a day).
    """
    rng = _rng(seed)
    start = pd.Timestamp(start)
    horizon = (pd.Timestamp(end) - start).days
    first = rng.integers(0, acquisition_days, size=n).astype(float)
    lam = rng.gamma(r, 1.0 / alpha, size=n) / 7.0
    p = rng.beta(a, b, size=n)
    span = horizon - first
    arrivals = rng.poisson(lam * span)
    until_death = rng.geometric(p)
    x = np.minimum(arrivals, until_death)
    ids = np.repeat(np.arange(n), arrivals)
    times = first[ids] + rng.random(len(ids)) * span[ids]
    order = np.lexsort((times, ids))
    ids, times = ids[order], times[order]
    rank = np.arange(len(ids)) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    keep = rank < x[ids]
    cust = np.concatenate([np.arange(n), ids[keep]])
    day = np.concatenate([first, np.floor(times[keep])])
    df = pd.DataFrame({"customer_id": cust, "day": day}).sort_values(["customer_id", "day"])
    # same-day purchases are merged by the summaries; keep them distinct for exact counts
    dup = df.duplicated(["customer_id", "day"])
    while dup.any():
        df.loc[dup, "day"] += 1
        df = df.sort_values(["customer_id", "day"])
        dup = df.duplicated(["customer_id", "day"])
    df["date"] = start + pd.to_timedelta(df["day"], unit="D")
    df["customer_id"] = df["customer_id"].map(lambda i: f"c{i:07d}")
    return df[["customer_id", "date"]].reset_index(drop=True)
