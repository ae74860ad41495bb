"""The local-minimum criterion run with compiled JAX functions (``analysis.minima`` has the
definition and the pure parts).

``MinimumStep(compiled, steps, x64)``:

- ``point_minima(value, draws)`` -> ``{phase: {"holds": bool | None, "w": [D], "sd": [D],
  "grad": float}}``: gradient flows of ``-loglik`` (``measure.lcoef.descent_flow``,
  ``method="gd"``: ``steps`` steps ``p -= clip(dt * grad, -CAP sd, CAP sd)`` with
  ``dt = RATE sd^2``, ``sd`` the per-coordinate spread of the phase's draws, so that
  ``dt`` is about ``RATE`` times the inverse curvature of ``-loglik`` in a well the draws
  fill (``discover``'s flows take ``RATE`` over the curvature at the start instead,
  ``measure.lcoef.curvature_steps``: on the toy model of superposition this one then
  finds minima at some sweep values and not at their neighbours, its stationarity
  hovering about ``GRAD_TOL``, so the run keeps the spread's step, whose flows there
  find none); clipped to the box; the potential plus ``relu(SEEK - margin)^2`` where the phase
  has a margin, ``_seeking``) from ``STARTS`` of the phase's draws (half the highest-density
  ones, half spread over the rest: ``_starts``), vmapped and jitted once; a phase holds a local minimum where some flow ends inside it at a
  Goldstein-stationary point (``measure.stationarity``: some convex combination of the
  gradients within ``GOLDSTEIN sd`` has ``|.|_inf <= GRAD_TOL``), ``U = -loglik / (n beta)`` (``K`` for energies, ``L_n`` for networks). ``w``:
  the end of the lowest such flow (or of the lowest flow); ``holds`` None where the phase
  has no draws to start from.
- ``with_minima(events, points)``: each phase's minima *tracked* along the sweep: where a
  point's own flows find none in the phase (or it had no draws there), the neighbouring
  point's minimiser is carried to it by a flow at its value, forwards and then backwards
  (``_filled``); where ``holds`` changes between two points, the change is
  located by bisection on the sweep value (flows at each midpoint from the minimiser ``w``
  of the end that holds one; no sampling) to ``report.resolution``'s width, and set beside
  the floor crossings (``analysis.minima.with_minimum_changes``).

Energy specs sampled by quadrature run in float64, like the engine; others in float32.
"""

from __future__ import annotations

import contextlib
import dataclasses

import numpy as np

from ..analysis.minima import (GRAD_TOL, MinimumChange, bisect, holds_minimum,
                               minimum_changes, with_minimum_changes)
from ..language.settings import resolution_width
from ..language.traits import traits
from .lcoef import descent_flow, n_beta
from .stationarity import GOLDSTEIN, ball_points, stationarity

__all__ = ["MinimumStep", "minimum_step", "with_point_minima", "STARTS", "STEPS", "RATE", "CAP"]

STARTS = 16  # flows per phase and sweep value, from the phase's draws (``_starts``)
STEPS = 1000  # gradient steps per flow (report.minimum_steps)
RATE = 0.2  # dt = RATE sd^2 (discover: RATE / the curvature at the start, at most that)
CAP = 0.1  # no coordinate moves more than CAP sd in one step
SEEK = 1e-3  # the margin (in the conditions' own units) the flows seek inside a region
FALLBACK_WIDTH = 0.005  # of the span: the bisection's width when report.resolution is 0


