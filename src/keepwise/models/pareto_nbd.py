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
of the integrand (``-log(alpha + tau)``, ``-(r + x)/(alpha + tau)``, ...).

For fitting (scalar parameters) ``I = J(t_x) - J(T)`` with ``J(t)`` the integral from ``t`` to infinity,
which depends on a customer only through ``(x, t)``: customers share far fewer such pairs than
``(x, t_x, T)`` tuples, so J is integrated once per pair (the two panels plus a Gauss-Laguerre rule for
the power-law tail) and the likelihood's remaining terms are regrouped by distinct ``x`` and ``T``
(``_weighted_loglik``; tests/models/test_fast_paths.py checks both against the direct forms).

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
from scipy.special import digamma, gammaln, hyperu

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import FloatArray, dot
from keepwise.models.data import distinct, unique_rows
from keepwise.models.purchase import PurchaseModel

_NODES = 12
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_NODES)
_LOG_GL_W = np.log(_GL_W)
_DROP = 50.0
_LAG_X, _LAG_W = np.polynomial.laguerre.laggauss(20)
#: Gauss-Laguerre weights times e^x: the rule for the integral of f(y) dy (not e^-y f(y) dy) over (0, inf)
_LOG_LAG_W = np.log(_LAG_W) + _LAG_X


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
    return _quadrature(u, logw, a1, a2, alpha, beta, mu0, empty)


