"""The ``quadrature`` engine: exact integration on a grid for 1 or 2 bounded parameters.

Everything runs in float64: the compiled function is traced and executed inside
``jax.enable_x64(True)`` (the context manager that replaced ``jax.experimental.enable_x64``;
scoped, so the rest of the process stays float32), and floating leaves of ``ctx`` are cast to
float64 inside it. Integrals are accumulated as log-sum-exp of ``log prior + loglik``, so large
``n`` cannot underflow.

Rules (``points`` grid nodes per axis, spacing ``h``):

- **D = 1.** Each cell ``[x_i, x_{i+1}]`` is integrated with ``order``-point Gauss-Legendre
  (error ``O(h^(2*order))``). Phase indicators are discontinuous, so for each cell and phase
  whose indicator differs between the cell's ends, the switch point is located by bisection
  (``bisect`` halvings, to below float64 resolution of the cell) and each side integrated with
  Gauss-Legendre. A phase region that starts and ends inside one cell (narrower than ``h``) is
  missed.
- **D = 2.** Each cell is split into ``subdivisions`` x ``subdivisions`` sub-cells and the
  integrand and indicators are evaluated at their midpoints (composite midpoint rule at spacing
  ``h / subdivisions``: ``O(h^2)`` for the smooth part, ``O(h)`` at phase boundaries, with the
  constant reduced by ``subdivisions``); the mass in no phase (``other``) is integrated
  the same way (``Draws.other_log_z``). Rows of cells are processed one at a time
  (``lax.map``) so memory stays ``O(points * subdivisions^2)``.

**Error estimate.** Each point is integrated twice, on the grid and on one with half as many
cells per axis (``coarse_points``); ``QuadratureInfo.mass_error`` holds, per phase and for
``other``, the difference between the two masses. For a convergent rule that difference
bounds the finer grid's own error (it is about ``2^p - 1`` times it for a rule of order
``p``), and where the 2-D rule's ``O(h)`` boundary error changes sign from grid to grid it
is still several times it (the ring of ``tests/test_engines.py`` against a 16,000-node
reference: errors 0.4-2.6e-6 against differences 4-21e-6). ``analysis.masses`` quotes it as
the mass's standard error, at least ``EXACT_FLOOR``.

The returned "samples" are the grid nodes with normalised weights and the indicators at the
nodes. In 1-D each cell's integral is split between its two end nodes at the cell's phase
switch point, so ``sum(weights * indicators)`` equals the accurate phase mass whenever no cell
holds two different switch points. In 2-D the weights are trapezoid weights times the density,
which carries the plain ``O(h)`` grid error at phase boundaries. ``log_z`` and ``phase_log_z``
come from the accurate rules above and are what free energies should use.
"""

from __future__ import annotations

import time

import numpy as np
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from phasedsl.engines.base import CompiledCache, TimedRun, settings_with_defaults
from phasedsl.language.settings import defaults
from phasedsl.language.traits import TRAITS
from phasedsl.engines.many import is_list_of_contexts
from phasedsl.engines.outputs import GridOutput
from phasedsl.lower.target import Draws, Target
from phasedsl.lower.run_info import QuadratureInfo

__all__ = ["QuadratureEngine", "DEFAULTS", "coarse_points", "grid_masses"]

# every key, its default, bounds and meaning: phasedsl.language.settings.TABLE["quadrature"]
DEFAULTS = defaults("quadrature", arguments_only=True)
DEFAULT_POINTS = {1: 4001, 2: 801}


def _as_f64(tree):

    def cast(a):
        a = jnp.asarray(a)
        return a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a

    return jax.tree.map(cast, tree)


def _logsumexp(a, axis=None):

    return logsumexp(a, axis=axis)


def log_integral(logd, rule, a, b):
    """``f[...]``: the log of the integral of ``exp(logd(w))`` over ``[a, b]`` for each cell
    ``a, b f[...]`` (``-inf`` for an empty one), by the Gauss-Legendre ``rule`` ``(nodes
    f[K], weights f[K])`` on ``[0, 1]``; ``logd``: one scalar -> ``f[]``."""

    t, wgl = rule
    x = a[..., None] + (b - a)[..., None] * t
    vals = jax.vmap(logd)(x.reshape(-1)).reshape(x.shape)
    width = jnp.log(jnp.maximum(b - a, 0.0))  # -inf for an empty piece
    return _logsumexp(vals + jnp.log(wgl), axis=-1) + width


