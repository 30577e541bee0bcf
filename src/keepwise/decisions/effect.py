"""How much a concession lowers the chance of losing a customer, estimated from the business's own incidents.

Each past incident is one observation:

- **treatment**: a concession was granted (``concession_amount > 0``);
- **adjustment**: the incident category and the customer's value before the incident, ``value_z`` = the
  standardised log of their spend a week up to the incident (a business tends to grant more to valuable
  customers, who also behave differently, so the raw comparison is confounded);
- **what is seen**: whether the customer ordered again after the incident (up to the end of the data).

Not ordering again does not prove that a customer left: a customer who stayed may simply not have needed
anything yet. So the model is a mixture. The incident makes the customer leave with probability ``p``
(logistic in the terms above); a customer who stays orders with their own purchase rate, and the chance
that such a customer shows no order in the ``w`` weeks from the incident to the end of the data is, under the
BG/NBD model (a customer can only drop out right after a purchase, so a customer alive at the incident with
no purchase since has simply not bought)::

    q = ((alpha + T) / (alpha + T + w)) ^ (r + x)

with the population's ``r, alpha`` and the customer's ``x`` repeat purchases and age ``T`` at the incident.
The likelihood of "no order since" is ``p + (1 - p) q``, of "ordered again" ``(1 - p)(1 - q)``, with::

    logit p = a + a[category] + b value_z + conceded x (e + f value_z + e[category])

(the category interactions only where a category has at least 20 incidents with and 20 without a
concession), fitted by maximum likelihood (statsmodels ``GenericLikelihoodModel``, standard errors from the
numerical Hessian). The interactions ``f`` and ``e[category]`` are kept only when a likelihood-ratio test
against the model with one effect for all (``e`` alone) rejects it at ``LR_LEVEL`` (5%): a few hundred
incidents rarely say how the effect differs by category, and effects estimated per category from a few
dozen incidents each are mostly noise (measured on the simulator: with them the advisor kept 70% of the
oracle's profit on one business, without them 79%). The concession's effect on an incident is the drop in
the chance of leaving it buys, ``p(no concession) - p(concession)`` at the incident's category and the
customer's value; its interval comes from the 95% interval of the pooled log odds ratio ``e`` (a fit
without the interactions).

With fewer than ``min_incidents`` incidents (or fewer than 20 with and 20 without a concession) the estimate
falls back to the documented defaults of ``[decisions]``: ``leave_after_incident`` without a concession and
the odds multiplied by ``concession_odds_ratio`` with one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2
from statsmodels.base.model import GenericLikelihoodModel

from keepwise.config import DecisionAssumptions
from keepwise.store import Store

__all__ = ["EffectEstimate", "default_effect", "estimate_effect", "incident_history"]

_MIN_ARM = 20
#: the interactions are kept only when a likelihood-ratio test rejects "one effect for all" at this level
LR_LEVEL = 0.05


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def incident_history(store: Store, orders: pd.DataFrame, before: pd.Timestamp | None = None) -> pd.DataFrame:
    """Past incidents opened before ``before`` with what followed (orders up to ``before``).

    Returns
    -------
    pandas.DataFrame
        ``incident_id``, ``customer_id``, ``opened_at``, ``category``, ``conceded`` (bool),
        ``concession_amount`` (float), ``x`` and ``T`` (weeks) at the incident, ``log_weekly_value``,
        ``weeks_after`` (from the incident to ``before``) and ``ordered_again`` (bool).
    """
    from keepwise.decisions.facts import history_at

    inc = store.table("incidents")
    df = inc.select("incident_id", "customer_id", "opened_at", "category", "concession_amount").to_pandas()
    df["opened_at"] = pd.to_datetime(df["opened_at"], utc=True)
    end = pd.Timestamp(before) if before is not None else orders["ordered_at"].max() + pd.Timedelta(seconds=1)
    df = df[df["opened_at"] < end].reset_index(drop=True)
    o = orders[orders["ordered_at"] < end]
    df["category"] = df["category"].fillna("other").astype(str)
    df["concession_amount"] = df["concession_amount"].astype(float).fillna(0.0)
    df["conceded"] = df["concession_amount"] > 0
    h = history_at(o, df.rename(columns={"opened_at": "at"}))
    df["x"], df["T"], df["log_weekly_value"] = (
        h["x"].to_numpy(),
        h["T"].to_numpy(),
        h["log_weekly_value"].to_numpy(),
    )
    df["weeks_after"] = (end - df["opened_at"]).dt.total_seconds() / (7 * 86_400.0)
    last = o.groupby("customer_id")["ordered_at"].max()
    last_order = df["customer_id"].map(last)
    df["ordered_again"] = (last_order.notna() & (last_order > df["opened_at"])).to_numpy(bool)
    return df


@dataclass
class EffectEstimate:
    """The estimated effect of a concession on the chance of leaving after an incident.

    ``source`` is ``"history"`` (estimated from the business's incidents) or ``"default"`` (the documented
    defaults). ``odds_ratio`` and its interval are for the pooled effect of a concession on the odds of
    leaving (below 1: a concession helps).
    """

    source: str
    n_incidents: int
    n_conceded: int
    odds_ratio: float
    odds_ratio_low: float
    odds_ratio_high: float
    baseline_leave: float
    value_mean: float = 0.0
    value_sd: float = 1.0
    params: dict[str, float] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    interact_categories: tuple[str, ...] = ()
    note: str = ""
    #: p-value of the likelihood-ratio test of "the effect differs by value and category" (None: not tested)
    interaction_p: float | None = None
    varies: bool = False

    def predict(self, category: str | None, log_weekly_value: float | None) -> dict[str, float]:
        """Chance of leaving without and with a concession for one incident, with the effect's interval.

        Returns
        -------
        dict
            ``p_without``, ``p_with``, ``reduction`` (p_without - p_with), ``reduction_low`` and
            ``reduction_high`` (from the odds ratio's 95% interval), ``value_z``.
        """
        if self.source == "default" or log_weekly_value is None or not np.isfinite(log_weekly_value):
            z = 0.0
        else:
            z = (float(log_weekly_value) - self.value_mean) / self.value_sd
        if self.source == "default":
            base = _logit(self.baseline_leave)
            shift = float(np.log(self.odds_ratio))
            extra = 0.0
        else:
            p = self.params
            cat = category if category in self.categories else None
            base = p["const"] + p["value_z"] * z + (p.get(f"cat[{cat}]", 0.0) if cat else 0.0)
            extra = p.get("conceded:value_z", 0.0) * z
            if cat in self.interact_categories:
                extra += p.get(f"conceded:cat[{cat}]", 0.0)
            shift = p["conceded"]
        p_without = float(_sigmoid(base))
        p_with = float(_sigmoid(base + shift + extra))
        lo_shift = float(np.log(self.odds_ratio_low)) - float(np.log(self.odds_ratio))
        hi_shift = float(np.log(self.odds_ratio_high)) - float(np.log(self.odds_ratio))
        p_with_best = float(_sigmoid(base + shift + extra + lo_shift))
        p_with_worst = float(_sigmoid(base + shift + extra + hi_shift))
        return {
            "p_without": p_without,
            "p_with": p_with,
            "reduction": p_without - p_with,
            "reduction_low": p_without - p_with_worst,
            "reduction_high": p_without - p_with_best,
            "value_z": z,
        }

    def describe(self) -> str:
        """One sentence on where the effect comes from."""
        if self.source == "default":
            return (
                f"not enough incident history ({self.n_incidents} incidents with a known outcome); using the "
                f"documented default: a concession multiplies the odds of leaving by {self.odds_ratio:.2f}"
            )
        return (
            f"estimated from {self.n_incidents} past incidents ({self.n_conceded} with a concession), "
            f"adjusted for customer value and incident category: a concession multiplies the odds of "
            f"leaving by {self.odds_ratio:.2f} (95% interval {self.odds_ratio_low:.2f} to "
            f"{self.odds_ratio_high:.2f})"
            + (
                "; it differs by customer value and category"
                if self.varies
                else (
                    f"; one effect for all incidents (the data do not show it differing by value or "
                    f"category: likelihood-ratio test p = {self.interaction_p:.2f})"
                    if self.interaction_p is not None
                    else ""
                )
            )
        )


def default_effect(cfg: DecisionAssumptions, n: int = 0, note: str = "") -> EffectEstimate:
    """The documented default effect (``[decisions]`` ``concession_odds_ratio``, ``leave_after_incident``)."""
    r = cfg.concession_odds_ratio
    return EffectEstimate("default", n, 0, r, r, r, cfg.leave_after_incident, note=note)


class _Mixture(GenericLikelihoodModel):
    """Leave with p = sigmoid(X beta); a stayer shows no order with the known chance q."""

    def __init__(self, endog: Any, exog: Any, q: Any, **kw: Any):
        super().__init__(endog, exog, **kw)
        self.q = np.asarray(q, dtype=float)

    def loglikeobs(self, params: Any) -> Any:
        p = np.clip(_sigmoid(self.exog @ params), 1e-9, 1 - 1e-9)
        y = self.endog
        none = p + (1 - p) * self.q
        some = (1 - p) * (1 - self.q)
        return y * np.log(np.clip(none, 1e-12, None)) + (1 - y) * np.log(np.clip(some, 1e-12, None))


def _fit(y: np.ndarray, X: pd.DataFrame, q: np.ndarray) -> Any:
    start = np.zeros(X.shape[1])
    start[0] = -1.5
    model = _Mixture(y, X, q)
    model.exog_names[:] = list(X.columns)
    return model.fit(start_params=start, method="bfgs", maxiter=500, disp=0)


def estimate_effect(
    history: pd.DataFrame, cfg: DecisionAssumptions, r: float, alpha: float
) -> EffectEstimate:
    """Estimate the effect of a concession from :func:`incident_history` (or fall back to the default).

    Parameters
    ----------
    history:
        Past incidents (:func:`incident_history`).
    cfg:
        The ``[decisions]`` assumptions (``min_incidents`` and the defaults).
    r, alpha:
        The fitted BG/NBD purchase-rate parameters (weeks), for the chance a stayer shows no order.
    """
    d = history[np.isfinite(history["log_weekly_value"]) & (history["weeks_after"] > 0)].copy()
    n, n_c = len(d), int(d["conceded"].sum())
    if n < cfg.min_incidents or n_c < _MIN_ARM or n - n_c < _MIN_ARM:
        return default_effect(cfg, n, "too few incidents")
    mean, sd = float(d["log_weekly_value"].mean()), float(d["log_weekly_value"].std()) or 1.0
    z = ((d["log_weekly_value"] - mean) / sd).to_numpy(float)
    y = (~d["ordered_again"].to_numpy(bool)).astype(float)
    q = (
        (alpha + d["T"].to_numpy(float)) / (alpha + d["T"].to_numpy(float) + d["weeks_after"].to_numpy(float))
    ) ** (r + d["x"].to_numpy(float))
    conceded = d["conceded"].astype(float).to_numpy()
    counts = d.groupby("category").size().sort_values(ascending=False)
    categories = tuple(str(c) for c in counts.index)
    cols: dict[str, np.ndarray] = {"const": np.ones(n), "value_z": z, "conceded": conceded}
    cat = d["category"].to_numpy()
    for c in categories[1:]:
        cols[f"cat[{c}]"] = (cat == c).astype(float)
    pooled_X = pd.DataFrame(cols)
    cols["conceded:value_z"] = conceded * z
    interact: list[str] = []
    for c in categories[1:]:
        in_c = cat == c
        if conceded[in_c].sum() >= _MIN_ARM and (1 - conceded[in_c]).sum() >= _MIN_ARM:
            cols[f"conceded:cat[{c}]"] = conceded * in_c
            interact.append(c)
    X = pd.DataFrame(cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pooled = _fit(y, pooled_X, q)
            full = _fit(y, X, q)
            e = float(pooled.params[list(pooled_X.columns).index("conceded")])
            se = float(pooled.bse[list(pooled_X.columns).index("conceded")])
        except Exception as exc:  # singular Hessian, overflow
            return default_effect(cfg, n, f"the model could not be fitted ({type(exc).__name__})")
    if not np.isfinite(e) or not np.isfinite(se):
        return default_effect(cfg, n, "the model did not converge")
    # one effect for all unless the data show that it differs by value or category
    lr = 2.0 * (float(full.llf) - float(pooled.llf))
    extra = X.shape[1] - pooled_X.shape[1]
    p_lr = float(chi2.sf(max(lr, 0.0), extra)) if extra > 0 else 1.0
    varying = bool(np.isfinite(lr) and p_lr < LR_LEVEL and np.all(np.isfinite(np.asarray(full.params))))
    if not varying:
        X, full, interact = pooled_X, pooled, []
    params = {name: float(v) for name, v in zip(X.columns, np.asarray(full.params), strict=True)}
    base = _sigmoid(
        X.drop(columns=[c for c in X.columns if c.startswith("conceded")]).to_numpy()
        @ np.array([params[c] for c in X.columns if not c.startswith("conceded")])
    )
    return EffectEstimate(
        source="history",
        n_incidents=n,
        n_conceded=n_c,
        odds_ratio=float(np.exp(e)),
        odds_ratio_low=float(np.exp(e - 1.96 * se)),
        odds_ratio_high=float(np.exp(e + 1.96 * se)),
        baseline_leave=float(np.mean(base)),
        value_mean=mean,
        value_sd=sd,
        params=params,
        categories=categories,
        interact_categories=tuple(interact),
        note=f"reference category {categories[0]}",
        interaction_p=p_lr if extra > 0 else None,
        varies=varying,
    )
