"""Locating events more finely than the sweep: which sweep values to add next, and what
the added values achieved (plain numpy on point summaries; ``pipeline.refine`` samples).

An event's *bracket* is the two sweep values around it (``Event.between``). Refinement adds
the bracket's midpoint and finds the events again, until each bracket is narrower than the
resolution width ``W`` (``language.settings.resolution_width``), or noise stops it:

- a crossover A -> B is bisected only while it is *resolved*: ``log(m_B / m_A)`` is beyond
  2 se of 0 at both ends (``find_crossovers``). Where an end's ratio is within 2 se of 0,
  the crossover is unresolved and noise stops the bisection; its bracket is then widened to
  the nearest points on each side where the ratio is beyond 2 se of 0 with the right sign
  (the change lies somewhere there), and refinement narrows that bracket from outside: it
  bisects the gaps between each clear end and the noisy points inside (``noise_gaps``)
  until they are at most the resolution, so the bracket closes on the stretch where the
  noise hides the change (and where a bisection lands clear of the noise on both sides,
  plain bisection resumes);
- a destruction/creation (a mass crossing ``floor``) likewise: refined while the mass is
  beyond 2 se of the floor at both ends; but not a phase that holds a local minimum at some
  sweep value (``wells``: ``analysis.minima.well_phases``). Its order-2 events are where its
  well appears or vanishes, bisected on the potential without sampling
  (``analysis.minima.with_minimum_changes``); its floor crossing is a secondary line, read
  off the values already sampled (``decided_by_well``, status ``"well"``). A grid's lines
  still refine them (``pipeline.grid``: its map draws the floor curves).

"2 se" is ``analysis.intervals.factor(dof)`` standard errors throughout: 2 for an se with no
dof attached, the t quantile of its dof for the spread of a few independent runs (3.31 with
4 runs), so that "beyond the noise" claims the same 95% whatever the number of runs.

Every decision is a function of the points alone, so a resumed run (or a re-analysis) finds
the same statuses. Merges/splits are not refined (their bracket is reported as found).
"""

from __future__ import annotations

import math

from .intervals import combined_dof, factor, ratio_side
from .records import Event, PointSummary

__all__ = ["crossover_side", "floor_side", "midpoints", "noise_bracket", "noise_gaps",
           "with_refinement", "REFINED_KINDS", "decided_by_well"]

REFINED_KINDS = ("crossover", "destruction", "creation")


def decided_by_well(event: Event, wells) -> bool:
    """Whether ``event`` is a floor crossing (destruction/creation) of a phase in ``wells``
    (the phases holding a local minimum somewhere: ``analysis.minima.well_phases``): its
    order 2 is decided by the well, so added sweep values would only sharpen a secondary
    line."""
    return event.kind in ("destruction", "creation") and event.phase in wells


def _se(m) -> float:
    return math.inf if m.se is None else float(m.se)


def crossover_side(point: PointSummary, source: str, target: str) -> int:
    """-1 where ``m_target / m_source`` is below 1 by more than "2 se" at ``point``, +1
    above, 0 within the noise (an unknown se is within it): ``analysis.intervals.ratio_side``
    (the test on the difference, sound where a mass is near 0). "2 se":
    ``analysis.intervals.factor`` of the se's dof (the t quantile for a few runs' spread)."""
    a, b = point.phases[source], point.phases[target]
    return ratio_side(a.mass, _se(a), b.mass, _se(b),
                      factor(combined_dof(a.se_dof, b.se_dof)))


def floor_side(point: PointSummary, phase: str, floor: float) -> int:
    """+1 where ``phase``'s mass is at least ``floor`` by "2 se", -1 below it by more than
    "2 se", 0 within the noise (an unknown se is within it; "2 se" as in
    ``crossover_side``)."""
    m = point.phases[phase]
    s = _se(m)
    if not math.isfinite(s):
        return 0
    s *= factor(m.se_dof) if s > 0 else 1.0
    return 1 if m.mass - s >= floor else -1 if m.mass + s < floor else 0


def _side(e: Event, point: PointSummary, floor: float) -> int:
    """Which side of ``e`` the point is clearly on: -1 before the change, +1 after, 0 noise."""
    if e.kind == "crossover":
        return crossover_side(point, e.source, e.target)
    s = floor_side(point, e.phase, floor)
    return s if e.kind == "creation" else -s


def _clear(e: Event, by_value: dict, floor: float) -> bool:
    """Both ends of ``e`` are beyond the noise, on their own sides, and no point lies between
    them (an event found across a stretch of noisy points, ``events.find_crossovers``' noise
    flicker, is noise-stopped whatever its ends say)."""
    v0, v1 = e.between
    inside = any(v0 < v < v1 for v in by_value)
    return (not inside and _side(e, by_value[v0], floor) == -1
            and _side(e, by_value[v1], floor) == 1)


