"""Which minima a draw's descents reach: bounds on each basin's mass where flows disagree.

A basin's mass is the mass of the draws that flow to its minimum, and so depends on the
flow where a draw lies in a valley that leads down to several minima: a gradient flow with
another step per coordinate (another metric) can end at another of them. Every descent is a
certificate: the draw reaches that minimum without climbing. ``discover`` runs two flows
from each start (the curvature's step and the draws' spread's), and here:

- a draw is *pure* for basin ``b`` when every flow ends in ``b``: ``pure[b]`` is a lower
  bound on ``b``'s mass under any of these flows;
- ``reach[b]`` is the mass of the draws some flow sends to ``b``: an upper bound;
- the draws whose flows end in two different basins are *shared* between them, reported
  per pair.

So ``pure[b] <= mass[b] <= reach[b]`` for the mass of each flow, and the pure masses plus
the shared masses sum to one. Plain numpy; masses and standard errors as
``basins.basin_masses`` gives them (the mean over the engine's groups, se from their spread;
0 for exact draws).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .basins import basin_masses

__all__ = ["Reach", "Shared", "reach_masses"]


@dataclass(frozen=True)
class Shared:
    """Mass whose two flows end in two different basins (``rest``: the basins too small to
    report), with its standard error."""

    basins: tuple[str, str]
    mass: float
    se: float

    def to_json(self) -> dict:
        return {"basins": list(self.basins), "mass": self.mass, "se": self.se}


@dataclass(frozen=True)
class Reach:
    """Per basin ``f[B]``: ``pure``/``pure_se`` and ``reach``/``reach_se``; ``shared``: one
    ``(a, b, mass, se)`` per pair of basins ``a < b`` some draws' flows split between, the
    largest first."""

    pure: np.ndarray
    pure_se: np.ndarray
    reach: np.ndarray
    reach_se: np.ndarray
    shared: tuple[tuple[int, int, float, float], ...]


def _mass_of(inside, group, share, groups: int, exact: bool) -> tuple[float, float]:
    """``(mass, se)`` of the starts ``inside bool[K]``."""
    mass, se, _ = basin_masses(np.where(inside, 0, 1), group, share, groups, exact)
    return float(mass[0]), float(se[0])


def reach_masses(labels, other, group, share, groups: int, exact: bool,
                 count: int | None = None) -> Reach:
    """``labels int[K]`` and ``other int[K]``: the basin each of ``K`` starts' two flows end
    in (the same numbering); ``group int[K]``, ``share f[K]``: as ``basin_masses``;
    ``count``: the number of basins ``B`` (default: one more than the largest label)."""
    labels, other = np.asarray(labels), np.asarray(other)
    if count is None:
        count = int(max(labels.max(initial=-1), other.max(initial=-1))) + 1
    bounds = np.zeros((4, count))
    for b in range(count):
        bounds[0:2, b] = _mass_of((labels == b) & (other == b), group, share, groups, exact)
        bounds[2:4, b] = _mass_of((labels == b) | (other == b), group, share, groups, exact)
    split = labels != other
    pairs = sorted({(int(min(a, b)), int(max(a, b)))
                    for a, b in zip(labels[split], other[split])})
    shared = []
    for a, b in pairs:
        inside = split & (np.minimum(labels, other) == a) & (np.maximum(labels, other) == b)
        shared.append((a, b) + _mass_of(inside, group, share, groups, exact))
    shared.sort(key=lambda s: -s[2])
    return Reach(bounds[0], bounds[1], bounds[2], bounds[3], tuple(shared))