def switch_points(ind, a, b, s_a, bisect: int):
    """``c f[C, P]``: for each cell ``[a, b]`` (``a, b f[C]``) and phase, the point where the
    phase's indicator switches, by ``bisect`` halvings (``s_a bool[C, P]``: the indicators at
    ``a``; ``ind``: one scalar -> ``bool[P]``). A phase that does not switch in a cell keeps
    to one end."""

    num_phases = s_a.shape[1]
    if num_phases == 0:  # no phase (shapes are static)
        return jnp.zeros((a.shape[0], 0), a.dtype)

    def switch_point(a, b, s_a):  # one cell: f[], f[], bool[P] -> f[P]
        def body(_, carry):
            left, right = carry  # [P]
            mid = 0.5 * (left + right)
            at_mid = jax.vmap(lambda m, p: ind(m)[p])(mid, jnp.arange(num_phases))
            same = at_mid == s_a
            return jnp.where(same, mid, left), jnp.where(same, right, mid)

        left, right = jax.lax.fori_loop(
            0, bisect, body, (jnp.full(num_phases, a), jnp.full(num_phases, b))
        )
        return 0.5 * (left + right)

    return jax.vmap(switch_point)(a, b, s_a)


def node_log_weights(integral, a, b, c, mixed):
    """``f[C + 1]``: the nodes' log weights. Each cell's integral (``integral(a, b)``: log of
    the integral over ``[a, b]``, elementwise) is split at one point between its two end
    nodes, the left piece to the left node and the right piece to the right node. The split
    is the switch point (``c f[C, P]``) of the first phase that changes in the cell
    (``mixed bool[C, P]``), else the midpoint, so sum(weight * indicator) reproduces the
    phases' integrals whenever at most one distinct switch point falls in a cell."""

    if c.shape[1] == 0:
        split = 0.5 * (a + b)
    else:
        first = jnp.argmax(mixed, axis=1)
        split = jnp.where(mixed.any(axis=1), c[jnp.arange(c.shape[0]), first], 0.5 * (a + b))
    lw_left = integral(a, split)  # to node i
    lw_right = integral(split, b)  # to node i + 1
    pad = jnp.full((1,), -jnp.inf)
    return jnp.logaddexp(jnp.concatenate([lw_left, pad]), jnp.concatenate([pad, lw_right]))


def build_quadrature_1d(target: Target, *, points: int, order: int, bisect: int):
    """``ctx -> GridOutput``: ``nodes f[N,1]``, ``logdensity f[N]``, ``ind bool[N,P]``,
    ``log_z f[]``, ``phase_log_z f[P]``, ``logw f[N]`` (the nodes' normalised log weights: their
    ``exp`` sums to 1)."""

    lo, hi = float(target.lower[0]), float(target.upper[0])
    gl_t, gl_w = np.polynomial.legendre.leggauss(order)
    gl_t = (gl_t + 1.0) / 2.0  # nodes on [0, 1]
    gl_w = gl_w / 2.0

    def fn(ctx):
        ctx = _as_f64(ctx)
        rule = (jnp.asarray(gl_t), jnp.asarray(gl_w))
        nodes = jnp.linspace(lo, hi, points)
        a, b = nodes[:-1], nodes[1:]  # cells [C]

        def logd(w):  # one scalar -> log prior + loglik
            x = jnp.reshape(w, (1,))
            return target.logprior(x, ctx) + target.loglik(x, ctx)

        def ind(w):
            return jnp.asarray(target.indicators(jnp.reshape(w, (1,)), ctx), dtype=bool)

        def integral(a, b):  # log of int_a^b exp(logd), a, b: [...]
            return log_integral(logd, rule, a, b)

        cell_log = integral(a, b)  # [C]
        log_z = _logsumexp(cell_log)
        node_ind = jax.vmap(ind)(nodes)  # [N, P]
        s_a, s_b = node_ind[:-1], node_ind[1:]  # [C, P]
        c = switch_points(ind, a, b, s_a, bisect)  # [C, P]
        left_log = integral(jnp.broadcast_to(a[:, None], c.shape), c)
        right_log = integral(c, jnp.broadcast_to(b[:, None], c.shape))
        mixed = s_a != s_b
        inside_log = jnp.where(
            mixed,
            jnp.where(s_a, left_log, right_log),
            jnp.where(s_a, cell_log[:, None], -jnp.inf),
        )
        phase_log_z = _logsumexp(inside_log, axis=0)
        node_logw = node_log_weights(integral, a, b, c, mixed)
        node_logd = jax.vmap(logd)(nodes)
        return GridOutput(nodes[:, None], node_logd, node_ind, log_z, phase_log_z,
                          node_logw - log_z)

    return fn


