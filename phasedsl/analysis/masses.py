"""From ``Draws`` to the numbers a run reports: phase masses, free energies, mixing checks,
and the events (crossovers, destruction/creation, merges) across a sweep.

Pure numpy; every function returns plain Python values (JSON-ready: floats, lists, bools,
``None``). The one exception is ``float("inf")``, kept where an R-hat is infinite (chains
stuck in different places); serialise it as you see fit.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from .diagnostics import chi2_sf, ess, ess_bulk, ess_within, split_rhat
from ..lower.target import Draws

__all__ = ["summarise_point", "find_crossovers", "find_thresholds", "find_merges",
           "find_events", "shown_above", "RHAT_LIMIT", "HOLD_MASS", "EMPTY_MASS"]

RHAT_LIMIT = 1.05       # an R-hat above this marks the point as not mixed
HOLD_MASS = 0.2         # a chain at or above this mass "holds" a phase ...
EMPTY_MASS = 0.02       # ... while another chain below this holds (almost) none of it
CHI2_P = 1e-6           # per-chain masses disagree when the chi-square p-value is below this
REPEATS_GAP = 0.25      # independent repeats whose masses differ by more than this disagree
_PASS_THROUGH = ("wall_s", "compile_s", "sample_s", "grad_evals", "grad_evals_per_s",
                 "steps_per_draw", "acceptance", "divergences", "lockstep_factor", "chain_method",
                 "grad_evals_per_chain", "devices", "stages", "reached_posterior")
# engine info keys stored under another name (SMC's per-run particle ESS is not a bulk ESS)
_RENAMED = {"particle_ess": "ess"}


def _num(x) -> float | None:
    """A plain float, or ``None`` for NaN / missing (infinities are kept)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def shown_above(x: float, limit: float, form=None, digits: int = 3) -> str:
    """``x`` (known to exceed ``limit``) as ``form(x, digits)`` (default: ``digits`` decimals),
    with more digits where that would print it at or below ``limit`` (1.0504 against 1.05:
    ``1.0504``, not ``1.050``)."""
    form = form or (lambda v, d: f"{v:.{d}f}")
    for more in range(digits, digits + 6):
        text = form(x, more)
        if float(text) > limit:
            return text
    return repr(x)


