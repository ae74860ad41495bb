"""Order-2 events that do not hinge on the floor: where a phase stops (or starts) holding a
local minimum of the potential.

The potential is ``U(w) = -loglik(w) / (n beta)``: ``K(w)`` for an energy spec, the
empirical loss ``L_n(w)`` (mean negative log likelihood) for a network. A phase *holds a
local minimum* at a sweep value where some gradient flow (``measure.minima``: Adam from the
phase's highest-density draws) ends inside the phase's region with a projected gradient
``|grad U|_inf <= GRAD_TOL`` (a component at a box edge that points out of the box is not
counted: a minimum on the prior's boundary is a minimum). Unlike the floor crossing, this
moves with no cutoff: a mass that decays smoothly while its well persists has no such
event, and a well that vanishes (a saddle-node: the minimum meets a saddle) has one at the
value where it vanishes, located by bisection on the sweep value without sampling.

Plain numpy and records here; the flows are run by ``measure.minima``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import Event

__all__ = ["GRAD_TOL", "holds_minimum", "MinimumChange", "minimum_changes", "bisect",
           "with_minimum_changes"]

GRAD_TOL = 1e-3  # |grad U|_inf at a flow's end below which it has converged (U's own units)


def holds_minimum(inside, grad) -> np.ndarray:
    """``bool[K]``: which of ``K`` flows ended at a local minimum inside the phase:
    ``inside: bool[K]`` (the last iterate is in the phase's region), ``grad: f[K]`` (its
    projected gradient norm, ``|.|_inf``, of the potential)."""
    return np.asarray(inside, bool) & (np.asarray(grad, float) <= GRAD_TOL)


@dataclass(frozen=True)
class MinimumChange:
    """A phase stops (``"destruction"``) or starts (``"creation"``) holding a local minimum
    between the sweep values ``between``; ``interval``: the bisected bracket (at most the
    resolution width wide), ``at`` its middle."""

    phase: str
    kind: str
    between: tuple[float, float]
    interval: tuple[float, float]

    @property
    def at(self) -> float:
        return 0.5 * (self.interval[0] + self.interval[1])

    def to_json(self) -> dict:
        return {"kind": self.kind, "between": list(self.between), "at": self.at,
                "interval": list(self.interval)}


def minimum_changes(values, holds) -> list[tuple[int, str]]:
    """``[(k, kind)]``: where ``holds: bool[V]`` (at ``values: f[V]``, ascending) changes
    between point ``k`` and ``k + 1``; ``kind`` ``"destruction"`` (held, then not) or
    ``"creation"``. Points where it is unknown (None) are skipped."""
    known = [k for k, h in enumerate(holds) if h is not None]
    return [(k, "destruction" if holds[k] else "creation")
            for k, j in zip(known, known[1:]) if bool(holds[k]) != bool(holds[j])]


def bisect(holds_at, lo: float, hi: float, holds_lo: bool, width: float,
           max_steps: int = 60) -> tuple[float, float]:
    """The bracket ``(a, b)``, at most ``width`` wide (or after ``max_steps`` halvings), in
    which ``holds_at(v) -> bool`` changes, given that it is ``holds_lo`` at ``lo`` and not at
    ``hi``."""
    for _ in range(max_steps):
        if hi - lo <= width:
            break
        mid = 0.5 * (lo + hi)
        if holds_at(mid) == holds_lo:
            lo = mid
        else:
            hi = mid
    return lo, hi


def with_minimum_changes(events: list[Event], changes: list[MinimumChange],
                         checked_phases) -> list[Event]:
    """The events with the local-minimum criterion beside each destruction/creation:
    ``extra["minimum"]`` = the phase's change of the same kind nearest to the floor
    crossing (``MinimumChange.to_json``), or ``{"at": None, "holds": ...}`` where the
    phase has none (``holds``: ``"throughout"``, ``"nowhere"`` or ``"unknown"``, from
    ``checked_phases[phase]``). A change that no floor crossing matches is an event of its
    own: ``Event(2, kind, between, phase, at, interval, refined="bisection",
    extra={"criterion": "minimum"})``."""
    left = list(changes)
    out = []
    for e in events:
        if e.kind not in ("destruction", "creation") or "criterion" in e.extra:
            out.append(e)
            continue
        alike = [c for c in left if c.phase == e.phase and c.kind == e.kind]
        near = min(alike, key=lambda c: abs(c.at - 0.5 * sum(e.between)), default=None)
        if near is not None:
            left.remove(near)
            info = near.to_json()
        else:
            info = {"at": None, "holds": checked_phases.get(e.phase, "unknown")}
        out.append(e.replaced(extra={**e.extra, "minimum": info}))
    for c in left:
        out.append(Event(2, c.kind, c.between, phase=c.phase, at=c.at, interval=c.interval,
                         refined="bisection", extra={"criterion": "minimum"}))
    out.sort(key=lambda e: (e.between[0], e.between[1], e.order))
    return out
