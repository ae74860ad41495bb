"""Events across a sweep, from the point summaries: first-order crossovers (the preferred
phase changes), second-order destruction/creation (a phase's mass crosses the floor) and
merges/splits (two phases' overlap crosses the merge threshold), and which of them rest on
points whose sampler groups disagree.

Plain numpy on arrays in, ``Event`` records out (``phasedsl.analysis.records``).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from .intervals import combined_dof, factor, ratio_side
from .records import Event, PointSummary

__all__ = ["find_crossovers", "find_thresholds", "find_merges", "find_events", "with_trust",
           "with_floor_moves"]


def _first_nonneg(a: float, b: float) -> float:
    """Fraction ``t`` in [0, 1] where the line from ``a`` (t=0) to ``b`` (t=1) reaches 0."""
    if a >= 0.0:
        return 0.0
    if b < 0.0:
        return 1.0
    return float(-a / (b - a))


def _chains(items: list, joined) -> list[list]:
    """``items`` (in sweep order) split into runs of consecutive items, each joined to the
    next where ``joined(previous, item)``."""
    out = []
    for item in items:
        if out and joined(out[-1][-1], item):
            out[-1].append(item)
        else:
            out.append([item])
    return out


def _log_ratio(masses, se, i: int, a: int, b: int, dof=None) -> tuple[float, float]:
    """``(log(m_b / m_a), its se times the verdicts' factor)`` at point ``i``: the half-width
    beyond which the ratio is clear of the noise (``analysis.intervals.factor`` of the se's
    dof: 2 without, the t quantile for a spread of a few runs; ``inf`` where unknown).
    ``dof: f[V, P]`` (NaN: none) or ``None``."""
    ma, mb = max(masses[i, a], 1e-12), max(masses[i, b], 1e-12)
    sl = math.sqrt((se[i, a] / ma) ** 2 + (se[i, b] / mb) ** 2)
    if not math.isfinite(sl):
        return math.log(mb / ma), math.inf
    k = 2.0 if dof is None else factor(combined_dof(dof[i, a], dof[i, b]))
    return math.log(mb / ma), (k * sl if sl > 0 else 0.0)


def _side(masses, se, i: int, a: int, b: int, dof=None) -> int:
    """Which side of 1 ``m_b / m_a`` lies on at point ``i`` beyond "2 se": -1, +1, or 0
    within the noise (``analysis.intervals.ratio_side``: a test on the difference, sound
    where a mass is near 0; an unknown se is within the noise)."""
    k = 2.0 if dof is None else factor(combined_dof(dof[i, a], dof[i, b]))
    return ratio_side(masses[i, a], se[i, a], masses[i, b], se[i, b], k)


def find_crossovers(values, masses, se, names, dof=None) -> list[Event]:
    """Order-1 events: the preferred phase changes between consecutive sweep points.

    ``values: f[V]`` ascending, ``masses: f[V, P]``, ``se: f[V, P]`` (NaN = unknown, treated
    as an infinitely wide error), ``names``: ``P`` phase names, ``dof: f[V, P]`` the se's
    degrees of freedom (NaN: none; ``None``: none anywhere). "2 se" below is
    ``analysis.intervals.factor(dof)`` se: 2 for an se without dof, the t quantile (3.31
    with 4 runs) for the spread of a few independent runs. Points where every mass is 0
    have no preferred phase and are skipped (a change across them is reported between the
    neighbouring points that have one). ``at`` interpolates ``log(m_B / m_A)`` linearly to
    zero; ``interval`` does the same for ``log ratio -/+ 2 se_log``, clipped to ``between``.
    ``resolved``: ``m_B / m_A`` is below 1 by more than 2 se at the first end and above 1 at
    the second, tested on the difference ``m_B - m_A`` against 2 ``sqrt(se_A^2 + se_B^2)``
    (``analysis.intervals.ratio_side``, Fieller's test: sound where a mass is within its se
    of 0, where the log ratio's delta-method se is not); an unknown error never resolves.
    An unresolved crossover lies somewhere in ``between`` and its ``at`` is not to be quoted.

    Noise flicker: where the preferred phase changes back and forth across a stretch of
    points at which the masses involved are within 2 se of each other (A -> B -> A ...; the
    same test on the difference), the changes are one event from the first phase to the
    last, unresolved, ``between`` the stretch's ends; where the first and last phase are the
    same, no event (the preference never changed beyond the noise).
    """
    values = np.asarray(values, dtype=float)
    masses = np.asarray(masses, dtype=float)
    se = np.asarray(se, dtype=float)
    dof = None if dof is None else np.asarray(dof, dtype=float)
    valid = [k for k in range(len(values)) if np.nanmax(masses[k], initial=0.0) > 0.0]
    changes = []  # (k, j, a, b): the preferred phase is a at point k, b at the next one, j
    for k, j in zip(valid, valid[1:]):
        a, b = int(np.nanargmax(masses[k])), int(np.nanargmax(masses[j]))
        if a != b:
            changes.append((k, j, a, b))

    def noisy(i: int, a: int, b: int) -> bool:
        known = math.isfinite(se[i, a]) and math.isfinite(se[i, b])
        return known and _side(masses, se, i, a, b, dof) == 0

    def noisy_link(first, second) -> bool:
        """At every point from the first change's end to the second's start (where the same
        phase is preferred) both changes' log ratios are within 2 (known) se of 0."""
        stretch = [i for i in valid if first[1] <= i <= second[0]]
        return all(noisy(i, first[2], first[3]) and noisy(i, second[2], second[3])
                   for i in stretch)

    events = []
    for chain in _chains(changes, noisy_link):
        k, j, a, b = chain[0][0], chain[-1][1], chain[0][2], chain[-1][3]
        if a == b:
            continue
        (r0, s0), (r1, s1) = (_log_ratio(masses, se, k, a, b, dof),
                              _log_ratio(masses, se, j, a, b, dof))
        v0, v1 = float(values[k]), float(values[j])
        span = v1 - v0
        at = v0 + _first_nonneg(r0, r1) * span
        lo = v0 + _first_nonneg(r0 + s0, r1 + s1) * span
        hi = v0 + _first_nonneg(r0 - s0, r1 - s1) * span
        # resolved: the ratio is beyond "2 se" of 1 on both sides (the test on the
        # difference, ``_side``), so which phase is preferred at each end is not noise; else
        # the change lies somewhere in the bracket
        resolved = (len(chain) == 1 and _side(masses, se, k, a, b, dof) == -1
                    and _side(masses, se, j, a, b, dof) == 1)
        events.append(Event(1, "crossover", (v0, v1), source=names[a], target=names[b],
                            at=at, interval=(lo, hi), resolved=resolved))
    return events


def find_thresholds(values, masses, floor, names, se=None, dof=None) -> list[Event]:
    """Order-2 events: a phase's mass crosses ``floor`` between consecutive points.

    ``"destruction"`` when ``mass >= floor`` at point k and ``< floor`` at k+1, ``"creation"``
    the other way. ``values: f[V]`` ascending, ``masses: f[V, P]``. With ``se: f[V, P]``
    (NaN: unknown), crossings of one phase at consecutive points whose shared point's mass is
    within 2 (known) se of the floor are one event (noise flicker, as in
    ``find_crossovers``; "2 se": ``factor(dof)`` se, ``dof: f[V, P]``, NaN or ``None``: none):
    the first crossing's kind over the whole stretch where their number is odd, none where
    even.
    """
    values = np.asarray(values, dtype=float)
    masses = np.asarray(masses, dtype=float)
    present = masses >= floor
    se = np.zeros(masses.shape) if se is None else np.asarray(se, dtype=float)
    dof = np.full(masses.shape, np.nan) if dof is None else np.asarray(dof, dtype=float)
    events = []
    for p, name in enumerate(names):
        steps = [k for k in range(len(values) - 1) if present[k, p] != present[k + 1, p]]

        def noisy_link(k0, k1, p=p) -> bool:
            return (k1 == k0 + 1 and bool(np.isfinite(se[k1, p]))
                    and abs(masses[k1, p] - floor)
                    <= factor(combined_dof(dof[k1, p])) * se[k1, p])

        for chain in _chains(steps, noisy_link):
            if len(chain) % 2 == 0:
                continue
            k, j = chain[0], chain[-1] + 1
            events.append(Event(2, "destruction" if present[k, p] else "creation",
                                (float(values[k]), float(values[j])), phase=name))
    events.sort(key=lambda e: (e.between[0], e.between[1]))
    return events


def find_merges(values, overlap, threshold, names) -> list[Event]:
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
                events.append(Event(2, "split" if merged[k, a, b] else "merge",
                                    (float(values[k]), float(values[k + 1])),
                                    phases=(names[a], names[b])))
    return events


def find_events(values, points: list[PointSummary], floor: float,
                merge: float) -> list[Event]:
    """All events of a sweep, from the points' summaries (``summarise_point``).

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
    names = list(points[0].phases)
    masses = np.array([[pt.phases[n].mass for n in names] for pt in points], float)
    se = np.array([[np.nan if pt.phases[n].se is None else pt.phases[n].se
                    for n in names] for pt in points], float)
    dof = np.array([[np.nan if pt.phases[n].se_dof is None else pt.phases[n].se_dof
                     for n in names] for pt in points], float)
    overlap = np.zeros((len(points), len(names), len(names)))
    for v, pt in enumerate(points):
        for a, b in combinations(range(len(names)), 2):
            overlap[v, a, b] = overlap[v, b, a] = pt.overlap.get(f"{names[a]}|{names[b]}", 0.0)
    index = {float(v): k for k, v in enumerate(values)}

    def merged(e) -> bool:
        """A crossover between two phases that are merged (overlap above ``merge``) at either
        end is no transition: they are one region there, and which is larger is noise."""
        a, b = names.index(e.source), names.index(e.target)
        return any(overlap[index[float(v)], a, b] > merge for v in e.between)

    crossovers = [e for e in find_crossovers(values, masses, se, names, dof)
                  if not merged(e)]
    thresholds = find_thresholds(values, masses, floor, names, se, dof)
    events = (crossovers + with_floor_moves(thresholds, values, masses, floor, names)
              + find_merges(values, overlap, merge, names))
    events.sort(key=lambda e: (e.between[0], e.between[1], e.order))
    return events


def with_floor_moves(events: list[Event], values, masses, floor: float, names) -> list[Event]:
    """Each destruction/creation with where it falls at ``floor / 10`` and ``floor * 10``:
    ``extra["other_floors"] = [{"floor": f, "between": [a, b] | None}, ...]`` (None: the
    mass does not cross that floor in this direction anywhere near). A smoothly decaying mass
    crosses every floor somewhere: an event that moves with the floor is where a cutoff is
    met, not a change of the posterior's shape."""
    out = []
    for e in events:
        moves = []
        for f in (floor / 10.0, floor * 10.0):
            if not 0.0 <= f < 1.0:
                continue
            alike = [o for o in find_thresholds(values, masses, f, names)
                     if o.phase == e.phase and o.kind == e.kind]
            near = min(alike, key=lambda o: abs(o.between[0] - e.between[0]), default=None)
            moves.append({"floor": f, "between": None if near is None else list(near.between)})
        out.append(e.replaced(extra={**e.extra, "other_floors": moves}))
    return out


def with_trust(events: list[Event], points: list[PointSummary]) -> list[Event]:
    """The events, each marked ``trusted=False`` where a point at either end of it has
    sampler groups that disagree (``mixing_ok`` false), else ``trusted=True``."""
    bad = {p.value for p in points if not p.mixing_ok}
    return [e.replaced(trusted=not any(v in bad for v in e.between)) for e in events]
