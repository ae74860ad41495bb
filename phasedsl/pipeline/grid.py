"""Two-dimensional sweeps (``sweep theta over ...`` and ``sweep n over ...``): a grid whose
cells are the points of one run folder.

The cells are sampled like the points of a one-dimensional sweep: each is an ``(index,
value)`` task of ``sweep.run_spec``, its index its position in the grid flattened row by row
(``CheckedSpec.sweep_points``: the second variable outer, the first inner), its value a
``Cell(value, value2)`` that the compiled spec's ``context`` takes as ``f[2]``. So a grid
resumes, batches and keeps its draws (``draws/point_NNN.npz``, NNN the flat index) like any
sweep. Where ``n`` is either variable, every cell uses the first ``n`` rows of one data set
drawn at the grid's largest ``n`` (``lower.compile``).

After sampling, ``refine_grid`` adds cells inside the brackets of each row's events along
the first variable (``Cell(v, row)``) and of each column's events along the second
(``Cell(column, v)``), exactly as ``pipeline.refine`` adds values to a one-dimensional
sweep (``analysis.refinement.midpoints``: until narrower than the line's resolution width, or
stopped by noise), at most ``report.refine_points`` cells for the whole grid. An added cell
lies on one product row (its ``value2`` is a row's) or one product column (its ``value`` a
column's), never both, so ``rows_of`` and ``columns_of`` put it on exactly one line; its
index is ``rundir.added_index(cell)``, from both coordinates, and it is listed in
``sweep.added`` as a pair ``[value, value2]``.

Then ``grid_events`` finds the events of each row along the first variable exactly as a
one-dimensional sweep does (``sweep.sweep_events``: crossovers refined by bisection for
quadrature; how far each was located, ``analysis.refinement.with_refinement``), tags each
with its row (``value2``) and traces the boundary curves across the rows; then the same
along each column (the second variable), whose curves catch a boundary that runs nearly
along the rows (``analysis.boundaries``).
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_left
from typing import NamedTuple

from ..analysis.boundaries import Boundary, trace_boundaries
from ..analysis.events import find_events
from ..analysis.records import Event, PointSummary
from ..analysis.refinement import midpoints, with_refinement
from ..language.grid import Cell
from ..language.traits import traits
from ..language.settings import resolution_width
from .refine import MAX_ROUNDS, refine_cap, sample_added

__all__ = ["grid_events", "rows_of", "columns_of", "boundaries_of", "refine_grid",
           "LineAxis", "line_axes", "grid_midpoints"]


def rows_of(points: list[PointSummary], rows=None) -> list[tuple[float, list[PointSummary]]]:
    """The finished cells by row: ``[(value2, points)]`` in increasing ``value2``, each
    row's points along the first variable with ``value`` the first variable's (a float).
    ``rows``: the grid's rows (the second variable's values); cells off them (added along a
    column) are on no row. ``None``: every ``value2`` a cell has is a row."""
    return _lines(points, 1, rows)


def columns_of(points: list[PointSummary], columns=None) -> list[tuple[float, list[PointSummary]]]:
    """The finished cells by column: ``[(value, points)]`` in increasing ``value``, each
    column's points along the second variable with ``value`` the second variable's.
    ``columns``: the grid's columns (the first variable's values); cells off them (added
    along a row) are on no column. ``None``: every ``value`` a cell has is a column."""
    return _lines(points, 0, columns)


def _lines(points: list[PointSummary], fixed: int,
           keep=None) -> list[tuple[float, list[PointSummary]]]:
    """The cells grouped by coordinate ``fixed`` of their ``Cell`` (only the values in
    ``keep`` where given), each group along the other coordinate (which becomes each point's
    ``value``)."""
    keep = None if keep is None else {float(v) for v in keep}
    lines: dict[float, list[PointSummary]] = {}
    for p in points:
        at = float(p.value[fixed])
        if keep is None or at in keep:
            lines.setdefault(at, []).append(dataclasses.replace(p, value=float(p.value[1 - fixed])))
    return [(k, sorted(lines[k], key=lambda p: p.value)) for k in sorted(lines)]


class LineAxis(NamedTuple):
    """How events are located along one variable of a grid: ``width``, the resolution width
    in its units (``report.resolution`` times its span; ``absolute(x)`` is the first
    variable's, and the second gets the same fraction of its own span), and ``whole``:
    the variable takes whole numbers only (a network's ``n``, a count of data rows), so
    midpoints are rounded down and a bracket of two neighbouring whole numbers is as located
    as it can be (``width`` at least 1)."""

    width: float
    whole: bool


def line_axes(checked) -> tuple[LineAxis, LineAxis]:
    """The ``LineAxis`` of the rows (the first variable) and of the columns (the second)."""
    xs, ys = checked.sweep_values, checked.grid.values
    width = resolution_width(checked.report, xs)
    span_x = max(xs) - min(xs) if xs else 0.0
    span_y = max(ys) - min(ys) if ys else 0.0
    width2 = width * span_y / span_x if span_x > 0 else resolution_width(checked.report, ys)
    axes = []
    for name, w in ((checked.sweep_name, width), (checked.grid.name, width2)):
        whole = checked.kind in ("network", "tensor") and name == "n"
        axes.append(LineAxis(max(w, 1.0) if whole and w > 0 else w, whole))
    return axes[0], axes[1]


def _line_midpoints(line: list[PointSummary], axis: LineAxis, report: dict,
                    exact: bool) -> list[tuple[float, float]]:
    """``[(midpoint, gap)]``: the values to add on one line (``analysis.refinement.
    midpoints`` of its events, rounded down on a whole-number axis) and the width of the
    bracket each halves."""
    if len(line) < 2 or axis.width <= 0:
        return []
    values = [p.value for p in line]
    events = find_events(values, line, report["floor"], report["merge"])
    out = []
    for m in midpoints(events, line, axis.width, report["floor"], exact):
        k = bisect_left(values, m)
        lo, hi = values[k - 1], values[k]
        if axis.whole:
            m = float(math.floor(m))
        if lo < m < hi:
            out.append((m, hi - lo))
    return out


def grid_midpoints(points: list[PointSummary], checked) -> list[Cell]:
    """The cells to add next (``refine_grid``'s round): the midpoints of the events' brackets
    of every row (along the first variable) and every column (along the second), the widest
    brackets first (relative to their line's width; then row before column, by position),
    so that a round cut short by ``report.refine_points`` halves the coarsest first. A
    function of the points alone: a resumed run chooses the same cells."""
    report = checked.report
    exact = traits(checked.engine).exact  # crossovers bisected without added cells
    row_axis, column_axis = line_axes(checked)
    ranked = []
    for y, row in rows_of(points, checked.grid.values):
        for m, gap in _line_midpoints(row, row_axis, report, exact):
            ranked.append((-gap / row_axis.width, 0, y, m, Cell(m, y)))
    for x, column in columns_of(points, checked.sweep_values):
        for m, gap in _line_midpoints(column, column_axis, report, exact):
            ranked.append((-gap / column_axis.width, 1, x, m, Cell(x, m)))
    ranked.sort(key=lambda r: r[:4])
    seen, out = set(), []
    for *_, cell in ranked:
        if cell not in seen:
            seen.add(cell)
            out.append(cell)
    return out


def refine_grid(run, session) -> int:
    """Add cells inside the brackets of the grid's events (``grid_midpoints``), round by
    round, until none is wanted, ``MAX_ROUNDS`` rounds or ``report.refine_points`` added
    cells in all; each saved as an ordinary point of the run folder (index
    ``rundir.added_index(cell)``, listed in ``sweep.added``). The number added now.
    ``session``: the sweep's ``pipeline.session.Session``, as in
    ``pipeline.refine.refine_sweep``."""
    checked = session.checked
    cap = refine_cap(checked.report)
    if cap <= 0:
        return 0
    count = 0
    for _ in range(MAX_ROUNDS):
        points = [PointSummary.from_json(p) for p in run.results["points"]]
        room = cap - len(run.results["sweep"].get("added", []))
        new = grid_midpoints(points, checked)[:max(room, 0)]
        if not new:
            break
        count += sample_added(run, new, session)
    return count


def _finisher(checked, line: list[PointSummary], axis: LineAxis, added: int, cell,
              minima=None):
    """How far each event of one line was located (``with_refinement``, the line's width,
    the grid's cap: 0 where the run has several data sets, which are not refined) and,
    where ``minima`` (``measure.minima.MinimumStep``), where each phase stops or starts
    holding a local minimum along the line (bisected through the line's cells ``cell(v)``
    to its width)."""
    seeds = getattr(getattr(checked, "network", None), "seeds", 1) or 1
    cap = refine_cap(checked.report) if seeds == 1 else 0

    def finish(events):
        events = with_refinement(events, line, axis.width, checked.report["floor"], added, cap)
        if minima is not None and seeds == 1:
            events = minima.with_minima(events, line, cell=cell, width=axis.width)
        return events
    return finish


def grid_events(points: list[PointSummary], line_events, checked, added: int = 0,
                minima=None) -> tuple[list[Event], list[dict]]:
    """The events of every row (each with ``extra["value2"]``, its row: the grid's
    ``events``) and the boundary curves (``Boundary.to_json``): across the rows (``axis``
    0), then across the columns (``axis`` 1: the events along the second variable at each
    value of the first, which trace a boundary that runs nearly along the rows). The rows
    and columns are the grid's (``checked``); each holds its product cells and the cells
    added along it. ``line_events(values, points, cell, finish)``: the events along one row
    or column (``sweep.sweep_events``; ``cell(v)`` the cell at ``v`` on that line,
    ``finish(events)`` marks how far each was located, given ``added`` cells so far, and
    where ``minima`` is given where each phase stops or starts holding a local minimum:
    ``_finisher``)."""
    events, rows, columns = [], [], []
    row_axis, column_axis = line_axes(checked)
    for y, row in rows_of(points, checked.grid.values):
        cell = lambda v, y=y: Cell(v, y)  # noqa: E731 - the row's cells
        found = line_events([p.value for p in row], row, cell,
                            _finisher(checked, row, row_axis, added, cell, minima))
        rows.append((y, found))
        events += [e.replaced(extra={**e.extra, "value2": y}) for e in found]
    for x, column in columns_of(points, checked.sweep_values):
        cell = lambda v, x=x: Cell(x, v)  # noqa: E731 - the column's cells
        columns.append((x, line_events([p.value for p in column], column, cell,
                                       _finisher(checked, column, column_axis, added, cell,
                                                 minima))))
    curves = trace_boundaries(rows, axis=0) + trace_boundaries(columns, axis=1)
    return events, [b.to_json() for b in curves]


def boundaries_of(results: dict) -> list[Boundary]:
    """The boundary curves a grid run recorded (``results["boundaries"]``)."""
    return [Boundary.from_json(b) for b in results.get("boundaries") or []]
