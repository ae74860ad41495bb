"""Every sweep value's draws serve every other value: multistate (MBAR) importance weights.

The posteriors at neighbouring sweep values overlap heavily (on PT1 a draw made at one value
keeps 60-80% of its effective weight three values away), while each value's own estimate of
a phase mass is settled by its own few independent low-temperature events. So each value's
masses are estimated from the draws of *all* values, reweighted to it.

One group (an SMC run) at ``V`` states (sweep values) holds ``N`` samples ``x_i``, each made
at state ``s_i`` with weight ``w_i`` (the state's own importance weights, summing to 1 over
the state's samples). Together they represent the mixture ``q = sum_j a_j pi_j`` with
``a_j`` proportional to state ``j``'s effective sample size. With ``u_k(x)`` the unnormalised
log density of state ``k`` and ``f_k = log Z_k``, the balance-heuristic weight of sample
``i`` at target ``k`` is

    W_k(i)  proportional to  a_{s_i} w_i exp(u_k(x_i)) / sum_l a_l exp(u_l(x_i) - f_l)

and the ``f`` are the fixed point of ``f_k = log sum_i a_{s_i} w_i exp(u_k(x_i) - d_i)``,
``d_i = log sum_l a_l exp(u_l(x_i) - f_l)`` (MBAR, Shirts and Chodera 2008, with weighted
samples; Geyer's reverse logistic regression). A region only state ``k`` reaches (a phase
that appears there) keeps state ``k``'s own share of the mixture, so the estimate is
consistent wherever each state's own draws are.

Groups are pooled separately, so independent groups stay independent and the spread of
their pooled estimates is still an honest standard error.

Plain numpy; no JAX.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Pooled", "mbar_log_z", "state_shares", "pooling_helps", "with_discrepancy",
           "overlap"]

TOLERANCE = 1e-9    # largest error of any state's share of the mixture at the end
HALVINGS = 8
MAX_ITERATIONS = 200


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def state_shares(weights: np.ndarray, states: np.ndarray, count: int) -> np.ndarray:
    """``f[V]``: each state's share ``a_j`` of the mixture, proportional to the effective
    sample size ``1 / sum w_i^2`` of its samples (``weights f[N]`` summing to 1 within each
    state, ``states int[N]`` in ``0..count-1``); 0 for a state with no sample."""
    ess = np.zeros(count)
    np.add.at(ess, states, weights ** 2)
    ess = np.divide(1.0, ess, out=np.zeros(count), where=ess > 0)
    return ess / ess.sum()


def overlap(weights: np.ndarray, log_ratio: np.ndarray) -> float:
    """How much of one sweep value's draws another value can use: each group's Kish
    effective sample size after reweighting to the other value, over its own, averaged
    over the groups. ``weights f[G, S]``: the draws' own importance weights (any positive
    scale per group; 0 for a sample that carries none), ``log_ratio f[G, S]``: ``u_target(x)
    - u_own(x)`` at each draw (unnormalised log densities; constants cancel). 1 where the
    two posteriors agree; it may exceed 1 where reweighting evens out uneven own weights;
    near 0 where the draws miss the other value's mass."""
    w = np.asarray(weights, float)
    lr = np.asarray(log_ratio, float)
    out = []
    for g in range(w.shape[0]):
        own = w[g] / w[g].sum()
        with np.errstate(divide="ignore"):
            lw = np.where(own > 0, np.log(own) + lr[g], -np.inf)
        moved = np.exp(lw - lw.max())
        moved /= moved.sum()
        out.append(float(np.sum(own ** 2) / np.sum(moved ** 2)))
    return float(np.mean(out))


def with_discrepancy(pooled_mass: float, pooled_se, own_mass: float, own_se):
    """The pooled estimate's standard error with its estimated bias: ``sqrt(se_p^2 +
    max(0, d^2 - se_own^2))``, ``d`` the pooled mass less the value's own. A value's own
    estimate is (nearly) free of the neighbours' bias; pooled, the runs' spread says nothing
    of a bias that every run shares (a sharp change between the values, each run's MBAR
    ratio at finite particles), so what the two disagree by beyond the own noise is counted
    as the pooled estimate's (squared) bias. ``None`` where either se is unknown."""
    if pooled_se is None or own_se is None:
        return pooled_se
    d = float(pooled_mass) - float(own_mass)
    return float(math.sqrt(pooled_se ** 2 + max(0.0, d * d - own_se ** 2)))


def pooling_helps(own: list, pooled: list) -> bool:
    """Whether a value's pooled estimate is the better one: the sum of its phases' estimated
    variances (``pooled``, squared standard errors, ``None``: unknown) is below that of the
    value's own draws (``own``). Neighbours far from the value (values far apart, a sharp
    transition between) carry little weight there and their draws add noise, not
    information; their pooled variance then shows it. Where either is unknown (fewer runs
    than a spread is quoted from) the pooled estimate is kept: it rests on more draws."""
    if any(v is None for v in own) or any(v is None for v in pooled):
        return True
    return float(sum(pooled)) < float(sum(own))


