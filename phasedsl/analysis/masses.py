"""From ``Draws`` to the record of one sweep point: phase masses, standard errors, free
energies, overlaps, and whether the sampler's groups agree (``phasedsl.analysis.mixing``).

Arrays in, a ``PointSummary`` out (``phasedsl.analysis.records``); no sentences.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations

import numpy as np

from ..language.grid import Cell
from ..lower.run_info import SmcInfo
from ..lower.target import Draws
from .diagnostics import ess, ess_bulk, split_rhat
from .mixing import chain_findings, direction_findings, repeat_findings, rhat_findings
from .records import Mass, PhaseMass, PointSummary, plain

__all__ = ["summarise_point", "within_se", "MIN_REPEATS", "EXACT_FLOOR", "exact_se"]

MIN_REPEATS = 4  # independent repeats needed before their spread is quoted as a standard error
# the least standard error of a quadrature mass: a mass quoted to nine decimals, below which
# neither the float64 sums over a grid's cells nor a reference integral it is checked against
# are to be trusted
EXACT_FLOOR = 1e-9


def _num(x) -> float | None:
    """A plain float, or ``None`` for NaN / missing (infinities are kept)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _group_weights(draws: Draws) -> np.ndarray:
    """``f[G, S]`` weights summing to 1 within each group."""
    g, s = np.shape(draws.indicators)[:2]
    if draws.weights is None:
        return np.full((g, s), 1.0 / s)
    w = np.asarray(draws.weights, dtype=float)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def within_se(p: float, group_ess) -> float:
    """The standard error the mean of ``G`` runs' masses would have from each run's own
    importance sampling alone: ``sqrt(sum_g q (1 - q) / ESS_g) / G`` (``group_ess f[G]``, the
    runs' Kish effective sample sizes), ``q`` the mass ``p`` moved half a draw towards 1/2
    (``(p N + 1/2) / (N + 1)``, ``N = sum_g ESS_g``), so that a mass every run puts at 0 (or
    1) keeps an error of about ``1 / (2 N)``: no run having drawn a phase says its mass is
    below about ``1 / N``, not that it is 0.

    A lower bound on the runs' real error (resampled particles share ancestors, and each
    run's share of a mode is settled early in tempering): a floor under their spread, which
    with 4 runs is itself uncertain by a factor of about 2 (``analysis.intervals``) and can
    come out near 0 where the runs agree by chance."""
    group_ess = np.asarray(group_ess, dtype=float)
    group_ess = group_ess[np.isfinite(group_ess) & (group_ess > 0)]
    if group_ess.size == 0:
        return 0.0
    n = float(group_ess.sum())
    q = (p * n + 0.5) / (n + 1.0)
    return float(math.sqrt(np.sum(q * (1.0 - q) / group_ess)) / group_ess.size)


