"""What the figures of a run need beyond ``results.json``, computed from the run's own spec
(with its ``--set`` values): the posterior of a per-node let on one plane at each sweep value
with the truth and the phase regions (networks), and the normalised posterior density of a
one-parameter energy with the phases' intervals.

Output draws these (``phasedsl.output.plots``); it never parses, checks or compiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import sympy as sp

from ..analysis.thinning import thin_indices
from ..language.values import AllOf, AnyOf, Region, Symmetric, Vec
from ..measure.density import density_curves
from ..rundir import draws_path, load_draws

__all__ = ["PlanePanel", "PlaneFigure", "EnergyFigure", "figure_data", "plane_regions",
           "line_regions", "regions", "MAX_PANELS", "MAX_DRAWS"]

MAX_PANELS = 24  # facet grids show at most this many sweep values (thinned, ends kept)
MAX_DRAWS = 2000  # draws per panel (thinned evenly over chains and iterations)


@dataclass(frozen=True)
class PlanePanel:
    """One sweep value: every node's let ``xy f[N, 2]`` with ``weights f[N]``, the truth's
    ``truth f[m, 2]`` and the phase ``circles`` ``(phase, (cx, cy), inner, outer)``."""

    value: float
    xy: np.ndarray
    weights: np.ndarray
    truth: np.ndarray
    circles: list


@dataclass(frozen=True)
class PlaneFigure:
    """``posterior_NAME.png``: the per-node let ``name`` of ``nodes`` nodes, one panel per
    (thinned) sweep value."""

    name: str
    nodes: int
    panels: list[PlanePanel]
    phase_names: tuple[str, ...]
    experiment: str
    kind: ClassVar[str] = "plane"


@dataclass(frozen=True)
class EnergyFigure:
    """``energy.png``: the density ``curves f[V, G]`` on ``grid f[G]`` at each sweep value
    of ``values f[V]``, and each value's phase intervals ``spans[v] = [(phase, lo, hi)]``."""

    parameter: str
    grid: np.ndarray
    values: np.ndarray
    curves: np.ndarray
    spans: list
    phase_names: tuple[str, ...]
    kind: ClassVar[str] = "energy"


def regions(pred) -> list:
    """The ``Region`` predicates inside a phase (through ``Symmetric``/``AllOf``/``AnyOf``;
    a negated region is not a region to draw)."""
    if isinstance(pred, Region):
        return [pred]
    if isinstance(pred, Symmetric):
        return regions(pred.item)
    return [r for it in pred.items for r in regions(it)] if isinstance(pred, (AllOf, AnyOf)) else []


def _geometry(checked, r, value: float):
    """``(centre, inner, outer)`` of a region at one sweep value, floats (``inner`` 0 for
    discs and balls); None when they depend on parameters."""

    def num(expr):
        expr = sp.sympify(expr).subs(checked.sweep_symbol, value)
        return None if expr.free_symbols else float(expr)

    centre = tuple(map(num, r.centre.items)) if isinstance(r.centre, Vec) else num(r.centre)
    inner, outer = (0.0 if r.inner is None else num(r.inner)), num(r.outer)
    if None in (centre if isinstance(centre, tuple) else (centre,)) or None in (inner, outer):
        return None
    return centre, max(inner, 0.0), outer


def plane_regions(checked, name: str, value: float, nodes=None) -> list[tuple]:
    """Circles of each phase on the plane of the per-node let ``name`` at one sweep value:
    ``(phase, (cx, cy), inner, outer)`` for each region whose point is that let at some node,
    without duplicates, in phase order."""
    nodes = checked.node_lets.get(name, ()) if nodes is None else nodes
    out = []
    for phase, pred in checked.phases:
        for r in regions(pred):
            geo = _geometry(checked, r, value) if any(r.point == v for v in nodes) else None
            if geo is not None and isinstance(geo[0], tuple) and (phase, *geo) not in out:
                out.append((phase, *geo))
    return out