def noise_bracket(e: Event, points: list[PointSummary], floor: float) -> tuple[float, float]:
    """The bracket of an event that noise stops: from the nearest point at or before
    ``between[0]`` that is clearly before the change to the nearest at or after
    ``between[1]`` that is clearly after it (the ends of the sweep where there is none).
    ``points`` sorted by value."""
    values = [p.value for p in points]
    i, j = values.index(e.between[0]), values.index(e.between[1])
    while i > 0 and _side(e, points[i], floor) != -1:
        i -= 1
    while j < len(points) - 1 and _side(e, points[j], floor) != 1:
        j += 1
    return float(values[i]), float(values[j])


def noise_gaps(e: Event, points: list[PointSummary], floor: float) -> list[tuple]:
    """The gaps of a noise-stopped event that more points can still narrow: between each
    clear end of its widened bracket (``noise_bracket``) and the nearest point inside it
    (within the noise or on the wrong side). Bisecting these moves the clear ends inward
    until they meet the noise, so the bracket shrinks to the noisy stretch itself (and the
    pooled masses there sharpen, with more values near each other). ``points`` sorted."""
    values = [p.value for p in points]
    a, b = noise_bracket(e, points, floor)
    i, j = values.index(a), values.index(b)
    if j - i < 2:
        return []
    gaps = []
    if _side(e, points[i], floor) == -1:
        gaps.append((a, values[i + 1]))
    if _side(e, points[j], floor) == 1:
        gaps.append((values[j - 1], b))
    return gaps


def midpoints(events: list[Event], points: list[PointSummary], width: float, floor: float,
              exact: bool = False) -> list[float]:
    """The sweep values to add next (sorted, distinct, none already a point): the midpoint of
    each crossover, destruction and creation whose bracket is wider than ``width`` and whose
    ends are beyond the noise; for one whose end is within the noise, the midpoints of its
    ``noise_gaps`` wider than ``width``. ``exact``: crossovers are left out (an exact engine
    bisects them without adding points, ``pipeline.sweep.refine_crossovers``). ``points``
    sorted by value."""
    by_value = {p.value: p for p in points}
    out = set()
    for e in events:
        if e.kind not in REFINED_KINDS or (exact and e.kind == "crossover"):
            continue
        v0, v1 = e.between
        if _clear(e, by_value, floor):
            gaps = [(v0, v1)]
        else:
            gaps = noise_gaps(e, points, floor)
        for g0, g1 in gaps:
            mid = round(0.5 * (g0 + g1), 12)
            if g1 - g0 > width and g0 < mid < g1 and mid not in by_value:
                out.add(mid)
    return sorted(out)


def with_refinement(events: list[Event], points: list[PointSummary], width: float,
                    floor: float, added: int, cap: int, wells=frozenset()) -> list[Event]:
    """The events, each crossover/destruction/creation with ``extra["refinement"]``:
    ``{"width": W, "status": s, "bracket": [a, b]}``, ``s`` one of

    - ``"located"``: the bracket is at most ``W`` wide (or bisected exactly: ``refined``);
      where an end is within the noise, the widened bracket (``noise_bracket``) is;
    - ``"noise"``: an end is within 2 se of the change and the widened bracket
      (``noise_bracket``, where the change lies; ``bracket``) is wider than ``W``;
    - ``"capped"``: wider than ``W`` with clear ends (or, an end in the noise, with a gap
      ``noise_gaps`` would still narrow), but ``added`` (values added so far) reached
      ``cap`` (``report.refine_points``);
    - ``"off"``: ``W`` is 0 or ``cap`` 0 (refinement turned off);
    - ``"open"``: wider than ``W`` with clear ends and below the cap (a run that stopped
      before refining, or a re-analysis at a finer resolution: ``phasedsl run`` again
      adds the values);
    - ``"well"``: a floor crossing wider than ``W`` of a phase in ``wells``
      (``decided_by_well``): not refined, its well decides (``bracket`` the two values).

    ``points`` sorted by value, ``added``: the number of values added to the run."""
    points = sorted(points, key=lambda p: p.value)
    by_value = {p.value: p for p in points}
    out = []
    for e in events:
        if e.kind not in REFINED_KINDS:
            out.append(e)
            continue
        v0, v1 = e.between
        bracket = [v0, v1]
        if e.refined is not None:
            status, bracket = "located", list(e.interval)
        elif decided_by_well(e, wells):
            status = "located" if v1 - v0 <= width else "well"
        elif not _clear(e, by_value, floor):
            # an end within the noise: the change lies in the widened bracket, located only
            # where that is narrow enough; where more values could still close it from
            # outside (``noise_gaps``), the cap (or an unfinished run) stopped it, not noise
            bracket = list(noise_bracket(e, points, floor))
            closable = width > 0 and cap > 0 and any(
                g1 - g0 > width for g0, g1 in noise_gaps(e, points, floor))
            if bracket[1] - bracket[0] <= width:
                status = "located"
            elif closable:
                status = "capped" if added >= cap else "open"
            else:
                status = "noise"
        elif v1 - v0 <= width:
            status = "located"
        elif width <= 0 or cap <= 0:
            status = "off"
        elif added >= cap:
            status = "capped"
        else:
            status = "open"
        info = {"width": width, "status": status, "bracket": bracket}
        out.append(e.replaced(extra={**e.extra, "refinement": info}))
    return out
