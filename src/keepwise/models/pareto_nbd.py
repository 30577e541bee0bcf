"""The Pareto/NBD model of Schmittlein, Morrison and Colombo (1987), as derived by Fader and Hardie (2005).

While alive a customer buys at Poisson rate ``lambda``; their lifetime is exponential with rate ``mu``.
Across customers ``lambda ~ Gamma(r, alpha)`` and ``mu ~ Gamma(s, beta)`` (rates ``alpha``, ``beta``).
Integrating over both (Fader and Hardie 2005, equations 3 and 4 before the hypergeometric step)::

    L(r, alpha, s, beta | x, t_x, T) = Gamma(r + x) alpha^r beta^s / Gamma(r)
        * [ 1 / ((alpha + T)^(r + x) (beta + T)^s)  +  s * I ],
    I = integral from t_x to T of (alpha + tau)^-(r + x) (beta + tau)^-(s + 1) d tau .

The note writes ``s I`` as ``s / (r + s + x) * A_0`` with Gauss hypergeometric functions, whose direct
evaluation overflows or loses all digits for customers with many purchases. Here ``I`` is evaluated in log
space by quadrature instead. With ``u = -log(min(alpha, beta) + tau)`` the integrand is ``exp(phi(u))``,
``phi(u) = m u - c log(1 + |alpha - beta| e^u)`` (``m = r + s + x``, ``c`` the exponent of the
larger of ``alpha``, ``beta``), which is concave in ``u`` with its maximum in closed form. The range where
``phi`` is within 50 of its maximum is found by Newton's method and integrated with two 12-point
Gauss-Legendre panels (split at the maximum when it is inside), in log space: log I to 5e-8 over
x = 0..1000, T up to 520 weeks and parameters spanning five orders of magnitude
(tests/models/test_pareto_nbd.py checks this against adaptive quadrature). Because the limits of the
integral do not depend on the parameters, the gradient is the same quadrature of the analytic derivatives
of the integrand (``-log(alpha + tau)``, ``-(r + x)/(alpha + tau)``, ...), so fitting uses exact gradients
of the same approximation.

References
----------
Schmittlein, D. C., Morrison, D. G. and Colombo, R. (1987). Counting Your Customers: Who Are They and What
Will They Do Next? Management Science 33(1), 1-24.
Fader, P. S. and Hardie, B. G. S. (2005). A Note on Deriving the Pareto/NBD Model and Related Expressions.
http://brucehardie.com/notes/009/
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis. Journal of Marketing Research 42(4), 415-430.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import digamma, gammaln

from keepwise.models.base import FloatArray
from keepwise.models.purchase import PurchaseModel

_NODES = 12
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_NODES)
_LOG_GL_W = np.log(_GL_W)
_DROP = 50.0


_CHUNK = 2048


def _phi(u: Any, m: Any, c: Any, delta: Any) -> Any:
    return m * u - c * np.log1p(delta * np.exp(u))


def _cut(start: Any, bound: Any, target: Any, m: Any, c: Any, delta: Any) -> Any:
    """Where phi falls to ``target`` between the mode ``bound`` and the end ``start`` (Newton from ``start``).

    phi is concave, so Newton's iterates from the far side of the root stay on that side: the cut never
    drops mass above ``target`` even when not fully converged.
    """
    u = start
    for _ in range(6):
        f = _phi(u, m, c, delta) - target
        ed = delta * np.exp(u)
        slope = m - c * ed / (1 + ed)
        step = np.where((f < 0) & (np.abs(slope) > 1e-12), -f / np.where(slope == 0, 1.0, slope), 0.0)
        u = np.clip(u + step, np.minimum(start, bound), np.maximum(start, bound))
    return u


def _log_integral(
    r: Any, alpha: Any, s: Any, beta: Any, x: FloatArray, tx: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return log I and the derivatives of log I w.r.t. r, alpha, s, beta (natural scale)."""
    n = len(x)
    r, alpha, s, beta = (np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in (r, alpha, s, beta))
    out = [np.empty(n) for _ in range(5)]
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        res = _log_integral_chunk(r[sl], alpha[sl], s[sl], beta[sl], x[sl], tx[sl], T[sl])
        for o, v in zip(out, res, strict=True):
            o[sl] = v
    return out[0], out[1], out[2], out[3], out[4]


