"""Gaussian hypergeometric function helpers for the BG/NBD predictions."""

from __future__ import annotations

import numpy as np
from scipy.special import hyp2f1

__all__ = ["hyp2f1_series", "hyp2f1_stable"]


def hyp2f1_series(a, b, c, z, max_terms: int = 100_000, rtol: float = 1e-15) -> np.ndarray:
    """Vectorised power series of 2F1(a, b; c; z) for 0 <= z < 1 (slow; used as a fallback).

    The series is summed term by term in float64; with the arguments used by the BG/NBD
    predictions the terms are eventually of one sign, so the sum is accurate to a few ulp.
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    shape = a.shape
    a, b, c, z = (v.ravel() for v in (a, b, c, z))
    out = np.ones(a.shape)
    term = np.ones(a.shape)
    idx = np.flatnonzero(z != 0)
    n = 0
    while idx.size and n < max_terms:
        term[idx] *= (a[idx] + n) * (b[idx] + n) / ((c[idx] + n) * (n + 1)) * z[idx]
        out[idx] += term[idx]
        n += 1
        idx = idx[np.abs(term[idx]) > rtol * np.abs(out[idx])]
    out[idx] = np.nan
    return out.reshape(shape)


def hyp2f1_stable(a, b, c, z) -> np.ndarray:
    """2F1(a, b; c; z) for 0 <= z < 1: scipy where it returns a finite value, series otherwise."""
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, c, z)))
    shape = a.shape
    out = np.array(hyp2f1(a, b, c, z), dtype=float, ndmin=1)
    bad = ~np.isfinite(out)
    if bad.any():
        a, b, c, z = (np.atleast_1d(v) for v in (a, b, c, z))
        out[bad] = hyp2f1_series(a[bad], b[bad], c[bad], z[bad])
    return out.reshape(shape)