def line_regions(checked, value: float) -> list[tuple]:
    """Intervals of each phase of a one-parameter energy at one sweep value: ``(phase, lo,
    hi)`` (an annulus gives two)."""
    out = []
    for phase, pred in checked.phases:
        for r in regions(pred):
            geo = _geometry(checked, r, value) if r.point == checked.symbols[0] else None
            if geo is None:
                continue
            c, inner, outer = geo
            spans = [(c - outer, c + outer)] if inner == 0 else [(c - outer, c - inner),
                                                                 (c + inner, c + outer)]
            out += [(phase, lo, hi) for lo, hi in spans if (phase, lo, hi) not in out]
    return out


def _plane_let(checked):
    """``(name, per-node values)``: the first per-node 2-vector let, else ``w`` (2 inputs)."""
    for name, nodes in checked.node_lets.items():
        if all(isinstance(v, Vec) and len(v.items) == 2 for v in nodes):
            return name, nodes
    if checked.network.inputs == 2:
        s = checked.symbols
        return "w", tuple(Vec((s[2 * i], s[2 * i + 1])) for i in range(checked.network.width))
    return None


def _plane_draws(z: dict, compiled, name: str):
    """``(xy f[N, 2], weights f[N])``: every node's let from at most MAX_DRAWS of the draws
    ``z`` (``rundir.load_draws``)."""
    params = z["params"].reshape(-1, z["params"].shape[-1])
    weights = z["weights"].reshape(-1) if "weights" in z else np.ones(len(params))
    keep = np.asarray(thin_indices(len(params), MAX_DRAWS))
    values = compiled.unflatten(params[keep])[name]  # f[N, d, 2]
    return values.reshape(-1, 2), np.repeat(weights[keep], values.shape[1])


def plane_figure(checked, compiled, folder, results: dict) -> PlaneFigure | None:
    """The data of ``posterior_NAME.png`` from the run's saved draws; None without any."""
    if (plane := _plane_let(checked)) is None:
        return None
    name, nodes = plane
    values = list(results["sweep"]["values"])
    done = {float(p["value"]) for p in results.get("points", [])}
    files = [i for i, v in enumerate(values)
             if float(v) in done and draws_path(folder, i).is_file()]
    if not files:
        return None
    panels = []
    for i in (files[k] for k in thin_indices(len(files), MAX_PANELS)):
        truth = compiled.truth(values[i]) or {}
        truth = np.asarray(truth[name]).reshape(-1, 2) if name in truth else np.zeros((0, 2))
        xy, w = _plane_draws(load_draws(folder, i, results=results), compiled, name)
        panels.append(PlanePanel(values[i], xy, w, truth,
                                 plane_regions(checked, name, values[i], nodes)))
    return PlaneFigure(name, len(nodes), panels, checked.phase_names, checked.experiment)


def energy_figure(checked, compiled, results: dict) -> EnergyFigure:
    """The data of ``energy.png``: ``phi(w) exp(-n beta K(w))`` normalised on a grid of the
    box (of +- 4 prior sd without a box), at every sweep value of the run
    (``measure.density``)."""
    lo, hi = checked.slots[0].lower, checked.slots[0].upper
    if not (np.isfinite(lo) and np.isfinite(hi)):
        mean, sd = checked.prior[1:] if checked.prior[0] == "normal" else (0.0, 1.0)
        lo, hi = float(mean) - 4 * float(sd), float(mean) + 4 * float(sd)
    grid = np.linspace(lo, hi, 2001)
    values = np.array(results["sweep"]["values"], float)
    spans = [line_regions(checked, v) for v in values]
    return EnergyFigure(str(checked.symbols[0]), grid, values,
                        density_curves(compiled, grid, values), spans, checked.phase_names)


def figure_data(checked, folder, results: dict) -> list:
    """Everything beyond ``results.json`` that the run's figures need (possibly nothing)."""
    if checked is None or checked.grid is not None:  # a grid: its diagram needs no more
        return []
    if checked.kind == "network":
        from ..lower.compile import compile_spec

        fig = plane_figure(checked, compile_spec(checked), folder, results)
        return [] if fig is None else [fig]
    if checked.kind == "energy" and checked.dim == 1:
        from ..lower.compile import compile_spec

        return [energy_figure(checked, compile_spec(checked), results)]
    return []