class Pooled:
    """MBAR on one group: ``u f[N, V]`` (log density of every sample at every state),
    ``weights f[N]`` (within-state weights, each state's summing to 1), ``states int[N]``,
    ``start``: a first guess of ``log_z`` (``mbar_log_z``).

    - ``log_z f[V]``: ``log Z_k - log Z_0`` (the fixed point above, state 0 pinned at 0);
    - ``iterations``: Newton iterations it took;
    - ``weights_at(k) -> f[N]``: the normalised weights of every sample at state ``k``."""

    def __init__(self, u: np.ndarray, weights: np.ndarray, states: np.ndarray, start=None):
        u = np.asarray(u, float)
        weights = np.asarray(weights, float)
        states = np.asarray(states, int)
        n, v = u.shape
        if weights.shape != (n,) or states.shape != (n,):
            raise ValueError(f"weights {weights.shape} and states {states.shape} must be ({n},)")
        keep = weights > 0
        self._u, self._states = u[keep], states[keep]
        self._keep = keep
        shares = state_shares(weights[keep], self._states, v)
        with np.errstate(divide="ignore"):
            self._log_a = np.log(shares)
            self._log_mass = np.log(shares[self._states]) + np.log(weights[keep])  # f[N']
        self.log_z, self.iterations = mbar_log_z(self._u, self._log_mass, self._log_a, start)

    def _log_denominator(self) -> np.ndarray:
        return _logsumexp(self._u + (self._log_a - self.log_z)[None, :], axis=1)

    def weights_at(self, k: int) -> np.ndarray:
        """``f[N]`` weights of every sample (zero-weight samples included, at 0) at state
        ``k``, summing to 1."""
        lw = self._log_mass + self._u[:, k] - self._log_denominator()
        lw = np.exp(lw - lw.max())
        out = np.zeros(self._keep.shape)
        out[self._keep] = lw / lw.sum()
        return out


def mbar_log_z(u: np.ndarray, log_mass: np.ndarray, log_a: np.ndarray, start=None):
    """The MBAR fixed point ``(f f[V], iterations)``: ``u f[N, V]``, ``log_mass f[N]``
    (``log a_{s_i} w_i``), ``log_a f[V]`` (every state with samples). ``f[0] = 0``.
    ``start f[V]``: where to begin (NaN where not known: those from the known states'
    mixture by one fixed-point step), e.g. an earlier solution over overlapping states.

    The fixed point is the minimum of the convex ``L(f) = sum_i m_i log sum_l a_l
    exp(u_l(x_i) - f_l) + sum_l a_l f_l`` (``m_i = a_{s_i} w_i``), whose gradient is ``a -
    m P`` and Hessian ``diag(m P) - P^T diag(m) P``, ``P[i, l]`` sample ``i``'s share of
    state ``l`` in the mixture. Each iteration tries Newton's step (halved until ``L``
    falls); where no halving makes ``L`` fall (a state that barely overlaps the others
    leaves the Hessian near singular), it takes the fixed-point step ``f_k = log sum_i m_i
    exp(u_k(x_i) - d_i)`` instead, which never raises ``L``. Converged when no state's share
    of the mixture is off by more than ``TOLERANCE``."""
    n, v = u.shape
    if v == 1:
        return np.zeros(1), 0
    log_m = log_mass - _logsumexp(log_mass, axis=0)
    m, a = np.exp(log_m), np.exp(log_a)

    def objective(f):
        d = _logsumexp(u + (log_a - f)[None, :], axis=1)
        return float(m @ d + a @ f), d

    f = np.zeros(v)
    known = np.zeros(v, bool) if start is None else np.isfinite(np.asarray(start, float))
    if known.any():
        f = np.where(known, np.asarray(start, float), 0.0)
        if not known.all():
            d = _logsumexp(u + np.where(known, log_a - f, -np.inf)[None, :], axis=1)
            f = np.where(known, f, _logsumexp(u + (log_m - d)[:, None], axis=0))
        f = f - f[0]
    value, d = objective(f)
    for iteration in range(1, MAX_ITERATIONS + 1):
        p = np.exp(u + (log_a - f)[None, :] - d[:, None])          # f[N, V]
        mp = m @ p
        grad = a - mp
        if np.max(np.abs(grad)) < TOLERANCE:
            return f, iteration
        hess = np.diag(mp) - (p * m[:, None]).T @ p
        step = np.zeros(v)
        step[1:] = np.linalg.lstsq(hess[1:, 1:], grad[1:], rcond=None)[0]
        scale, moved = 1.0, False
        for _ in range(HALVINGS):
            trial = f - scale * step
            new_value, new_d = objective(trial)
            if new_value < value:
                moved = True
                break
            scale *= 0.5
        if not moved:   # the fixed-point step
            trial = _logsumexp(u + (log_m - d)[:, None], axis=0)
            trial -= trial[0]
            new_value, new_d = objective(trial)
            if not new_value < value:   # no step lowers L at float precision: converged
                return f, iteration
        f, value, d = trial, new_value, new_d
    return f, MAX_ITERATIONS