def build_quadrature_2d(target: Target, *, points: int, subdivisions: int):
    """``ctx -> GridOutput`` as the 1-D rule's, nodes ``f[N*N, 2]`` (row-major, first axis
    slowest).

    Node weights are trapezoid weights times the density (``O(h)`` at phase boundaries)."""

    lo = np.asarray(target.lower, dtype=float)
    hi = np.asarray(target.upper, dtype=float)
    m = subdivisions
    cells = points - 1
    h = (hi - lo) / cells
    fine = (np.arange(cells * m) + 0.5) / m  # midpoints in units of h, per axis
    area = float(np.prod(h)) / (m * m)

    def fn(ctx):
        ctx = _as_f64(ctx)

        def logd(x):
            return target.logprior(x, ctx) + target.loglik(x, ctx)

        def ind(x):
            return jnp.asarray(target.indicators(x, ctx), dtype=bool)

        xs = lo[0] + h[0] * jnp.asarray(fine)
        ys = lo[1] + h[1] * jnp.asarray(fine)
        # one row of cells = m fine rows in x, all fine columns in y
        x_rows = xs.reshape(cells, m)

        def row(xr):  # xr: f[m]
            pts = jnp.stack(jnp.meshgrid(xr, ys, indexing="ij"), axis=-1).reshape(-1, 2)
            vals = jax.vmap(logd)(pts)  # [m * cells * m]
            inds = jax.vmap(ind)(pts)  # [..., P]
            # one column more than the phases, the parameters in none (``other``; so
            # P = 0 still maps a column: lax.map's batching cannot stack a zero-size output)
            inds = jnp.concatenate([inds, ~jnp.any(inds, axis=1, keepdims=True)], axis=1)
            total = _logsumexp(vals)
            per_phase = _logsumexp(jnp.where(inds, vals[:, None], -jnp.inf), axis=0)
            return total, per_phase

        row_total, row_phase = jax.lax.map(row, x_rows, batch_size=min(cells, 16))
        log_area = np.log(area)
        log_z = _logsumexp(row_total) + log_area
        phase_log_z = _logsumexp(row_phase[:, :-1], axis=0) + log_area
        other_log_z = _logsumexp(row_phase[:, -1]) + log_area

        gx = jnp.linspace(lo[0], hi[0], points)
        gy = jnp.linspace(lo[1], hi[1], points)
        nodes = jnp.stack(jnp.meshgrid(gx, gy, indexing="ij"), axis=-1).reshape(-1, 2)
        node_logd = jax.vmap(logd)(nodes)
        node_ind = jax.vmap(ind)(nodes)
        # trapezoid weights times the density, normalised
        tw = jnp.full(points, 1.0).at[0].set(0.5).at[-1].set(0.5)
        node_logw = jnp.log(jnp.outer(tw, tw).reshape(-1)) + node_logd
        node_logw = node_logw - _logsumexp(node_logw)
        return GridOutput(nodes, node_logd, node_ind, log_z, phase_log_z, node_logw,
                          other_log_z)

    return fn


