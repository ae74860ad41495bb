"""Convergence diagnostics for multi-chain MCMC draws: split R-hat and effective sample size.

Pure numpy (no scipy, no JAX). Formulas follow Vehtari, Gelman, Simpson, Carpenter and
Buerkner (2021), "Rank-normalization, folding, and localization: an improved R-hat", as
implemented in Stan and ArviZ:

- every chain is split in half (a middle draw is dropped when the length is odd), so a chain
  that drifts also looks like two disagreeing chains;
- ``split_rhat`` is the larger of the bulk R-hat (on rank-normalised draws) and the tail
  R-hat (on rank-normalised draws folded about the median);
- ``ess`` is the effective sample size for the mean, from the multi-chain autocorrelation
  estimate (which uses the between-chain variance, so chains that disagree give a small ESS)
  truncated by Geyer's initial monotone sequence; ``ess_bulk`` is the same on rank-normalised
  draws.

All inputs are ``x: f[C, S]`` (C chains of S draws); a 1-d input is read as a single chain.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["split_rhat", "ess", "ess_bulk", "ess_within", "rank_normalise", "normal_ppf", "chi2_sf"]


# --- small numerical helpers (kept here so the runtime does not need scipy) ---------------

# Wichura (1988), algorithm AS 241 (PPND16): the inverse normal CDF to about 1e-16.
_A = [3.387132872796366608, 133.14166789178437745, 1971.5909503065514427,
      13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
      33430.575583588128105, 2509.0809287301226727]
_B = [1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
      21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
      5226.495278852545925]
_C = [1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055,
      3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177,
      0.0227238449892691845833, 7.7454501427834140764e-4]
_D = [1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
      0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4,
      1.05075007164441684324e-9]
_E = [6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358,
      0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386,
      2.71155556874348757815e-5, 2.01033439929228813265e-7]
_F = [1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
      7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7,
      2.04426310338993978564e-15]


def _poly(coefs, x):
    out = np.zeros_like(x)
    for c in reversed(coefs):
        out = out * x + c
    return out


def normal_ppf(p) -> np.ndarray:
    """Inverse standard normal CDF of ``p: f[...]`` in (0, 1), elementwise (AS 241)."""
    p = np.asarray(p, dtype=float)
    q = p - 0.5
    out = np.empty_like(p)
    central = np.abs(q) <= 0.425
    r = 0.180625 - q[central] ** 2
    out[central] = q[central] * _poly(_A, r) / _poly(_B, r)
    tail = ~central
    r = np.sqrt(-np.log(np.minimum(p[tail], 1.0 - p[tail])))
    near = r <= 5.0
    val = np.where(near, _poly(_C, r - 1.6) / _poly(_D, r - 1.6),
                   _poly(_E, r - 5.0) / _poly(_F, r - 5.0))
    out[tail] = np.where(q[tail] < 0, -val, val)
    return out


def chi2_sf(x: float, df: int) -> float:
    """Survival function ``P(X > x)`` of a chi-square variable with integer ``df >= 1``."""
    if not x > 0:
        return 1.0
    h = x / 2.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= h / i
            total += term
        return float(min(1.0, math.exp(-h) * total))
    total = math.erfc(math.sqrt(h))
    for i in range(1, (df - 1) // 2 + 1):
        total += math.exp(-h + (i - 0.5) * math.log(h) - math.lgamma(i + 0.5))
    return float(min(1.0, total))


def _rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a flat array, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    n = xs.size
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], n]
    avg = (starts + ends + 1) / 2.0  # mean of the ranks start+1 .. end
    ranks = np.empty(n)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def _as_chains(x) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"expected draws of shape [chains, draws], got {x.shape}")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    """``f[C, S] -> f[2C, S // 2]``: each chain cut in half (middle draw dropped if S is odd)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def rank_normalise(x) -> np.ndarray:
    """Normal scores ``f[C, S]`` of pooled ranks: ``Phi^-1((r - 3/8) / (N + 1/4))``."""
    x = _as_chains(x)
    ranks = _rankdata(x.ravel())
    return normal_ppf((ranks - 0.375) / (x.size + 0.25)).reshape(x.shape)


# --- R-hat --------------------------------------------------------------------------------

def _rhat(x: np.ndarray) -> float:
    """Classic potential scale reduction of already split chains ``f[M, N]``."""
    m, n = x.shape
    if n < 2:
        return float("nan")
    if np.ptp(x, axis=1).max() == 0.0:
        # every split chain is constant: identical chains agree, different ones never mix
        return 1.0 if np.ptp(x[:, 0]) == 0.0 else float("inf")
    means = x.mean(axis=1)
    w = x.var(axis=1, ddof=1).mean()
    b_over_n = means.var(ddof=1) if m > 1 else 0.0
    var_plus = (n - 1) / n * w + b_over_n
    return float(np.sqrt(var_plus / w))


def split_rhat(x) -> float:
    """Rank-normalised split R-hat of ``x: f[C, S]``: max of the bulk and the folded R-hat.

    Returns 1.0 when every draw is identical, ``inf`` when each (half-)chain is constant but
    they differ (e.g. binary indicators with chains stuck in different phases), NaN when a
    draw is NaN or there are fewer than 4 draws per chain.
    """
    x = _as_chains(x)
    if x.shape[1] < 4 or np.isnan(x).any():
        return float("nan")
    if np.ptp(x) == 0.0:
        return 1.0
    bulk = _rhat(_split(rank_normalise(x)))
    folded = np.abs(x - np.median(x))
    tail = _rhat(_split(rank_normalise(folded)))
    return float(max(bulk, tail))


# --- effective sample size ----------------------------------------------------------------

def _autocov(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance (divisor N) of each row of ``f[M, N]``, lags 0..N-1, via FFT."""
    n = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    spec = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spec * np.conj(spec), n=size, axis=1)[:, :n] / n


def _ess(x: np.ndarray, between: bool = True) -> float:
    """Stan's multi-chain ESS of already split chains ``f[M, N]``.

    ``between=False`` leaves out the between-chain variance: the autocorrelation is then
    pooled from within the chains only (NaN when every chain is constant).
    """
    m, n = x.shape
    total = m * n
    if np.ptp(x) == 0.0:
        return float(total)
    acov = _autocov(x)
    mean_var = acov[:, 0].mean() * n / (n - 1)
    var_plus = mean_var * (n - 1) / n
    if m > 1 and between:
        var_plus += x.mean(axis=1).var(ddof=1)
    if not var_plus > 0.0:
        return float("nan")
    mean_acov = acov.mean(axis=0)

    rho = np.zeros(n)
    rho[0] = 1.0
    rho_even = 1.0
    rho_odd = 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[1] = rho_odd
    t = 1
    while t < n - 3 and rho_even + rho_odd > 0.0:
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0.0:
            rho[t + 1] = rho_even
            rho[t + 2] = rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0.0:
        rho[max_t + 1] = rho_even
    # Geyer's initial monotone sequence: pair sums may not increase
    t = 1
    while t <= max_t - 2:
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
            rho[t + 2] = rho[t + 1]
        t += 2
    tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1]
    tau = max(tau, 1.0 / np.log10(total))
    return float(total / tau)


def ess(x) -> float:
    """Effective sample size ``f[]`` for the mean of ``x: f[C, S]`` (split chains, raw values).

    ``C * S`` for constant input; NaN when a draw is NaN or there are fewer than 8 draws per
    chain (4 per half-chain).
    """
    x = _as_chains(x)
    if not np.isfinite(x).all():
        return float("nan")
    if np.ptp(x) == 0.0:
        return float(x.size)
    if x.shape[1] < 8:
        return float("nan")
    return _ess(_split(x))


def ess_within(x) -> float:
    """ESS ``f[]`` of ``x: f[C, S]`` from the within-chain autocorrelation alone.

    The chains are not split and the between-chain variance is left out, so this is what the
    ESS would be if the chains agreed; ``ess_within(x) / C`` is the ESS of one chain's mean
    with the autocorrelation pooled over all chains (steadier than each chain on its own).
    ``C * S`` for constant input, NaN when each chain is constant but they differ, when a
    draw is not finite, or with fewer than 4 draws per chain.
    """
    x = _as_chains(x)
    if not np.isfinite(x).all():
        return float("nan")
    if np.ptp(x) == 0.0:
        return float(x.size)
    if x.shape[1] < 4:
        return float("nan")
    return _ess(x, between=False)


def ess_bulk(x) -> float:
    """Bulk effective sample size of ``x: f[C, S]``: :func:`ess` of the rank-normalised draws.

    Unlike :func:`ess` it tolerates infinite draws (they are ranked like any other value).
    """
    x = _as_chains(x)
    if np.isnan(x).any():
        return float("nan")
    if np.ptp(x) == 0.0:
        return float(x.size)
    if x.shape[1] < 8:
        return float("nan")
    return _ess(_split(rank_normalise(x)))
