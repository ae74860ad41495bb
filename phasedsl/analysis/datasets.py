"""Several data sets at one sweep point (``data { seeds = K }``): K ``PointSummary``s, one per
data set, -> one summary whose masses are the means over the data sets.

For phase j with masses ``m_jk`` and posterior standard errors ``se_jk`` (k = 1..K):

- mass: ``mean_k m_jk``;
- posterior se of that mean: ``sqrt(sum_k se_jk^2) / K`` (the data sets are sampled
  independently; unknown where any ``se_jk`` is);
- spread between data sets: ``sd_k m_jk`` (ddof 1), with its standard error
  ``spread / sqrt(2 (K - 1))`` (the normal-theory se of a standard deviation). The spread is
  how much another data set of the same size moves the phase's mass; it includes each data
  set's own sampling noise (about ``rms_k se_jk``).

Events and the verdict read the mean masses and their posterior se only; the spread is
reported beside them (``datasets`` of the point).
"""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations

import numpy as np

from .records import Mass, PhaseMass, PointSummary, plain

__all__ = ["combine_datasets", "spread"]


def spread(masses) -> tuple[float | None, float | None]:
    """``(sd, se of sd)`` of ``masses: f[K]`` (ddof 1); ``(None, None)`` for one data set."""
    m = np.asarray(masses, float)
    if m.size < 2:
        return None, None
    sd = float(np.std(m, ddof=1))
    return sd, sd / math.sqrt(2.0 * (m.size - 1))


def _mean_se(ses) -> float | None:
    """The se of a mean of independent estimates with standard errors ``ses``."""
    if any(s is None for s in ses):
        return None
    return math.sqrt(sum(s * s for s in ses)) / len(ses)


def _free_energy(mass: float, log_z: float | None) -> float | None:
    if mass <= 0.0:
        return None
    return -(log_z + math.log(mass)) if log_z is not None else -math.log(mass)


def combine_datasets(points: list[PointSummary], seeds) -> PointSummary:
    """One summary of a sweep point sampled on ``len(points)`` data sets (``seeds``: their data
    seeds, in order). Masses are means over the data sets (module docstring); ``log_z`` the
    mean of the data sets' ``log Z``; overlaps means; the preferred phase that of the mean
    masses; diagnostics those of the first data set with ``mixing_ok`` true only where every
    data set's groups agree (the worst R-hat, the least ESS, the divergences of all), and the
    findings and notes of all data sets. ``datasets`` holds each data set's masses and
    standard errors, and each phase's spread (sd over data sets) and its se."""
    first = points[0]
    names = list(first.phases)
    absolute = all(p.absolute for p in points)
    log_zs = [p.log_z for p in points]
    log_z = (float(np.mean(log_zs)) if absolute and all(z is not None for z in log_zs)
             else None)
    per_mass = {name: [p.phases[name].mass for p in points] for name in names}
    per_se = {name: [p.phases[name].se for p in points] for name in names}
    per_mass["other"] = [p.other.mass for p in points]
    per_se["other"] = [p.other.se for p in points]
    phases = {}
    for name in names:
        m = float(np.mean(per_mass[name]))
        phases[name] = PhaseMass(m, _mean_se(per_se[name]), _free_energy(m, log_z),
                                 first.phases[name].chain_masses)
    other = Mass(float(np.mean(per_mass["other"])), _mean_se(per_se["other"]))
    means = np.array([phases[n].mass for n in names])
    preferred = names[int(np.argmax(means))] if names and means.max() > 0.0 else None
    overlap = {key: float(np.mean([p.overlap.get(key, 0.0) for p in points]))
               for key in (f"{a}|{b}" for a, b in combinations(names, 2))}
    diagnostics = dict(first.diagnostics)
    diagnostics["mixing_ok"] = all(p.mixing_ok for p in points)
    rhats = [p.diagnostics.get("rhat_max") for p in points]
    esses = [p.diagnostics.get("ess_min") for p in points]
    if all(r is not None for r in rhats):
        diagnostics["rhat_max"] = max(rhats)
    if all(e is not None for e in esses):
        diagnostics["ess_min"] = min(esses)
    if any(p.diagnostics.get("divergences") is not None for p in points):
        diagnostics["divergences"] = sum(p.diagnostics.get("divergences") or 0 for p in points)
    for key in ("wall_s", "sample_s"):
        if all(p.diagnostics.get(key) is not None for p in points):
            diagnostics[key] = sum(p.diagnostics[key] for p in points)
    spreads = {name: spread(per_mass[name]) for name in per_mass}
    datasets = plain({
        "seeds": list(seeds),
        "masses": per_mass, "se": per_se,
        "spread": {name: s[0] for name, s in spreads.items()},
        "spread_se": {name: s[1] for name, s in spreads.items()},
        "log_z": log_zs if absolute else None,
        "mixing_ok": [p.mixing_ok for p in points],
    })
    return dataclasses.replace(
        first, phases=phases, other=other, preferred=preferred, overlap=overlap,
        absolute=absolute, log_z=log_z, diagnostics=diagnostics,
        findings=tuple(f for p in points for f in p.findings),
        notes=tuple(dict.fromkeys(n for p in points for n in p.notes)), datasets=datasets)
