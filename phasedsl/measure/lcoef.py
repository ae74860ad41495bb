"""The pipeline step that estimates every phase's learning coefficient at a sweep point.

``LcoefStep(compiled, steps).estimate(value, draws)`` -> ``{phase: LearningCoefficient}``
(``phasedsl.analysis.lcoef`` does the statistics). What it computes with JAX:

- each draw's tempered energy ``e = -loglik = logprior - logdensity`` (the engines' own
  ``logdensity``, so no second pass over the data; checked against ``-loglik`` recomputed
  on a few draws, and recomputed for all draws if they disagree);
- each phase's minimiser ``w*``: Adam on ``-loglik`` (``steps`` steps, per-coordinate step
  ``0.1 sd`` of the phase's draws, decaying a thousandfold, clipped to the box) from the
  phase's ``STARTS`` lowest-energy draws, keeping the best iterate that satisfies the phase's
  condition (a start always does); ``in_phase`` says whether the optimiser's last iterate is
  still inside the phase (False: the loss keeps falling across the phase's boundary, so the
  phase is not a basin and ``w*`` is its best boundary point). ``e_min`` is never above the
  phase's lowest draw.

Exact (quadrature) draws are handled in float64, like the engine.
``n * beta`` is the spec's at the sweep value (sympy), which turns ``e_min`` into ``loss_min``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import sympy as sp

from ..analysis.lcoef import (LearningCoefficient, PhaseDraws, PhaseMinimum, path_estimate,
                              phase_estimate)
from ..lower.run_info import SmcInfo

__all__ = ["LcoefStep", "n_beta", "STARTS", "curvature_steps", "descent_flow"]

STARTS = 4  # optimiser starts per phase: the phase's lowest-energy draws
H = 1e-3  # relative step in beta for the exact engines' log Z derivatives


def _scaled_target(target):
    """``target`` with context ``(ctx, s)`` and log-likelihood ``s * loglik``: inverse
    temperature ``s beta`` with one compilation for every ``s``."""
    return target._replace(
        logprior=lambda p, c: target.logprior(p, c[0]),
        loglik=lambda p, c: c[1] * target.loglik(p, c[0]),
        indicators=lambda p, c: target.indicators(p, c[0]),
        init=lambda k, c: target.init(k, c[0]))


def n_beta(checked, value: float) -> float:
    """``n * beta`` of the spec at one sweep value (or a grid's cell)."""
    sub = checked.substitution(value) if checked.sweep_symbol is not None else {}
    n = float(sp.sympify(checked.n).subs(sub))
    beta = sp.sympify(checked.beta)
    beta = float(beta.subs({**sub, sp.Symbol("n"): n}))
    return n * beta


def curvature_steps(energy, p0, ctx, rate, largest):
    """``f[D]``: the gradient flow's per-coordinate step ``dt`` from ``p0: f[D]``: ``rate``
    over the curvature of ``energy`` along each coordinate there (the Hessian's diagonal,
    ``D`` Hessian-vector products), at most ``largest: f[D]`` (where the curvature is 0 or
    not finite, ``largest``). The draws' spread alone (``largest = rate sd^2``) can be far
    wider than a well: on the toy model of superposition it spans the k-gon's rotations and
    the wells of every phase, its ``1 / sd^2`` 200 times below the curvature along ``W``,
    and the flow's step, halved until it stops rising along ``W``, then crawls along the
    biases. JAX, unbatched."""
    import jax
    import jax.numpy as jnp

    grad = jax.grad(energy)

    def along(e):
        return jax.jvp(lambda q: grad(q, ctx), (p0,), (e,))[1] @ e

    h = jnp.abs(jax.lax.map(along, jnp.eye(p0.shape[0], dtype=p0.dtype)))
    step = jnp.where(jnp.isfinite(h) & (h > 0), rate / jnp.where(h > 0, h, 1.0), jnp.inf)
    return jnp.minimum(jnp.asarray(largest, p0.dtype), step)


def descent_flow(energy, indicators, lower, upper, steps: int, decay: float = 1e-3,
                 method: str = "adam"):
    """The optimiser both the learning coefficient's ``w*`` (``method="adam"``) and the
    local-minimum criterion (``method="gd"``, ``measure.minima``) run on ``energy(p, ctx)``
    for ``steps`` steps from ``p0: f[D]``, clipped to the box ``lower, upper: f[D]`` (numpy),
    non-finite gradient components set to 0:

    - ``"adam"``: Adam, per-coordinate step ``lr0: f[D]`` decaying ``1/decay``-fold;
    - ``"gd"``: a discretised gradient flow: ``p -= clip(dt * grad, -lr0, lr0)`` with
      per-coordinate ``dt: f[D]`` (a preconditioner), halved, and the step taken again from
      the previous iterate, wherever the energy rose by more than its rounding. Near a minimum the step shrinks with
      the gradient, so the flow does not jump out of a shallow well as momentum does.

    Returns ``flow(p0, lr0, ctx, phase, dt=None) -> (best_p f[D], best_f f[], inside bool[],
    last_p f[D])``: the lowest iterate inside phase ``phase`` (``indicators(p, ctx)[phase]``;
    the start where none is lower), its energy, whether the last iterate is inside the
    phase, and the last iterate. Unbatched and unjitted: callers vmap and jit it."""
    import jax
    import jax.numpy as jnp

    n_steps = max(int(steps), 1)

    def flow(p0, lr0, ctx, phase, dt=None):
        lo, hi = jnp.asarray(lower, p0.dtype), jnp.asarray(upper, p0.dtype)
        value_grad = jax.value_and_grad(energy)

        def keep_best(p, f, best_p, best_f):
            better = indicators(p, ctx)[phase] & (f < best_f)
            return jnp.where(better, p, best_p), jnp.where(better, f, best_f)

        def adam(carry, i):
            p, m, v, best_p, best_f = carry
            f, g = value_grad(p, ctx)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            best_p, best_f = keep_best(p, f, best_p, best_f)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            k = i + 1.0
            mhat, vhat = m / (1 - 0.9 ** k), v / (1 - 0.999 ** k)
            lr = lr0 * (decay ** (i / n_steps))
            p = jnp.clip(p - lr * mhat / (jnp.sqrt(vhat) + 1e-30), lo, hi)
            return (p, m, v, best_p, best_f), None

        def gd(carry, i):
            p, h, p_prev, f_prev, g_prev, best_p, best_f = carry
            f, g = value_grad(p, ctx)
            g = jnp.where(jnp.isfinite(g), g, 0.0)
            best_p, best_f = keep_best(p, f, best_p, best_f)
            # a rise beyond rounding (the energy's own float precision): near a minimum the
            # energy's changes drown in rounding, which must not shrink the step
            slack = 16 * jnp.finfo(p.dtype).eps * (jnp.abs(f_prev) + 1.0)
            worse = ~(f <= f_prev + jnp.where(jnp.isfinite(f_prev), slack, 0.0))
            p = jnp.where(worse, p_prev, p)
            f = jnp.where(worse, f_prev, f)
            g = jnp.where(worse, g_prev, g)
            h = jnp.where(worse, 0.5 * h, h)
            p_next = jnp.clip(p - jnp.clip(h * g, -lr0, lr0), lo, hi)
            return (p_next, h, p, f, g, best_p, best_f), None

        f0 = energy(p0, ctx)
        zero = jnp.zeros_like(p0)
        ticks = jnp.arange(int(steps), dtype=p0.dtype)
        if method == "gd":
            init = (p0, jnp.asarray(dt, p0.dtype), p0, jnp.asarray(jnp.inf, p0.dtype), zero,
                    p0, f0)
            (p, _, _, _, _, best_p, best_f), _ = jax.lax.scan(gd, init, ticks)
        else:
            (p, _, _, best_p, best_f), _ = jax.lax.scan(adam, (p0, zero, zero, p0, f0), ticks)
        f_last = energy(p, ctx)
        inside = indicators(p, ctx)[phase]
        take = inside & (f_last < best_f)
        return (jnp.where(take, p, best_p), jnp.where(take, f_last, best_f), inside, p)

    return flow


class LcoefStep:
    """Per-phase learning coefficients of the points of one compiled spec (jitted functions
    are built once and reused at every sweep point)."""

    def __init__(self, compiled, steps: int = 200, make_engine=None):
        self.compiled = compiled
        self.steps = int(steps)
        self._fns = {}
        self._scaled = None
        if make_engine is not None:  # exact engines: log Z_W at beta (1 +- H)
            self._scaled = make_engine(_scaled_target(compiled.target))

    def _logz_moments(self, ctx) -> np.ndarray | None:
        """``f[P, 2]``: each phase's exact ``E[e | W]`` and ``Var[e | W]`` from its ``log Z``
        at ``beta (1 - H)``, ``beta``, ``beta (1 + H)`` (central differences), or None."""
        if self._scaled is None:
            return None
        lz = [np.asarray(self._scaled.run(None, (ctx, np.float64(1.0 + k * H))).phase_log_z[0],
                         float) for k in (-1, 0, 1)]
        mean = -(lz[2] - lz[0]) / (2 * H)
        var = (lz[2] - 2 * lz[1] + lz[0]) / H ** 2
        return np.stack([mean, var], axis=1)

    def _functions(self, x64: bool):
        if x64 in self._fns:
            return self._fns[x64]
        import jax
        import jax.numpy as jnp

        target = self.compiled.target
        lower = np.asarray(target.lower, float)
        upper = np.asarray(target.upper, float)

        def energy(p, ctx):
            return -target.loglik(p, ctx)

        def indicators(p, ctx):  # the phases, then the whole posterior (always true)
            return jnp.concatenate([target.indicators(p, ctx), jnp.ones((1,), bool)])

        flow = descent_flow(energy, indicators, lower, upper, self.steps)

        def opt_one(p0, lr0, ctx, phase):
            best_p, best_f, inside, _ = flow(p0, lr0, ctx, phase)
            return best_p, best_f, inside

        optimise = jax.jit(jax.vmap(opt_one, in_axes=(0, None, None, None)))
        logprior = jax.jit(jax.vmap(target.logprior, in_axes=(0, None)))
        loglik = jax.jit(jax.vmap(target.loglik, in_axes=(0, None)))
        self._fns[x64] = (optimise, logprior, loglik)
        return self._fns[x64]

    def estimate(self, value: float, draws) -> dict[str, LearningCoefficient]:
        """Each phase's learning coefficient at ``value`` from the point's ``draws``."""
        return self.estimate_all(value, draws)[0]

    def estimate_all(self, value: float, draws):
        """``({phase: LearningCoefficient}, posterior)``: each phase's and the whole
        posterior's (phase ``"posterior"``: every draw, its minimiser unconstrained)."""
        import jax

        x64 = draws.method == "exact"
        with jax.enable_x64(True) if x64 else contextlib.nullcontext():
            return self._estimate_all(value, draws, x64)

    def _estimate_all(self, value: float, draws, x64: bool):
        import jax
        import jax.numpy as jnp

        names = self.compiled.phase_names
        dtype = np.float64 if x64 else np.float32
        optimise, logprior, loglik = self._functions(x64)
        ctx = jax.tree.map(lambda a: jnp.asarray(a, dtype) if jnp.issubdtype(
            jnp.asarray(a).dtype, jnp.floating) else a, self.compiled.context(value))
        params = np.asarray(draws.params, dtype)
        g, s, d = params.shape
        flat = params.reshape(-1, d)
        e = np.asarray(logprior(flat, ctx), float) - np.asarray(draws.logdensity, float).ravel()
        probe = np.flatnonzero(np.isfinite(e))[:4]
        if len(probe):
            direct = -np.asarray(loglik(flat[probe], ctx), float)
            if not np.allclose(direct, e[probe], rtol=1e-5, atol=1e-3):
                e = -np.asarray(loglik(flat, ctx), float)
        energy = e.reshape(g, s)
        exact = self._logz_moments(self.compiled.context(value)) if x64 else None
        inds = np.asarray(draws.indicators, bool)
        inds = np.concatenate([inds, np.ones(inds.shape[:2] + (1,), bool)], axis=2)
        args = (draws, energy, flat, ctx, optimise, self.compiled.checked, value, dtype)
        out = {name: self._one(j, name, inds[..., j], exact, *args)
               for j, name in enumerate(names)}
        posterior = self._one(len(names), "posterior", inds[..., -1], None, *args)
        # tempered SMC: lambda from the tempering path (analysis.lcoef.path_estimate)
        return out, path_estimate(posterior, draws.info.path if isinstance(draws.info, SmcInfo) else None)

    @staticmethod
    def _one(j, name, member, exact, draws, energy, flat, ctx, optimise, checked, value, dtype):
        """One region's estimate: phase ``j`` (``member bool[G, S]``: its indicator; the
        last index is the whole posterior)."""
        import jax.numpy as jnp

        t = n_beta(checked, value)
        x64 = dtype == np.float64
        d = flat.shape[1]
        weights = draws.weights
        inside = member & np.isfinite(energy)
        phase_weights = weights
        if weights is not None and x64 and not (np.asarray(weights)[inside] > 0).any():
            # exact grid, a phase whose normalised weights underflowed: weights
            # from the density on the (evenly spaced) grid, normalised in the phase
            logd = np.where(inside, np.asarray(draws.logdensity, float), -np.inf)
            if inside.any():
                phase_weights = np.exp(logd - logd.max())
                phase_weights /= phase_weights.sum(axis=1, keepdims=True)
        if phase_weights is not None:
            inside &= np.asarray(phase_weights) > 0
        if not inside.any():
            return phase_estimate(name, PhaseDraws(energy, phase_weights, inside, draws.method),
                                  PhaseMinimum(None), t)
        idx = np.flatnonzero(inside.ravel())
        order = idx[np.argsort(energy.ravel()[idx])]
        starts = flat[order[:STARTS]]
        sd = flat[idx].std(axis=0) if len(idx) > 1 else np.ones(d)
        if phase_weights is not None:  # weighted spread (quadrature nodes)
            ww = np.asarray(phase_weights, float).ravel()[idx]
            ww = ww / ww.sum()
            mu = (ww[:, None] * flat[idx]).sum(0)
            sd = np.sqrt((ww[:, None] * (flat[idx] - mu) ** 2).sum(0))
        lr0 = np.asarray(0.1 * np.where(sd > 0, sd, 1e-3), dtype)
        best_p, best_f, stayed = optimise(jnp.asarray(starts), jnp.asarray(lr0), ctx, j)
        best_p, best_f = np.asarray(best_p, float), np.asarray(best_f, float)
        k = int(np.argmin(best_f))
        e_min = min(float(best_f[k]), float(energy.ravel()[order[0]]))
        minimiser = best_p[k] if best_f[k] <= energy.ravel()[order[0]] else flat[order[0]]
        return phase_estimate(name, PhaseDraws(energy, phase_weights, inside, draws.method),
                              PhaseMinimum(e_min, minimiser, bool(np.asarray(stayed)[k])), t,
                              moments=None if exact is None else tuple(exact[j]))


def lcoef_step(compiled, report: dict, make_engine=None) -> LcoefStep | None:
    """The step for a run with ``report`` settings (``lcoef = 0``: None, nothing estimated).
    ``make_engine(target)``: for an exact engine, the engine on another target (for the
    ``log Z`` derivatives); None for sampling engines."""
    from ..language.setting_records import report_settings

    settings = report_settings(report)
    if not settings.lcoef:  # without phases too: the whole posterior's lambda
        return None
    return LcoefStep(compiled, settings.lcoef_steps, make_engine)


def with_lcoef(point, step: LcoefStep, value: float, draws):
    """``point`` with its phases' learning coefficients (``lcoef``), the whole posterior's
    (``lcoef_posterior``) and the time they took (``diagnostics["lcoef_s"]``)."""
    import dataclasses
    import time

    t0 = time.perf_counter()
    est, posterior = step.estimate_all(value, draws)
    diagnostics = {**point.diagnostics, "lcoef_s": time.perf_counter() - t0}
    lcoef = {k: v.to_json() for k, v in est.items()} if est else None
    return dataclasses.replace(point, lcoef=lcoef, lcoef_posterior=posterior.to_json(),
                               diagnostics=diagnostics)
