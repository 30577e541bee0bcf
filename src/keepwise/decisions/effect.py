"""How much a concession lowers the chance of losing a customer, estimated from the business's own incidents.

Each past incident is one observation:

- **treatment**: a concession was granted (``concession_amount > 0``);
- **adjustment**: the incident category and the customer's value before the incident, ``value_z`` = the
  standardised log of their spend a week up to the incident (a business tends to grant more to valuable
  customers, who also behave differently, so the raw comparison is confounded);
- **what is seen**: whether the customer ordered again after the incident (up to the end of the data).

Not ordering again does not prove that a customer left: a customer who stayed may simply not have needed
anything yet. So the model is a mixture. The incident makes the customer leave with probability ``p``
(logistic in the terms above); a customer who stays shows no order in the ``w`` weeks from the incident to
the end of the data with the chance ``q`` that the advisor's drop-out model gives (:func:`no_order_chance`:
under BG/NBD, where a customer drops out only right after a purchase, ``q = ((alpha + T) / (alpha + T +
w)) ^ (r + x)`` with the population's ``r, alpha`` and the customer's ``x`` repeat purchases and age ``T``
at the incident; under Pareto/NBD a customer may also leave before buying again). The likelihood of "no
order since" is ``p + (1 - p) q``, of "ordered again" ``(1 - p)(1 - q)``, with::

    logit p = a + a[category] + b value_z + conceded x (e + f value_z + e[category])

(the category interactions only where a category has at least 20 incidents with and 20 without a
concession), fitted by maximum likelihood (statsmodels ``GenericLikelihoodModel``, standard errors from the
numerical Hessian).

**Which effect.** The models are nested, simplest first: ``ONE`` ("one effect": ``e`` alone), ``BY_VALUE``
(the effect grows, or shrinks, with customer value: ``e + f value_z``), then the category interactions on
top of the model kept so far (``BY_CATEGORY`` or ``BY_VALUE_AND_CATEGORY``). Each richer model is kept only
when a likelihood-ratio test against the simpler one rejects it at ``LR_LEVEL`` (5%); each test, with its
statistic, degrees of freedom, p-value and AIC difference, is in ``EffectEstimate.tests`` and the advice's
JSON. A few hundred incidents rarely show a difference by category, and effects estimated per category from a
few dozen incidents each are mostly noise (measured on the simulator: with them the advisor kept 70% of the
oracle's profit on one business, without them 79%). The concession's effect on an incident is the drop in
the chance of leaving it buys, ``p(no concession) - p(concession)`` at the incident's category and the
customer's value; its interval comes from the 95% interval of the kept model's concession terms at that
category and value (delta method: ``var e + z^2 var f + 2 z cov(e, f)`` [+ the category term]). The reported
``odds_ratio`` is the pooled one (model ``ONE``).

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

__all__ = ["EffectEstimate", "default_effect", "estimate_effect", "incident_history", "no_order_chance"]

_MIN_ARM = 20
#: the models of the effect, simplest first
ONE = "one effect"
BY_VALUE = "grows with customer value"
BY_CATEGORY = "differs by category"
BY_VALUE_AND_CATEGORY = "grows with customer value and differs by category"
#: the interactions are kept only when a likelihood-ratio test rejects "one effect for all" at this level
LR_LEVEL = 0.05


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)


def no_order_chance(model: Any, x: Any, T: Any, weeks: Any) -> np.ndarray:
    """Chance that a customer alive at ``T`` (weeks since their first purchase) shows no order in ``weeks``.

    BG/NBD (a customer drops out only right after a purchase, so one alive at ``T`` buys at their own rate
    until the next purchase): ``A(w) = ((alpha + T) / (alpha + T + w)) ^ (r + x)``.

    Pareto/NBD (a customer may also leave without buying first; given alive at ``T`` the drop-out rate is
    Gamma(s, beta + T)): no order in ``w`` if they stay and do not buy, or leave at ``t < w`` before buying::

        q = S(w) A(w) + integral_0^w s / (beta + T + t) S(t) A(t) dt
        S(t) = ((beta + T) / (beta + T + t)) ^ s

    (48-point Gauss-Legendre on ``[0, w]``).
    """
    p = model.params_
    r, alpha = float(p["r"]), float(p["alpha"])
    x, T, w = (np.asarray(v, dtype=float) for v in (x, T, weeks))

    def a(t: Any) -> Any:
        return ((alpha + T[..., None]) / (alpha + T[..., None] + t)) ** (r + x[..., None])

    if "s" not in p:
        return np.asarray(a(w[..., None])[..., 0])
    s, beta = float(p["s"]), float(p["beta"])
    b = beta + T[..., None]

    def surv(t: Any) -> Any:
        return (b / (b + t)) ** s

    t = (w[..., None] / 2.0) * (_NODES + 1.0)
    integral = (w / 2.0) * np.sum(_WEIGHTS * s / (b + t) * surv(t) * a(t), axis=-1)
    end = w[..., None]
    return np.asarray(np.clip((surv(end) * a(end))[..., 0] + integral, 0.0, 1.0))


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
    #: the model kept (``ONE``, ``BY_VALUE``, ...) and the likelihood-ratio tests that chose it
    model: str = ONE
    tests: list[dict[str, Any]] = field(default_factory=list)
    #: the concession terms of the kept model and their covariance (for the interval of the shift)
    shift_names: tuple[str, ...] = ()
    shift_cov: Any = None

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
            sd = (float(np.log(self.odds_ratio_high)) - float(np.log(self.odds_ratio_low))) / (2 * 1.96)
        else:
            p = self.params
            cat = category if category in self.categories else None
            base = p["const"] + p["value_z"] * z + (p.get(f"cat[{cat}]", 0.0) if cat else 0.0)
            extra = p.get("conceded:value_z", 0.0) * z
            if cat in self.interact_categories:
                extra += p.get(f"conceded:cat[{cat}]", 0.0)
            shift = p["conceded"]
            sd = self._shift_sd(cat, z)
        p_without = float(_sigmoid(base))
        p_with = float(_sigmoid(base + shift + extra))
        p_with_best = float(_sigmoid(base + shift + extra - 1.96 * sd))
        p_with_worst = float(_sigmoid(base + shift + extra + 1.96 * sd))
        return {
            "p_without": p_without,
            "p_with": p_with,
            "reduction": p_without - p_with,
            "reduction_low": p_without - p_with_worst,
            "reduction_high": p_without - p_with_best,
            "value_z": z,
        }

    def _shift_sd(self, category: str | None, z: float) -> float:
        """Standard error of the concession's log odds ratio at ``category`` and ``z`` (delta method)."""
        if self.shift_cov is None or not self.shift_names:
            return (float(np.log(self.odds_ratio_high)) - float(np.log(self.odds_ratio_low))) / (2 * 1.96)
        g = np.array(
            [
                z if n == "conceded:value_z" else float(n == "conceded" or n == f"conceded:cat[{category}]")
                for n in self.shift_names
            ]
        )
        return float(np.sqrt(max(float(g @ np.asarray(self.shift_cov) @ g), 0.0)))

    def to_json(self) -> dict[str, Any]:
        """Which model of the effect was kept and why (the advice's ``effect``), as JSON-able data."""
        return {
            "source": self.source,
            "model": self.model if self.source == "history" else "documented default",
            "description": self.describe(),
            "incidents": self.n_incidents,
            "with_concession": self.n_conceded,
            "odds_ratio": round(self.odds_ratio, 4),
            "odds_ratio_interval": [round(self.odds_ratio_low, 4), round(self.odds_ratio_high, 4)],
            "grows_with_value": (
                None
                if "conceded:value_z" not in self.params
                else {"log_odds_ratio_per_sd_of_log_value": round(self.params["conceded:value_z"], 4)}
            ),
            "tests": self.tests,
        }

    def describe(self) -> str:
        """One sentence on where the effect comes from."""
        if self.source == "default":
            return (
                f"not enough incident history ({self.n_incidents} incidents with a known outcome); using the "
                f"documented default: a concession multiplies the odds of leaving by {self.odds_ratio:.2f}"
            )
        text = (
            f"estimated from {self.n_incidents} past incidents ({self.n_conceded} with a concession), "
            f"adjusted for customer value and incident category: a concession multiplies the odds of "
            f"leaving by {self.odds_ratio:.2f} (95% interval {self.odds_ratio_low:.2f} to "
            f"{self.odds_ratio_high:.2f})"
        )
        kept = [t for t in self.tests if t.get("kept")]
        if kept:
            t = kept[-1]
            f = self.params.get("conceded:value_z")
            how = f"; the effect {self.model}" + (
                f" (the log odds ratio {'falls' if f < 0 else 'rises'} by {abs(f):.2f} for each standard "
                f"deviation of log spend a week, so a concession "
                f"{'helps more' if f < 0 else 'helps less'} the more a customer spends)"
                if f is not None
                else ""
            )
            return (
                text
                + how
                + (
                    f": it fits better than {t['against']!r} (likelihood-ratio statistic "
                    f"{t['lr_statistic']:.1f} on {t['df']} degree(s) of freedom, p = {t['p_value']:.3f}; "
                    f"AIC lower by {-t['aic_difference']:.1f})"
                )
            )
        tested = [t for t in self.tests if "p_value" in t]
        if not tested:
            return text
        parts = ", ".join(
            f"{t['model']!r}: likelihood-ratio statistic {t['lr_statistic']:.1f}, p = {t['p_value']:.2f}"
            for t in tested
        )
        return text + f"; one effect for all incidents (the data do not show it differing: {parts})"


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
        The fitted BG/NBD purchase-rate parameters (weeks), for the chance a stayer shows no order; a
        ``no_order_chance`` column in ``history`` (:func:`no_order_chance` of the chosen drop-out model)
        takes their place.
    """
    d = history[np.isfinite(history["log_weekly_value"]) & (history["weeks_after"] > 0)].copy()
    n, n_c = len(d), int(d["conceded"].sum())
    if n < cfg.min_incidents or n_c < _MIN_ARM or n - n_c < _MIN_ARM:
        return default_effect(cfg, n, "too few incidents")
    mean, sd = float(d["log_weekly_value"].mean()), float(d["log_weekly_value"].std()) or 1.0
    z = ((d["log_weekly_value"] - mean) / sd).to_numpy(float)
    y = (~d["ordered_again"].to_numpy(bool)).astype(float)
    if "no_order_chance" in d:
        q = d["no_order_chance"].to_numpy(float)
    else:
        T, w = d["T"].to_numpy(float), d["weeks_after"].to_numpy(float)
        q = ((alpha + T) / (alpha + T + w)) ** (r + d["x"].to_numpy(float))
    conceded = d["conceded"].astype(float).to_numpy()
    counts = d.groupby("category").size().sort_values(ascending=False)
    categories = tuple(str(c) for c in counts.index)
    cols: dict[str, np.ndarray] = {"const": np.ones(n), "value_z": z, "conceded": conceded}
    cat = d["category"].to_numpy()
    for c in categories[1:]:
        cols[f"cat[{c}]"] = (cat == c).astype(float)
    pooled_X = pd.DataFrame(cols)
    value_X = pooled_X.assign(**{"conceded:value_z": conceded * z})
    interact = [
        c
        for c in categories[1:]
        if conceded[cat == c].sum() >= _MIN_ARM and (1 - conceded[cat == c]).sum() >= _MIN_ARM
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fits = {ONE: _fit(y, pooled_X, q)}
            e = float(fits[ONE].params[list(pooled_X.columns).index("conceded")])
            se = float(fits[ONE].bse[list(pooled_X.columns).index("conceded")])
        except Exception as exc:  # singular Hessian, overflow
            return default_effect(cfg, n, f"the model could not be fitted ({type(exc).__name__})")
        if not np.isfinite(e) or not np.isfinite(se):
            return default_effect(cfg, n, "the model did not converge")
        designs = {ONE: pooled_X, BY_VALUE: value_X}
        tests = [_lr_test(fits, designs, BY_VALUE, ONE, y, q)]
        chosen = BY_VALUE if tests[-1]["kept"] else ONE
        if interact:
            # the category interactions on top of the model kept so far
            richer = designs[chosen].assign(**{f"conceded:cat[{c}]": conceded * (cat == c) for c in interact})
            name = BY_CATEGORY if chosen == ONE else BY_VALUE_AND_CATEGORY
            designs[name] = richer
            tests.append(_lr_test(fits, designs, name, chosen, y, q))
            if tests[-1]["kept"]:
                chosen = name
    X, full = designs[chosen], fits[chosen]
    names = list(X.columns)
    params = {c: float(v) for c, v in zip(names, np.asarray(full.params), strict=True)}
    shift_names = [c for c in names if c.startswith("conceded")]
    idx = [names.index(c) for c in shift_names]
    cov = np.asarray(full.cov_params(), dtype=float)[np.ix_(idx, idx)]
    if not np.all(np.isfinite(cov)):
        return default_effect(cfg, n, "the model's standard errors could not be computed")
    base = _sigmoid(
        X.drop(columns=shift_names).to_numpy() @ np.array([params[c] for c in names if c not in shift_names])
    )
    value_test = tests[0]
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
        interact_categories=tuple(c for c in interact if f"conceded:cat[{c}]" in params),
        note=f"reference category {categories[0]}",
        interaction_p=value_test["p_value"],
        varies=chosen != ONE,
        model=chosen,
        tests=tests,
        shift_names=tuple(shift_names),
        shift_cov=cov,
    )


def _lr_test(
    fits: dict[str, Any],
    designs: dict[str, pd.DataFrame],
    name: str,
    against: str,
    y: np.ndarray,
    q: np.ndarray,
) -> dict[str, Any]:
    """Fit ``name`` (if not yet) and test it against the nested ``against``: likelihood ratio and AIC."""
    row: dict[str, Any] = {"model": name, "against": against}
    try:
        fits[name] = _fit(y, designs[name], q)
        ll1, ll0 = float(fits[name].llf), float(fits[against].llf)
        ok = np.isfinite(ll1) and np.all(np.isfinite(np.asarray(fits[name].params)))
    except Exception as exc:  # singular Hessian, overflow: the simpler model stays
        row.update(kept=False, error=type(exc).__name__)
        return row
    df = designs[name].shape[1] - designs[against].shape[1]
    lr = max(2.0 * (ll1 - ll0), 0.0) if ok else 0.0
    p = float(chi2.sf(lr, df))
    row.update(
        lr_statistic=round(lr, 3),
        df=df,
        p_value=round(p, 4),
        # AIC = 2k - 2 log L: negative = the richer model is better by the criterion
        aic_difference=round(2.0 * df - lr, 3),
        kept=bool(ok and p < LR_LEVEL),
    )
    if not ok:
        row["error"] = "did not converge"
    return row
