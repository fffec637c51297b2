"""Buy-till-you-die estimators: BG/NBD, MBG/NBD and Gamma-Gamma.

All three follow scikit-learn conventions (hyper-parameters in ``__init__``, ``fit`` returns
``self``, fitted attributes end in ``_``) and are fitted by maximum likelihood:

* the log-likelihoods are vectorised and evaluated in log space (``gammaln``, ``betaln``,
  ``logaddexp``); terms that depend only on the (integer) frequency are computed once per distinct
  frequency, and identical customers are collapsed into weighted rows;
* the optimiser works on log-parameters (so every parameter stays positive) with L-BFGS-B inside
  box bounds, using the exact gradient; if L-BFGS-B fails, Nelder-Mead is tried from where it
  stopped; if that fails too, or a parameter ends on a bound, :class:`ConvergenceError` is raised;
* the objective is the *mean* negative log-likelihood plus ``penalizer * sum(params ** 2)``
  (lifetimes' convention, on the natural parameters), so ``penalizer=0`` is plain ML.
  ``log_likelihood_`` is the total (not mean) log-likelihood of the data at the fitted parameters.

Time is in whatever unit ``recency`` and ``T`` were measured in ("periods"); predictions for
``t`` periods use the same unit.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
the Pareto/NBD model", Marketing Science 24(2); Batislam, Denizel & Filiztekin (2007) for MBG/NBD;
Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base analysis",
JMR 42(4), and Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", for Gamma-Gamma.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln
from sklearn.base import BaseEstimator

from ._special import hyp2f1_stable

try:  # a dependency of scikit-learn
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

__all__ = [
    "BetaGeoModel",
    "ConvergenceError",
    "GammaGammaModel",
    "ModifiedBetaGeoModel",
    "customer_lifetime_value",
]

_LOG_BOUND = np.log(1e6)  # parameters are kept in [1e-6, 1e6]
_BOUND_MARGIN = 1e-3  # in log space: a fitted parameter this close to a bound "ran to the bound"


def _single_threaded_blas():
    """The likelihoods use BLAS only for 1-D dot products, where threads cost far more than they
    save (up to 100x slower on a busy machine); run the optimisation with one BLAS thread."""
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class ConvergenceError(RuntimeError):
    """The maximum-likelihood optimisation did not converge to an interior optimum."""


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def _as_float_array(name: str, values) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric") from exc
    if arr.ndim > 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_frequency(frequency: np.ndarray) -> None:
    if np.any(frequency < 0):
        raise ValueError("frequency contains negative values")
    if np.any(frequency != np.round(frequency)):
        raise ValueError("frequency must be whole numbers (number of repeat purchase periods)")


def _check_rft(frequency, recency, T, *, allow_empty: bool = True):
    x = _as_float_array("frequency", frequency)
    tx = _as_float_array("recency", recency)
    big_t = _as_float_array("T", T)
    try:
        x, tx, big_t = np.broadcast_arrays(x, tx, big_t)
    except ValueError as exc:
        raise ValueError("frequency, recency and T must have the same length") from exc
    if not allow_empty and x.size == 0:
        raise ValueError("no customers to fit on")
    _check_frequency(x)
    if np.any(tx < 0):
        raise ValueError("recency contains negative values")
    if np.any(big_t < 0):
        raise ValueError("T contains negative values")
    if np.any(tx > big_t * (1 + 1e-12) + 1e-12):
        raise ValueError("recency is greater than T for some customers")
    if np.any((x == 0) & (tx > 0)):
        raise ValueError("recency must be 0 for customers with frequency 0")
    return x, tx, big_t


def _check_fm(frequency, monetary_value):
    x = _as_float_array("frequency", frequency)
    m = _as_float_array("monetary_value", monetary_value)
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError as exc:
        raise ValueError("frequency and monetary_value must have the same length") from exc
    _check_frequency(x)
    if np.any((x > 0) & (m <= 0)):
        raise ValueError(
            "monetary_value must be > 0 for customers with repeat purchases (frequency > 0)"
        )
    return x, m


def _unique_weighted(cols: tuple[np.ndarray, ...], w: np.ndarray):
    """Distinct rows of ``cols`` (sorted) and the summed weight of each (lexsort based)."""
    if cols[0].size == 0:
        return tuple(c.copy() for c in cols) if len(cols) > 1 else cols[0].copy(), w.copy()
    order = np.lexsort(cols[::-1])
    sc = [c[order] for c in cols]
    new = np.ones(sc[0].size, dtype=bool)
    new[1:] = False
    for c in sc:
        new[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(new)
    wsum = np.add.reduceat(w[order], starts)
    out = tuple(c[starts] for c in sc)
    return (out if len(cols) > 1 else out[0]), wsum


# --------------------------------------------------------------------------------------------
# optimisation
# --------------------------------------------------------------------------------------------


def _optimise(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    names: tuple[str, ...],
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, int, str]:
    """Minimise ``fun`` (value and gradient in log-parameter space) inside the box bounds."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": tol * 1e-6, "gtol": tol, "maxcor": 20},
    )
    messages = [f"L-BFGS-B: {res.message}"]
    x, n_iter, ok = res.x, int(res.nit), bool(res.success)
    if not ok:
        # a line search that stalls at a point with ~zero gradient is a converged fit
        grad = fun(x)[1]
        ok = bool(np.all(np.isfinite(grad))) and float(np.max(np.abs(grad))) < max(tol, 1e-6) * 10
    if not ok:
        nm = minimize(
            lambda z: fun(z)[0],
            x,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": max_iter * 20, "xatol": 1e-10, "fatol": tol * 1e-6},
        )
        messages.append(f"Nelder-Mead: {nm.message}")
        n_iter += int(nm.nit)
        if nm.success:
            x, ok = nm.x, True
    if not ok:
        raise ConvergenceError(
            "maximum-likelihood fit did not converge: " + "; ".join(str(m) for m in messages)
        )
    at_bound = [n for n, v in zip(names, x, strict=True) if abs(v) > _LOG_BOUND - _BOUND_MARGIN]
    if at_bound:
        values = ", ".join(f"{n}={np.exp(v):.3g}" for n, v in zip(names, x, strict=True))
        raise ConvergenceError(
            f"maximum-likelihood fit ran to the parameter bounds [1e-6, 1e6] for "
            f"{', '.join(at_bound)} ({values}); the data do not identify the model "
            f"(try a penalizer). {'; '.join(str(m) for m in messages)}"
        )
    return np.exp(x), n_iter, "; ".join(str(m) for m in messages)