def _plain(x):
    """Recursively turn numpy scalars/arrays into plain Python values."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    return x


def _fmt(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _chains(idx) -> str:
    """``[0, 2] -> "chains 1, 3 hold"``, ``[1] -> "chain 2 holds"``."""
    idx = [int(i) + 1 for i in idx]
    if len(idx) == 1:
        return f"chain {idx[0]} holds"
    return "chains " + ", ".join(map(str, idx)) + " hold"


def _group_weights(draws: Draws) -> np.ndarray:
    """``f[G, S]`` weights summing to 1 within each group."""
    g, s = np.shape(draws.indicators)[:2]
    if draws.weights is None:
        return np.full((g, s), 1.0 / s)
    w = np.asarray(draws.weights, dtype=float)
    total = w.sum(axis=1, keepdims=True)
    return np.divide(w, total, out=np.zeros_like(w), where=total > 0)


def _mixing_notes_chains(name: str, group_masses: np.ndarray, ind: np.ndarray) -> list[str]:
    """Notes on per-chain masses of one phase that cannot come from one posterior."""
    notes = []
    hold = np.flatnonzero(group_masses >= HOLD_MASS)
    empty = np.flatnonzero(group_masses < EMPTY_MASS)
    if hold.size and empty.size:
        none = "none of it" if np.all(group_masses[empty] == 0.0) else \
            f"almost none of it ({_fmt(group_masses[empty])})"
        notes.append(f"{_chains(hold)} `{name}` ({_fmt(group_masses[hold])}); "
                     f"{_chains(empty)} {none}")
        return notes
    if len(group_masses) < 2:
        return notes
    # chi-square test of equal proportions; each chain counts for S / tau draws, with the
    # autocorrelation time tau pooled from within all chains
    pooled = float(group_masses.mean())
    if not 0.0 < pooled < 1.0:
        return notes
    n_eff = ess_within(ind) / ind.shape[0]
    if not np.isfinite(n_eff):
        return notes
    stat = float(n_eff * np.sum((group_masses - pooled) ** 2) / (pooled * (1.0 - pooled)))
    p = chi2_sf(stat, len(group_masses) - 1)
    if p < CHI2_P:
        notes.append(f"per-chain masses of `{name}` ({_fmt(group_masses)}) disagree more than "
                     f"sampling noise allows (chi-square p = {p:.1g}); the chains have not "
                     f"mixed between phases")
    return notes


def summarise_point(draws: Draws, phase_names: tuple[str, ...]) -> dict:
    """Masses, standard errors, free energies, overlaps and diagnostics of one sweep point.

    ``draws``: ``G`` groups of ``S`` samples, ``draws.indicators: bool[G, S, P]`` with ``P ==
    len(phase_names)``. Groups are weighted equally; samples within a group by
    ``draws.weights: f[G, S]`` (equal when ``None``; renormalised per group).

    Returns ``{"phases": {NAME: {"mass", "se", "free_energy", "chain_masses"}}, "other":
    {"mass", "se"}, "preferred", "overlap": {"A|B": jaccard}, "absolute", "log_z",
    "diagnostics": {"rhat_max", "ess_min", "mixing_ok", "rhat", "ess", "mixing_notes", ...}}``
    (see ``LANGUAGE.md``, "The results contract").

    ``se``: ``"mcmc"``: ``sqrt(p (1 - p) / ESS)`` with the multi-chain ESS of the indicator
    (weights, if any, are ignored there; with fewer than 8 draws per chain the ESS falls back
    to ``G * S``); ``"repeats"``: ``std(group masses, ddof=1) / sqrt(G)``, ``None`` for a
    single group; ``"exact"``: 0. Diagnostics' ``ess`` are bulk ESS (rank-normalised).

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
    logdensity = None if draws.logdensity is None else np.asarray(draws.logdensity, float)

    def se_of(p: float, groups: np.ndarray, indicator: np.ndarray) -> float | None:
        if method == "exact":
            return 0.0
        if method == "repeats":
            return _num(np.std(groups, ddof=1) / math.sqrt(n_groups)) if n_groups > 1 else None
        if method == "mcmc":
            if p <= 0.0 or p >= 1.0:
                return 0.0
            n_eff = ess(indicator.astype(float))
            if not np.isfinite(n_eff) or n_eff <= 0:
                n_eff = float(n_groups * n_samples)
            return float(math.sqrt(p * (1.0 - p) / n_eff))
        raise ValueError(f"unknown method {method!r}")

    log_z = None
    if draws.log_z is not None:
        log_z = _num(np.mean(np.asarray(draws.log_z, dtype=float)))

    phases = {}
    for k, name in enumerate(phase_names):
        m = float(mass[k])
        if draws.method == "exact" and draws.phase_log_z is not None and log_z is not None:
            # exact engines integrate each phase on its own: their ratio beats grid weights
            m = float(np.mean(np.exp(np.asarray(draws.phase_log_z, float)[:, k]
                                     - np.asarray(draws.log_z, float))))
        if draws.phase_log_z is not None:
            plz = float(np.mean(np.asarray(draws.phase_log_z, dtype=float)[:, k]))
            # kept even where the mass underflowed to 0: the integral itself is finite
            free = -plz if math.isfinite(plz) else None
        elif m <= 0.0:
            free = None
        elif log_z is not None:
            free = -(log_z + math.log(m))
        else:
            free = -math.log(m)
        phases[name] = {"mass": m, "se": se_of(m, group_mass[:, k], ind[:, :, k]),
                        "free_energy": _num(free),
                        "chain_masses": [float(v) for v in group_mass[:, k]]}
    m_other = float(other_group.mean())
    other = {"mass": m_other, "se": se_of(m_other, other_group, other_ind)}

    preferred = None
    if n_phases and mass.max() > 0.0:
        preferred = phase_names[int(np.argmax(mass))]

    overlap = {}
    for a, b in combinations(range(n_phases), 2):
        both = float(group_mean(ind[:, :, a] & ind[:, :, b]).mean())
        either = float(group_mean(ind[:, :, a] | ind[:, :, b]).mean())
        overlap[f"{phase_names[a]}|{phase_names[b]}"] = both / either if either > 0.0 else 0.0

    diag = {"rhat_max": None, "ess_min": None, "mixing_ok": True, "rhat": {}, "ess": {},
            "mixing_notes": []}
    notes = diag["mixing_notes"]
    if method == "mcmc":
        series = {"logdensity": logdensity} if logdensity is not None else {}
        series.update({name: fi[:, :, k] for k, name in enumerate(phase_names)})
        for key, x in series.items():
            diag["rhat"][key] = _num(split_rhat(x))
            diag["ess"][key] = _num(ess_bulk(x))
        rhats = [r for r in diag["rhat"].values() if r is not None]
        esses = [e for e in diag["ess"].values() if e is not None]
        diag["rhat_max"] = max(rhats) if rhats else None
        diag["ess_min"] = min(esses) if esses else None
        for key, r in diag["rhat"].items():
            if r is not None and r > RHAT_LIMIT:
                what = "the log density" if key == "logdensity" else f"`{key}`"
                notes.append(f"R-hat of {what} is {shown_above(r, RHAT_LIMIT)} (> {RHAT_LIMIT}): "
                             f"the chains disagree")
        if n_groups > 1:
            for k, name in enumerate(phase_names):
                notes += _mixing_notes_chains(name, group_mass[:, k], fi[:, :, k])
    elif method == "repeats" and n_groups > 1:
        # Resampled particles are correlated, so a binomial error per repeat is too small to
        # judge repeats by; flag only what no sampling noise explains: one repeat holds a
        # phase that another misses entirely.
        for k, name in enumerate(phase_names):
            g = group_mass[:, k]
            hi, lo = int(np.argmax(g)), int(np.argmin(g))
            if (g[hi] >= HOLD_MASS and g[lo] < EMPTY_MASS) or g[hi] - g[lo] > REPEATS_GAP:
                notes.append(f"repeats disagree on `{name}`: masses {_fmt(g)}; repeat "
                             f"{hi + 1} holds {g[hi]:.2f} of it, repeat {lo + 1} "
                             f"{g[lo]:.2f}")
    diag["mixing_ok"] = not notes

    info = draws.info or {}
    for key in _PASS_THROUGH:
        if key in info:
            diag[key] = _plain(info[key])
    if method == "repeats":
        for key, source in _RENAMED.items():
            if source in info:
                diag[key] = _plain(info[source])

    return {"phases": phases, "other": other, "preferred": preferred, "overlap": overlap,
            "absolute": draws.log_z is not None, "log_z": log_z, "diagnostics": diag}