class MinimumStep:
    """Local minima of each phase at the points of one compiled spec (functions compiled once
    per dtype and reused at every sweep value and bisection step)."""

    def __init__(self, compiled, steps: int = STEPS, x64: bool = False):
        self.compiled = compiled
        self.steps = int(steps)
        self.x64 = bool(x64)
        self._fn = None

    def _function(self):
        if self._fn is not None:
            return self._fn
        import jax

        target = self.compiled.target
        lower = np.asarray(target.lower, float)
        upper = np.asarray(target.upper, float)

        def energy(p, ctx):
            return -target.loglik(p, ctx)

        points = ball_points(target.dim)
        gradient = jax.grad(energy)

        def one(p0, lr0, dt, ctx, phase, scale):
            seeking = _seeking(energy, target.margins, phase, scale)
            flow = descent_flow(seeking, target.indicators, lower, upper, self.steps,
                                method="gd")
            _, _, inside, last = flow(p0, lr0, ctx, phase, dt)
            # the Goldstein ball: GOLDSTEIN sd per coordinate (lr0 = CAP sd)
            return inside, stationarity(gradient, last, ctx, lr0 * (GOLDSTEIN / CAP), lower,
                                        upper, points), last, energy(last, ctx)

        self._fn = jax.jit(jax.vmap(one, in_axes=(0, None, None, None, None, None)))
        return self._fn

    def _context(self, value: float):
        import jax
        import jax.numpy as jnp

        dtype = np.float64 if self.x64 else np.float32
        return jax.tree.map(lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(
            jnp.asarray(a).dtype, jnp.floating) else a, self.compiled.context(value))

    def flows(self, value: float, phase: int, starts, sd) -> dict:
        """Flows at ``value`` of phase number ``phase`` from ``starts: f[K, D]`` (padded to
        ``STARTS`` rows by repeating), scaled by the phase's spread ``sd: f[D]``:
        ``{"holds", "w", "grad"}``."""
        import jax
        import jax.numpy as jnp

        dtype = np.float64 if self.x64 else np.float32
        starts = np.asarray(starts, dtype).reshape(-1, self.compiled.target.dim)
        starts = starts[np.arange(STARTS) % len(starts)]
        scale = n_beta(self.compiled.checked, value)
        with jax.enable_x64(True) if self.x64 else contextlib.nullcontext():
            inside, grad, last, f = self._function()(
                jnp.asarray(starts), jnp.asarray(np.asarray(CAP * sd, dtype)),
                jnp.asarray(np.asarray(RATE * sd ** 2, dtype)),
                self._context(value), phase, jnp.asarray(scale, dtype))
            inside, grad = np.asarray(inside, bool), np.asarray(grad, float)
            last, f = np.asarray(last, float), np.asarray(f, float)
        ok = holds_minimum(inside, grad / scale)
        f = np.where(np.isfinite(f), f, np.inf)
        k = int(np.argmin(np.where(ok, f, np.inf))) if ok.any() else int(np.argmin(f))
        return {"holds": bool(ok.any()), "w": last[k].tolist(),
                "grad": float(grad[k] / scale)}

    def point_minima(self, value: float, draws) -> dict:
        """Each phase's local-minimum finding at one sweep value, from its draws (module)."""
        names = self.compiled.phase_names
        params = np.asarray(draws.params, float)
        d = params.shape[-1]
        flat = params.reshape(-1, d)
        logd = np.asarray(draws.logdensity, float).ravel()
        inds = np.asarray(draws.indicators, bool).reshape(-1, len(names))
        weights = None if draws.weights is None else np.asarray(draws.weights, float).ravel()
        out = {}
        for j, name in enumerate(names):
            idx = np.flatnonzero(inds[:, j] & np.isfinite(logd))
            if not len(idx):
                out[name] = {"holds": None, "w": None, "sd": None, "grad": None}
                continue
            starts = _starts(flat, logd, idx)
            sd = flat[idx].std(axis=0)
            if weights is not None and weights[idx].sum() > 0:
                w = weights[idx] / weights[idx].sum()
                mu = (w[:, None] * flat[idx]).sum(0)
                sd = np.sqrt((w[:, None] * (flat[idx] - mu) ** 2).sum(0))
            sd = np.where(sd > 0, sd, 1e-2)
            found = self.flows(value, j, starts, sd)
            out[name] = {**found, "sd": sd.tolist()}
        return out

    def _filled(self, found: list[dict], values: list[float], phase: int,
                at=None) -> list[dict]:
        """``found`` (one finding per point) with the minima *tracked*: where a point's own
        flows (from its draws) find no local minimum in the phase, or the phase had no draws
        there, the minimiser of the neighbouring point that holds one is carried to it (a
        flow from it at this point's value; no sampling), forwards along the sweep and then
        backwards, so a well found at any point is followed for as long as it persists and
        whether it persists does not hang on where a run's draws happened to start the flows.
        Points still unknown after that (no draws and no holding neighbour) are answered from
        the minimiser of the nearest point that holds one. ``at(v)``: the value the compiled
        spec takes at ``v`` (a grid's cell on one line; default ``v``)."""
        at = at or (lambda v: v)
        out = list(found)

        def carry(src: dict, k: int) -> dict:
            return {**self.flows(at(values[k]), phase, [src["w"]], np.asarray(src["sd"])),
                    "sd": src["sd"], "carried": True}

        for order in (list(range(len(out))), list(range(len(out)))[::-1]):
            for prev, k in zip(order, order[1:]):
                if out[prev].get("holds") and not out[k].get("holds"):
                    carried = carry(out[prev], k)
                    if carried["holds"] or out[k].get("holds") is None:
                        out[k] = carried
        anchors = [k for k, f in enumerate(out) if f.get("holds")]
        for k, f in enumerate(out):
            if anchors and f.get("holds") is None:
                out[k] = carry(out[min(anchors, key=lambda a: abs(values[a] - values[k]))], k)
        return out

    def with_minima(self, events, points, cell=None, width: float | None = None) -> list:
        """``events`` with where each phase stops/starts holding a local minimum (module).
        On one row or column of a grid (``pipeline.grid``): ``points`` that line's, each
        ``value`` its coordinate along the line, ``cell(v)`` the grid's cell at ``v`` and
        ``width`` the line's resolution width (default: the sweep's)."""
        checked = self.compiled.checked
        at = cell or (lambda v: v)
        points = sorted(points, key=lambda p: p.value)
        values = [p.value for p in points]
        if width is None:
            width = resolution_width(checked.report, checked.sweep_values)
        if width <= 0:
            width = FALLBACK_WIDTH * (max(values) - min(values)) if values else 0.0
        changes, summary = [], {}
        for j, name in enumerate(self.compiled.phase_names):
            found = self._filled([(p.minima or {}).get(name) or {} for p in points], values, j,
                                 at)
            holds = [f.get("holds") for f in found]
            known = [h for h in holds if h is not None]
            summary[name] = ("unknown" if not known or len(known) < len(holds) and not any(known)
                             else "throughout" if all(known) else "nowhere" if not any(known)
                             else "changes")
            for k, kind in minimum_changes(values, holds):
                j_end = next(i for i in range(k + 1, len(points)) if holds[i] is not None)
                src = found[k] if kind == "destruction" else found[j_end]
                lo, hi = values[k], values[j_end]

                def holds_at(v, src=src, j=j):
                    return self.flows(at(v), j, [src["w"]], np.asarray(src["sd"]))["holds"]

                a, b = bisect(holds_at, lo, hi, kind == "destruction", width)
                changes.append(MinimumChange(name, kind, (lo, hi), (a, b)))
        return with_minimum_changes(events, changes, summary)