# --------------------------------------------------------------------------------------------
# BG/NBD and MBG/NBD
# --------------------------------------------------------------------------------------------


class _BetaGeoBase(BaseEstimator):
    """Shared code of BG/NBD (``_k = 0``) and MBG/NBD (``_k = 1``).

    Both have the likelihood
    ``Gamma(r+x) alpha^r / Gamma(r) * [B(a, b+x+k)/B(a,b) (alpha+T)^-(r+x)
    + d * B(a+1, b+x+k-1)/B(a,b) (alpha+t_x)^-(r+x)]`` with ``d = 1[x > 0]`` for BG/NBD (a customer
    can only drop out after a repeat purchase) and ``d = 1`` for MBG/NBD (also after the first).
    """

    _k = 0
    _param_names = ("r", "alpha", "a", "b")

    def __init__(self, penalizer=0.0, max_iter=1000, tol=1e-8, initial_params=None):
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol
        self.initial_params = initial_params

    # -- likelihood --------------------------------------------------------------------------

    def _compress(self, x, tx, big_t, weights=None):
        """Collapse identical customers into weighted rows.

        For BG/NBD the customers with ``x = 0`` are kept apart: their likelihood is just
        ``(alpha / (alpha + T))^r`` and does not involve ``a``, ``b`` or ``recency``.
        """
        w = np.ones_like(x) if weights is None else weights
        zero = (x == 0) if self._k == 0 else np.zeros_like(x, dtype=bool)
        t0, w0 = _unique_weighted((big_t[zero],), w[zero])
        full = ~zero
        (xf, txf, tf), wf = _unique_weighted((x[full], tx[full], big_t[full]), w[full])
        xu, xi = np.unique(xf, return_inverse=True)
        return {
            "x": xf,
            "tx": txf,
            "T": tf,
            "w": wf,
            "xu": xu,
            "xi": xi,
            "w_u": np.bincount(xi, weights=wf, minlength=len(xu)),
            "T0": t0,
            "w0": w0,
            "W0": float(w0.sum()),
            "W": float(wf.sum()),
        }

    def _row_terms(self, params, x, tx, big_t, xu, xi):
        r, alpha, a, b = params
        k = self._k
        drop_u = np.ones_like(xu, dtype=bool) if k == 1 else xu > 0
        b2 = np.where(drop_u, b + xu + k - 1, 1.0)  # placeholder where the term is absent
        lbab = betaln(a, b)
        g_u = gammaln(r + xu) - gammaln(r) + r * np.log(alpha)
        c1_u = g_u + betaln(a, b + xu + k) - lbab
        c2_u = np.where(drop_u, g_u + betaln(a + 1, b2) - lbab, -np.inf)
        rx = r + x
        a_t = alpha + big_t
        a_tx = alpha + tx
        la_t = np.log(a_t)
        la_tx = np.log(a_tx)
        t1 = c1_u[xi] - rx * la_t
        t2 = c2_u[xi] - rx * la_tx
        ll_rows = np.logaddexp(t1, t2)
        return ll_rows, t2, la_t, la_tx, drop_u, b2, rx, a_t, a_tx

    def _loglik_parts(self, params, d, grad: bool):
        r, alpha, a, b = params
        k = self._k
        x, tx, big_t, w, xu, xi = d["x"], d["tx"], d["T"], d["w"], d["xu"], d["xi"]
        ll_rows, t2, la_t, la_tx, drop_u, b2, rx, a_t, a_tx = self._row_terms(
            params, x, tx, big_t, xu, xi
        )
        la_t0 = np.log(alpha + d["T0"])
        sum_la_t0 = float(np.dot(d["w0"], la_t0))
        ll = float(np.dot(w, ll_rows)) + d["W0"] * r * np.log(alpha) - r * sum_la_t0
        if not grad:
            return ll, None
        w2 = np.exp(t2 - ll_rows)  # posterior share of the "dropped out" term
        w2 *= w
        w1 = w - w2
        nx = len(xu)
        s1_u = np.bincount(xi, weights=w1, minlength=nx)
        s2_u = np.bincount(xi, weights=w2, minlength=nx)
        wtot, w_u = d["W"], d["w_u"]
        d_r = (
            np.dot(w_u, digamma(r + xu))
            - wtot * digamma(r)
            + (wtot + d["W0"]) * np.log(alpha)
            - np.dot(w1, la_t)
            - np.dot(w2, la_tx)
            - sum_la_t0
        )
        d_alpha = (
            (wtot + d["W0"]) * r / alpha
            - np.dot(rx, w1 / a_t + w2 / a_tx)
            - r * float(np.dot(d["w0"], 1.0 / (alpha + d["T0"])))
        )
        psi_ab = digamma(a + b)
        psi1 = digamma(a + b + xu + k)
        d_a = (
            np.dot(s1_u, digamma(a) - psi1)
            + np.dot(s2_u, digamma(a + 1) - psi1)
            - wtot * (digamma(a) - psi_ab)
        )
        d_b = (
            np.dot(s1_u, digamma(b + xu + k) - psi1)
            + np.dot(s2_u, np.where(drop_u, digamma(b2) - psi1, 0.0))
            - wtot * (digamma(b) - psi_ab)
        )
        return ll, np.array([d_r, d_alpha, d_a, d_b])

    def _objective(self, d, n: float):
        pen = float(self.penalizer)

        def fun(log_params):
            params = np.exp(log_params)
            try:
                ll, g = self._loglik_parts(params, d, grad=True)
            except FloatingPointError:  # pragma: no cover - errstate is 'ignore'
                return np.inf, np.zeros_like(params)
            val = -ll / n + pen * float(np.sum(params**2))
            grad = (-g / n + 2 * pen * params) * params
            if not np.isfinite(val) or not np.all(np.isfinite(grad)):
                return 1e10, np.zeros_like(params)
            return val, grad

        return fun

    # -- fitting -----------------------------------------------------------------------------

    def fit(self, frequency, recency, T, weights=None):
        """Fit by maximum likelihood on per-customer ``frequency``, ``recency`` and ``T``.

        ``frequency`` = repeat purchase periods, ``recency`` = time between first and last
        purchase, ``T`` = time between first purchase and the end of observation (see
        :func:`pcdp.clv.rfm_summary`). ``weights`` (optional) counts how many customers each row
        stands for. Returns ``self``.
        """
        x, tx, big_t = _check_rft(frequency, recency, T, allow_empty=False)
        w = None
        if weights is not None:
            w = _as_float_array("weights", weights)
            if w.shape != x.shape or np.any(w < 0):
                raise ValueError("weights must be non-negative, one per customer")
        if not np.any(x > 0):
            raise ValueError(
                f"{type(self).__name__} needs customers with repeat purchases (frequency > 0); "
                "with none, the dropout process is not identified"
            )
        d = self._compress(x, tx, big_t, w)
        n = d["W"] + d["W0"]
        x0 = np.log(
            np.asarray(
                self.initial_params if self.initial_params is not None else [1.0, 1.0, 1.0, 1.0],
                dtype=float,
            )
        )
        with np.errstate(all="ignore"), _single_threaded_blas():
            params, n_iter, message = _optimise(
                self._objective(d, n), x0, self._param_names, int(self.max_iter), float(self.tol)
            )
            self.log_likelihood_ = self._loglik_parts(params, d, grad=False)[0]
        self.params_ = dict(zip(self._param_names, (float(p) for p in params), strict=True))
        self.r_, self.alpha_, self.a_, self.b_ = (self.params_[k] for k in self._param_names)
        self.n_iter_ = n_iter
        self.converged_ = True
        self.optimizer_message_ = message
        self.n_customers_ = n
        return self

    def _fitted(self):
        if not hasattr(self, "params_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit() first")
        return self.r_, self.alpha_, self.a_, self.b_

    # -- predictions -------------------------------------------------------------------------

    def _log_odds_dropped(self, x, tx, big_t):
        """log of P(dropped out) / P(alive) given the history (``-inf`` when it cannot drop)."""
        r, alpha, a, b = self._fitted()
        k = self._k
        drop = (x > 0) if k == 0 else np.ones_like(x, dtype=bool)
        with np.errstate(all="ignore"):
            lo = (
                np.log(a)
                - np.log(np.where(drop, b + x + k - 1, 1.0))
                + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx))
            )
        return np.where(drop, lo, -np.inf)

    def probability_alive(self, frequency, recency, T):
        """P(customer still alive at T | frequency, recency, T)."""
        x, tx, big_t = _check_rft(frequency, recency, T)
        return np.exp(-np.logaddexp(0.0, self._log_odds_dropped(x, tx, big_t)))

    def expected_purchases(self, t, frequency, recency, T):
        """E[number of purchases in (T, T + t] | frequency, recency, T] (closed form with 2F1).

        Uses the Euler transformation
        ``(1-z)^(r+x) 2F1(r+x, b+x+k; c; z) = (1-z)^(a-1) 2F1(c-r-x, a-1; c; z)`` with
        ``c = a+b+x+k-1`` and ``z = t / (alpha+T+t)``, whose parameters do not grow with ``x``
        and whose value stays O(1), so nothing overflows; scipy's ``hyp2f1`` is used where it
        returns a finite value and a power series otherwise.
        """
        x, tx, big_t = _check_rft(frequency, recency, T)
        t_arr = _as_float_array("t", t)
        if np.any(t_arr < 0):
            raise ValueError("t must be >= 0")
        r, alpha, a, b = self._fitted()
        k = self._k
        x, tx, big_t, t_arr = np.broadcast_arrays(x, tx, big_t, t_arr)
        c = a + b + x + k - 1
        with np.errstate(all="ignore"):
            z = t_arr / (alpha + big_t + t_arr)
            f = hyp2f1_stable(c - r - x, a - 1, c, z)
            log_u = (a - 1) * np.log1p(-z)
            # 1 - u * f written as (1 - u) - u (f - 1) to keep precision when t is small
            bracket = -np.expm1(log_u) - np.exp(log_u) * (f - 1)
            alive = np.exp(-np.logaddexp(0.0, self._log_odds_dropped(x, tx, big_t)))
            out = c / (a - 1) * bracket * alive
        return np.where(t_arr == 0, 0.0, out)

    def expected_purchases_new_customer(self, t):
        """Unconditional E[X(t)]: purchases after the first one, in t periods from acquisition."""
        t_arr = _as_float_array("t", t)
        zeros = np.zeros_like(t_arr)
        return self.expected_purchases(t_arr, zeros, zeros, zeros)

    def log_likelihood(self, frequency, recency, T):
        """Per-customer log-likelihood at the fitted parameters."""
        x, tx, big_t = _check_rft(frequency, recency, T)
        xu, xi = np.unique(x, return_inverse=True)
        with np.errstate(all="ignore"):
            return self._row_terms(np.array(self._fitted()), x, tx, big_t, xu, xi)[0]