# --- events across the sweep ---------------------------------------------------------------

def _first_nonneg(a: float, b: float) -> float:
    """Fraction ``t`` in [0, 1] where the line from ``a`` (t=0) to ``b`` (t=1) reaches 0."""
    if a >= 0.0:
        return 0.0
    if b < 0.0:
        return 1.0
    return float(-a / (b - a))


def find_crossovers(values, masses, se, names) -> list[dict]:
    """Order-1 events: the preferred phase changes between consecutive sweep points.

    ``values: f[V]`` ascending, ``masses: f[V, P]``, ``se: f[V, P]`` (NaN = unknown, treated
    as an infinitely wide error), ``names``: ``P`` phase names. Points where every mass is 0
    have no preferred phase and are skipped (a change across them is reported between the
    neighbouring points that have one). ``at`` interpolates ``log(m_B / m_A)`` linearly to
    zero; ``interval`` does the same for ``log ratio -/+ 2 se_log``, clipped to ``between``.
    """
    values = np.asarray(values, dtype=float)
    masses = np.asarray(masses, dtype=float)
    se = np.asarray(se, dtype=float)
    valid = [k for k in range(len(values)) if np.nanmax(masses[k], initial=0.0) > 0.0]
    events = []
    for k, j in zip(valid, valid[1:]):
        a, b = int(np.nanargmax(masses[k])), int(np.nanargmax(masses[j]))
        if a == b:
            continue
        ends = []
        for i in (k, j):
            ma, mb = max(masses[i, a], 1e-12), max(masses[i, b], 1e-12)
            sl = math.sqrt((se[i, a] / ma) ** 2 + (se[i, b] / mb) ** 2)
            ends.append((math.log(mb / ma), sl if math.isfinite(sl) else math.inf))
        (r0, s0), (r1, s1) = ends
        v0, v1 = float(values[k]), float(values[j])
        span = v1 - v0
        at = v0 + _first_nonneg(r0, r1) * span
        lo = v0 + _first_nonneg(r0 + 2 * s0, r1 + 2 * s1) * span
        hi = v0 + _first_nonneg(r0 - 2 * s0, r1 - 2 * s1) * span
        events.append({"order": 1, "kind": "crossover", "from": names[a], "to": names[b],
                       "at": at, "interval": [lo, hi], "between": [v0, v1]})
    return events