def _log_integral_chunk(
    r: Any, alpha: Any, s: Any, beta: Any, x: FloatArray, tx: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    a1, a2 = r + x, s + 1
    mu0 = np.minimum(alpha, beta)
    delta = np.abs(alpha - beta)
    c = np.where(alpha >= beta, a1, a2)
    m = r + s + x
    u_hi, u_lo = -np.log(mu0 + tx), -np.log(mu0 + T)
    empty = ~(u_hi > u_lo)
    # phi(u) = m u - c log(1 + delta e^u) is concave in u; its maximum on [u_lo, u_hi]:
    with np.errstate(divide="ignore", invalid="ignore"):
        mode = np.log(m / (c - m) / delta)
    mode = np.where((c > m) & (delta > 0) & np.isfinite(mode), mode, u_hi)
    mode = np.clip(mode, u_lo, u_hi)
    target = _phi(mode, m, c, delta) - _DROP
    left = _cut(u_lo, mode, target, m, c, delta)
    right = _cut(u_hi, mode, target, m, c, delta)
    # two Gauss-Legendre panels split at the mode, or at the middle when the mode is at an end;
    # arrays are (nodes, rows) so that the sums over nodes run along contiguous rows
    split = np.where((mode > left) & (mode < right), mode, 0.5 * (left + right))
    h1, h2 = 0.5 * (split - left), 0.5 * (right - split)
    mode = split
    gx = _GL_X[:, None]
    u = np.concatenate([0.5 * (mode + left) + h1 * gx, 0.5 * (right + mode) + h2 * gx], axis=0)
    with np.errstate(divide="ignore"):
        logw = np.concatenate([np.log(h1) + _LOG_GL_W[:, None], np.log(h2) + _LOG_GL_W[:, None]], axis=0)
    ev = np.exp(-u)
    base_a = ev + (alpha - mu0)
    base_b = ev + (beta - mu0)
    log_a = np.log(base_a)
    log_b = np.log(base_b)
    terms = logw - a1 * log_a - a2 * log_b - u
    mx = np.max(terms, axis=0)
    mx = np.where(empty | ~np.isfinite(mx), 0.0, mx)
    e = np.exp(terms - mx)
    tot = e.sum(axis=0)
    tot = np.where(empty | (tot <= 0), 1.0, tot)
    with np.errstate(divide="ignore"):
        log_i = np.where(empty, -np.inf, np.log(tot) + mx)
    wk = e / tot
    wk[:, empty] = 0.0
    d_r = -(wk * log_a).sum(axis=0)
    d_alpha = -a1 * (wk / base_a).sum(axis=0)
    d_s = -(wk * log_b).sum(axis=0)
    d_beta = -a2 * (wk / base_b).sum(axis=0)
    return log_i, d_r, d_alpha, d_s, d_beta


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD: Poisson purchases, exponential lifetimes, gamma heterogeneity in both rates.

    Parameters (``params_``): ``r``, ``alpha`` (purchase process) and ``s``, ``beta`` (drop-out process),
    rates in the time unit of the data. Covariates may act on ``alpha``
    (``alpha_i = alpha0 exp(-gamma' z_i)``) and on ``beta`` (``beta_i = beta0 exp(-gamma' z_i)``), as in
    CLVTools: a positive coefficient means more purchases, respectively a shorter life.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _covariate_signs: ClassVar[dict[str, float]] = {"alpha": -1.0, "beta": -1.0}

    def _parts(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> tuple[Any, ...]:
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        log_i, d_r, d_alpha, d_s, d_beta = _log_integral(r, alpha, s, beta, x, tx, T)
        log_a = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        log_b = np.log(s) + log_i
        lse = np.logaddexp(log_a, log_b)
        return log_a, log_b, lse, (d_r, d_alpha, d_s, d_beta)

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        x, tx, T = d["x"], d["t_x"], d["T"]
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        log_a, log_b, lse, (i_r, i_alpha, i_s, i_beta) = self._parts(p, x, tx, T)
        wa, wb = np.exp(log_a - lse), np.exp(log_b - lse)
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + lse
        g_r = digamma(r + x) - digamma(r) + np.log(alpha) - wa * np.log(alpha + T) + wb * i_r
        g_alpha = r / alpha - wa * (r + x) / (alpha + T) + wb * i_alpha
        g_s = np.log(beta) - wa * np.log(beta + T) + wb * (1 / s + i_s)
        g_beta = s / beta - wa * s / (beta + T) + wb * i_beta
        return ll, {"r": r * g_r, "alpha": alpha * g_alpha, "s": s * g_s, "beta": beta * g_beta}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        rate = max(np.dot(w, d["x"]) / max(np.dot(w, d["T"]), 1e-9), 1e-6)
        scale = float(np.dot(w, d["T"]) / w.sum())
        return {"r": 1.0, "alpha": 1.0 / rate, "s": 1.0, "beta": scale}

    def _p_alive(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T): the likelihood's first term over the whole likelihood (note, eq. 11)."""
        with np.errstate(divide="ignore"):
            log_a, _, lse, _ = self._parts(p, x, tx, T)
        return np.asarray(np.exp(log_a - lse))

    def _alive_expected(self, p: dict[str, Any], t: Any, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T].

        ``(r+x)/(alpha+T) * (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]``,

        written with ``expm1``/``log1p`` so that ``s = 1`` (the limit ``(beta+T) log(1 + t/(beta+T))``) is
        exact.
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        lg = np.log1p(t / (beta + T))
        sm1 = s - 1
        small = np.abs(sm1 * lg) < 1e-8
        life = np.where(small, lg, -np.expm1(-sm1 * lg) / np.where(small, 1.0, sm1))
        return np.asarray((r + x) / (alpha + T) * (beta + T) * life)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)] for a new customer."""
        self._require_fitted()
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return self._alive_expected(self.params_, t, zero, zero)