class BetaGeoModel(_BetaGeoBase):
    """BG/NBD model (Fader, Hardie & Lee 2005).

    Purchases of an active customer follow a Poisson process with rate ``lambda ~ Gamma(r,
    alpha)`` (shape ``r``, rate ``alpha``); after each repeat purchase the customer drops out
    for good with probability ``p ~ Beta(a, b)``.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty ``penalizer * sum(params**2)`` added to the mean negative log-likelihood.
    max_iter : int, default 1000
        Maximum L-BFGS-B iterations (Nelder-Mead fallback: 20 times as many).
    tol : float, default 1e-8
        L-BFGS-B projected-gradient tolerance on the mean log-likelihood in log-parameters.
    initial_params : sequence of 4 floats, optional
        Starting ``(r, alpha, a, b)``; default all 1.
    """

    _k = 0


class ModifiedBetaGeoModel(_BetaGeoBase):
    """MBG/NBD model (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a customer can also
    drop out right after the first purchase, so customers with no repeat purchase are not all
    "alive". Same hyper-parameters, attributes and methods as :class:`BetaGeoModel`.
    """

    _k = 1


# --------------------------------------------------------------------------------------------
# Gamma-Gamma
# --------------------------------------------------------------------------------------------


class GammaGammaModel(BaseEstimator):
    """Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

    Each transaction value of a customer is ``Gamma(p, nu)`` (shape ``p``, rate ``nu``) and
    ``nu ~ Gamma(q, gamma)`` across customers; the mean spend of a customer is ``p / nu``.
    It is fitted on customers with at least one repeat purchase, from the number of repeat
    purchases ``frequency`` and their mean value ``monetary_value``; rows with ``frequency = 0``
    are ignored. It assumes spend is independent of the purchase process.

    Parameters: ``penalizer``, ``max_iter``, ``tol``, ``initial_params`` (``(p, q, gamma)``) as
    for :class:`BetaGeoModel`.
    """

    _param_names = ("p", "q", "gamma")

    def __init__(self, penalizer=0.0, max_iter=1000, tol=1e-8, initial_params=None):
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol
        self.initial_params = initial_params

    @staticmethod
    def _prepare(x, m, weights=None):
        keep = x > 0
        x, m = x[keep], m[keep]
        w = np.ones_like(x) if weights is None else weights[keep]
        xu, xi = np.unique(x, return_inverse=True)
        w_u = np.bincount(xi, weights=w, minlength=len(xu))
        log_m = np.log(m)
        return {
            "x": x,
            "m": m,
            "xm": x * m,
            "w": w,
            "wx": w * x,
            "xu": xu,
            "w_u": w_u,
            "W": float(w.sum()),
            "sum_w_x_logm": float(np.dot(w * x, log_m)),
            "sum_w_logm": float(np.dot(w, log_m)),
            "sum_w_x_logx": float(np.dot(w * x, np.log(x))),
            "sum_w_x": float(np.dot(w, x)),
        }

    @staticmethod
    def _loglik(params, d, grad: bool):
        p, q, v = params
        xu, w_u, w, wx = d["xu"], d["w_u"], d["w"], d["wx"]
        pxu = p * xu
        xm_v = d["xm"] + v
        log_xm_v = np.log(xm_v)
        wx_log = float(np.dot(wx, log_xm_v))
        w_log = float(np.dot(w, log_xm_v))
        ll = (
            np.dot(w_u, gammaln(pxu + q) - gammaln(pxu))
            - d["W"] * gammaln(q)
            + d["W"] * q * np.log(v)
            + p * d["sum_w_x_logm"]
            - d["sum_w_logm"]
            + p * d["sum_w_x_logx"]
            - p * wx_log
            - q * w_log
        )
        if not grad:
            return float(ll), None
        psi_pq = digamma(pxu + q)
        d_p = (
            np.dot(w_u * xu, psi_pq - digamma(pxu)) + d["sum_w_x_logm"] + d["sum_w_x_logx"] - wx_log
        )
        d_q = np.dot(w_u, psi_pq) - d["W"] * digamma(q) + d["W"] * np.log(v) - w_log
        np.reciprocal(xm_v, out=xm_v)
        d_v = d["W"] * q / v - p * np.dot(wx, xm_v) - q * np.dot(w, xm_v)
        return float(ll), np.array([d_p, d_q, d_v])

    def fit(self, frequency, monetary_value, weights=None):
        """Fit on customers with ``frequency > 0``; ``monetary_value`` = mean repeat spend."""
        x, m = _check_fm(frequency, monetary_value)
        w = None
        if weights is not None:
            w = _as_float_array("weights", weights)
            if w.shape != x.shape or np.any(w < 0):
                raise ValueError("weights must be non-negative, one per customer")
        d = self._prepare(x, m, w)
        if d["W"] <= 0:
            raise ValueError("Gamma-Gamma needs customers with repeat purchases (frequency > 0)")
        n = d["W"]
        pen = float(self.penalizer)

        def fun(log_params):
            params = np.exp(log_params)
            ll, g = self._loglik(params, d, grad=True)
            val = -ll / n + pen * float(np.sum(params**2))
            gr = (-g / n + 2 * pen * params) * params
            if not np.isfinite(val) or not np.all(np.isfinite(gr)):
                return 1e10, np.zeros_like(params)
            return val, gr

        x0 = np.log(
            np.asarray(
                self.initial_params if self.initial_params is not None else [1.0, 1.0, 1.0],
                dtype=float,
            )
        )
        with np.errstate(all="ignore"), _single_threaded_blas():
            params, n_iter, message = _optimise(
                fun, x0, self._param_names, int(self.max_iter), float(self.tol)
            )
            self.log_likelihood_ = self._loglik(params, d, grad=False)[0]
        self.params_ = dict(zip(self._param_names, (float(p) for p in params), strict=True))
        self.p_, self.q_, self.gamma_ = (self.params_[k] for k in self._param_names)
        self.n_iter_ = n_iter
        self.converged_ = True
        self.optimizer_message_ = message
        self.n_customers_ = n
        return self

    def _fitted(self):
        if not hasattr(self, "params_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet; call fit() first")
        return self.p_, self.q_, self.gamma_

    def conditional_expected_average_profit(self, frequency, monetary_value):
        """E[mean spend per transaction | frequency, monetary_value].

        ``(gamma + x m) p / (p x + q - 1)``: a weighted mean of the population mean and the
        customer's own mean. For ``frequency = 0`` it is the population mean
        (:meth:`expected_average_profit_new_customer`); ``monetary_value`` is then ignored.
        Infinite when ``p x + q <= 1`` (the posterior mean does not exist).
        """
        x, m = _check_fm(frequency, monetary_value)
        p, q, gamma = self._fitted()
        m = np.where(x > 0, m, 0.0)
        denom = p * x + q - 1
        with np.errstate(divide="ignore"):
            return np.where(denom > 0, (gamma + x * m) * p / np.where(denom > 0, denom, 1), np.inf)

    def expected_average_profit_new_customer(self) -> float:
        """Population mean spend per transaction ``p gamma / (q - 1)`` (inf when q <= 1)."""
        p, q, gamma = self._fitted()
        return float(p * gamma / (q - 1)) if q > 1 else float("inf")


