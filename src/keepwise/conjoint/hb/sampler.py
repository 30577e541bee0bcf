"""The hierarchical Bayes sampler's parts: likelihoods, the elliptical slice update, the population moves.

:class:`~keepwise.conjoint.hb.HierarchicalBayesMNL` runs the Gibbs iterations (see :mod:`keepwise.conjoint.hb`
for the blocks and their references); the functions here compute what each block needs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["elliptical_slice", "likelihoods", "move_shapes", "respondent_ll"]

_Ellipse = Callable[[np.ndarray, np.ndarray], np.ndarray]
_Loglik = Callable[[np.ndarray], np.ndarray]
_EllipseMaker = Callable[[np.ndarray, np.ndarray, np.ndarray], _Ellipse]


def likelihoods(
    X: np.ndarray,
    chosen: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    resp_starts: np.ndarray,
    resp_of_row: np.ndarray,
    n_tasks: int,
    N: int,
    C: int,
) -> tuple[_Loglik, _EllipseMaker]:
    """The per-respondent log-likelihood of part-worths and its restriction to an ellipse.

    ``X`` holds the (standardised) attributes, one row per alternative; ``chosen`` the row of each task's
    chosen alternative; ``starts`` and ``sizes`` each task's first row and number of rows; ``resp_starts``
    each respondent's first task and ``resp_of_row`` each row's respondent; ``N`` respondents, ``C`` chains.

    Returns ``loglik(beta)`` (``beta`` ``(C, N, K)`` -> ``(C, N)``) and ``ellipse(f, nu, b)``, which gives the
    log-likelihoods on ``b + f cos(theta) + nu sin(theta)`` as a function of ``theta`` (the utilities are
    linear in the sine and cosine, so each evaluation is a few array sums). When every task has the same
    number of alternatives and every respondent the same number of tasks, both work on 4-d arrays.
    """
    K = X.shape[1]
    tasks_per = np.diff(np.append(resp_starts, n_tasks))
    if (sizes == sizes[0]).all() and (tasks_per == tasks_per[0]).all():
        # every task has J alternatives and every respondent T tasks: a 4-d array, no reduceat
        J, T = int(sizes[0]), int(tasks_per[0])
        XT = np.ascontiguousarray(X.reshape(N, T * J, K).transpose(0, 2, 1))[None]  # (1, N, K, T*J)
        pick = (chosen - starts).reshape(N, T)[None, :, :, None]

        # sum over each respondent's tasks of the chosen offers' attributes: the chosen utilities' sum
        chosen_x = np.take_along_axis(X.reshape(N, T, J, K), pick[0][..., None], 2).sum(axis=(1, 2))

        def loglik(beta: np.ndarray) -> np.ndarray:
            """Per chain and respondent log-likelihood; beta is (C, N, K)."""
            v = np.matmul(beta[:, :, None, :], XT).reshape(beta.shape[0], N, T, J)
            with np.errstate(over="ignore"):
                lse = np.log(np.exp(v).sum(axis=-1))
            if not np.isfinite(lse).all():  # exp overflowed: shift by the largest utility
                vmax = v.max(axis=-1, keepdims=True)
                lse = np.log(np.exp(v - vmax).sum(axis=-1)) + vmax[..., 0]
            return np.einsum("cnk,nk->cn", beta, chosen_x) - lse.sum(axis=-1)

        def ellipse(f: np.ndarray, nu: np.ndarray, b: np.ndarray) -> _Ellipse:
            """Log-likelihoods on the ellipse ``b + f cos(theta) + nu sin(theta)`` (linear utilities)."""
            vb, vf, vn = (np.matmul(x[:, :, None, :], XT).reshape(C * N, T, J) for x in (b[:, None], f, nu))
            sb, sf, sn = (np.einsum("cnk,nk->cn", x, chosen_x).reshape(C * N) for x in (b[:, None], f, nu))

            def at(theta: np.ndarray, active: np.ndarray) -> np.ndarray:
                cos, sin = np.cos(theta), np.sin(theta)
                v = vb[active] + vf[active] * cos[:, None, None]
                v += vn[active] * sin[:, None, None]
                with np.errstate(over="ignore"):
                    lse = np.log(np.exp(v).sum(axis=-1))
                if not np.isfinite(lse).all():  # exp overflowed: shift by the largest utility
                    vmax = v.max(axis=-1, keepdims=True)
                    lse = np.log(np.exp(v - vmax).sum(axis=-1)) + vmax[..., 0]
                return sb[active] + sf[active] * cos + sn[active] * sin - lse.sum(axis=-1)

            return at

    else:

        def loglik(beta: np.ndarray) -> np.ndarray:
            """Per chain and respondent log-likelihood; beta is (C, N, K)."""
            v = np.einsum("rk,crk->cr", X, beta[:, resp_of_row])
            return respondent_ll(v, starts, sizes, chosen, resp_starts)

        def ellipse(f: np.ndarray, nu: np.ndarray, b: np.ndarray) -> _Ellipse:
            """Log-likelihoods on the ellipse ``b + f cos(theta) + nu sin(theta)`` (linear utilities)."""
            vb = X @ b.T
            vf = np.einsum("rk,crk->cr", X, f[:, resp_of_row])
            vn = np.einsum("rk,crk->cr", X, nu[:, resp_of_row])

            def at(theta: np.ndarray, active: np.ndarray) -> np.ndarray:
                full = np.zeros(C * N)
                full[active] = theta
                rows = full.reshape(C, N)[:, resp_of_row]
                v = vb.T + vf * np.cos(rows) + vn * np.sin(rows)
                return respondent_ll(v, starts, sizes, chosen, resp_starts).reshape(C * N)[active]

            return at

    return loglik, ellipse


def respondent_ll(
    v: np.ndarray, starts: np.ndarray, sizes: np.ndarray, chosen: np.ndarray, resp_starts: np.ndarray
) -> np.ndarray:
    """Log-likelihood per chain and respondent from utilities ``v`` ``(C, rows)``."""
    vmax = np.maximum.reduceat(v, starts, axis=1)
    ev = np.exp(v - np.repeat(vmax, sizes, axis=1))
    lse = np.log(np.add.reduceat(ev, starts, axis=1)) + vmax
    task_ll = v[:, chosen] - lse
    return np.add.reduceat(task_ll, resp_starts, axis=1)


def elliptical_slice(
    rng: np.random.Generator,
    beta: np.ndarray,
    ll: np.ndarray,
    b: np.ndarray,
    L: np.ndarray,
    ellipse: Callable[[np.ndarray, np.ndarray, np.ndarray], _Ellipse],
) -> tuple[np.ndarray, np.ndarray, float]:
    """One elliptical slice update (Murray, Adams and MacKay 2010) of every chain's every respondent.

    The prior of ``beta`` ``(C, N, K)`` is ``N(b, L L')``; ``ll`` ``(C, N)`` its log-likelihoods. Returns the
    new part-worths, their log-likelihoods and the likelihood evaluations used per respondent.
    """
    C, N, K = beta.shape
    f = beta - b[:, None, :]
    nu = np.einsum("ckl,cnl->cnk", L, rng.standard_normal((C, N, K)))
    at = ellipse(f, nu, b)
    log_y = ll.reshape(C * N) + np.log(rng.random(C * N))
    theta = rng.uniform(0.0, 2.0 * np.pi, C * N)
    lo, hi = theta - 2.0 * np.pi, theta.copy()
    new_theta = np.zeros(C * N)
    new_ll = ll.reshape(C * N).copy()
    active = np.arange(C * N)
    used = 0
    for _ in range(200):  # the bracket shrinks towards the current point; 200 halvings reach it in practice
        if not active.size:
            break
        th = theta[active]
        value = at(th, active)
        used += active.size
        ok = value > log_y[active]
        new_theta[active[ok]] = th[ok]
        new_ll[active[ok]] = value[ok]
        active, th = active[~ok], th[~ok]
        lo[active] = np.where(th < 0, th, lo[active])
        hi[active] = np.where(th < 0, hi[active], th)
        theta[active] = rng.uniform(lo[active], hi[active])
    angle = new_theta.reshape(C, N, 1)
    return b[:, None, :] + f * np.cos(angle) + nu * np.sin(angle), new_ll.reshape(C, N), used / (C * N)


def move_shapes(
    X: np.ndarray, beta_rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shapes of the population moves from the information ``H`` of all answers at ``beta_rows``.

    Returns the Cholesky factor of ``H^-1`` (shift proposals) and ``R = chol(H)'`` with its inverse (the
    scale move stretches the coordinates ``R beta``, in which the answers are about equally informative).
    """
    v = np.einsum("rk,crk->cr", X, beta_rows)
    vmax = np.maximum.reduceat(v, starts, axis=1)
    ev = np.exp(v - np.repeat(vmax, sizes, axis=1))
    p = ev / np.repeat(np.add.reduceat(ev, starts, axis=1), sizes, axis=1)
    xbar = np.add.reduceat(p[:, :, None] * X[None], starts, axis=1)
    H = np.einsum("cr,rk,rl->ckl", p, X, X) - np.einsum("ctk,ctl->ckl", xbar, xbar)
    H += 1e-6 * np.eye(X.shape[1])
    chol = np.linalg.cholesky(H)
    R = np.swapaxes(chol, 1, 2)
    return np.linalg.cholesky(np.linalg.inv(H)), R, np.linalg.inv(R)