def _seeking(energy, margins, phase, scale):
    """The potential the criterion's flows descend: ``energy(p, ctx)`` plus, where the phase
    has a margin (``Target.margins``), ``scale * relu(SEEK - margin)^2`` (``scale``: n beta,
    so the term is ``relu(SEEK - margin)^2`` in the units of ``U``). Inside the region, at
    least ``SEEK`` from its edge, this adds nothing, so a minimum there is the potential's
    own; outside it pulls the flow towards the region. On a flat valley of minima (a
    singular model's: two nodes sharing one direction and splitting its output weight, a
    rescaling ``q w``) the flow then slides along the valley into the region wherever the
    valley meets it, instead of stopping wherever its start happened to reach the valley;
    so whether the phase holds a minimum is a property of the potential, not of the
    draws the flows started from. Whether it does is still judged on ``energy`` alone
    (its gradient at the flow's end)."""
    import jax.numpy as jnp

    if margins is None:
        return energy

    def seeking(p, ctx):
        m = margins(p, ctx)[phase]
        gap = jnp.where(jnp.isfinite(m), SEEK - m, 0.0)  # no finite margin: no steering
        return energy(p, ctx) + scale * jnp.square(jnp.maximum(gap, 0.0))

    return seeking


def _starts(flat, logd, idx) -> np.ndarray:
    """``f[K, D]``, ``K <= STARTS`` distinct starting points among the phase's draws
    ``flat[idx]``: half its highest-density draws, half spread evenly over its draws in
    their stored order (a grid's nodes in grid order: spread over the phase's region). The
    highest density alone can sit on the phase's boundary, on the slope to a deeper
    neighbour, when the phase's own well is the shallower one."""
    _, first = np.unique(flat[idx], axis=0, return_index=True)
    distinct = idx[np.sort(first)]  # stored order, duplicates (MCMC repeats) dropped
    best = distinct[np.argsort(-logd[distinct], kind="stable")][:STARTS // 2]
    rest = np.setdiff1d(distinct, best)
    spread = rest[np.linspace(0, len(rest) - 1, min(len(rest), STARTS - len(best)))
                  .round().astype(int)] if len(rest) else rest
    return flat[np.concatenate([best, spread])]


def minimum_step(compiled, checked) -> MinimumStep | None:
    """The step for a run (``report.minimum_steps = 0`` or no phases: None)."""
    steps = checked.report_settings.minimum_steps
    if not steps or not compiled.phase_names:
        return None
    return MinimumStep(compiled, steps, x64=traits(checked.engine).exact)


def with_point_minima(point, step: MinimumStep | None, value: float, draws):
    """``point`` with its phases' local-minimum findings (``minima``) and the time they took
    (``diagnostics["minima_s"]``), where ``step``."""
    import time

    if step is None:
        return point
    t0 = time.perf_counter()
    found = step.point_minima(value, draws)
    return dataclasses.replace(point, minima=found, diagnostics={
        **point.diagnostics, "minima_s": time.perf_counter() - t0})
