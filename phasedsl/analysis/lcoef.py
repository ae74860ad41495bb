"""The learning coefficient of each phase at one sweep point, from the point's draws.

Arrays in, ``LearningCoefficient`` records out (no sentences, no JAX). The pipeline
(``phasedsl.measure.lcoef``) supplies, for every draw, its *tempered energy*
``e = -loglik = n beta L_n(w) + const`` and, per phase, the energy of the phase's
minimiser ``w*`` (found by optimisation); the constant cancels in every estimate here.

Two estimates of ``lambda`` for a phase ``W`` (posterior restricted to ``W``, at the spec's
inverse temperature ``beta``, ``t = n beta``):

- ``lambda`` (method ``"mean"``, WBIC-type / thermodynamic):
  ``E[t L_n | W] - t L_n(w*_W)``. From ``log Z_W(beta) = -t L_n(w*) - lambda log t +
  (m - 1) log log t + O(1)`` and ``E[n L_n | W] = -d log Z_W / d beta``, this tends to
  ``lambda`` as ``t -> infinity`` for *any* ``beta`` (at ``beta = 1 / log n`` it is WBIC's
  ``(WBIC_W - n L_n(w*)) / log n``). Finite-``t`` bias: ``-(m - 1) / log t`` for multiplicity
  ``m`` and ``O(t^-(lambda' - lambda))`` from the next term of the expansion.
- ``lambda_var`` (method ``"variance"``): ``Var[t L_n | W]``. It is ``beta^2 d^2 log Z_W /
  d beta^2 = -beta^2 d E[n L_n | W] / d beta``: how the phase's mean loss changes with
  ``beta``, by the fluctuation identity at the sampled ``beta`` itself (no second run, no
  minimiser). It tends to ``lambda`` too; its multiplicity bias is ``-(m - 1) (1/log t +
  1/log^2 t)``.

Both are exact identities of the phase's free energy ``F_W(beta)``; they agree once ``F_W`` is
``t L_n(w*) + lambda log t`` (plus a constant), so their difference ``lambda_sys`` measures
how far the point is from that asymptotic form (it does not see the ``log log t`` term, which
shifts both nearly alike).

The whole posterior under tempered SMC (``path_estimate``, method ``"path"``): the tempering
ladder passes through ``t' = s t`` for ``s`` from 0 to 1, and at each stage the ensemble gives
``lambda_eff(t') = s (E_s[e] - e(w*))``. It is modelled over the last ``PATH_WINDOW`` units of
``log t'`` as ``lambda - a / log t' + b s``: ``a`` is the multiplicity's ``(m - 1)`` (the
derivative of ``(m - 1) log log t'``), ``b s`` the data's fluctuation, linear in ``beta' = s
beta`` (zero for a regular model, whose posterior centres on the data's minimiser). The fit's
intercept is ``lambda``; one fit per SMC run, the standard error is the spread of the runs'
intercepts (the stages of one run are correlated, so the fit's residuals would understate
it). Measured in ``docs/learning_coefficient.md``.

Standard errors (``lambda_se``, ``lambda_var_se``): sampling error only. ``"exact"`` draws
(quadrature) have none (0); ``"repeats"`` and ``"mcmc"`` draws: the spread of the per-group
estimates over the groups that visit the phase, ``sd / sqrt(G)``, never below the
importance-sampling error ``sd(e | W) / sqrt(ESS_W)`` of the pooled draws (``ESS_W``: Kish's
effective size of the phase's weights; for MCMC this ignores autocorrelation, which the group
spread catches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .records import plain

__all__ = ["LearningCoefficient", "PhaseDraws", "PhaseMinimum", "phase_estimate", "MIN_DRAWS",
           "PATH_WINDOW", "PATH_MIN_STAGES", "PATH_FLOOR", "PATH_SPAN", "path_curve", "path_fit",
           "path_estimate"]

MIN_DRAWS = 10  # effective draws a phase needs in the pooled sample for an estimate
PATH_WINDOW = 4.0  # the path fit's stages: log t' within this of log t (t' >= t / 55)
PATH_MIN_STAGES = 4  # stages a run needs in the window for a fit of 3 coefficients
PATH_FLOOR = 5.0  # ... and no stage below log t' = 5 (t' < 148), where the expansion's later
# terms bend the curve; the stages kept must span PATH_SPAN units of log t', or 1 / log t'
# barely moves across them and the fit's intercept is noise: a point with a shorter span
# (log t < 8, t < 3000) keeps the sampled beta's estimate
PATH_SPAN = 3.0


@dataclass(frozen=True)
class LearningCoefficient:
    """One phase's learning coefficient at one sweep point.

    - ``lam``/``se``: the mean estimate and its sampling standard error (``None``: too few
      draws in the phase); ``method``: ``"mean"``.
    - ``lam_var``/``var_se``: the variance estimate and its standard error.
    - ``sys``: ``lam - lam_var``, the non-asymptotic disagreement of the two.
    - ``loss_min``: ``L_n(w*)`` (energies: ``K(w*)``; networks: the mean negative log
      likelihood per data point at ``beta = 1``, constants included); ``minimiser``: ``w*``;
      ``in_phase``: whether ``w*`` satisfies the phase's condition (else ``w*`` is the best
      point of the phase that the optimiser or the draws visited).
    - ``n_beta``: ``t = n beta``; ``draws``: the phase's effective sample size.
    - ``method``: ``"mean"`` (moments of the draws) or ``"logz"`` (exact engines: the
      moments are derivatives of the phase's ``log Z`` in ``beta``; ``lam_draws`` is then the
      grid nodes' own weighted-moment estimate, a check of the grid's resolution) or
      ``"path"`` (the whole posterior under SMC: ``lam``/``se`` from the tempering path's fit,
      ``path_estimate``; the estimate at the sampled beta is kept in ``lam_beta``/``beta_se``,
      the fit's coefficients in ``path_loglog`` (``a``, the multiplicity's ``m - 1``) and
      ``path_linear`` (``b``), its stages per run in ``path_stages``, the runs' part of
      ``se`` in ``path_runs_se``).
    """

    phase: str
    lam: float | None
    se: float | None
    lam_var: float | None
    var_se: float | None
    loss_min: float | None
    minimiser: tuple[float, ...] | None
    in_phase: bool | None
    n_beta: float
    draws: float
    method: str = "mean"
    sys: float | None = None
    lam_draws: float | None = None
    lam_beta: float | None = None
    beta_se: float | None = None
    path_loglog: float | None = None
    path_linear: float | None = None
    path_stages: tuple[int, ...] | None = None
    path_runs_se: float | None = None

    def to_json(self) -> dict:
        out = {"lambda": self.lam, "lambda_se": self.se, "lambda_method": self.method,
               "lambda_var": self.lam_var, "lambda_var_se": self.var_se,
               "lambda_sys": self.sys, "loss_min": self.loss_min,
               "minimiser": None if self.minimiser is None else list(self.minimiser),
               "minimiser_in_phase": self.in_phase, "n_beta": self.n_beta,
               "draws": self.draws, "lambda_draws": self.lam_draws}
        if self.method == "path":
            out.update({"lambda_at_beta": self.lam_beta, "lambda_at_beta_se": self.beta_se,
                        "path_loglog": self.path_loglog, "path_linear": self.path_linear,
                        "path_stages": list(self.path_stages or ()),
                        "path_runs_se": self.path_runs_se})
        return plain(out)

    @classmethod
    def from_json(cls, phase: str, d: dict) -> "LearningCoefficient":
        m = d.get("minimiser")
        return cls(phase, d.get("lambda"), d.get("lambda_se"), d.get("lambda_var"),
                   d.get("lambda_var_se"), d.get("loss_min"),
                   None if m is None else tuple(m), d.get("minimiser_in_phase"),
                   d.get("n_beta"), d.get("draws"), d.get("lambda_method", "mean"),
                   d.get("lambda_sys"), d.get("lambda_draws"), d.get("lambda_at_beta"),
                   d.get("lambda_at_beta_se"), d.get("path_loglog"), d.get("path_linear"),
                   None if d.get("path_stages") is None else tuple(d["path_stages"]),
                   d.get("path_runs_se"))


def path_curve(lam, energy, e_min: float, n_beta: float):
    """``(x f[K], y f[K], s f[K])`` of one SMC run's tempering path: ``s`` = each stage's
    tempering ``lam f[K]`` (of the spec's beta), ``x = log(s t)``, ``y = lambda_eff =
    s (energy - e_min)`` with ``energy f[K]`` the ensemble's mean of ``e = -loglik`` at
    that stage; stages with ``s <= 0`` or non-finite values dropped."""
    s = np.asarray(lam, float)
    e = np.asarray(energy, float)
    keep = np.isfinite(s) & np.isfinite(e) & (s > 0)
    s, e = s[keep], e[keep]
    return np.log(s * n_beta), s * (e - e_min), s


def path_fit(x, y, s, x_top: float, window: float = PATH_WINDOW):
    """``(lambda, a, b, stages, gain)``: least squares of ``y = lambda - a / x + b s`` over
    the stages with ``x_top - window <= x <= x_top`` (``x, y, s f[K]``: ``path_curve``), or
    ``None`` with fewer than ``PATH_MIN_STAGES`` such stages at or above ``PATH_FLOOR``, or
    where that floor leaves less than ``PATH_SPAN`` of ``log t'`` below ``x_top``.
    ``gain = sqrt([(X^T X)^-1]_00)``: the intercept's standard error per unit of noise on
    each stage, were the stages' errors independent."""
    low = max(x_top - window, PATH_FLOOR)
    sel = (x >= low) & (x <= x_top + 1e-9)
    if x_top - low < PATH_SPAN or sel.sum() < PATH_MIN_STAGES:
        return None
    cols = np.stack([np.ones(sel.sum()), -1.0 / x[sel], s[sel]], axis=1)
    coef, _, rank, _ = np.linalg.lstsq(cols, y[sel], rcond=None)
    if rank < 3:
        return None
    gain = math.sqrt(float(np.linalg.inv(cols.T @ cols)[0, 0]))
    return float(coef[0]), float(coef[1]), float(coef[2]), int(sel.sum()), gain


def path_estimate(record: LearningCoefficient, path: dict,
                  window: float = PATH_WINDOW) -> LearningCoefficient:
    """``record`` (the whole posterior's, from its draws at the sampled beta) with ``lam`` and
    ``se`` from the tempering path (``path``: ``{"lam": [[...]], "energy": [[...]]}``, one
    list per SMC run, the engine's ``info["path"]``), method ``"path"``; the sampled beta's
    estimate moves to ``lam_beta``/``beta_se``. Unchanged when fewer than 2 runs give a fit
    (or the record has no minimiser). ``se``: the spread of the runs' intercepts,
    ``sd / sqrt(G)``, never below ``beta_se`` times the fits' mean ``gain`` (each stage as
    noisy as the sampled beta's estimate of one run, ``beta_se sqrt(G)``, independently: a
    lower bound, since a run's stages share particles; it guards against the spread of 4
    runs coming out small by chance, which a chi-square with 3 degrees of freedom often
    does), and the fitted data term at the sampled beta, ``b``, added in quadrature:
    ``se = hypot(runs_se, b)`` (``path_runs_se`` keeps the first). The data's fluctuation is
    common to every run, so their spread cannot see it, and ``b s`` is only its leading form
    (WBIC's ``U_n sqrt(lambda beta / 2)`` grows like ``sqrt(s)``): where it is large, the
    intercept is uncertain by about its size."""
    if record.lam is None or record.loss_min is None or not path:
        return record
    t = record.n_beta
    e_min = record.loss_min * t
    fits = [path_fit(*path_curve(lam, energy, e_min, t), math.log(t), window)
            for lam, energy in zip(path.get("lam", []), path.get("energy", []))]
    fits = [f for f in fits if f is not None]
    if len(fits) < 2:
        return record
    arr = np.asarray([f[:3] for f in fits])
    mean = arr.mean(axis=0)
    floor = (record.se or 0.0) * float(np.mean([f[4] for f in fits]))
    runs_se = max(float(arr[:, 0].std(ddof=1) / math.sqrt(len(fits))), floor)
    se = math.hypot(runs_se, float(mean[2]))
    return replace(record, lam=float(mean[0]), se=se, method="path", lam_beta=record.lam,
                   beta_se=record.se, path_loglog=float(mean[1]), path_linear=float(mean[2]),
                   path_stages=tuple(f[3] for f in fits), path_runs_se=runs_se)


def _moments(e, w):
    """Weighted mean, variance and fourth central moment of ``e`` (``w`` sums to 1)."""
    mean = float(np.sum(w * e))
    c = e - mean
    var = float(np.sum(w * c * c))
    return mean, var, float(np.sum(w * c ** 4))


@dataclass(frozen=True)
class PhaseDraws:
    """One phase's share of a point's draws, for its estimate (``phase_estimate``):
    ``energy f[G, S]``, ``-loglik`` of every draw; ``weights f[G, S]`` (each group sums to 1;
    ``None``: equal); ``inside bool[G, S]``, the phase's indicator; ``method``, the draws'
    ``"exact"``, ``"repeats"`` or ``"mcmc"``."""

    energy: np.ndarray
    weights: np.ndarray | None
    inside: np.ndarray
    method: str


@dataclass(frozen=True)
class PhaseMinimum:
    """What optimisation found of one phase's minimiser ``w*``: ``e_min``, its energy
    (``-loglik(w*)``, the same constant as ``PhaseDraws.energy``; ``None``: not found);
    ``minimiser f[D]``, the point itself; ``in_phase``, whether it stayed in the phase."""

    e_min: float | None
    minimiser: np.ndarray | None = None
    in_phase: bool | None = None


def phase_estimate(phase: str, draws: PhaseDraws, minimum: PhaseMinimum, n_beta: float,
                   moments: tuple[float, float] | None = None) -> LearningCoefficient:
    """The two estimates of one phase from its ``draws`` (``PhaseDraws``) and ``minimum``
    (``PhaseMinimum``) at ``t = n_beta``. ``moments``: the phase's exact ``(E[e | W],
    Var[e | W])`` where known (quadrature: from ``log Z_W`` at ``beta (1 +- h)``), used
    instead of the draws' (the record's ``method`` is then ``"logz"``, and the draws' own
    mean estimate is kept in ``lam_draws``)."""
    e_min, method, minimiser = minimum.e_min, draws.method, minimum.minimiser
    e = np.asarray(draws.energy, dtype=float)
    g, s = e.shape
    w = (np.full((g, s), 1.0 / s) if draws.weights is None else
         np.asarray(draws.weights, dtype=float))
    w = np.where(np.asarray(draws.inside, bool) & np.isfinite(e), w, 0.0)
    e = np.where(w > 0, e, 0.0)
    loss_min = e_min / n_beta if e_min is not None and math.isfinite(e_min) else None
    common = dict(loss_min=loss_min, minimiser=None if minimiser is None else
                  tuple(float(x) for x in np.ravel(minimiser)), in_phase=minimum.in_phase,
                  n_beta=float(n_beta))
    total = w.sum()
    if total <= 0 or e_min is None or not math.isfinite(e_min):
        return LearningCoefficient(phase, None, None, None, None, draws=0.0, **common)
    pooled = (w / total).ravel()
    ess = float(1.0 / np.sum(pooled ** 2))
    if ess < (3 if method == "exact" else MIN_DRAWS) and moments is None:
        return LearningCoefficient(phase, None, None, None, None, draws=ess, **common)
    mean, var, m4 = _moments(e.ravel(), pooled)
    lam, lam_var = mean - e_min, var
    lam_draws = None
    if moments is not None and all(math.isfinite(x) for x in moments):
        lam_draws = lam
        lam, lam_var = float(moments[0]) - e_min, float(moments[1])
    if method == "exact":
        se, var_se = 0.0, 0.0
    else:
        se = math.sqrt(var / ess)
        var_se = math.sqrt(max(m4 - var * var, 0.0) / ess)
        groups = []
        for k in range(g):
            tk = w[k].sum()
            if tk <= 0:
                continue
            wk = w[k] / tk
            if 1.0 / np.sum(wk ** 2) >= MIN_DRAWS:
                mk, vk, _ = _moments(e[k], wk)
                groups.append((mk, vk))
        if len(groups) >= 2:
            arr = np.asarray(groups)
            spread = arr.std(axis=0, ddof=1) / math.sqrt(len(groups))
            se, var_se = max(se, float(spread[0])), max(var_se, float(spread[1]))
    return LearningCoefficient(phase, lam, se, lam_var, var_se, draws=ess,
                               sys=lam - lam_var, lam_draws=lam_draws,
                               method="mean" if lam_draws is None else "logz", **common)
