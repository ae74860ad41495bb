"""Two-dimensional sweeps (``sweep theta over ...`` and ``sweep n over ...``): a grid whose
cells are the points of one run folder.

The cells are sampled like the points of a one-dimensional sweep: each is an ``(index,
value)`` task of ``sweep.run_spec``, its index its position in the grid flattened row by row
(``CheckedSpec.sweep_points``: the second variable outer, the first inner), its value a
``Cell(value, value2)`` that the compiled spec's ``context`` takes as ``f[2]``. So a grid
resumes, batches and keeps its draws (``draws/point_NNN.npz``, NNN the flat index) like any
sweep. Where ``n`` is either variable, every cell uses the first ``n`` rows of one data set
drawn at the grid's largest ``n`` (``lower.compile``).

After sampling, ``grid_events`` finds the events of each row along the first variable
exactly as a one-dimensional sweep does (``sweep.sweep_events``: crossovers refined by
bisection for quadrature), tags each with its row (``value2``) and traces the boundary
curves across the rows; then the same along each column (the second variable), whose
curves catch a boundary that runs nearly along the rows (``analysis.boundaries``).
"""

from __future__ import annotations

import dataclasses

from ..analysis.boundaries import Boundary, trace_boundaries
from ..analysis.records import Event, PointSummary
from ..language.grid import Cell

__all__ = ["grid_events", "rows_of", "columns_of", "boundaries_of"]


def rows_of(points: list[PointSummary]) -> list[tuple[float, list[PointSummary]]]:
    """The finished cells by row: ``[(value2, points)]`` in increasing ``value2``, each
    row's points along the first variable with ``value`` the first variable's (a float)."""
    return _lines(points, 1)


def columns_of(points: list[PointSummary]) -> list[tuple[float, list[PointSummary]]]:
    """The finished cells by column: ``[(value, points)]`` in increasing ``value``, each
    column's points along the second variable with ``value`` the second variable's."""
    return _lines(points, 0)


def _lines(points: list[PointSummary], fixed: int) -> list[tuple[float, list[PointSummary]]]:
    """The cells grouped by coordinate ``fixed`` of their ``Cell``, each group along the
    other coordinate (which becomes each point's ``value``)."""
    lines: dict[float, list[PointSummary]] = {}
    for p in points:
        lines.setdefault(float(p.value[fixed]), []).append(
            dataclasses.replace(p, value=float(p.value[1 - fixed])))
    return [(k, sorted(lines[k], key=lambda p: p.value)) for k in sorted(lines)]


def grid_events(points: list[PointSummary], line_events) -> tuple[list[Event], list[dict]]:
    """The events of every row (each with ``extra["value2"]``, its row: the grid's
    ``events``) and the boundary curves (``Boundary.to_json``): across the rows (``axis``
    0), then across the columns (``axis`` 1: the events along the second variable at each
    value of the first, which trace a boundary that runs nearly along the rows).
    ``line_events(values, points, cell)``: the events along one row or column
    (``sweep.sweep_events``; ``cell(v)`` the cell at ``v`` on that line)."""
    events, rows, columns = [], [], []
    for y, row in rows_of(points):
        found = line_events([p.value for p in row], row, lambda v, y=y: Cell(v, y))
        rows.append((y, found))
        events += [e.replaced(extra={**e.extra, "value2": y}) for e in found]
    for x, column in columns_of(points):
        columns.append((x, line_events([p.value for p in column], column,
                                       lambda v, x=x: Cell(x, v))))
    curves = trace_boundaries(rows, axis=0) + trace_boundaries(columns, axis=1)
    return events, [b.to_json() for b in curves]


def boundaries_of(results: dict) -> list[Boundary]:
    """The boundary curves a grid run recorded (``results["boundaries"]``)."""
    return [Boundary.from_json(b) for b in results.get("boundaries") or []]