def summarise_point(draws: Draws, phase_names: tuple[str, ...], value: float = 0.0) -> PointSummary:
    """Masses, standard errors, free energies, overlaps and diagnostics of one sweep point
    (``value``: the sweep value, or a grid's ``Cell``).

    ``draws``: ``G`` groups of ``S`` samples, ``draws.indicators: bool[G, S, P]`` with ``P ==
    len(phase_names)``. Groups are weighted equally; samples within a group by
    ``draws.weights: f[G, S]`` (equal when ``None``; renormalised per group).

    Returns the point's ``PointSummary`` at sweep value ``value``: masses, ``other``, the
    preferred phase, Jaccard overlaps, ``log_z``, diagnostics (``rhat_max``, ``ess_min``,
    ``mixing_ok``, ``rhat``, ``ess`` and the numbers the engine's record keeps,
    ``RunInfo.kept``) and the mixing findings (``phasedsl.analysis.mixing``).

    ``se``: ``"mcmc"``: ``sqrt(p (1 - p) / ESS)`` with the multi-chain ESS of the indicator
    (weights, if any, are ignored there; with fewer than 8 draws per chain the ESS falls back
    to ``G * S``); ``"repeats"``: ``std(group masses, ddof=1) / sqrt(G)``, at least
    ``within_se`` (what each group's importance weights alone say), ``None`` (unknown) with
    fewer than ``MIN_REPEATS`` groups, its ``se_dof`` ``G - 1`` (verdicts on it use a t
    quantile, ``analysis.intervals``); ``"exact"``: the engine's error estimate
    (``exact_se``), 0 where it gives none. Diagnostics' ``ess`` are bulk ESS
    (rank-normalised).

    ``free_energy``: ``-mean_g phase_log_z[g, p]`` when given (``None`` if not finite);
    else ``-(log_z + log mass)`` when ``log_z`` is given; else ``-log mass``; ``None`` for a
    phase with no mass (unless ``phase_log_z`` is finite).
    """
    ind = np.asarray(draws.indicators, dtype=bool)
    if ind.ndim != 3 or ind.shape[2] != len(phase_names):
        raise ValueError(f"indicators of shape {ind.shape} do not match phases {phase_names}")
    n_groups, n_samples, n_phases = ind.shape
    w = _group_weights(draws)
    fi = ind.astype(float)

    def group_mean(x: np.ndarray) -> np.ndarray:
        """``f[G, S, ...] -> f[G, ...]``: (weighted) mean within each group."""
        x = np.asarray(x, dtype=float)
        if draws.weights is None:
            return x.mean(axis=1)   # exact for equal weights (no 1/S rounding build-up)
        return np.einsum("gs,gs...->g...", w, x)

    group_mass = group_mean(fi)                              # f[G, P]
    mass = group_mass.mean(axis=0)                           # f[P]
    other_ind = ~ind.any(axis=2)                             # bool[G, S]
    other_group = group_mean(other_ind)                      # f[G]
    method = draws.method
    with np.errstate(divide="ignore"):
        group_ess = 1.0 / np.sum(w ** 2, axis=1)              # f[G]: Kish ESS of each group

    def se_of(p: float, groups: np.ndarray, indicator: np.ndarray) -> float | None:
        return _mass_se(method, p, groups, indicator, group_ess, n_samples)

    # a spread of independent repeats has their number less one degrees of freedom
    dof = n_groups - 1 if method == "repeats" and n_groups >= MIN_REPEATS else None
    log_z = None if draws.log_z is None else _num(np.mean(np.asarray(draws.log_z, float)))

    phases = {}
    for k, name in enumerate(phase_names):
        m = float(mass[k])
        plz = None
        if draws.phase_log_z is not None:
            plz = float(np.mean(np.asarray(draws.phase_log_z, dtype=float)[:, k]))
            if draws.method == "exact" and log_z is not None:
                # exact engines integrate each phase on its own: their ratio beats grid weights
                m = float(np.mean(np.exp(np.asarray(draws.phase_log_z, float)[:, k]
                                         - np.asarray(draws.log_z, float))))
        phases[name] = PhaseMass(m, se_of(m, group_mass[:, k], ind[:, :, k]),
                                 _num(_free_energy(m, plz, log_z)),
                                 tuple(float(v) for v in group_mass[:, k]), se_dof=dof)
    m_other = float(other_group.mean())
    if method == "exact" and draws.other_log_z is not None and log_z is not None:
        # integrated on its own, as the phases are (2-D quadrature's node weights are O(h))
        m_other = float(np.mean(np.exp(np.asarray(draws.other_log_z, float)
                                       - np.asarray(draws.log_z, float))))
    other = Mass(m_other, se_of(m_other, other_group, other_ind), se_dof=dof)
    if method == "exact":
        phases, other = exact_se(phases, other, getattr(draws.info, "mass_error", None))
    preferred = (phase_names[int(np.argmax(mass))] if n_phases and mass.max() > 0.0
                 else None)
    overlap = _overlaps(group_mean, ind, phase_names)
    diag, findings = _mixing(draws, fi, group_mass, phase_names)
    if draws.info is not None:  # the engine's numbers a point keeps (``RunInfo.kept``)
        diag.update(plain(draws.info.kept()))
    value = Cell(*map(float, value)) if isinstance(value, tuple) else float(value)
    return PointSummary(value, phases, other, preferred, overlap,
                        draws.log_z is not None, log_z, diag, findings=tuple(findings))


def exact_se(phases: dict, other: Mass, error) -> tuple[dict, Mass]:
    """The masses of an exact engine with their standard errors: ``error`` (per phase, then
    ``other``: ``QuadratureInfo.mass_error``, the difference from a grid of half the cells),
    at least ``EXACT_FLOOR``; unchanged (se 0) where the engine gives no estimate."""
    if error is None:
        return phases, other

    def se(e) -> float:
        return max(float(e), EXACT_FLOOR) if math.isfinite(e) else None

    out = {k: dataclasses.replace(m, se=se(e)) for (k, m), e in zip(phases.items(), error)}
    return out, dataclasses.replace(other, se=se(error[-1]))


