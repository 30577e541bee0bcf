"""The beta-geometric/NBD (BG/NBD) model of Fader, Hardie and Lee (2005).

While alive, a customer buys at Poisson rate ``lambda``; after each repeat purchase they drop out with
probability ``p``. Across customers ``lambda ~ Gamma(r, alpha)`` (rate ``alpha``) and ``p ~ Beta(a, b)``.
For a customer with ``x`` repeat purchases, the last at ``t_x``, observed for ``T`` since the first purchase
(equation 6 of the paper)::

    L(r, alpha, a, b | x, t_x, T) = B(a, b + x) / B(a, b)
                                      * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
                                    + 1{x > 0} B(a + 1, b + x - 1) / B(a, b)
                                      * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

It is evaluated in log space (``logaddexp`` of the two terms) with its analytic gradient (digammas).

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative
to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). Computing P(alive) using the BG/NBD model.
http://brucehardie.com/notes/021/
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1, polygamma

from keepwise.models.base import FloatArray, dot
from keepwise.models.data import distinct
from keepwise.models.purchase import PurchaseModel


def _wdot(a: FloatArray, b: FloatArray, out: FloatArray) -> float:
    """``sum(a * b)`` through the work array ``out`` (no temporary, no BLAS)."""
    return float(np.multiply(a, b, out=out).sum())


class BetaGeoModel(PurchaseModel):
    """BG/NBD: Poisson purchases while alive, beta-geometric drop-out after each repeat purchase.

    Parameters (``params_``): ``r``, ``alpha`` (gamma heterogeneity of the purchase rate, ``alpha`` a rate in
    the time unit of the data) and ``a``, ``b`` (beta heterogeneity of the drop-out probability).
    Covariates may act on ``alpha`` (``alpha_i = alpha0 exp(-gamma' z_i)``, so a positive coefficient means
    more purchases) and on ``a`` and ``b`` (``a_i = a0 exp(gamma' z_i)``), as in CLVTools.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _covariate_signs: ClassVar[dict[str, float]] = {"alpha": -1.0, "a": 1.0, "b": 1.0}
    #: 0 for BG/NBD; 1 for MBG/NBD, where a customer may also drop out at time 0
    _shift: ClassVar[int] = 0

    # ---- likelihood ------------------------------------------------------------------------------------
    def _terms(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> tuple[Any, ...]:
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        has2 = (x > 0) if k == 0 else np.ones_like(x, dtype=bool)
        bx2 = np.where(has2, b + x - 1 + k, 1.0)
        lb = betaln(a, b)
        t1 = betaln(a, b + x + k) - lb - (r + x) * np.log(alpha + T)
        t2 = np.where(has2, betaln(a + 1, bx2) - lb - (r + x) * np.log(alpha + tx), -np.inf)
        return t1, t2, has2, bx2

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        x, tx, T = d["x"], d["t_x"], d["T"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        # the special functions depend on a customer only through x: evaluate them once per distinct x
        xs: FloatArray = x
        xi: Any = None
        if all(np.ndim(v) == 0 for v in (r, a, b)):
            cache: dict[str, Any] = d  # unique x and the index back, computed once per fit
            if "_ux" not in cache:
                ux, inv = distinct(x)
                cache["_ux"], cache["_xi"] = ux, inv.reshape(-1)
            xs, xi = cache["_ux"], cache["_xi"]
        has2 = (xs > 0) if k == 0 else np.ones_like(xs, dtype=bool)
        bx2 = np.where(has2, b + xs - 1 + k, 1.0)
        lb = betaln(a, b)
        dab, dx = digamma(a + b), digamma(a + b + xs + k)
        parts = {
            "c1": betaln(a, b + xs + k) - lb,
            "c2": np.where(has2, betaln(a + 1, bx2) - lb, -np.inf),
            "g": gammaln(r + xs) - gammaln(r),
            "dg": digamma(r + xs) - digamma(r),
            "da1": dab - dx,
            "db1": digamma(b + xs + k) - digamma(b) + dab - dx,
            "db2": np.where(has2, digamma(bx2) - digamma(b) + dab - dx, 0.0),
        }
        if xi is not None:
            parts = {key: v[xi] for key, v in parts.items()}
        rx = r + x
        log_at, log_atx = np.log(alpha + T), np.log(alpha + tx)
        t1 = parts["c1"] - rx * log_at
        t2 = parts["c2"] - rx * log_atx
        lse = np.logaddexp(t1, t2)
        w1, w2 = np.exp(t1 - lse), np.exp(t2 - lse)
        ll = parts["g"] + r * np.log(alpha) + lse
        g_r = parts["dg"] + np.log(alpha) - w1 * log_at - w2 * log_atx
        g_alpha = r / alpha - w1 * rx / (alpha + T) - w2 * rx / (alpha + tx)
        g_a = parts["da1"] + w2 / a
        g_b = w1 * parts["db1"] + w2 * parts["db2"]
        return ll, {"r": r * g_r, "alpha": alpha * g_alpha, "a": a * g_a, "b": b * g_b}

    def _weighted_loglik(
        self, p: dict[str, float], d: dict[str, Any], w: FloatArray
    ) -> tuple[float, dict[str, float]]:
        """``sum_i w_i log L_i`` and its gradient (log-parameters), the formulas of :meth:`_loglik` regrouped.

        ``log L = gammaln(r+x) - gammaln(r) + r log alpha + t1 + softplus(t2 - t1)``: everything but the
        softplus depends on a customer only through ``x`` or ``T`` and is evaluated once per distinct value
        (weighted by ``bincount``); the softplus, per row, only for rows that have the second term.
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        idx = d.get("_idx") if d.get("_idx_w") is w else None
        if idx is None:
            idx = d["_idx"] = self._index(d, w)
            d["_idx_w"] = w
        ux, wx, uT, wt, wxt, utx, ix2, iT2, itx2, x2, w2, work = idx
        lb = betaln(a, b)
        has2 = (ux > 0) if k == 0 else np.ones(len(ux), dtype=bool)
        bx2 = np.where(has2, b + ux - 1 + k, 1.0)
        dab, dx = digamma(a + b), digamma(a + b + ux + k)
        c1 = betaln(a, b + ux + k) - lb
        c2 = np.where(has2, betaln(a + 1, bx2) - lb, -np.inf)
        db1 = digamma(b + ux + k) - digamma(b) + dab - dx
        db2 = np.where(has2, digamma(bx2) - digamma(b) + dab - dx, 0.0)
        la_t, la_tx = np.log(alpha + uT), np.log(alpha + utx)
        diff = np.where(has2, c2 - c1, 0.0)
        # per row with a second term, z = t2 - t1 = (c2 - c1)[x] + (r + x) (log(alpha+T) - log(alpha+t_x)),
        # evaluated in preallocated arrays: a fresh temporary of this size costs more in page faults than
        # the arithmetic on it
        dd, rx, z, sp, tmp = work
        np.take(la_t, iT2, out=dd)
        np.take(la_tx, itx2, out=tmp)
        np.subtract(dd, tmp, out=dd)
        np.add(x2, r, out=rx)
        np.take(diff, ix2, out=z)
        np.multiply(rx, dd, out=tmp)
        np.add(z, tmp, out=z)
        # softplus(z) = max(z, 0) + log(1 + exp(-|z|)); its derivative, the weight of the second term,
        # exp(z - softplus(z)), keeps full relative precision where it is tiny
        np.abs(z, out=sp)
        np.negative(sp, out=sp)
        np.exp(sp, out=sp)
        np.add(sp, 1.0, out=sp)
        np.log(sp, out=sp)
        np.maximum(z, 0.0, out=tmp)
        np.add(sp, tmp, out=sp)
        sp_sum = _wdot(w2, sp, tmp)
        np.subtract(z, sp, out=z)
        np.exp(z, out=z)
        ws = np.multiply(z, w2, out=z)
        s_x = np.bincount(ix2, ws, len(ux))
        ws_dd = _wdot(ws, dd, tmp)
        # d/d alpha of (r + x) dd = (r + x) (1 / (alpha + T) - 1 / (alpha + t_x))
        np.take(1 / (alpha + uT), iT2, out=dd)
        np.take(1 / (alpha + utx), itx2, out=tmp)
        np.subtract(dd, tmp, out=dd)
        np.multiply(ws, rx, out=ws)
        ws_rx_dinv = _wdot(ws, dd, tmp)
        wsum = float(w.sum())
        value = dot(wx, gammaln(r + ux) + c1) - wsum * gammaln(r) + wsum * r * np.log(alpha)
        value += -dot(r * wt + wxt, la_t) + sp_sum
        g_r = dot(wx, digamma(r + ux)) - wsum * digamma(r) + wsum * np.log(alpha) - dot(wt, la_t) + ws_dd
        g_alpha = wsum * r / alpha - dot(r * wt + wxt, 1 / (alpha + uT)) + ws_rx_dinv
        g_a = dot(wx, dab - dx) + s_x.sum() / a
        g_b = dot(wx, db1) + dot(s_x, db2 - db1)
        grad = {"r": r * g_r, "alpha": alpha * g_alpha, "a": a * g_a, "b": b * g_b}
        return value, {key: float(v) for key, v in grad.items()}

    def _weighted_hessian(self, p: dict[str, float], d: dict[str, Any], w: FloatArray) -> FloatArray:
        """The Hessian of :meth:`_weighted_loglik`'s sum w.r.t. the log-parameters (r, alpha, a, b), exact.

        With ``z = log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x))`` the log-likelihood
        is a smooth part (gammaln, betaln and logs of the parameters, per distinct x or T) plus
        ``softplus(z)`` per row with a second term. In log-parameters ``theta_i = log p_i``, a term ``f`` has
        the Hessian ``p_i p_j f_ij + delta_ij p_i f_i``; ``softplus(z)`` has ``s (1 - s) z_i z_j + s z_ij``
        with ``s = sigmoid(z)``. One pass over the rows replaces the four gradient evaluations of a
        finite-difference Hessian.
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        idx = d.get("_idx") if d.get("_idx_w") is w else None
        if idx is None:
            idx = d["_idx"] = self._index(d, w)
            d["_idx_w"] = w
        ux, wx, uT, wt, wxt, utx, ix2, iT2, itx2, x2, w2, _ = idx
        has2 = (ux > 0) if k == 0 else np.ones(len(ux), dtype=bool)
        bx2 = np.where(has2, b + ux - 1 + k, 1.0)
        inv_t, inv_tx = 1 / (alpha + uT), 1 / (alpha + utx)
        la_t = np.log(alpha + uT)
        # the rows with a second term
        dd = np.take(la_t, iT2) - np.take(np.log(alpha + utx), itx2)
        rx = x2 + r
        z = np.take(np.log(a) - np.log(bx2), ix2) + rx * dd
        s = expit(z)
        ws = w2 * s
        q = w2 * s * expit(-z)  # w s (1 - s), without cancellation where s is near 1
        e = np.take(inv_t, iT2) - np.take(inv_tx, itx2)  # d dd / d alpha
        e2 = np.take(inv_tx**2, itx2) - np.take(inv_t**2, iT2)  # d e / d alpha
        re = rx * e
        q_dd, q_re = q * dd, q * re
        n = len(ux)
        by_x = {key: np.bincount(ix2, v, n) for key, v in (("q", q), ("s", ws), ("dd", q_dd), ("re", q_re))}
        zb = np.where(has2, b / bx2, 0.0)  # -(d z / d log b)
        h = np.zeros((4, 4))
        h[0, 0] = r * r * dot(q_dd, dd) + r * dot(ws, dd)
        h[0, 1] = r * alpha * (dot(q_dd, re) + dot(ws, e))
        h[1, 1] = alpha * alpha * (dot(q_re, re) + dot(ws, rx * e2)) + alpha * dot(ws, re)
        h[0, 2] = r * float(q_dd.sum())
        h[1, 2] = alpha * float(q_re.sum())
        h[0, 3] = -r * dot(zb, by_x["dd"])
        h[1, 3] = -alpha * dot(zb, by_x["re"])
        h[2, 2] = float(q.sum())
        h[2, 3] = -dot(zb, by_x["q"])
        h[3, 3] = dot(zb * zb, by_x["q"]) - dot(np.where(has2, b * (ux - 1 + k) / bx2**2, 0.0), by_x["s"])
        # the smooth part: natural-parameter second derivatives f_ij and gradient f_i
        wsum = float(w.sum())
        t_ab, t_abx = polygamma(1, a + b), polygamma(1, a + b + ux + k)
        f = np.zeros((4, 4))
        f[0, 0] = dot(wx, polygamma(1, r + ux)) - wsum * float(polygamma(1, r))
        f[0, 1] = wsum / alpha - dot(wt, inv_t)
        f[1, 1] = -wsum * r / alpha**2 + dot(r * wt + wxt, inv_t**2)
        f[2, 2] = f[2, 3] = dot(wx, t_ab - t_abx)
        f[3, 3] = dot(wx, polygamma(1, b + ux + k) - t_abx - polygamma(1, b) + t_ab)
        dab, dx = digamma(a + b), digamma(a + b + ux + k)
        grad = np.array(
            [
                dot(wx, digamma(r + ux)) - wsum * digamma(r) + wsum * np.log(alpha) - dot(wt, la_t),
                wsum * r / alpha - dot(r * wt + wxt, inv_t),
                dot(wx, dab - dx),
                dot(wx, digamma(b + ux + k) - digamma(b) + dab - dx),
            ]
        )
        pv = np.array([r, alpha, a, b])
        f = np.triu(f) + np.triu(f, 1).T
        h = np.triu(h) + np.triu(h, 1).T
        return np.asarray(h + np.outer(pv, pv) * f + np.diag(pv * grad), dtype=float)

    def _index(self, d: dict[str, Any], w: FloatArray) -> tuple[Any, ...]:
        """What the regrouped sums need, built once per data and weights.

        Distinct x, T and t_x with the weight sums per distinct value, the indices of the rows with a second
        term (x > 0; every row for MBG/NBD) and work arrays of their length.
        """
        x, tx, T = d["x"], d["t_x"], d["T"]
        codes = d.get("_codes")  # distinct values and codes per row, left by compress_rft
        if codes is not None:
            ux, ix, uT, iT, utx, itx = codes
        else:
            ux, ix = distinct(x)
            uT, iT = distinct(T)
            utx, itx = distinct(tx)
        has2 = (x > 0) if self._shift == 0 else np.ones(len(x), dtype=bool)
        m = int(has2.sum())
        return (
            ux,
            np.bincount(ix, w, len(ux)),
            uT,
            np.bincount(iT, w, len(uT)),
            np.bincount(iT, w * x, len(uT)),
            utx,
            ix[has2],
            iT[has2],
            itx[has2],
            x[has2],
            w[has2],
            tuple(np.empty(m) for _ in range(5)),
        )

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        rate = max(dot(w, d["x"]) / max(dot(w, d["T"]), 1e-9), 1e-6)
        return {"r": 1.0, "alpha": 1.0 / rate, "a": 1.0, "b": 3.0}

    # ---- predictions -----------------------------------------------------------------------------------
    def _p_alive(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).

        The likelihood's first term over the whole likelihood (FHL 2005, note 021).
        """
        t1, t2, _, _ = self._terms(p, x, tx, T)
        return np.asarray(np.exp(t1 - np.logaddexp(t1, t2)))

    def _alive_expected(self, p: dict[str, Any], t: Any, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T + t] | alive at T]: equation 10 of FHL (2005) without its P(alive) factor.

        The Gauss hypergeometric term is evaluated after Euler's transformation,
        ``(1 - z)^(r + x) 2F1(r + x, b + x; c; z) = (1 - z)^(a - 1) 2F1(c - r - x, a - 1; c; z)``, with
        ``c = a + b + x - 1``, whose parameters no longer grow with ``x`` (no overflow at x = 500). When ``a``
        is huge (a fit where every customer drops out with the same probability ``a / (a + b)``), that form is
        ``0 x inf``: the untransformed term is used there, and where it fails too, its limit as ``a`` and
        ``b`` grow with ``(b + x) / c`` fixed, ``((1 - z) / (1 - z (b + x) / c))^(r + x)``.
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        c = a + b + x - 1 + k
        z = t / (alpha + T + t)
        with np.errstate(invalid="ignore", over="ignore"):
            bracket = np.asarray(1 - (1 - z) ** (a - 1) * hyp2f1(c - r - x, a - 1, c, z), dtype=float)
            bad = ~np.isfinite(bracket)
            if bad.any():
                shape = np.broadcast(c, z, x).shape
                cb, zb, xb = (np.broadcast_to(np.asarray(v, dtype=float), shape)[bad] for v in (c, z, x))
                plain = 1 - (1 - zb) ** (r + xb) * hyp2f1(r + xb, b + xb, cb, zb)
                limit = 1 - ((1 - zb) / (1 - zb * (b + xb) / cb)) ** (r + xb)
                bracket = np.array(np.broadcast_to(bracket, shape), dtype=float)
                bracket[bad] = np.where(np.isfinite(plain), plain, limit)
        return np.asarray(c / (a - 1) * bracket)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> FloatArray:
        """E[X(t)] for a new customer.

        ``(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]`` (FHL 2005, equation 9).
        """
        self._require_fitted()
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        p_alive0 = 1.0 if self._shift == 0 else self.params_["b"] / (self.params_["a"] + self.params_["b"])
        return p_alive0 * self._alive_expected(self.params_, t, zero, zero)
