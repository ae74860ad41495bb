"""Events located, not bracketed: after a sweep, sample added sweep values inside each
event's bracket until it is narrower than ``report.resolution`` or noise stops it.

``refine_sweep`` is the runner's step (``pipeline.sweep._run_open`` calls it once every
sweep value is finished); ``finish_events`` annotates the events found afterwards (how far
each was located: ``analysis.refinement.with_refinement``; where each phase stops or starts
holding a local minimum: ``measure.minima``).

- Which events: crossovers, and the floor crossings of phases that hold no local minimum
  anywhere. A phase whose own flows find a well at some point (``analysis.minima.
  well_phases``, where the run has the minimum step) has its order-2 events bisected on
  the potential (``finish_events``), so its floor crossing, a secondary line, is not
  refined (``analysis.refinement.decided_by_well``): on PT2 that saves a dozen values
  sampled one at a time. A grid (``pipeline.grid``) still refines them: its phase map
  draws each floor crossing as a boundary curve.
- Which values: ``analysis.refinement.midpoints``, one round at a time (every event's midpoint
  in one round, sampled together), at most ``MAX_ROUNDS`` rounds and
  ``report.refine_points`` added values in all (default 40), so the cost is bounded.
- Keys and files: an added value's index is ``rundir.added_index(value)``, derived from the
  value alone, so its PRNG key ``fold_in(PRNGKey(seed), index)`` and its draws file do not
  depend on the order of refinement; it is saved as an ordinary point (``sweep.added``), and
  a resumed run keeps it.
- Engines: every engine samples an added value as its own point (``engine.run`` /
  ``run_many``, as in the sweep). For ``smc_path`` that is tempering from the prior, as it
  does for a point whose path directions disagree: a short path from a neighbour would make
  the added point's draws depend on which neighbours were finished first (the order of
  refinement), and an independently tempered point's standard error is its own.
- Quadrature bisects crossovers exactly without points (``sweep.refine_crossovers``); its
  destruction/creation brackets are refined with added points like the others' (cheap).
"""

from __future__ import annotations

import math

from ..analysis.events import find_events
from ..analysis.minima import well_phases
from ..analysis.records import Event, PointSummary
from ..analysis.refinement import decided_by_well, midpoints, with_refinement
from ..language.traits import traits
from ..language.settings import resolution_width
from ..language.setting_records import report_settings
from ..rundir import added_index

__all__ = ["refine_sweep", "sample_added", "finish_events", "MAX_ROUNDS", "refine_cap",
           "located_width", "sweep_midpoints"]

MAX_ROUNDS = 16  # rounds of midpoints: each halves every bracket (65,536x narrower at most)


def refine_cap(report: dict) -> int:
    """``report.refine_points``: the most sweep values refinement may add to a run."""
    return int(report_settings(report).refine_points)


def _whole(checked) -> bool:
    """Whether the sweep variable takes whole numbers only (a network's ``n``: data rows)."""
    return checked.kind in ("network", "tensor") and checked.sweep_name == "n"


def located_width(checked) -> float:
    """The width below which an event's bracket counts as located: ``report.resolution``
    (``resolution_width``), at least 1 on a whole-number sweep (neighbouring whole numbers
    are as close as its values come)."""
    width = resolution_width(checked.report, checked.sweep_values)
    return max(width, 1.0) if _whole(checked) and width > 0 else width


def sweep_midpoints(checked, events: list[Event], points: list[PointSummary], width: float,
                    exact: bool, wells=frozenset()) -> list[float]:
    """The values to add next (``analysis.refinement.midpoints``; not for the floor
    crossings of ``wells``' phases, ``decided_by_well``), rounded down to whole numbers on
    a whole-number sweep (a network's ``n``), none already a point."""
    events = [e for e in events if not decided_by_well(e, wells)]
    new = midpoints(events, points, width, checked.report["floor"], exact)
    if not _whole(checked):
        return new
    have = {p.value for p in points}
    return sorted({float(math.floor(m)) for m in new} - have)


def _points(run) -> list[PointSummary]:
    return [PointSummary.from_json(p) for p in run.results["points"]]


def refine_sweep(run, session, pool=None) -> int:
    """Add sweep values inside the brackets of ``run``'s events (module docstring) and save
    each as a point of the run folder; the number added now. ``session``: the sweep's
    ``pipeline.session.Session`` (its sampler, batch, progress and per-point steps);
    ``pool(run)``: the points summarised again from their neighbours' draws
    (``pipeline.pooling``) before each round after the first."""
    checked = session.checked
    report = checked.report
    width = located_width(checked)
    cap = refine_cap(report)
    if width <= 0 or cap <= 0:
        return 0
    exact = traits(checked.engine).exact
    count = 0
    for round_ in range(MAX_ROUNDS):
        if round_ and pool is not None:
            pool(run)
        points = _points(run)
        events = find_events([p.value for p in points], points, report["floor"],
                             report["merge"])
        room = cap - len(run.results["sweep"].get("added", []))
        wells = well_phases(points) if session.minima is not None else frozenset()
        new = sweep_midpoints(checked, events, points, width, exact, wells)[:max(room, 0)]
        if not new:
            break
        count += sample_added(run, new, session)
    return count


def sample_added(run, new: list, session) -> int:
    """Sample the added values (or a grid's cells) ``new`` in chunks of the session's
    ``batch`` and save each as an ordinary point of ``run`` (index ``added_index``, listed in
    ``sweep.added``); how many."""
    return session.sample_into(run, [(added_index(v), v) for v in new], added=True)


def finish_events(events: list[Event], points: list[PointSummary], checked, added: int,
                  minima=None) -> list[Event]:
    """The events of a finished run with how far each was located
    (``with_refinement``) and, where ``minima`` (a ``measure.minima.MinimumStep``) is given,
    where each phase stops or starts holding a local minimum of the potential."""
    report = checked.report
    width = located_width(checked)
    seeds = getattr(getattr(checked, "network", None), "seeds", 1) or 1
    cap = refine_cap(report) if seeds == 1 else 0  # several data sets: not refined (yet)
    wells = well_phases(points) if minima is not None else frozenset()
    events = with_refinement(events, points, width, report["floor"], added, cap, wells)
    if minima is not None:
        events = minima.with_minima(events, points)
    return events
