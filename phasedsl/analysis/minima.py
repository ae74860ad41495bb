"""Order-2 events that do not hinge on the floor: where a phase stops (or starts) holding a
local minimum of the potential.

The potential is ``U(w) = -loglik(w) / (n beta)``: ``K(w)`` for an energy spec, the
empirical loss ``L_n(w)`` (mean negative log likelihood) for a network. A phase *holds a
local minimum* at a sweep value where some gradient flow (``measure.minima``: from the
phase's draws, drawn into the phase's region along flat valleys by its margin) ends inside
the phase's region at a stationary point: some convex combination of the projected
gradients near the end has ``|.|_inf <= GRAD_TOL`` (Goldstein's criterion,
``measure.stationarity``: the gradient test where ``U`` is smooth, and one that a minimum
among a ReLU network's data kinks can pass; a component at a box edge that points out of
the box is not counted: a minimum on the prior's boundary is a minimum). Unlike the floor crossing, this
moves with no cutoff: a mass that decays smoothly while its well persists has no such
event, and a well that vanishes (a saddle-node: the minimum meets a saddle) has one at the
value where it vanishes, located by bisection on the sweep value without sampling. The
minima are tracked along the sweep (a point's minimiser carried to its neighbours by flows,
``measure.minima``), so where a well persists does not hang on a run's draws.

This is the definition of order-2 creation and destruction wherever it decides: the floor
crossing is a secondary line beside it, and a phase whose mass falls below the floor while
its well persists is not called destroyed (``with_minimum_changes``). Only where a phase is
no well at any sweep value (or it is unknown) is the floor crossing the event.

Plain numpy and records here; the flows are run by ``measure.minima``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .records import Event

__all__ = ["GRAD_TOL", "holds_minimum", "MinimumChange", "minimum_changes", "bisect",
           "with_minimum_changes", "well_phases"]

GRAD_TOL = 1e-3  # a flow's end is stationary below this (|.|_inf, U's own units)


def holds_minimum(inside, grad) -> np.ndarray:
    """``bool[K]``: which of ``K`` flows ended at a local minimum inside the phase:
    ``inside: bool[K]`` (the last iterate is in the phase's region), ``grad: f[K]`` (its
    stationarity, ``measure.stationarity``, in the potential's units)."""
    return np.asarray(inside, bool) & (np.asarray(grad, float) <= GRAD_TOL)


def well_phases(points) -> frozenset[str]:
    """The phases whose own flows found a local minimum inside them at some point of
    ``points`` (``PointSummary.minima``). Tracking carries such a minimiser to every value
    (``measure.minima``), so each of these phases is ``"throughout"`` or ``"changes"`` in
    ``with_minimum_changes``: its floor crossings are never the event, and sampling more
    sweep values to locate them would only sharpen a secondary line."""
    return frozenset(name for p in points for name, found in (p.minima or {}).items()
                     if (found or {}).get("holds"))


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
    """The events with order 2 defined by the local minima where the criterion decides.

    ``changes``: where each phase stops or starts holding a local minimum (tracked along the
    sweep and bisected); ``checked_phases[phase]``: ``"throughout"``, ``"nowhere"``,
    ``"changes"`` or ``"unknown"`` (whether the phase holds one at each sweep value). Each
    destruction/creation floor crossing of ``events`` becomes:

    - where a change of the same phase and kind exists, the nearest such change: an event
      ``Event(2, kind, change.between, phase, at, interval, refined="bisection",
      extra={"criterion": "minimum", "floor": {...}})``, the floor crossing kept as the
      secondary ``extra["floor"]`` (its ``between`` and, where present, its
      ``refinement`` and ``other_floors``);
    - where the phase holds a minimum that does not change here (``"throughout"``, or
      ``"changes"`` elsewhere): not an event. It stays in the list as a secondary line,
      ``extra = {"criterion": "floor", "secondary": True, "minimum": {"at": None, "holds":
      ...}}``: the mass decays (or grows) while the phase's well persists;
    - where the criterion cannot decide (``"nowhere"``: the phase is no well at any value,
      ``"unknown"``): the floor crossing stays the event, with ``extra["minimum"] = {"at":
      None, "holds": ...}``.

    A change that no floor crossing matches is an event of its own (``extra = {"criterion":
    "minimum"}``). Events in position along the sweep."""
    left = list(changes)
    out = []
    for e in events:
        if e.kind not in ("destruction", "creation") or "criterion" in e.extra:
            out.append(e)
            continue
        holds = checked_phases.get(e.phase, "unknown")
        alike = [c for c in left if c.phase == e.phase and c.kind == e.kind]
        near = min(alike, key=lambda c: abs(c.at - 0.5 * sum(e.between)), default=None)
        if near is not None:
            left.remove(near)
            floor = {"between": list(e.between),
                     **{k: e.extra[k] for k in ("refinement", "other_floors") if k in e.extra}}
            out.append(_minimum_event(near, trusted=e.trusted, floor=floor))
        elif holds in ("throughout", "changes"):
            out.append(e.replaced(extra={**e.extra, "criterion": "floor", "secondary": True,
                                         "minimum": {"at": None, "holds": holds}}))
        else:
            out.append(e.replaced(extra={**e.extra, "minimum": {"at": None, "holds": holds}}))
    out.extend(_minimum_event(c) for c in left)
    out.sort(key=lambda e: (e.between[0], e.between[1], e.order))
    return out


def _minimum_event(change: MinimumChange, trusted=None, floor=None) -> Event:
    """The order-2 event of a local-minimum change (``floor``: the matching floor crossing's
    record, kept as a secondary line)."""
    extra = {"criterion": "minimum"} if floor is None else {"criterion": "minimum",
                                                           "floor": floor}
    return Event(2, change.kind, change.between, phase=change.phase, at=change.at,
                 interval=change.interval, refined="bisection", trusted=trusted, extra=extra)