# --------------------------------------------------------------------------------------------
# CLV
# --------------------------------------------------------------------------------------------


def customer_lifetime_value(
    bgnbd: _BetaGeoBase,
    gg: GammaGammaModel,
    frequency,
    recency,
    T,
    monetary_value,
    horizon_periods: float,
    discount_rate: float = 0.0,
    step_periods: float = 1.0,
) -> np.ndarray:
    """Expected revenue of each customer over the next ``horizon_periods`` periods.

    ``E[purchases in (T, T + horizon]] * E[spend per purchase]`` from a fitted BG/NBD (or MBG/NBD)
    and a fitted Gamma-Gamma model, in the periods of ``recency`` / ``T``. By default there is
    **no discounting** (``discount_rate=0``): the value is the plain expected revenue, which is
    what the ``pcltv_<h>m`` outputs report. With ``discount_rate`` ``d`` > 0 (per period), the
    horizon is cut into steps of ``step_periods`` and the purchases expected in a step ending at
    ``t`` are discounted by ``(1 + d) ** -t`` (lifetimes' convention).
    """
    x, tx, big_t = _check_rft(frequency, recency, T)
    x, m = _check_fm(x, monetary_value)
    horizon = float(horizon_periods)
    if not (np.isfinite(horizon) and horizon >= 0):
        raise ValueError("horizon_periods must be a non-negative number")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError("discount_rate must be > -1")
    if not (np.isfinite(step_periods) and step_periods > 0):
        raise ValueError("step_periods must be > 0")
    spend = gg.conditional_expected_average_profit(x, m)
    if discount_rate == 0:
        return bgnbd.expected_purchases(horizon, x, tx, big_t) * spend
    edges = np.append(np.arange(step_periods, horizon, step_periods), horizon)
    total = np.zeros_like(x, dtype=float)
    prev = np.zeros_like(x, dtype=float)
    for t_end in edges:
        cur = bgnbd.expected_purchases(t_end, x, tx, big_t)
        total += (cur - prev) / (1 + discount_rate) ** t_end
        prev = cur
    return total * spend