def coarse_points(points: int) -> int:
    """The nodes per axis of the error estimate's grid: half the cells (at least one)."""
    return max(2, (points - 1) // 2 + 1)


def grid_masses(out: GridOutput):
    """``f[P + 1]``: the phases' masses (each integrated on its own: ``phase_log_z -
    log_z``) and ``other``'s (the node weights of nodes in no phase) of one grid."""
    phases = jnp.exp(out.phase_log_z - out.log_z)
    other = (jnp.sum(jnp.exp(out.logw) * ~jnp.any(out.ind, axis=1))
             if out.other_log_z is None else jnp.exp(out.other_log_z - out.log_z))
    return jnp.concatenate([phases, jnp.reshape(other, (1,))])


def with_error(fine, coarse):
    """``ctx -> (GridOutput, f[P + 1])``: the ``fine`` rule's output and its masses' error
    estimate, ``|grid_masses(fine) - grid_masses(coarse)|``."""

    def fn(ctx):
        out = fine(ctx)
        return out, jnp.abs(grid_masses(out) - grid_masses(coarse(ctx)))

    return fn


class QuadratureEngine(TimedRun):
    """``make_engine("quadrature", target, settings)``; settings and defaults in ``DEFAULTS``."""

    name = "quadrature"
    DEFAULTS = DEFAULTS
    traits = TRAITS["quadrature"]  # exact: a point is one deterministic grid integration

    def __init__(self, target: Target, settings: dict):
        self.target = target
        s = settings_with_defaults(DEFAULTS, settings)
        dim = int(target.dim)
        if dim not in (1, 2):
            raise ValueError(f"quadrature integrates 1 or 2 parameters, not {dim}")
        lower = np.asarray(target.lower, dtype=float)
        upper = np.asarray(target.upper, dtype=float)
        if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
            raise ValueError("quadrature needs a finite box for every parameter")
        if s["points"] <= 0:
            s["points"] = DEFAULT_POINTS[dim]
        if s["points"] < 2 or s["order"] < 1 or s["subdivisions"] < 1:
            raise ValueError("quadrature needs points >= 2, order >= 1, subdivisions >= 1")
        self.settings = s
        self.dim = dim
        if dim == 1:
            rules = [build_quadrature_1d(target, points=p, order=s["order"],
                                         bisect=s["bisect"])
                     for p in (s["points"], coarse_points(s["points"]))]
        else:
            rules = [build_quadrature_2d(target, points=p, subdivisions=s["subdivisions"])
                     for p in (s["points"], coarse_points(s["points"]))]
        self._cache = CompiledCache(with_error(*rules), x64=True)

    @property
    def traces(self) -> int:
        return self._cache.traces

    def _arguments(self, key, ctx) -> tuple:
        """``key`` is unused (the rule is deterministic); kept for the common interface."""
        return (ctx,)

    def _draws(self, out: tuple, compile_s: float, sample_s: float,
               wall_s: float) -> Draws:
        """``out``: ``(GridOutput, mass error f[P + 1])`` as numpy arrays, one point's grid
        and its masses' error estimate (``with_error``; ``TimedRun.run``)."""
        t0 = time.perf_counter()
        out, error = out
        # normalised in log space: exp(logw) overflows for a sharp posterior (n K large
        # and negative); a grid with no finite weight gives NaN, which the pipeline refuses
        top = np.max(out.logw) if out.logw.size else -np.inf
        with np.errstate(invalid="ignore", over="ignore"):
            weights = np.exp(out.logw - top) if np.isfinite(top) else np.full_like(
                out.logw, np.nan)
            weights /= weights.sum()
        wall_s += time.perf_counter() - t0
        n_nodes = out.nodes.shape[0]
        shape = (dict(order=self.settings["order"], bisect=self.settings["bisect"])
                 if self.dim == 1 else dict(subdivisions=self.settings["subdivisions"]))
        info = QuadratureInfo(
            engine="quadrature",
            points=self.settings["points"],
            mass_error=tuple(float(e) for e in error),
            nodes=int(n_nodes),
            dim=self.dim,
            compile_s=compile_s,
            sample_s=wall_s - compile_s,  # the grid's integration is its sampling
            wall_s=wall_s,
            **shape,
        )
        return Draws(
            params=out.nodes[None],
            indicators=out.ind[None],
            logdensity=out.logdensity[None],
            weights=weights[None],
            method="exact",
            log_z=np.asarray([out.log_z]),
            phase_log_z=out.phase_log_z[None],
            info=info,
            other_log_z=(None if out.other_log_z is None
                         else np.asarray([out.other_log_z], float)),
        )

    def run_many(self, keys, ctxs, method: str | None = None) -> list[Draws]:
        """One ``run`` per sweep point (the grid of one point is already one large batch).

        ``keys`` are unused; ``ctxs``: a list of ``V`` contexts or one pytree stacked along a
        leading ``V`` axis. ``method``: ``None`` or ``"sequential"``, the only one."""

        if method not in (None, "sequential"):
            raise ValueError("quadrature run_many method must be one of ('sequential',)")
        if not is_list_of_contexts(ctxs):
            count = jax.tree.leaves(ctxs)[0].shape[0]
            ctxs = [jax.tree.map(lambda a, v=v: a[v], ctxs) for v in range(count)]
        return [self.run(None, ctx) for ctx in ctxs]
