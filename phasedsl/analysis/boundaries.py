"""Phase boundaries across a two-dimensional sweep: the events of each row (found along the
first sweep variable by ``events.find_events``, one row per value of the second) joined
into curves across the rows, and likewise the events of each column (along the second
variable) across the columns, so that a boundary running nearly along a row is traced too.

A curve is one kind of event between the same phases (a crossover between A and B in
either direction, the destruction or creation of a phase, a merge or split of two phases),
the k-th such event of each line on its k-th branch. Each line gives the curve a point:
where along the line the event is (``at``) and its uncertainty band (``lo``, ``hi``):

- a resolved crossover, or one located by bisection (quadrature): ``at`` and its interval
  (the bisection's last bracket, else the ratio +- 2 se interpolated);
- an unresolved crossover (the mass ratio within 2 se of 1 at an end): the whole bracket
  between the two sweep values around it, ``at`` its middle;
- destruction, creation, merge, split: the bracket, ``at`` its middle (where between the two
  sweep values the mass crosses the floor is not located more finely).

Where a phase stops (or starts) holding a local minimum of the potential along a line
(``analysis.minima``: ``extra["minimum"]`` of a floor event, or an event of its own with
``extra["criterion"] = "minimum"``), that change is a curve of its own (``criterion``
``"minimum"``): one point per line where the phase's well vanishes or appears, ``at`` the
bisected interval's middle and the interval its band (bisected to the line's resolution
width, no sampling).

Cells added by refinement (``pipeline.grid.refine_grid``) narrow the brackets. Where the
line's events say how far each was located (``extra["refinement"]``,
``analysis.refinement.with_refinement``), the point keeps it (``refinement``: status, width,
bracket); where noise stopped it, the band is the widened bracket, where the change lies.

Plain Python on ``Event`` records in, ``Boundary`` records out, each with ``to_json`` and
``from_json`` like ``records``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import Event, plain

__all__ = ["BoundaryPoint", "Boundary", "trace_boundaries"]


@dataclass(frozen=True)
class BoundaryPoint:
    """Where a boundary crosses one line of the grid (a row, or a column): the crossing's
    coordinates ``(value, value2)`` (first and second variable), its band ``lo <= hi`` along
    the boundary's axis (around ``value`` for a curve along the first variable, ``value2``
    along the second), ``resolved`` (False: the band is the bracket between two sweep values),
    ``trusted`` (False: a cell at an end has sampler groups that disagree), ``refined``
    (``"bisection"`` where located more finely than the sweep), ``refinement`` (how far the
    line's event was located: ``{"status", "width", "bracket"}`` as
    ``analysis.refinement.with_refinement`` gives it; ``None`` where not recorded)."""

    value: float
    value2: float
    lo: float
    hi: float
    resolved: bool
    trusted: bool | None = None
    refined: str | None = None
    refinement: dict | None = None

    def to_json(self) -> dict:
        out = {"value": self.value, "value2": self.value2, "band": [self.lo, self.hi],
               "resolved": self.resolved, "trusted": self.trusted, "refined": self.refined}
        if self.refinement is not None:
            out["refinement"] = self.refinement
        return plain(out)

    @classmethod
    def from_json(cls, d: dict) -> "BoundaryPoint":
        lo, hi = d["band"]
        return cls(value=d["value"], value2=d["value2"], lo=lo, hi=hi, resolved=d["resolved"],
                   trusted=d.get("trusted"), refined=d.get("refined"),
                   refinement=d.get("refinement"))


@dataclass(frozen=True)
class Boundary:
    """A curve across the grid: ``kind`` (``crossover``, ``destruction``, ``creation``,
    ``merge``, ``split``), ``phases`` (the two phases of a crossover, merge or split, in the
    order of the first line's event; the one phase of a destruction or creation), ``axis``
    (0: traced along the first variable, one point per row; 1: along the second, one point
    per column), ``branch`` (0 for the first such event of a line, 1 for the second ...) and
    its ``points``, one per line where it is found, in the lines' order. ``criterion``:
    ``"minimum"`` for where a phase stops (``destruction``) or starts (``creation``) holding
    a local minimum of the potential; ``None`` for the mass criteria (the floor, the
    preferred phase, the overlap)."""

    kind: str
    phases: tuple[str, ...]
    axis: int
    branch: int
    points: tuple[BoundaryPoint, ...]
    criterion: str | None = None

    def to_json(self) -> dict:
        out = {"kind": self.kind, "phases": list(self.phases), "axis": self.axis,
               "branch": self.branch, "points": [p.to_json() for p in self.points]}
        if self.criterion is not None:
            out["criterion"] = self.criterion
        return plain(out)

    @classmethod
    def from_json(cls, d: dict) -> "Boundary":
        return cls(kind=d["kind"], phases=tuple(d["phases"]), axis=int(d.get("axis", 0)),
                   branch=int(d.get("branch", 0)),
                   points=tuple(BoundaryPoint.from_json(p) for p in d["points"]),
                   criterion=d.get("criterion"))


def _curve_key(e: Event) -> tuple:
    """Events of one curve share this: the kind, the phases (a crossover's unordered) and
    the criterion (``"minimum"``, or None)."""
    criterion = e.extra.get("criterion")
    if e.kind == "crossover":
        return ("crossover", frozenset((e.source, e.target)), criterion)
    if e.phase is not None:
        return (e.kind, frozenset((e.phase,)), criterion)
    return (e.kind, frozenset(e.phases), criterion)


def _minimum_events(events: list[Event]) -> list[Event]:
    """One line's events as curves see them: a local-minimum event (criterion ``"minimum"``,
    ``at`` and ``interval`` the bisection's) and, where a floor crossing matched it
    (``extra["floor"]``), that floor crossing as an event of its own beside it (the
    floor's curve); a floor event that carries a local-minimum change (``extra["minimum"]``
    with an ``at``: runs written before order 2 was defined by the minima) likewise split in
    two; a floor crossing that is not an event (``secondary``: the phase's well persists)
    a plain floor crossing (the floor's curves are where a phase's mass meets the floor,
    event or not). In position along the line."""
    out = []
    for e in events:
        if e.extra.get("secondary"):
            e = e.replaced(extra={k: e.extra[k] for k in ("refinement", "other_floors",
                                                          "value2") if k in e.extra})
        out.append(e)
        floor = e.extra.get("floor")
        if e.extra.get("criterion") == "minimum" and floor is not None:
            extra = {k: floor[k] for k in ("refinement", "other_floors") if k in floor}
            out.append(Event(2, e.kind, tuple(floor["between"]), phase=e.phase,
                             trusted=e.trusted, extra=extra))
        info = e.extra.get("minimum") or {}
        if "criterion" not in e.extra and info.get("at") is not None:
            out.append(Event(2, info.get("kind", e.kind), tuple(info["between"]), phase=e.phase,
                             at=info["at"], interval=tuple(info["interval"]),
                             refined="bisection", trusted=e.trusted,
                             extra={"criterion": "minimum"}))
    return sorted(out, key=lambda e: (e.between[0], e.between[1], e.order))


def _phases(e: Event) -> tuple[str, ...]:
    if e.kind == "crossover":
        return (e.source, e.target)
    return (e.phase,) if e.phase is not None else tuple(e.phases)


def _point(e: Event, fixed: float, axis: int) -> BoundaryPoint:
    """One line's point of a curve from its event (see the module's docstring); ``fixed``:
    the line's value of the other variable."""
    lo, hi = (float(x) for x in e.between)
    located = e.resolved is not False or e.refined is not None  # bisection: exact engines
    if e.extra.get("criterion") == "minimum":  # a well vanishes or appears: bisected flows
        a, b = (float(x) for x in e.interval)
        value, value2 = (e.at, float(fixed)) if axis == 0 else (float(fixed), e.at)
        return BoundaryPoint(value, value2, a, b, True, e.trusted, "bisection")
    if e.kind == "crossover" and located and e.at is not None:
        a, b = e.interval if e.interval is not None else (lo, hi)
        at, lo, hi, resolved, refined = (float(e.at), float(min(a, e.at)), float(max(b, e.at)),
                                         True, e.refined)
    else:
        info = e.extra.get("refinement") or {}
        if info.get("status") == "noise" and info.get("bracket"):  # where the change lies
            lo, hi = (float(x) for x in info["bracket"])
        at, resolved, refined = 0.5 * (lo + hi), False, None
    value, value2 = (at, float(fixed)) if axis == 0 else (float(fixed), at)
    info = e.extra.get("refinement")
    return BoundaryPoint(value, value2, lo, hi, resolved, e.trusted, refined,
                         None if info is None else plain(dict(info)))


def trace_boundaries(lines: list[tuple[float, list[Event]]], axis: int = 0) -> list[Boundary]:
    """The boundary curves of a grid from each line's events: ``lines`` is ``[(fixed,
    events)]`` in increasing ``fixed``: the rows (``axis`` 0: ``fixed`` the second variable,
    events along the first) or the columns (``axis`` 1: ``fixed`` the first variable, events
    along the second), each line's events sorted along it (``find_events``' order). Curves
    in the order they first appear."""
    curves: dict[tuple, list] = {}
    phases: dict[tuple, tuple[str, ...]] = {}
    for fixed, events in lines:
        seen: dict[tuple, int] = {}
        for e in _minimum_events(events):
            key = _curve_key(e)
            branch = seen.get(key, 0)
            seen[key] = branch + 1
            curves.setdefault((key, branch), []).append(_point(e, fixed, axis))
            phases.setdefault((key, branch), _phases(e))
    return [Boundary(key[0], phases[(key, branch)], axis, branch, tuple(points), key[2])
            for (key, branch), points in curves.items()]