def find_thresholds(values, masses, floor, names) -> list[dict]:
    """Order-2 events: a phase's mass crosses ``floor`` between consecutive points.

    ``"destruction"`` when ``mass >= floor`` at point k and ``< floor`` at k+1, ``"creation"``
    the other way. ``values: f[V]`` ascending, ``masses: f[V, P]``.
    """
    values = np.asarray(values, dtype=float)
    present = np.asarray(masses, dtype=float) >= floor
    events = []
    for k in range(len(values) - 1):
        for p, name in enumerate(names):
            if present[k, p] != present[k + 1, p]:
                events.append({"order": 2,
                               "kind": "destruction" if present[k, p] else "creation",
                               "phase": name,
                               "between": [float(values[k]), float(values[k + 1])]})
    return events


def find_merges(values, overlap, threshold, names) -> list[dict]:
    """Order-2 events: two phases' Jaccard overlap rises above ``threshold`` (``"merge"``) or
    falls back to or below it (``"split"``) between consecutive points.

    ``values: f[V]`` ascending, ``overlap: f[V, P, P]`` (only the upper triangle ``A < B`` is
    read).
    """
    values = np.asarray(values, dtype=float)
    merged = np.asarray(overlap, dtype=float) > threshold
    events = []
    for k in range(len(values) - 1):
        for a, b in combinations(range(len(names)), 2):
            if merged[k, a, b] != merged[k + 1, a, b]:
                events.append({"order": 2, "kind": "split" if merged[k, a, b] else "merge",
                               "phases": [names[a], names[b]],
                               "between": [float(values[k]), float(values[k + 1])]})
    return events


def find_events(values, points: list[dict], floor: float, merge: float) -> list[dict]:
    """All events of a sweep, from ``points`` as returned by :func:`summarise_point`.

    ``values: f[V]`` (sorted here if needed), ``points``: ``V`` summaries with the same
    phases. Returns crossovers, destruction/creation and merges/splits, sorted by position
    along the sweep (``between``, then order).
    """
    if not points:
        return []
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="stable")
    values = values[order]
    points = [points[i] for i in order]
    names = list(points[0]["phases"])
    masses = np.array([[pt["phases"][n]["mass"] for n in names] for pt in points], float)
    se = np.array([[np.nan if pt["phases"][n]["se"] is None else pt["phases"][n]["se"]
                    for n in names] for pt in points], float)
    overlap = np.zeros((len(points), len(names), len(names)))
    for v, pt in enumerate(points):
        for a, b in combinations(range(len(names)), 2):
            overlap[v, a, b] = overlap[v, b, a] = pt.get("overlap", {}).get(
                f"{names[a]}|{names[b]}", 0.0)
    index = {float(v): k for k, v in enumerate(values)}

    def merged(e) -> bool:
        """A crossover between two phases that are merged (overlap above ``merge``) at either
        end is no transition: they are one region there, and which is larger is noise."""
        a, b = names.index(e["from"]), names.index(e["to"])
        return any(overlap[index[float(v)], a, b] > merge for v in e["between"])

    crossovers = [e for e in find_crossovers(values, masses, se, names) if not merged(e)]
    events = (crossovers
              + find_thresholds(values, masses, floor, names)
              + find_merges(values, overlap, merge, names))
    events.sort(key=lambda e: (e["between"][0], e["between"][1], e["order"]))
    return events