def _mass_se(method: str, p: float, groups, indicator, group_ess, n_samples: int):
    """A mass's standard error (``summarise_point``): ``groups f[G]`` its per-group masses,
    ``indicator bool[G, S]`` its draws' membership, ``group_ess f[G]`` the groups' Kish
    ESS."""
    n_groups = len(groups)
    if method == "exact":
        return 0.0
    if method == "repeats":
        # the spread of fewer repeats is itself too noisy to quote (2 runs that agree by
        # chance would give 0): unknown, not 0
        if n_groups < MIN_REPEATS:
            return None
        spread = np.std(groups, ddof=1) / math.sqrt(n_groups)
        return _num(max(spread, within_se(p, group_ess)))
    if method == "mcmc":
        if p <= 0.0 or p >= 1.0:
            return 0.0
        n_eff = ess(np.asarray(indicator).astype(float))
        if not np.isfinite(n_eff) or n_eff <= 0:
            n_eff = float(n_groups * n_samples)
        return float(math.sqrt(p * (1.0 - p) / n_eff))
    raise ValueError(f"unknown method {method!r}")


def _free_energy(m: float, phase_log_z: float | None, log_z: float | None) -> float | None:
    """``-phase_log_z`` where the engine integrated the phase (kept where the mass underflowed
    to 0: the integral itself is finite); else ``-(log_z + log m)``, or ``-log m`` without a
    ``log_z``; None for a phase with no mass."""
    if phase_log_z is not None:
        return -phase_log_z if math.isfinite(phase_log_z) else None
    if m <= 0.0:
        return None
    return -(log_z + math.log(m)) if log_z is not None else -math.log(m)


def _overlaps(group_mean, ind, names) -> dict[str, float]:
    """``{"a|b": Jaccard overlap}`` of each pair of phases (``ind bool[G, S, P]``): the mass
    in both over the mass in either (0 where neither has any)."""
    out = {}
    for a, b in combinations(range(ind.shape[2]), 2):
        both = float(group_mean(ind[:, :, a] & ind[:, :, b]).mean())
        either = float(group_mean(ind[:, :, a] | ind[:, :, b]).mean())
        out[f"{names[a]}|{names[b]}"] = both / either if either > 0.0 else 0.0
    return out


def _mixing(draws: Draws, fi, group_mass, names) -> tuple[dict, list]:
    """The diagnostics (``rhat``, ``ess``, their extremes, ``mixing_ok``) and the findings
    of why the groups disagree: R-hat and per-chain masses for MCMC, the repeats' masses
    and the walking directions' log Z for SMC repeats. ``fi f[G, S, P]``: the indicators,
    ``group_mass f[G, P]``."""
    method, n_groups = draws.method, fi.shape[0]
    diag = {"rhat_max": None, "ess_min": None, "mixing_ok": True, "rhat": {}, "ess": {}}
    findings = []
    if method == "mcmc":
        series = ({} if draws.logdensity is None
                  else {"logdensity": np.asarray(draws.logdensity, float)})
        series.update({name: fi[:, :, k] for k, name in enumerate(names)})
        for key, x in series.items():
            diag["rhat"][key] = _num(split_rhat(x))
            diag["ess"][key] = _num(ess_bulk(x))
        rhats = [r for r in diag["rhat"].values() if r is not None]
        esses = [e for e in diag["ess"].values() if e is not None]
        diag["rhat_max"] = max(rhats) if rhats else None
        diag["ess_min"] = min(esses) if esses else None
        findings += rhat_findings(diag["rhat"])
        if n_groups > 1:
            for k, name in enumerate(names):
                findings += chain_findings(name, group_mass[:, k], fi[:, :, k])
    elif method == "repeats" and n_groups > 1:
        for k, name in enumerate(names):
            findings += repeat_findings(name, group_mass[:, k])
        info = draws.info
        if draws.log_z is not None and isinstance(info, SmcInfo) and info.directions is not None:
            findings += direction_findings(np.asarray(draws.log_z, float), info.directions)
    diag["mixing_ok"] = not findings
    return diag, findings