def _quadrature(
    u: FloatArray, logw: FloatArray, a1: Any, a2: Any, alpha: Any, beta: Any, mu0: Any, empty: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Quadrature in log space at nodes ``u`` (nodes, rows) with log-weights ``logw``.

    Returns the log of ``sum_k w_k (alpha + tau_k)^-a1 (beta + tau_k)^-a2 e^-u_k`` and its derivatives
    w.r.t. r, alpha, s, beta; rows flagged ``empty`` give log 0 = -inf.
    """
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


def _log_tail(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return log J(t), the log of the integral from ``t`` to infinity, and its derivatives, per row."""
    n = len(x)
    out = [np.empty(n) for _ in range(5)]
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        res = _log_tail_chunk(r, alpha, s, beta, x[sl], t[sl])
        for o, v in zip(out, res, strict=True):
            o[sl] = v
    return out[0], out[1], out[2], out[3], out[4]


def _log_tail_chunk(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """J(t) from three pieces of the u axis.

    Two Gauss-Legendre panels cover the range where phi is within ``_DROP`` of its maximum on (-inf, u_t]
    (split at the maximum when inside) down to ``left``, and a 20-point Gauss-Laguerre rule covers
    (-inf, left], where the integrand is ``e^(m u)`` times the slowly varying ``(1 + delta e^u)^-c``
    (``left`` is kept below ``log(m / (4 c delta))``, so that factor's log varies by less than m/4 there).
    """
    a1, a2 = r + x, s + 1
    mu0 = min(alpha, beta)
    delta = abs(alpha - beta)
    c = a1 if alpha >= beta else a2 + 0 * x
    m = r + s + x
    u_t = -np.log(mu0 + t)
    with np.errstate(divide="ignore", invalid="ignore"):
        mode = np.log(m / (c - m) / delta)
        gentle = np.log(m / (4 * c * delta))
    mode = np.where((c > m) & (delta > 0) & np.isfinite(mode), mode, u_t)
    mode = np.minimum(mode, u_t)
    gentle = np.where(np.isfinite(gentle), np.minimum(gentle, mode), mode)
    target = _phi(mode, m, c, delta) - _DROP
    left = _cut(gentle, mode, target, m, c, delta)
    right = _cut(u_t, mode, target, m, c, delta)
    split = np.where((mode > left) & (mode < right), mode, 0.5 * (left + right))
    h1, h2 = 0.5 * (split - left), 0.5 * (right - split)
    gx, lx = _GL_X[:, None], _LAG_X[:, None]
    u = np.concatenate(
        [0.5 * (split + left) + h1 * gx, 0.5 * (right + split) + h2 * gx, left - lx / m], axis=0
    )
    with np.errstate(divide="ignore"):
        logw = np.concatenate(
            [
                np.log(h1) + _LOG_GL_W[:, None],
                np.log(h2) + _LOG_GL_W[:, None],
                _LOG_LAG_W[:, None] - np.log(m),
            ],
            axis=0,
        )
    return _tail_quadrature(u, logw, a1, a2, alpha, beta)


def _tail_quadrature(
    u: FloatArray, logw: FloatArray, a1: Any, a2: Any, alpha: float, beta: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`_quadrature` for scalar alpha and beta and no empty rows.

    With ``tau = e^-u - min(alpha, beta)`` one of ``alpha + tau``, ``beta + tau`` is ``e^-u`` itself, whose
    log is ``-u``: one log and one division per node fewer.
    """
    ev = np.exp(-u)
    if alpha <= beta:
        other = ev + (beta - alpha)
        log_o = np.log(other)
        terms = logw + (a1 - 1) * u - a2 * log_o
    else:
        other = ev + (alpha - beta)
        log_o = np.log(other)
        terms = logw + (a2 - 1) * u - a1 * log_o
    mx = terms.max(axis=0)
    e = np.exp(terms - mx)
    tot = e.sum(axis=0)
    log_i = np.log(tot) + mx
    # derivatives of log(alpha + tau) and log(beta + tau) summed with weights e / tot
    s_u = (e * u).sum(axis=0) / tot  # -log(e^-u) = u
    s_inv = (e / ev).sum(axis=0) / tot
    s_lo = (e * log_o).sum(axis=0) / tot
    s_io = (e / other).sum(axis=0) / tot
    if alpha <= beta:
        return log_i, s_u, -a1 * s_inv, -s_lo, -a2 * s_io
    return log_i, -s_lo, -a1 * s_io, s_u, -a2 * s_inv


def _log_integral_pairs(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,
    cache: dict[str, Any] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return log I = log(J(t_x) - J(T)) with J evaluated once per distinct (x, t) pair (scalar parameters).

    Customers share far fewer (x, t) pairs than (x, t_x, T) tuples (8k against 40k for 100k customers on a
    daily grid, 13k against 290k for a million). The subtraction loses digits only when t_x is close to T,
    where the s I term is small against the first term of the likelihood, so the likelihood keeps its
    precision (tests/models/test_pareto_nbd.py checks log I against adaptive quadrature).
    """
    key = cache.get("_pairs") if cache is not None else None
    if key is None:
        n = len(x)
        first, inverse = unique_rows(np.concatenate([x, x]), np.concatenate([tx, T]))
        px, pt = np.concatenate([x, x])[first], np.concatenate([tx, T])[first]
        key = (px, pt, inverse[:n], inverse[n:])
        if cache is not None:
            cache["_pairs"] = key
    px, pt, i1, i2 = key
    lj, *gj = _log_tail(r, alpha, s, beta, px, pt)
    l1, l2 = lj[i1], lj[i2]
    same = i1 == i2
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.exp(np.where(same, 0.0, l2 - l1))
        one_q = -np.expm1(np.where(same, 0.0, l2 - l1))
        log_i = np.where(same, -np.inf, l1 + np.log(np.where(same, 1.0, one_q)))
        inv = np.where(same, 0.0, 1.0 / np.where(same, 1.0, one_q))
    grads = [(g[i1] - q * g[i2]) * inv for g in gj]
    return log_i, grads[0], grads[1], grads[2], grads[3]


class ParetoNBDModel(PurchaseModel):
    """Pareto/NBD: Poisson purchases, exponential lifetimes, gamma heterogeneity in both rates.

    Parameters (``params_``): ``r``, ``alpha`` (purchase process) and ``s``, ``beta`` (drop-out process),
    rates in the time unit of the data. Covariates may act on ``alpha``
    (``alpha_i = alpha0 exp(-gamma' z_i)``) and on ``beta`` (``beta_i = beta0 exp(-gamma' z_i)``), as in
    CLVTools: a positive coefficient means more purchases, respectively a shorter life.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    _covariate_signs: ClassVar[dict[str, float]] = {"alpha": -1.0, "beta": -1.0}

    def _parts(
        self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray, cache: Any = None
    ) -> tuple[Any, ...]:
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        if all(np.ndim(v) == 0 for v in (r, alpha, s, beta)):
            log_i, d_r, d_alpha, d_s, d_beta = _log_integral_pairs(r, alpha, s, beta, x, tx, T, cache)
        else:
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
        log_a, log_b, lse, (i_r, i_alpha, i_s, i_beta) = self._parts(p, x, tx, T, d)
        wa, wb = np.exp(log_a - lse), np.exp(log_b - lse)
        ll = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + lse
        g_r = digamma(r + x) - digamma(r) + np.log(alpha) - wa * np.log(alpha + T) + wb * i_r
        g_alpha = r / alpha - wa * (r + x) / (alpha + T) + wb * i_alpha
        g_s = np.log(beta) - wa * np.log(beta + T) + wb * (1 / s + i_s)
        g_beta = s / beta - wa * s / (beta + T) + wb * i_beta
        return ll, {"r": r * g_r, "alpha": alpha * g_alpha, "s": s * g_s, "beta": beta * g_beta}

    def _weighted_loglik(
        self, p: dict[str, float], d: dict[str, Any], w: FloatArray
    ) -> tuple[float, dict[str, float]]:
        """``sum_i w_i log L_i`` and its gradient (log-parameters) without per-row special functions.

        Terms that depend on a customer only through ``x`` or ``T`` are evaluated once per distinct value and
        weighted by ``bincount``; J is evaluated once per distinct ``(x, t)`` pair and its derivatives are
        combined per pair. The same formulas as :meth:`_loglik` (tests check the sums agree).
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        x, T = d["x"], d["T"]
        # index arrays and weight sums, built once per data set and weights (cached in ``d``)
        idx = d.get("_idx") if d.get("_idx_w") is w else None
        if idx is None:
            ux, ix = distinct(x)
            uT, iT = distinct(T)
            wt, wx = np.bincount(iT, w, len(uT)), np.bincount(ix, w, len(ux))
            first, inverse = unique_rows(np.concatenate([x, x]), np.concatenate([d["t_x"], T]))
            n = len(x)
            px, pt = np.concatenate([x, x])[first], np.concatenate([d["t_x"], T])[first]
            i1, i2 = inverse[:n], inverse[n:]
            idx = (ux, ix.reshape(-1), uT, iT.reshape(-1), wt, wx, px, pt, i1, i2, i1 == i2)
            d["_idx"], d["_idx_w"] = idx, w
        ux, ix, uT, iT, wt, wx, px, pt, i1, i2, same = idx
        n_pairs = len(px)
        lj, *gj = _log_tail(r, alpha, s, beta, px, pt)
        with np.errstate(divide="ignore", invalid="ignore"):
            dl = np.where(same, -np.inf, lj[i2] - lj[i1])
            q = np.exp(dl)
            one_q = -np.expm1(dl)
            log_b = np.where(same, -np.inf, np.log(s) + lj[i1] + np.log(one_q))
        la_t, lb_t = np.log(alpha + uT), np.log(beta + uT)
        log_a = -(r * la_t + s * lb_t)[iT] - x * la_t[iT]
        lse = np.logaddexp(log_a, log_b)
        wa = w * np.exp(log_a - lse)
        wb = w * np.exp(log_b - lse)
        with np.errstate(divide="ignore", invalid="ignore"):
            c1 = np.where(same, 0.0, wb / one_q)
        pair_w = np.bincount(i1, c1, n_pairs) - np.bincount(i2, c1 * q, n_pairs)
        wa_t, wax_t = np.bincount(iT, wa, len(uT)), np.bincount(iT, wa * x, len(uT))
        wsum = float(w.sum())
        value = (
            dot(wx, gammaln(r + ux))
            + wsum * (r * np.log(alpha) + s * np.log(beta) - gammaln(r))
            + dot(w, lse)
        )
        g_r = (
            dot(wx, digamma(r + ux))
            + wsum * (np.log(alpha) - digamma(r))
            - dot(wa_t, la_t)
            + dot(gj[0], pair_w)
        )
        g_alpha = wsum * r / alpha - dot(r * wa_t + wax_t, 1 / (alpha + uT)) + dot(gj[1], pair_w)
        g_s = wsum * np.log(beta) - dot(wa_t, lb_t) + wb.sum() / s + dot(gj[2], pair_w)
        g_beta = wsum * s / beta - s * dot(wa_t, 1 / (beta + uT)) + dot(gj[3], pair_w)
        grad = {"r": r * g_r, "alpha": alpha * g_alpha, "s": s * g_s, "beta": beta * g_beta}
        return value, {k: float(v) for k, v in grad.items()}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        rate = max(dot(w, d["x"]) / max(dot(w, d["T"]), 1e-9), 1e-6)
        scale = dot(w, d["T"]) / float(w.sum())
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

    def _alive_discounted(
        self, p: dict[str, Any], delta: float, horizon: float, x: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Discounted expected purchases in ``(T, T + horizon]`` given alive at T, continuous discounting.

        Given alive at T, ``lambda ~ Gamma(r + x, alpha + T)`` and ``mu ~ Gamma(s, beta + T)``; a purchase at
        ``T + t`` is worth ``e^(-delta t)`` and happens at rate ``lambda`` while alive (probability
        ``e^(-mu t)``), so with ``b = beta + T``::

            E = (r + x) / (alpha + T) * E_mu[(1 - e^(-(delta + mu) H)) / (delta + mu)]
              = (r + x) / (alpha + T) * b^s delta^(s-1)
                * [U(s, s; delta b) - e^(-delta H) U(s, s; delta (b + H))]

        with U Tricomi's confluent hypergeometric function (``E_mu[1 / (delta + mu)] = b^s delta^(s-1)
        U(s, s; delta b)``; ``e^(-mu H)`` turns ``b`` into ``b + H``). With ``H`` infinite this is the DERT of
        Fader, Hardie and Lee (2005, JMR, eq. 2) divided by P(alive); with ``delta = 0`` it is
        :meth:`_alive_expected`. U depends on a customer only through T: evaluated once per distinct T.
        """
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        if delta <= 0:
            if not np.isfinite(horizon):
                raise ValueError("undiscounted purchases over an infinite horizon are infinite")
            return self._alive_expected(p, horizon, x, T)
        lam = (r + x) / (alpha + T)
        if np.ndim(s) == 0 and np.ndim(beta) == 0:
            uT, iT = distinct(np.asarray(T, dtype=float))
            life = self._discounted_life(float(s), float(beta) + uT, delta, horizon)[iT]
        else:
            life = self._discounted_life(s, beta + T, delta, horizon)
        return np.asarray(lam * life)

    @staticmethod
    def _discounted_life(s: Any, b: Any, delta: float, horizon: float) -> FloatArray:
        """``E[(1 - e^(-(delta + mu) H)) / (delta + mu)]`` for ``mu ~ Gamma(s, rate b)``, in log space."""
        log_scale = s * np.log(b) + (s - 1) * np.log(delta)
        u0 = hyperu(s, s, delta * b)
        if np.isfinite(horizon):
            u1 = hyperu(s, s, delta * (b + horizon))
            u0 = u0 - np.exp(-delta * horizon) * u1
        return np.asarray(np.exp(log_scale + np.log(u0)))

    def discounted_expected_residual_purchases(
        self,
        discount_rate: float,
        frequency: Any,
        recency: Any,
        T: Any,
        horizon: float = np.inf,
        covariates: Any = None,
    ) -> FloatArray:
        """DERT: expected purchases after T, each discounted continuously at ``discount_rate`` per time unit.

        ``DERT = P(alive) * (r + x) / (alpha + T) * (beta + T)^s delta^(s-1) U(s, s; delta (beta + T))``
        (Fader, Hardie and Lee 2005, "RFM and CLV", JMR 42(4), eq. 2), over an infinite horizon by default
        or up to ``horizon`` time units. ``discount_rate`` is the continuously compounded rate per time unit
        (an annual rate d in weeks: ``log(1 + d) / 52.18``).
        """
        if not np.isfinite(discount_rate) or discount_rate < 0:
            raise KeepwiseInputError("the discount rate must be a number >= 0 (continuous, per time unit)")
        if discount_rate == 0 and not np.isfinite(horizon):
            raise KeepwiseInputError("without discounting, give a finite horizon (the sum is infinite)")
        return self._score(
            self._discounted_expected, frequency, recency, T, covariates, delta=discount_rate, horizon=horizon
        )

    def _discounted_expected(
        self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray, delta: float, horizon: float
    ) -> FloatArray:
        return self._p_alive(p, x, tx, T) * self._alive_discounted(p, delta, horizon, x, T)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> FloatArray:
        """E[X(t)] = r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s - 1)] for a new customer."""
        self._require_fitted()
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        return self._alive_expected(self.params_, t, zero, zero)
